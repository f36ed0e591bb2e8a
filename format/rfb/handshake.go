package rfb

import (
	"fmt"
	"strconv"
	"strings"
)

// Parser states. The handshake (RFC 6143 §7.1 to §7.3) alternates between
// the directions, so some states wait for what the other direction's
// parser has established.
const (
	// Server to client.
	sVersion         = iota // ProtocolVersion (§7.1.1)
	sSecurity               // security types (3.7+) or type (3.3) (§7.1.2)
	sWaitChoice             // the client's choice of security type
	sFailReason             // reason string after an empty offer or type 0
	sVNCChallenge           // VNC authentication challenge (§7.2.2)
	sResult                 // SecurityResult (§7.1.3)
	sTightTunnels           // Tight security: tunnel capabilities
	sTightAuths             // Tight security: authentication capabilities
	sWaitTightAuth          // the client's choice of Tight authentication
	sVeNCryptVersion        // VeNCrypt: server version
	sVeNCryptAck            // VeNCrypt: version acknowledgement
	sVeNCryptTypes          // VeNCrypt: subtypes
	sWaitVeNCrypt           // the client's choice of VeNCrypt subtype
	sDH                     // Diffie-Hellman parameters
	sMSLogon                // MSLogonII parameters
	sServerInit             // ServerInit (§7.3.2)
	sTightCaps              // Tight security: ServerInit's capability lists
	sMessages               // normal server messages (§7.6)
	sUpdate                 // inside a FramebufferUpdate
)

const (
	// Client to server.
	cVersion         = iota // ProtocolVersion, or an UltraVNC repeater ID
	cWaitSecurity           // the server's security offer or decision
	cChoice                 // security type (3.7+)
	cVNCResponse            // VNC authentication response (§7.2.2)
	cTightTunnel            // Tight security: tunnel choice
	cTightAuth              // Tight security: authentication choice
	cVeNCryptVersion        // VeNCrypt: client version
	cVeNCryptChoice         // VeNCrypt: subtype
	cPlain                  // Plain, Tight Unix login: user name and password
	cIdent                  // VeNCrypt Ident: user name
	cXVP                    // xvp: user name and target
	cDH                     // Diffie-Hellman: encrypted credentials
	cMSLogon                // MSLogonII: encrypted credentials
	cClientInit             // ClientInit (§7.3.1)
	cMessages               // normal client messages (§7.5)
)

// Sanity limits on counts read during the handshake.
const (
	maxTightCaps   = 1024 // tunnel and authentication capabilities
	maxCredentials = 64 << 10
)

const versionSize = 12 // "RFB xxx.yyy\n"

// parseVersion parses a ProtocolVersion message (RFC 6143 §7.1.1).
func parseVersion(b []byte) (major, minor int, ok bool) {
	if string(b[:4]) != "RFB " || b[7] != '.' || b[11] != '\n' {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(string(b[4:7]))
	minor, err2 := strconv.Atoi(string(b[8:11]))
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return 0, 0, false
	}
	return major, minor, true
}

// protocolMinor maps the version a client answered with to the handshake
// it follows: 3.3 (also 3.5, 3.6), 3.7, or 3.8 (also 3.889 and 4.x, as
// noVNC and RealVNC servers treat them).
func protocolMinor(major, minor int) int {
	switch {
	case major == 3 && minor < 7:
		return 3
	case major == 3 && minor == 7:
		return 7
	}
	return 8
}

