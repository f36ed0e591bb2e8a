package replay

import (
	"github.com/wsproxy/wsproxy/format/recfile"
)

// Open opens the recording called name, as a connection choosing it
// would get it, for other parts of a program to read (the web pages of
// replay/ui). Close the returned File, then the StoreFile; the StoreFile may
// be read at offsets for the original bytes (an *os.File for a
// recording in a directory, an object for one in a Store).
// Open returns an error matching ErrNotFound for a name the Server does
// not serve, and the errors of opening the file and reading its header.
func (s *Server) Open(name string) (*recfile.File, StoreFile, error) {
	e, err := s.cat.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	return s.cat.open(e)
}
