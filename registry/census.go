package registry

import (
	"io"

	"github.com/paulmach/orb"
)

// Format is a census file format.
type Format string

const (
	FormatGeoJSON Format = "geojson" // a GeoJSON FeatureCollection (RFC 7946)
	FormatNDJSON  Format = "ndjson"  // newline-delimited GeoJSON Features (GeoJSONSeq; RS separators tolerated)
	FormatCSV     Format = "csv"     // header row; lon/lat columns or a wkt column; a header with more tabs than commas is read as TSV
	FormatTSV     Format = "tsv"     // FormatCSV separated by tabs
)

// ProblemsProperty is the property under which a rejected-features file (citygrid import
// -rejected, the census route's ?rejected=geojson) lists each feature's problems. The census
// readers hand it over like any property; decoders must not take it for data.
const ProblemsProperty = "citygrid_problems"

// Feature is one raw census record as read from a file, before validation.
type Feature struct {
	Index    int               // 0-based position in the input
	ID       string            // the GeoJSON feature "id", if any
	Geometry orb.Geometry      // nil when the feature had none or it failed to parse (see Err)
	Props    map[string]string // property values as text (numbers in their JSON form); may be reused by the reader after fn returns
	// Raw names the Props whose value is JSON text, not a string: a number, true, false, or an
	// object or array (compact). nil when there are none (always for CSV); reused like Props.
	Raw map[string]bool
	Err *Problem // set when the record could not be parsed at all (bad JSON, bad WKT, bad coordinates)
}

// DetectFormat picks a format from a file name's extension (.geojson/.json, .ndjson/.geojsonl/.jsonl/.geojsons, .csv),
// falling back to sniffing head (the first bytes). It returns ErrInvalidInput when neither tells.
func DetectFormat(name string, head []byte) (Format, error) { return detectFormat(name, head) }

// ReadFeatures streams the features of r in format f to fn, in input order. A record that cannot
// be parsed is passed with Err set (the stream goes on where the format allows); an error that
// stops the whole stream (not GeoJSON at all, a broken CSV header) is returned as *Error.
// The Feature and its Props are only valid during the call.
//
// Formats in detail:
//
//   - geojson: a FeatureCollection, streamed one feature at a time (members in any order,
//     foreign members ignored), or a single Feature. A syntax error stops the stream, as
//     does a named "crs" other than CRS84, EPSG:4326 or EPSG:4490 (*Error invalid_crs).
//     ReadFeatures converts no coordinates; a census import (Service.Import) reads them in
//     the coordinate system asked for or named by the crs member (ImportOptions.CRS).
//   - ndjson: one Feature per line (GeoJSONSeq, RFC 8142: RS prefixes tolerated; blank lines
//     skipped and not counted in Index). A bad line gives a Feature with Err and reading goes on.
//   - csv: comma-separated, RFC 4180 quoting, a header row; a leading UTF-8 BOM is skipped.
//     A header line with more tabs than commas makes it tab-separated (as tsv).
//     The geometry comes from a wkt (or geometry) column holding WKT/EWKT POINT, MULTIPOINT,
//     LINESTRING, POLYGON or MULTIPOLYGON, or else from lon/lng/long/longitude/x/经度/东经 and
//     lat/latitude/y/纬度/北纬 columns (names case-insensitive). Every other named column
//     becomes a property; empty cells are absent. A row with the wrong number of fields gives
//     Err invalid_row. The text must be UTF-8 here: DecodeText turns GBK into it.
//   - tsv: as csv, separated by tabs.
//
// Property values are text: JSON strings as they are, numbers in their JSON literal form
// (1.50 stays "1.50"; a code written as a number has lost its leading zeros), booleans
// "true"/"false", objects and arrays as their compact JSON text; null is absent. Coordinates
// are WGS84/CGCS2000 lon/lat; Z/M ordinates are dropped. Err codes: invalid_json,
// invalid_feature, invalid_geometry (malformed geometry), invalid_coordinates (NaN, infinite,
// |lon| > 180 or |lat| > 90), invalid_row, line_too_long.
func ReadFeatures(r io.Reader, f Format, fn func(*Feature) error) error {
	return readFeatures(r, f, fn)
}