func (d *Decoder) serverHandshake(s *stream) bool {
	switch s.state {
	case sVersion:
		major, minor, ret, ok := d.version(s)
		if !ok {
			return ret
		}
		if major == 0 && minor == 0 {
			d.emit(s, Event{Kind: KindVersion, Text: "0.0 (UltraVNC repeater)"})
			return true // the real server's version follows
		}
		v := fmt.Sprintf("%d.%d", major, minor)
		d.ses.ServerVersion = v
		d.emit(s, Event{Kind: KindVersion, Text: v})
		s.state = sSecurity

	case sSecurity:
		if d.minor == 0 {
			return false // the client's version decides the handshake
		}
		if d.minor == 3 {
			b := s.peek(4)
			if b == nil {
				return false
			}
			t := SecurityType(be.Uint32(b))
			s.consume(4)
			if t == SecurityInvalid {
				s.state = sFailReason
				return true
			}
			d.emit(s, Event{Kind: KindSecurity, Security: t, Text: "decided by the server"})
			d.ses.Security = t
			d.secKnown = true
			d.chooseSecurity(s, t)
			if !s.done {
				s.state = serverAuth(t, d.minor)
			}
			return true
		}
		h := s.peek(1)
		if h == nil {
			return false
		}
		n := int(h[0])
		b := s.peek(1 + n)
		if b == nil {
			return false
		}
		offered := make([]SecurityType, n)
		for i, t := range b[1:] {
			offered[i] = SecurityType(t)
		}
		s.consume(1 + n)
		d.emit(s, Event{Kind: KindSecurityTypes, Offered: offered})
		d.ses.Offered = offered
		d.secKnown = true
		if n == 0 {
			d.offerEmpty = true
			s.state = sFailReason
			return true
		}
		s.state = sWaitChoice

	case sWaitChoice:
		if !d.secChosen {
			return false
		}
		s.state = serverAuth(d.sec, d.minor)

	case sFailReason:
		return d.readReason(s, func(reason string, truncated bool) {
			d.fail(s, reason, truncated)
		})

	case sVNCChallenge:
		return d.skipAuth(s, 16, "VNC authentication challenge", sResult)

	case sResult:
		b := s.peek(4)
		if b == nil {
			return false
		}
		status := be.Uint32(b)
		s.consume(4)
		if status == 0 {
			d.ses.Auth = "ok"
			d.emit(s, Event{Kind: KindSecurityResult, OK: true})
			s.state = sServerInit
			return true
		}
		d.failStatus = status
		if d.minor < 8 {
			d.fail(s, "", false)
			return true
		}
		s.state = sFailReason // 3.8 gives a reason (RFC 6143 §7.1.3)

	case sTightTunnels, sTightAuths:
		h := s.peek(4)
		if h == nil {
			return false
		}
		n := be.Uint32(h)
		if n > maxTightCaps {
			d.stopBoth(s, Event{Kind: KindStop, Text: fmt.Sprintf("Tight security: %d capabilities: decoding stops", n)})
			return true
		}
		b := s.peek(4 + 16*int(n))
		if b == nil {
			return false
		}
		caps := make([]string, n)
		codes := make([]SecurityType, n)
		for i := range caps {
			c := b[4+16*i:]
			caps[i] = strings.TrimRight(string(c[4:8]), "\x00") + "/" + strings.TrimRight(string(c[8:16]), "\x00")
			codes[i] = tightAuthType(be.Uint32(c))
		}
		s.consume(len(b))
		if s.state == sTightTunnels {
			d.emit(s, Event{Kind: KindAuth, Text: "Tight tunnel types: " + listOrNone(caps)})
			d.tightTunnels = int(n)
			s.state = sTightAuths
			return true
		}
		d.emit(s, Event{Kind: KindSecurityTypes, Offered: codes, Text: "Tight: " + listOrNone(caps)})
		d.tightAuths = int(n)
		if n == 0 {
			s.state = sResult
		} else {
			s.state = sWaitTightAuth
		}

	case sWaitTightAuth:
		switch d.tightAuth {
		case SecurityInvalid:
			return false
		case SecurityVNCAuth:
			s.state = sVNCChallenge
		default:
			s.state = sResult
		}

	case sVeNCryptVersion:
		return d.vencryptVersion(s, sVeNCryptAck)

	case sVeNCryptAck:
		b := s.peek(1)
		if b == nil {
			return false
		}
		s.consume(1)
		if b[0] != 0 {
			d.ses.Auth = "failed"
			d.stopBoth(s, Event{Kind: KindSecurityResult, Text: "VeNCrypt version refused"})
			return true
		}
		s.state = sVeNCryptTypes

	case sVeNCryptTypes:
		h := s.peek(1)
		if h == nil {
			return false
		}
		n := int(h[0])
		b := s.peek(1 + 4*n)
		if b == nil {
			return false
		}
		offered := make([]SecurityType, n)
		for i := range offered {
			offered[i] = SecurityType(be.Uint32(b[1+4*i:]))
		}
		s.consume(len(b))
		d.emit(s, Event{Kind: KindSecurityTypes, Offered: offered, Text: "VeNCrypt subtypes"})
		s.state = sWaitVeNCrypt

	case sWaitVeNCrypt:
		switch d.vencrypt {
		case SecurityInvalid:
			return false
		case SecurityVNCAuth:
			s.state = sVNCChallenge
		default: // None, Plain, Ident; the others stopped decoding
			s.state = sResult
		}

	case sDH:
		h := s.peek(4)
		if h == nil {
			return false
		}
		n := int(be.Uint16(h[2:]))
		if s.peek(4+2*n) == nil {
			return false
		}
		s.consume(4 + 2*n)
		d.dhKeySize = n
		d.emit(s, Event{Kind: KindAuth, Text: fmt.Sprintf("Diffie-Hellman parameters, %d-bit key", 8*n)})
		s.state = sResult

	case sMSLogon:
		return d.skipAuth(s, 24, "MSLogonII Diffie-Hellman parameters", sResult)

	case sServerInit:
		b := s.peek(24)
		if b == nil {
			return false
		}
		w, h := int(be.Uint16(b)), int(be.Uint16(b[2:]))
		pf := parsePixelFormat(b[4:])
		n := be.Uint32(b[20:])
		s.consume(24)
		s.collectThen(int64(n), d.opts.MaxText, func(name []byte, truncated bool) {
			// A SetPixelFormat read already was sent after this message
			// (the server reads none before it sends ServerInit) but
			// recorded before it: wsproxy records a target→client message
			// once written to the client, which may answer in between.
			// The client's format stays.
			if d.ses.ClientPixelFormat == nil {
				d.pf = pf
			}
			d.ses.Width, d.ses.Height, d.ses.PixelFormat, d.ses.Name = w, h, &pf, string(name)
			ev := Event{Kind: KindServerInit, Width: w, Height: h, PixelFormat: &pf, Text: string(name), Truncated: truncated}
			if d.tightSecurity {
				d.pendingInit = &ev
				s.state = sTightCaps
				return
			}
			d.emit(s, ev)
			s.state = sMessages
		})

	case sTightCaps:
		b := s.peek(8)
		if b == nil {
			return false
		}
		n := int64(be.Uint16(b)) + int64(be.Uint16(b[2:])) + int64(be.Uint16(b[4:]))
		s.consume(8)
		s.skip = 16 * n
		d.emit(s, *d.pendingInit)
		d.pendingInit = nil
		s.state = sMessages

	default:
		panic(fmt.Sprintf("rfb: server state %d", s.state))
	}
	return true
}

