package api

import "citygrid/registry"

// Internal helpers exposed to the package's external tests.
var (
	AppendJSONString = registry.AppendJSONString
	EncodeCursor     = encodeCursor
	DecodeCursor     = decodeCursor
	AppendCellObject = appendCellObject
	ParseNumber      = parseNumber
)
