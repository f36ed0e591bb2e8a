package replay

import (
	"github.com/wsproxy/wsproxy/format/recfile"
)

// Open opens the recording called name, as a connection choosing it
// would get it, for other parts of a program to read (the web pages of
// replay/ui). Close the returned File, then the StoreFile; the StoreFile may
// be read at offsets for the original bytes (of a recording in a
// directory or of an object in a Store), and SeekIndexOf gives the seek
// index of that very file. A recording in a Store is opened once: one
// request to the Store, one version of the object.
// Open returns an error matching ErrNotFound for a name the Server does
// not serve, and the errors of opening the file and reading its header.
func (s *Server) Open(name string) (*recfile.File, StoreFile, error) {
	e, f, osf, err := s.cat.lookupOpen(name)
	if err != nil {
		return nil, nil, err
	}
	return f, &opened{StoreFile: osf, srv: s, e: e, wsrec: f.Reader() != nil}, nil
}

// opened is the StoreFile of a recording that Server.Open opened: the
// file, and which recording of which Server it is, for SeekIndexOf.
type opened struct {
	StoreFile
	srv   *Server
	e     entry
	wsrec bool // a wsrec recording, which has a seek index
}