// fail reports a failed security handshake and stops decoding: the server
// closes the connection.
func (d *Decoder) fail(s *stream, reason string, truncated bool) {
	if reason == "" && d.failStatus == 2 {
		reason = "too many attempts"
	}
	d.ses.Auth, d.ses.AuthReason = "failed", reason
	d.stopBoth(s, Event{Kind: KindSecurityResult, Text: reason, Truncated: truncated, Code: int(d.failStatus)})
}

// readReason reads a reason string (u32 length, bytes) and passes it to
// done.
func (d *Decoder) readReason(s *stream, done func(reason string, truncated bool)) bool {
	b := s.peek(4)
	if b == nil {
		return false
	}
	n := be.Uint32(b)
	s.consume(4)
	s.collectThen(int64(n), d.opts.MaxText, func(b []byte, truncated bool) {
		done(latin1(b), truncated)
	})
	return true
}

// chooseSecurity records the security type t the session will use, chosen
// on stream s. For a type that encrypts, or that the Decoder cannot follow,
// decoding of both directions stops here.
func (d *Decoder) chooseSecurity(s *stream, t SecurityType) {
	d.sec, d.secChosen = t, true
	switch {
	case t.encrypts():
		d.ses.Encrypted = true
		d.stopBoth(s, Event{Kind: KindEncrypted, Security: t,
			Text: fmt.Sprintf("security type %s encrypts the stream: decoding stops", t)})
	case serverAuth(t, d.minor) < 0:
		d.stopBoth(s, Event{Kind: KindStop, Security: t,
			Text: fmt.Sprintf("security type %s is not decoded: decoding stops", t)})
	case t == SecurityTight:
		d.tightSecurity = true
	case t == SecurityNone && d.minor < 8:
		d.ses.Auth = "none" // no SecurityResult before 3.8 (RFC 6143 §7.2.1)
	}
}

// serverAuth returns the server's state after security type t was chosen
// in protocol 3.minor, or -1 if the Decoder cannot follow t.
func serverAuth(t SecurityType, minor int) int {
	switch t {
	case SecurityNone:
		if minor < 8 {
			return sServerInit
		}
		return sResult
	case SecurityVNCAuth, SecurityXVP:
		return sVNCChallenge
	case SecurityTight:
		return sTightTunnels
	case SecurityVeNCrypt:
		return sVeNCryptVersion
	case SecurityDH:
		return sDH
	case SecurityMSLogonII:
		return sMSLogon
	}
	return -1
}

