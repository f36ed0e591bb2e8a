package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

// verify's exit statuses: its verdicts, and a usage error apart from them.
const (
	exitValid      = 0
	exitTampered   = 1
	exitUnsealed   = 2
	exitSignature  = 3
	exitVerifyRead = 4 // unreadable: not a recording, an I/O error
	// exitVerifyUsage is verify's status for a command line it cannot use
	// (EX_USAGE of sysexits.h), where the other commands exit with 2,
	// which is verify's "unsealed".
	exitVerifyUsage = 64
)

// severity orders verify's statuses from best to worst, for the status of
// several files: tampered is proof of a change; a bad or missing signature
// leaves the origin unproven; an unreadable file could not be checked at
// all; an unsealed one checked out as far as it goes.
var severity = map[int]int{exitValid: 0, exitUnsealed: 1, exitVerifyRead: 2, exitSignature: 3, exitTampered: 4}

type verifyCmd struct {
	read *readFlags // the root's, set by runEnv

	Files  []string `arg:"" name:"file" help:"Recordings to verify."`
	Pubkey string   `help:"PEM file of the trusted Ed25519 public key (PKIX, as openssl pkey -pubout writes it): recordings must be signed with it." placeholder:"FILE"`
	JSON   bool     `name:"json" help:"Print JSON lines, one object per file."`
}

func (c *verifyCmd) Help() string {
	return `Reads each file in full and checks, as format/SPEC.md ("Verification")
specifies, the hash chain of every chunk, the records in it, the trailer's
index and totals, the seal, and the signature: against the trusted key given
with --pubkey, or else only against the key stored in the file, which detects
damage but proves nothing about who signed. One line per file says what was
found, naming the first damaged chunk (or the header or trailer) and its file
offset.

Exit status (with several files, the worst, in this order from worst: 1, 3,
4, 2, 0):

  0  valid: sealed; chain, seal and any signature check out
  1  tampered: some byte differs from what was written
  2  unsealed: what is there checks out, but the recording has no trailer
     (its writer did not finish), or is cut off; also a websockify recording,
     which holds no hash chain, seal or signature, so nothing vouches for it
  3  signature missing (with --pubkey, an unsigned recording) or invalid
  4  unreadable: not a recording, or an I/O error
  64 usage error (an unknown flag, a missing file name, a bad --pubkey file):
     not 2 as for the other commands, which is "unsealed" here`
}

// verdict is verify's finding about one file.
type verdict struct {
	File      string       `json:"file"`
	Format    string       `json:"format,omitempty"`
	Status    string       `json:"status"`
	Exit      int          `json:"exit"`
	Chunks    int          `json:"chunks"`
	Records   uint64       `json:"records"`
	Signed    bool         `json:"signed"`
	PublicKey string       `json:"public_key,omitempty"`
	Trusted   bool         `json:"trusted"`
	Problem   *problemJSON `json:"problem,omitempty"`
	Lost      *lostJSON    `json:"lost,omitempty"`
	Error     string       `json:"error,omitempty"`
	Detail    string       `json:"detail"` // the human line after the status
}

type problemJSON struct {
	Chunk  int    `json:"chunk"` // -1: header or trailer
	Offset int64  `json:"offset"`
	Error  string `json:"error"`
}

type lostJSON struct {
	Offset int64 `json:"offset"`
	Bytes  int64 `json:"bytes"`
}

func (c *verifyCmd) Run(ctx context.Context, kctx *kong.Context) error {
	var opts format.VerifyOptions
	if c.Pubkey != "" {
		key, err := cli.ReadVerifyKey(c.Pubkey)
		if err != nil {
			return &cli.ExitError{Code: exitVerifyUsage, Err: fmt.Errorf("--pubkey: %w", err)}
		}
		opts.PublicKey = key
	}
	out := bufio.NewWriter(kctx.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	worst := exitValid
	for _, name := range c.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		v := verifyFile(c.read, name, opts, kctx.Stderr)
		if severity[v.Exit] > severity[worst] {
			worst = v.Exit
		}
		if c.JSON {
			enc.Encode(v)
		} else {
			fmt.Fprintf(out, "%s: %s: %s\n", v.File, v.Status, v.Detail)
		}
		out.Flush()
	}
	if worst != exitValid {
		return &cli.ExitError{Code: worst}
	}
	return nil
}

