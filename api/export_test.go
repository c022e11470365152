package api

// Internal helpers exposed to the package's external tests.
var (
	EncodeCursor     = encodeCursor
	DecodeCursor     = decodeCursor
	AppendCellObject = appendCellObject
)