// clientAuth returns the client's state after security type t was chosen.
func clientAuth(t SecurityType) int {
	switch t {
	case SecurityNone:
		return cClientInit
	case SecurityVNCAuth:
		return cVNCResponse
	case SecurityTight:
		return cTightTunnel
	case SecurityVeNCrypt:
		return cVeNCryptVersion
	case SecurityXVP:
		return cXVP
	case SecurityDH:
		return cDH
	case SecurityMSLogonII:
		return cMSLogon
	}
	panic(fmt.Sprintf("rfb: client auth for %s", t))
}

// tightAuthType maps a Tight authentication capability code to a
// SecurityType.
func tightAuthType(code uint32) SecurityType {
	switch code {
	case 1:
		return SecurityNone
	case 2:
		return SecurityVNCAuth
	case 129:
		return SecurityTightUnixLogin
	}
	return SecurityType(1<<16 | code)
}

func (d *Decoder) clientHandshake(s *stream) bool {
	switch s.state {
	case cVersion:
		if b := s.peek(3); b != nil && string(b) == "ID:" {
			const idSize = 250 // UltraVNC repeater ID, NUL-padded
			id := s.peek(idSize)
			if id == nil {
				return false
			}
			s.consume(idSize)
			d.emit(s, Event{Kind: KindVersion, Text: "repeater " + strings.TrimRight(string(id), "\x00")})
			return true
		}
		major, minor, ret, ok := d.version(s)
		if !ok {
			return ret
		}
		v := fmt.Sprintf("%d.%d", major, minor)
		d.ses.ClientVersion = v
		d.minor = protocolMinor(major, minor)
		d.emit(s, Event{Kind: KindVersion, Text: v})
		s.state = cWaitSecurity

	case cWaitSecurity:
		if !d.secKnown {
			return false
		}
		switch {
		case d.offerEmpty:
			s.halt() // the server closes the connection
		case d.minor == 3:
			s.state = clientAuth(d.sec)
		default:
			s.state = cChoice
		}

	case cChoice:
		b := s.peek(1)
		if b == nil {
			return false
		}
		t := SecurityType(b[0])
		s.consume(1)
		d.emit(s, Event{Kind: KindSecurity, Security: t})
		d.ses.Security = t
		d.chooseSecurity(s, t)
		if !s.done {
			s.state = clientAuth(t)
		}

	case cVNCResponse:
		return d.skipAuth(s, 16, "VNC authentication response", cClientInit)

	case cTightTunnel:
		if d.tightTunnels < 0 {
			return false
		}
		if d.tightTunnels > 0 {
			b := s.peek(4)
			if b == nil {
				return false
			}
			code := be.Uint32(b)
			s.consume(4)
			if code != 0 {
				d.stopBoth(s, Event{Kind: KindStop, Text: fmt.Sprintf("Tight tunnel %d is not decoded: decoding stops", code)})
				return true
			}
			d.emit(s, Event{Kind: KindAuth, Text: "Tight tunnel NOTUNNEL"})
		}
		s.state = cTightAuth

	case cTightAuth:
		if d.tightAuths < 0 {
			return false
		}
		if d.tightAuths == 0 {
			s.state = cClientInit
			return true
		}
		b := s.peek(4)
		if b == nil {
			return false
		}
		t := tightAuthType(be.Uint32(b))
		s.consume(4)
		d.emit(s, Event{Kind: KindSecurity, Security: t, Text: "Tight authentication"})
		switch t {
		case SecurityNone:
			s.state = cClientInit
		case SecurityVNCAuth:
			s.state = cVNCResponse
		case SecurityTightUnixLogin:
			s.state = cPlain
		default:
			d.stopBoth(s, Event{Kind: KindStop, Text: fmt.Sprintf("Tight authentication %s is not decoded: decoding stops", t)})
			return true
		}
		d.tightAuth = t

	case cVeNCryptVersion:
		return d.vencryptVersion(s, cVeNCryptChoice)

	case cVeNCryptChoice:
		b := s.peek(4)
		if b == nil {
			return false
		}
		t := SecurityType(be.Uint32(b))
		s.consume(4)
		d.emit(s, Event{Kind: KindSecurity, Security: t, Text: "VeNCrypt subtype"})
		switch {
		case t.encrypts():
			d.ses.Encrypted = true
			d.stopBoth(s, Event{Kind: KindEncrypted, Security: t,
				Text: fmt.Sprintf("VeNCrypt subtype %s encrypts the stream: decoding stops", t)})
			return true
		case t == SecurityNone:
			s.state = cClientInit
		case t == SecurityVNCAuth:
			s.state = cVNCResponse
		case t == SecurityPlain:
			s.state = cPlain
		case t == SecurityIdent:
			s.state = cIdent
		default:
			d.stopBoth(s, Event{Kind: KindStop, Security: t,
				Text: fmt.Sprintf("VeNCrypt subtype %s is not decoded: decoding stops", t)})
			return true
		}
		d.vencrypt = t

	case cPlain:
		h := s.peek(8)
		if h == nil {
			return false
		}
		ul, pl := be.Uint32(h), be.Uint32(h[4:])
		if ul > maxCredentials || pl > maxCredentials {
			d.stopBoth(s, Event{Kind: KindStop, Text: fmt.Sprintf("credentials of %d and %d bytes: decoding stops", ul, pl)})
			return true
		}
		b := s.peek(8 + int(ul) + int(pl))
		if b == nil {
			return false
		}
		user := string(b[8 : 8+ul])
		s.consume(len(b))
		d.ses.User = user
		d.emit(s, Event{Kind: KindAuth, User: user, Text: "user name and password (password not shown)"})
		s.state = cClientInit

	case cIdent:
		h := s.peek(4)
		if h == nil {
			return false
		}
		ul := be.Uint32(h)
		if ul > maxCredentials {
			d.stopBoth(s, Event{Kind: KindStop, Text: fmt.Sprintf("user name of %d bytes: decoding stops", ul)})
			return true
		}
		b := s.peek(4 + int(ul))
		if b == nil {
			return false
		}
		user := string(b[4:])
		s.consume(len(b))
		d.ses.User = user
		d.emit(s, Event{Kind: KindAuth, User: user, Text: "user name"})
		s.state = cClientInit

	case cXVP:
		h := s.peek(2)
		if h == nil {
			return false
		}
		ul, tl := int(h[0]), int(h[1])
		b := s.peek(2 + ul + tl)
		if b == nil {
			return false
		}
		user, target := string(b[2:2+ul]), string(b[2+ul:])
		s.consume(len(b))
		d.ses.User = user
		d.emit(s, Event{Kind: KindAuth, User: user, Text: fmt.Sprintf("xvp target %q", target)})
		s.state = cVNCResponse

	case cDH:
		if d.dhKeySize < 0 {
			return false
		}
		n := 128 + d.dhKeySize
		return d.skipAuth(s, n, "Diffie-Hellman encrypted credentials", cClientInit)

	case cMSLogon:
		const n = 8 + 256 + 64
		return d.skipAuth(s, n, "MSLogonII encrypted credentials", cClientInit)

	case cClientInit:
		b := s.peek(1)
		if b == nil {
			return false
		}
		s.consume(1)
		d.ses.Shared = b[0] != 0
		d.emit(s, Event{Kind: KindClientInit, Shared: b[0] != 0})
		s.state = cMessages

	default:
		panic(fmt.Sprintf("rfb: client state %d", s.state))
	}
	return true
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// latin1 converts ISO 8859-1 bytes, RFB's historical text encoding (RFC
// 6143 §7.5.6), to a string.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// skipAuth consumes the n bytes of an authentication message that is not
// decoded further, as an event with text, and moves s to state next. It
// reports false, consuming nothing, until the n bytes are there.
func (d *Decoder) skipAuth(s *stream, n int, text string, next int) bool {
	if s.peek(n) == nil {
		return false
	}
	s.consume(n)
	d.emit(s, Event{Kind: KindAuth, Text: text})
	s.state = next
	return true
}

// vencryptVersion reads a VeNCrypt version (two bytes, as both sides send
// it) and moves s to state next; false until the bytes are there.
func (d *Decoder) vencryptVersion(s *stream, next int) bool {
	b := s.peek(2)
	if b == nil {
		return false
	}
	s.consume(2)
	d.emit(s, Event{Kind: KindAuth, Text: fmt.Sprintf("VeNCrypt version %d.%d", b[0], b[1])})
	s.state = next
	return true
}

// version reads a ProtocolVersion message. When ok is false the caller
// returns ret: false until the message is all there, true once decoding
// stopped on something that is not a version.
func (d *Decoder) version(s *stream) (major, minor int, ret, ok bool) {
	b := s.peek(versionSize)
	if b == nil {
		return 0, 0, false, false
	}
	major, minor, ok = parseVersion(b)
	if !ok {
		d.stopBoth(s, Event{Kind: KindStop, Text: fmt.Sprintf("not an RFB stream (starts %q): decoding stops", b)})
		return 0, 0, true, false
	}
	s.consume(versionSize)
	return major, minor, false, true
}
