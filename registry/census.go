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
	FormatCSV     Format = "csv"     // header row; lon/lat columns or a wkt column
)

// Feature is one raw census record as read from a file, before validation.
type Feature struct {
	Index    int               // 0-based position in the input
	ID       string            // the GeoJSON feature "id", if any
	Geometry orb.Geometry      // nil when the feature had none or it failed to parse (see Err)
	Props    map[string]string // property values as text (numbers in their JSON form); may be reused by the reader after fn returns
	Err      *Problem          // set when the record could not be parsed at all (bad JSON, bad WKT, bad coordinates)
}

// DetectFormat picks a format from a file name's extension (.geojson/.json, .ndjson/.geojsonl/.jsonl/.geojsons, .csv),
// falling back to sniffing head (the first bytes). It returns ErrInvalidInput when neither tells.
func DetectFormat(name string, head []byte) (Format, error) { return detectFormat(name, head) }

// ReadFeatures streams the features of r in format f to fn, in input order. A record that cannot
// be parsed is passed with Err set (the stream goes on where the format allows); an error that
// stops the whole stream (not GeoJSON at all, a broken CSV header) is returned as *Error.
// The Feature and its Props are only valid during the call.
func ReadFeatures(r io.Reader, f Format, fn func(*Feature) error) error {
	return readFeatures(r, f, fn)
}
