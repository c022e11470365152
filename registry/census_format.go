package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
)

const (
	maxJSONDepth = 512      // nesting limit for skipped JSON values; deeper input is refused, not recursed into
	maxLineBytes = 64 << 20 // longest NDJSON line: a large polygon fits, a missing newline in a huge file does not
	maxKeyIntern = 4096     // distinct property names remembered to avoid allocating keys per feature
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func detectFormat(name string, head []byte) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".geojson", ".json":
		return FormatGeoJSON, nil
	case ".ndjson", ".geojsonl", ".jsonl", ".geojsons", ".geojsonseq":
		return FormatNDJSON, nil
	case ".csv":
		return FormatCSV, nil
	case ".tsv", ".tab":
		return FormatTSV, nil
	}
	h := bytes.TrimPrefix(head, utf8BOM)
	h = bytes.TrimLeft(h, " \t\r\n")
	if len(h) == 0 {
		return "", Errorf(Invalid, CodeInvalidInput, "cannot tell the format of %q: no extension and empty content", name)
	}
	switch h[0] {
	case 0x1E:
		return FormatNDJSON, nil
	case '{':
		// One complete object on the first line followed by another line means GeoJSONSeq,
		// unless that object is itself a FeatureCollection. A pretty-printed collection
		// has an incomplete first line.
		nl := bytes.IndexByte(h, '\n')
		if nl < 0 {
			return FormatGeoJSON, nil
		}
		first := bytes.TrimSpace(h[:nl])
		rest := bytes.TrimLeft(h[nl+1:], " \t\r\n")
		if json.Valid(first) && len(rest) > 0 && (rest[0] == '{' || rest[0] == 0x1E) {
			var probe struct{ Type string }
			if json.Unmarshal(first, &probe) == nil && probe.Type == "FeatureCollection" {
				return FormatGeoJSON, nil
			}
			return FormatNDJSON, nil
		}
		return FormatGeoJSON, nil
	}
	line := h
	if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	sep, f := byte(','), FormatCSV
	if csvTabSeparated(line) {
		sep, f = '\t', FormatTSV
	}
	if bytes.IndexByte(line, sep) >= 0 {
		cols := strings.Split(strings.TrimSpace(string(line)), string(sep))
		for i, c := range cols {
			cols[i] = strings.Trim(c, `"`)
		}
		lon, lat, wkt := csvGeometryColumns(cols)
		if wkt >= 0 || lon >= 0 && lat >= 0 {
			return f, nil
		}
	}
	return "", Errorf(Invalid, CodeInvalidInput, "cannot tell the format of %q: use a .geojson, .ndjson, .csv or .tsv name", name)
}

func readFeatures(r io.Reader, f Format, fn func(*Feature) error) error {
	return readFeaturesCRS(r, f, checkGeoJSONCRS, fn)
}

// readFeaturesCRS is readFeatures with what to do with a GeoJSON crs member (onCRS).
func readFeaturesCRS(r io.Reader, f Format, onCRS func(json.RawMessage) error, fn func(*Feature) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	switch f {
	case FormatGeoJSON:
		return readGeoJSON(br, onCRS, fn)
	case FormatNDJSON:
		return readNDJSON(br, fn)
	case FormatCSV:
		return readCSV(br, 0, fn)
	case FormatTSV:
		return readCSV(br, '\t', fn)
	}
	return Errorf(Invalid, CodeInvalidInput, "unknown census format %q (want geojson, ndjson, csv or tsv)", string(f))
}
