package record

import (
	"path/filepath"
)

// Spool is told about the files a Recorder writes under Options.Dir, for a
// process that ships them elsewhere (package record/upload sends them to
// object storage) and bounds the directory's size. Its methods are called
// from the sessions' goroutines, concurrently; they must not block for
// long.
type Spool interface {
	// Admit is called before a recording file is created. An error
	// refuses the file as a directory that cannot be made does: under the
	// strict policy a new session is refused, under best-effort it goes on
	// unrecorded and its recording resumes with a gap record once a file
	// is admitted (tried once per flush interval).
	Admit() error
	// Created says that the file name (slash-separated, relative to
	// Options.Dir) was created and its header written.
	Created(name string)
	// Closed says that the writer is done with the file name: sealed, or
	// left unsealed after a write error. Nothing more is written to it.
	Closed(name string, sealed bool)
}

// spoolName returns the name of the file shown (a path under Options.Dir)
// for the Spool.
func (r *Recorder) spoolName(shown string) string {
	rel, err := filepath.Rel(r.opts.Dir, shown)
	if err != nil {
		return filepath.ToSlash(shown)
	}
	return filepath.ToSlash(rel)
}

// spoolCreated tells the Spool, if any, of the session's new file.
func (s *Session) spoolCreated() {
	if sp := s.r.opts.Spool; sp != nil {
		sp.Created(s.r.spoolName(s.name))
	}
}

// spoolClosed tells the Spool, if any, that the session's file is done.
func (s *Session) spoolClosed(sealed bool) {
	if sp := s.r.opts.Spool; sp != nil {
		sp.Closed(s.r.spoolName(s.name), sealed)
	}
}
