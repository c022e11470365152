// Package geojson writes citygrid's records as GeoJSON (RFC 7946), by hand into byte
// buffers: it is the one wire encoding of cells and components, as orb keeps its encodings in
// packages of their own. registry holds the domain and encodes nothing.
//
// The census form is the API's (below), so a file written in it imports back unchanged: the
// census readers of registry read the properties they know and ignore the computed ones.
// CensusWriter streams one FeatureCollection, ExportCells and ExportComponents write a whole
// store (any CellSource or ComponentSource, such as a registry.Store) through it, and
// AppendCensusMultiPolygon serves other writers of census files (the demo city of fixtures).
// NewCensusWriterIn, ExportCellsIn and ExportComponentsIn write it in another Datum: a crs
// member names it and every point goes through its Projection (citygrid's import reads such
// a file back in that datum).
//
// One writer of features serves the API and the export: AppendComponent, AppendCell and
// AppendHit append one Feature with the members the API answers (and, later, OGC API Features
// items and tile attributes), byte for byte what encoding/json wrote from the former DTOs but
// for the escaping of strings (see AppendString); AppendCollection and AppendPage frame them.
// CensusWriter streams one FeatureCollection of the same features, one a line, and
// ExportCells and ExportComponents write a whole store (any CellSource or ComponentSource,
// such as a registry.Store) through it; the census readers of registry read the properties
// they know and ignore the computed ones, so an export imports back unchanged.
// AppendCensusMultiPolygon serves other writers of census files (the demo city of fixtures).
// They append to a caller's buffer and never fail; a Projection converts points to another
// datum (?crs=) while they are written, so a cell of the index is neither copied nor changed.
//
// Coordinates are lon/lat (WGS84/CGCS2000) unless a Projection is given. Numbers are written
// as encoding/json writes a float64 (AppendCensusMultiPolygon: in the shortest 'f' form that
// parses back to the same float64). Strings go through AppendString, which escapes
// what JSON requires (and U+2028, U+2029), turns invalid UTF-8 into U+FFFD and leaves <, > and
// & alone; FuzzAppendString holds it to encoding/json.
package geojson
