package registry

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

var (
	csvLonNames = []string{"lon", "lng", "long", "longitude", "x", "经度", "东经"}
	csvLatNames = []string{"lat", "latitude", "y", "纬度", "北纬"}
	csvWKTNames = []string{"wkt", "geometry"}
)

// csvTabSeparated reports whether a header line is tab-separated: it has more tabs than commas.
func csvTabSeparated(line []byte) bool {
	return bytes.Count(line, []byte{'\t'}) > bytes.Count(line, []byte{','})
}

// csvHeaderLine returns the first line of br's content without consuming it (at most 64 KiB).
func csvHeaderLine(br *bufio.Reader) []byte {
	head, _ := br.Peek(64 << 10)
	head = bytes.TrimPrefix(head, utf8BOM)
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	return head
}

// csvGeometryColumns finds the geometry columns of a header, case-insensitively; -1 when absent.
func csvGeometryColumns(header []string) (lon, lat, wkt int) {
	lon, lat, wkt = -1, -1, -1
	for i, h := range header {
		h = strings.TrimSpace(h)
		for _, n := range csvWKTNames {
			if wkt < 0 && strings.EqualFold(h, n) {
				wkt = i
			}
		}
		for _, n := range csvLonNames {
			if lon < 0 && strings.EqualFold(h, n) {
				lon = i
			}
		}
		for _, n := range csvLatNames {
			if lat < 0 && strings.EqualFold(h, n) {
				lat = i
			}
		}
	}
	return lon, lat, wkt
}

// readCSV reads CSV separated by sep, or when sep is 0 by a comma or, when the header line
// has more tabs than commas, a tab.
func readCSV(r *bufio.Reader, sep rune, fn func(*Feature) error) error {
	if sep == 0 {
		sep = ','
		if csvTabSeparated(csvHeaderLine(r)) {
			sep = '\t'
		}
	}
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.LazyQuotes = sep == '\t' // a TSV quotes nothing: a " is text
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return Errorf(Invalid, CodeInvalidInput, "csv: empty input, a header row is required")
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return Errorf(Invalid, CodeInvalidInput, "csv header: %v", pe)
		}
		return fmt.Errorf("read csv header: %w", err)
	}
	names := make([]string, len(header))
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		names[i] = h
		if h == "" {
			continue // an unnamed column carries nothing we could name; its values are dropped
		}
		lh := strings.ToLower(h)
		if seen[lh] {
			return Errorf(Invalid, CodeInvalidInput, "csv header: column %q appears twice", h)
		}
		seen[lh] = true
	}
	lonCol, latCol, wktCol := csvGeometryColumns(names)
	if wktCol < 0 && (lonCol < 0 || latCol < 0) {
		return Errorf(Invalid, CodeInvalidInput, "csv header: need lon and lat columns (lon/lng/long/longitude/x/经度/东经, lat/latitude/y/纬度/北纬) or a wkt/geometry column, got %q", names)
	}
	geomCol := func(i int) bool {
		if wktCol >= 0 {
			return i == wktCol
		}
		return i == lonCol || i == latCol
	}
	propCols := make([]int, 0, len(names))
	for i, n := range names {
		if n != "" && !geomCol(i) {
			propCols = append(propCols, i)
		}
	}
	props := make(map[string]string, len(propCols))
	var feat Feature
	for index := 0; ; index++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		clear(props)
		feat = Feature{Index: index, Props: props}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("read csv row %d: %w", index+1, err)
			}
			feat.Err = &Problem{Index: index, Code: CodeInvalidRow, Message: pe.Error()}
			if errors.Is(err, csv.ErrFieldCount) {
				feat.Err.Message = fmt.Sprintf("line %d has %d fields, the header has %d", pe.Line, len(rec), len(names))
			}
			if ferr := fn(&feat); ferr != nil {
				return ferr
			}
			continue
		}
		for _, i := range propCols {
			if v := rec[i]; v != "" {
				props[names[i]] = v
			}
		}
		if wktCol >= 0 {
			if s := strings.TrimSpace(rec[wktCol]); s != "" {
				g, perr := parseWKT(s)
				if perr != nil {
					perr.Index = index
					feat.Err = perr
				} else {
					feat.Geometry = g
				}
			}
		} else {
			feat.Geometry, feat.Err = csvPoint(rec[lonCol], rec[latCol], index)
		}
		if feat.Err != nil {
			feat.Err.ID = csvRowID(props)
		}
		if ferr := fn(&feat); ferr != nil {
			return ferr
		}
	}
}

// csvRowID names a bad row in its Problem by whichever identifier column it has.
func csvRowID(props map[string]string) string {
	id := ""
	for k, v := range props {
		if v == "" {
			continue
		}
		if f, ok := compFieldOf(k); ok && f == compID {
			return v
		}
		if f, ok := lookupField(k, cellFields); ok && f == cellCode {
			id = v
		}
	}
	return id
}

func csvPoint(lonText, latText string, index int) (orb.Geometry, *Problem) {
	lonText, latText = strings.TrimSpace(lonText), strings.TrimSpace(latText)
	if lonText == "" && latText == "" {
		return nil, nil
	}
	bad := func(format string, args ...any) *Problem {
		return &Problem{Index: index, Field: "geometry", Code: CodeInvalidCoordinates, Message: fmt.Sprintf(format, args...)}
	}
	if lonText == "" || latText == "" {
		return nil, bad("lon %q and lat %q: both or neither must be given", lonText, latText)
	}
	lon, err1 := strconv.ParseFloat(lonText, 64)
	lat, err2 := strconv.ParseFloat(latText, 64)
	if err1 != nil && !errors.Is(err1, strconv.ErrRange) || err2 != nil && !errors.Is(err2, strconv.ErrRange) {
		return nil, bad("lon %q, lat %q: not numbers", lonText, latText)
	}
	p := orb.Point{lon, lat}
	if !ValidPoint(p) {
		p := bad("lon %s, lat %s: %s", lonText, latText, coordRangeMsg)
		p.Hint = CoordHint(lon, lat)
		return nil, p
	}
	return p, nil
}

const coordRangeMsg = "coordinates must be finite WGS84/CGCS2000 degrees, |lon| <= 180 and |lat| <= 90"
