package api

import "os"

// SetCreateSpoolForTest replaces how s creates a census upload's temporary file, so that tests
// can make writing it fail.
func (s *Server) SetCreateSpoolForTest(create func() (*os.File, error)) {
	s.census.createSpool = create
}
