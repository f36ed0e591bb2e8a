package format

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"filippo.io/age"
)

// Encryption at rest (SPEC.md, "Encryption"): a version 2 recording may be
// encrypted to age recipients. Each file has a random 32-byte data key,
// stored in the header as a small age file encrypted to the recipients;
// every chunk's zstd frame is sealed with AES-256-GCM under that key, with
// a nonce made of the chunk number, so that any chunk opens alone. The
// hash chain covers the ciphertext: Verify needs no key.

// Cipher names the AEAD of an encrypted recording's chunks.
type Cipher uint8

// Ciphers.
const (
	// NoCipher: the recording is not encrypted.
	NoCipher Cipher = 0
	// AES256GCM is AES-256 in GCM mode with a 16-byte tag. It was chosen
	// over ChaCha20-Poly1305 for its cost with AES-NI: 4 GB/s on one core
	// of this project's reference machine against 2 GB/s (format's
	// BenchmarkAEAD), which keeps encryption under 0.3 s of CPU per GB.
	AES256GCM Cipher = 1
)

func (c Cipher) String() string {
	switch c {
	case NoCipher:
		return "none"
	case AES256GCM:
		return "AES-256-GCM"
	}
	return fmt.Sprintf("Cipher(%d)", uint8(c))
}

const (
	dataKeySize = 32
	aeadTagSize = 16
	// encMagic starts the skippable frame that holds an encrypted chunk's
	// sealed zstd frame.
	encMagic uint32 = 0x184D2A58
)

// DefaultPublicMeta lists the metadata keys an encrypted recording keeps
// in the clear when WriterOptions.PublicMeta is nil: what describes the
// proxy and the protocol, not the person or the place they connect to.
// Everything else (client and real_client addresses, user, token, target,
// tls.client_subject, origin, user_agent, path, and any key a writer adds)
// is encrypted, because an unknown key may hold anything.
var DefaultPublicMeta = []string{MetaListen, MetaProgram, MetaHostname, MetaSubprotocol, MetaTLSVersion, MetaTLSCipher, MetaSource}

// newAEAD returns the AEAD of c under key.
func newAEAD(c Cipher, key []byte) (cipher.AEAD, error) {
	if c != AES256GCM {
		return nil, fmt.Errorf("%w: cipher %d", ErrVersion, c)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// metaNonceSeq is the nonce counter of the sealed metadata: no chunk
// number (32 bits) reaches it.
const metaNonceSeq = 1<<64 - 1

// nonce returns the 12-byte nonce of chunk seq: seq as 8 little-endian
// bytes, then 4 zero bytes.
func nonce(seq uint64) []byte {
	var n [12]byte
	le.PutUint64(n[:], seq)
	return n[:]
}

// wrapKey returns a fresh data key and the age file that holds it for
// recipients.
func wrapKey(recipients []age.Recipient) (key, wrapped []byte, err error) {
	key = make([]byte, dataKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go ≥ 1.24)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: age recipients: %w", ErrInvalid, err)
	}
	if _, err := w.Write(key); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return key, buf.Bytes(), nil
}

// unwrapKey opens the age file wrapped with identities.
func unwrapKey(wrapped []byte, identities []age.Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, ErrNoIdentity
	}
	r, err := age.Decrypt(bytes.NewReader(wrapped), identities...)
	if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
		return nil, fmt.Errorf("%w: %w", ErrWrongIdentity, err)
	}
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	key := make([]byte, dataKeySize)
	if _, err := io.ReadFull(r, key); err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	if n, _ := r.Read(make([]byte, 1)); n != 0 {
		return nil, errors.New("data key: longer than 32 bytes")
	}
	return key, nil
}

// splitMeta divides meta into the entries kept in the clear and those
// encrypted.
func splitMeta(meta map[string]string, public []string) (clear, secret map[string]string) {
	clear, secret = map[string]string{}, map[string]string{}
	for k, v := range meta {
		if slices.Contains(public, k) {
			clear[k] = v
		} else {
			secret[k] = v
		}
	}
	return clear, secret
}

// ParseRecipients returns the age recipients named by args: each is a
// recipient ("age1...", or a post-quantum "age1pq1...") or the name of a
// file of them, one a line, with blank lines and lines starting with "#"
// ignored (age's recipients file syntax). Rotating keys needs nothing but
// a new list: every file has its own data key. Files are read with
// readFile (os.ReadFile if nil); a program that must not block on a named
// pipe passes a reader that refuses special files.
func ParseRecipients(args []string, readFile func(string) ([]byte, error)) ([]age.Recipient, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	var all []age.Recipient
	for _, a := range args {
		var (
			rs  []age.Recipient
			err error
		)
		if strings.HasPrefix(a, "age1") && !strings.ContainsAny(a, "/\\") {
			rs, err = age.ParseRecipients(strings.NewReader(a))
		} else {
			var b []byte
			if b, err = readFile(a); err == nil {
				rs, err = age.ParseRecipients(bytes.NewReader(b))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("recipient %s: %w", a, err)
		}
		all = append(all, rs...)
	}
	return all, nil
}

// ReadIdentities reads an age identity file: one identity
// ("AGE-SECRET-KEY-1...") a line, blank lines and lines starting with "#"
// ignored, as age-keygen writes it. The file is read with readFile
// (os.ReadFile if nil), as in ParseRecipients.
func ReadIdentities(name string, readFile func(string) ([]byte, error)) ([]age.Identity, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	b, err := readFile(name)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", name, err)
	}
	return ids, nil
}
