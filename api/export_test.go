package api

// Internal helpers exposed to the package's external tests.
var (
	AppendJSONString = appendJSONString
	EncodeCursor     = encodeCursor
	DecodeCursor     = decodeCursor
)
