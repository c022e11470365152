// Package geojson writes citygrid's records as GeoJSON (RFC 7946), by hand into byte
// buffers: it is the one wire encoding of cells and components, as orb keeps its encodings in
// packages of their own. registry holds the domain and encodes nothing.
//
// The census form is what the census readers of registry accept, so a file written in it
// imports back unchanged: CensusWriter streams one FeatureCollection, ExportCells and
// ExportComponents write a whole store (any CellSource or ComponentSource, such as a
// registry.Store) through it, and AppendCensusMultiPolygon serves other writers of census
// files (the demo city of fixtures).
//
// Coordinates are lon/lat (WGS84/CGCS2000) as stored. Strings go through AppendString,
// which escapes what JSON requires (and U+2028, U+2029), turns invalid UTF-8 into U+FFFD and
// leaves <, > and & alone; the fuzz target FuzzAppendString holds it to encoding/json.
package geojson