// verifyFile verifies one file.
func verifyFile(read *readFlags, name string, opts format.VerifyOptions, stderr io.Writer) *verdict {
	v := &verdict{File: name}
	r, err := read.open(name)
	if err != nil {
		// A damaged header; one of a newer version, behind a good
		// checksum, is not damaged but unreadable here.
		if ce, ok := errors.AsType[*format.CorruptError](err); ok && !errors.Is(err, format.ErrVersion) {
			return v.tampered(ce)
		}
		v.Status, v.Exit = "unreadable", exitVerifyRead
		v.Error = strings.TrimPrefix(unwrapExit(err).Error(), name+": ")
		v.Detail = v.Error
		return v
	}
	defer r.Close()
	v.Format = r.Format().String()
	if r.Format() != recfile.WSRec {
		v.Status, v.Exit = "unsealed", exitUnsealed
		v.Detail = "a websockify recording holds no hash chain, seal or signature: nothing vouches for its integrity or completeness"
		return v
	}
	r.progress(stderr)
	res, err := r.Reader().Verify(opts)
	r.doneReading()
	if err != nil {
		v.Status, v.Exit, v.Error = "unreadable", exitVerifyRead, err.Error()
		v.Detail = v.Error
		return v
	}
	v.Chunks, v.Records = res.Chunks, res.Records
	v.Signed, v.Trusted = res.Signed, res.Trusted
	if res.PublicKey != nil {
		v.PublicKey = hex.EncodeToString(res.PublicKey)
	}
	checked := plural(res.Chunks, "chunk") + ", " + plural(res.Records, "record")
	switch res.Status {
	case format.Valid:
		v.Status, v.Exit = "valid", exitValid
		v.Detail = "sealed, " + checked + "; " + v.signature()
	case format.Tampered:
		v.tampered(res.Problem)
		v.Detail += fmt.Sprintf(" (before it, %s check out)", checked)
	case format.Unsealed:
		v.Status, v.Exit = "unsealed", exitUnsealed
		v.Detail = fmt.Sprintf("what is there (%s) checks out, but there is no trailer: the writer did not finish", checked)
		if s, err := r.Reader().Summary(); err == nil && s.Unreadable > 0 {
			v.Lost = &lostJSON{Offset: s.Size - s.Unreadable, Bytes: s.Unreadable}
			v.Detail += fmt.Sprintf(", and the %d bytes at offset %d are not a complete chunk", s.Unreadable, s.Size-s.Unreadable)
		}
	case format.SignatureMissing:
		v.Status, v.Exit = "signature missing", exitSignature
		v.Detail = "sealed, and " + checked + " check out, but the recording is unsigned"
	case format.SignatureInvalid:
		v.Status, v.Exit = "signature invalid", exitSignature
		v.Detail = fmt.Sprintf("sealed, and %s check out, but %v (key %s)", checked, res.Problem.Err, v.PublicKey)
		v.Problem = problemOf(res.Problem)
	}
	return v
}

func (v *verdict) tampered(ce *format.CorruptError) *verdict {
	v.Status, v.Exit, v.Problem = "tampered", exitTampered, problemOf(ce)
	where := "trailer"
	switch {
	case ce.Chunk >= 0:
		where = fmt.Sprintf("chunk %d", ce.Chunk)
	case ce.Offset == 0:
		where = "header"
	}
	v.Detail = fmt.Sprintf("%s at offset %d: %v", where, ce.Offset, ce.Err)
	return v
}

func (v *verdict) signature() string {
	switch {
	case !v.Signed:
		return "unsigned"
	case v.Trusted:
		return "signed with the trusted key"
	}
	return "signed with key " + v.PublicKey + ", which no --pubkey was given to trust"
}

func problemOf(ce *format.CorruptError) *problemJSON {
	return &problemJSON{Chunk: ce.Chunk, Offset: ce.Offset, Error: ce.Err.Error()}
}

// unwrapExit returns the error an *cli.ExitError carries.
func unwrapExit(err error) error {
	if e, ok := errors.AsType[*cli.ExitError](err); ok && e.Err != nil {
		return e.Err
	}
	return err
}
