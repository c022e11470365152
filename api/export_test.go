package api

// Internal helpers exposed to the package's external tests.
var (
	EncodeCursor     = encodeCursor
	DecodeCursor     = decodeCursor
	AppendCellObject = appendCellObject
)

// LaneLookup is the handler the Lane runs for GET /api/v1/lookup.
func (s *Server) LaneLookup(dst []byte, rawQuery string) (int, string, []byte) {
	return s.laneLookup(dst, rawQuery, nil)
}
