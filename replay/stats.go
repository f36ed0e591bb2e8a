package replay

import "github.com/wsproxy/wsproxy/proxy"

// Stats returns the totals of the underlying proxy.Server: ToClient counts
// the bytes played back, ToTarget those the clients sent (read and
// discarded). It is safe for concurrent use.
func (s *Server) Stats() proxy.Stats { return s.proxy.Stats() }
