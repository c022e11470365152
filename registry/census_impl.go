package registry

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"citygrid/internal/jsonscan"
)

// Problem codes a reader sets in Feature.Err.
const (
	codeInvalidJSON        = "invalid_json"        // the record is not well-formed JSON
	codeInvalidFeature     = "invalid_feature"     // well-formed JSON, but not a GeoJSON Feature
	codeInvalidGeometry    = "invalid_geometry"    // malformed geometry JSON or WKT
	codeInvalidCoordinates = "invalid_coordinates" // NaN/Inf or out-of-range lon/lat
	codeInvalidRow         = "invalid_row"         // a CSV row that cannot be split into the header's fields
	codeLineTooLong        = "line_too_long"       // an NDJSON line above maxLineBytes
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
	}
	h := bytes.TrimPrefix(head, utf8BOM)
	h = bytes.TrimLeft(h, " \t\r\n")
	if len(h) == 0 {
		return "", Errorf(Invalid, ErrInvalidInput.Code, "cannot tell the format of %q: no extension and empty content", name)
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
	if bytes.IndexByte(line, ',') >= 0 {
		cols := strings.Split(strings.TrimSpace(string(line)), ",")
		lon, lat, wkt := csvGeometryColumns(cols)
		if wkt >= 0 || lon >= 0 && lat >= 0 {
			return FormatCSV, nil
		}
	}
	return "", Errorf(Invalid, ErrInvalidInput.Code, "cannot tell the format of %q: use a .geojson, .ndjson or .csv name", name)
}

func readFeatures(r io.Reader, f Format, fn func(*Feature) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	switch f {
	case FormatGeoJSON:
		return readGeoJSON(br, fn)
	case FormatNDJSON:
		return readNDJSON(br, fn)
	case FormatCSV:
		return readCSV(br, fn)
	}
	return Errorf(Invalid, ErrInvalidInput.Code, "unknown census format %q (want geojson, ndjson or csv)", string(f))
}

// --- GeoJSON FeatureCollection --------------------------------------------------------

// readGeoJSON walks the top-level object with a json.Decoder, token by token. At the
// "features" array it hands the rest of the stream to an elementReader, which frames one
// feature at a time with the same strict scanner the feature parser uses: framing with
// Decoder.Decode would scan every feature twice more with encoding/json's slower state
// machine (BenchmarkReadFeaturesGeoJSON keeps that path as its baseline). After the array a
// new Decoder takes over the remaining members, so the whole array is never in memory.
func readGeoJSON(r io.Reader, fn func(*Feature) error) error {
	dec := json.NewDecoder(r)
	base := int64(0) // input offset of dec's first byte, to report offsets after a hand-over
	stop := func(err error) error {
		off := base + dec.InputOffset()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Errorf(Invalid, ErrInvalidInput.Code, "geojson: input ends early (offset %d)", off)
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return Errorf(Invalid, ErrInvalidInput.Code, "geojson: %v (offset %d)", err, off)
		}
		return fmt.Errorf("read geojson: %w", err)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return Errorf(Invalid, ErrInvalidInput.Code, "geojson: empty input")
		}
		return stop(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Errorf(Invalid, ErrInvalidInput.Code, "geojson: the document is not a JSON object")
	}
	var (
		typ      string
		sawFeats bool
		members  map[string]json.RawMessage // non-"features" members, which make up a lone Feature
		p        = newFeatureParser()
		feat     Feature
		index    int
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return stop(err)
		}
		key, _ := tok.(string)
		switch key {
		case "type":
			if err := dec.Decode(&typ); err != nil {
				return stop(err)
			}
			if typ != "FeatureCollection" && typ != "Feature" {
				return Errorf(Invalid, ErrInvalidInput.Code, "geojson: type %q is neither FeatureCollection nor Feature", typ)
			}
		case "features":
			if typ == "Feature" {
				return Errorf(Invalid, ErrInvalidInput.Code, "geojson: a Feature has no features member")
			}
			sawFeats = true
			tok, err := dec.Token()
			if err != nil {
				return stop(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return Errorf(Invalid, ErrInvalidInput.Code, "geojson: features is not an array")
			}
			er := newElementReader(io.MultiReader(dec.Buffered(), r), base+dec.InputOffset())
			_, err = er.each(func(elem []byte) error {
				p.parse(elem, index, &feat)
				index++
				return fn(&feat)
			})
			if err != nil {
				return err
			}
			// Hand the members after the array to a new Decoder, as the object "{" + rest.
			rest, off, err := er.restOfObject()
			if err != nil {
				return err
			}
			dec, base = json.NewDecoder(rest), off-1
			if _, err := dec.Token(); err != nil { // the "{" we put in front
				return stop(err)
			}
		default:
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return stop(err)
			}
			if key == "crs" {
				if err := checkGeoJSONCRS(v); err != nil {
					return err
				}
			}
			if members == nil {
				members = make(map[string]json.RawMessage)
			}
			members[key] = v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return stop(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(Invalid, ErrInvalidInput.Code, "geojson: data after the top-level object (offset %d)", base+dec.InputOffset())
	}
	switch {
	case typ == "Feature" && sawFeats:
		return Errorf(Invalid, ErrInvalidInput.Code, "geojson: a Feature has no features member")
	case typ == "Feature":
		if members == nil {
			members = make(map[string]json.RawMessage)
		}
		members["type"] = json.RawMessage(`"Feature"`)
		b, err := json.Marshal(members)
		if err != nil {
			return fmt.Errorf("read geojson feature: %w", err)
		}
		p.parse(b, 0, &feat)
		return fn(&feat)
	case !sawFeats:
		return Errorf(Invalid, ErrInvalidInput.Code, "geojson: neither a FeatureCollection with a features array nor a Feature")
	}
	return nil
}

// checkGeoJSONCRS refuses a named pre-RFC 7946 "crs" other than lon/lat WGS84 or CGCS2000:
// QGIS and ArcGIS exports in a projected CRS (a Gauss-Krüger zone, Web Mercator) would
// otherwise fail feature by feature with invalid_coordinates, or worse, pass when small.
func checkGeoJSONCRS(raw json.RawMessage) error {
	var crs struct {
		Type       string
		Properties struct{ Name string }
	}
	if json.Unmarshal(raw, &crs) != nil || crs.Type != "name" || crs.Properties.Name == "" {
		return nil // null, linked or unreadable: RFC 7946 says to ignore it
	}
	name := strings.ToUpper(crs.Properties.Name)
	for _, ok := range [...]string{"CRS84", "EPSG::4326", "EPSG:4326", "EPSG::4490", "EPSG:4490"} {
		if strings.HasSuffix(name, ok) {
			return nil
		}
	}
	return Errorf(Invalid, ErrInvalidCRS.Code, "geojson: crs %q is not lon/lat WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490); reproject the file", crs.Properties.Name)
}

// maxElementBytes bounds one feature of a FeatureCollection, like maxLineBytes one NDJSON line.
const maxElementBytes = maxLineBytes

// elementReader frames the elements of a JSON array read from a stream, just after its "[".
type elementReader struct {
	src  io.Reader
	buf  []byte // buf[off:] is read but not consumed
	off  int
	base int64 // input offset of buf[0]
	eof  bool
	err  error // a read error other than EOF
}

func newElementReader(src io.Reader, offset int64) *elementReader {
	return &elementReader{src: src, buf: make([]byte, 0, 256<<10), base: offset}
}

// fill reads more input. When the unconsumed bytes fill more than half the buffer, the
// buffer doubles, so a large element is rescanned only a logarithmic number of times.
func (er *elementReader) fill() bool {
	if er.eof || er.err != nil {
		return false
	}
	unread := len(er.buf) - er.off
	if er.off > 0 {
		copy(er.buf, er.buf[er.off:])
		er.base += int64(er.off)
		er.buf, er.off = er.buf[:unread], 0
	}
	if unread > cap(er.buf)/2 {
		nb := make([]byte, unread, 2*cap(er.buf))
		copy(nb, er.buf)
		er.buf = nb
	}
	for empty := 0; len(er.buf) < cap(er.buf); {
		n, err := er.src.Read(er.buf[len(er.buf):cap(er.buf)])
		er.buf = er.buf[:len(er.buf)+n]
		if n == 0 && err == nil {
			if empty++; empty == 100 {
				er.err = io.ErrNoProgress // as bufio.Reader does
				break
			}
		}
		if err == io.EOF {
			er.eof = true
			break
		}
		if err != nil {
			er.err = err
			break
		}
		if n > 0 && len(er.buf)-unread >= 4096 {
			break // enough to go on; don't block waiting to fill a slow stream's whole buffer
		}
	}
	return len(er.buf) > unread
}

// next skips whitespace and returns the next byte without consuming it; ok is false at the
// end of input.
func (er *elementReader) next() (byte, bool) {
	for {
		for er.off < len(er.buf) {
			switch c := er.buf[er.off]; c {
			case ' ', '\t', '\n', '\r':
				er.off++
			default:
				return c, true
			}
		}
		if !er.fill() {
			return 0, false
		}
	}
}

func (er *elementReader) syntaxError(msg string, at int) error {
	if er.err != nil {
		return fmt.Errorf("read geojson: %w", er.err)
	}
	return Errorf(Invalid, ErrInvalidInput.Code, "geojson: %s (offset %d)", msg, er.base+int64(at))
}

// each calls fn with every element of the array, up to and including its "]".
func (er *elementReader) each(fn func([]byte) error) (int, error) {
	n := 0
	c, ok := er.next()
	if !ok {
		return n, er.syntaxError("input ends inside the features array", er.off)
	}
	if c == ']' {
		er.off++
		return n, nil
	}
	for {
		elem, err := er.element()
		if err != nil {
			return n, err
		}
		n++
		if err := fn(elem); err != nil {
			return n, err
		}
		c, ok := er.next()
		switch {
		case !ok:
			return n, er.syntaxError("input ends inside the features array", er.off)
		case c == ',':
			er.off++
		case c == ']':
			er.off++
			return n, nil
		default:
			return n, er.syntaxError(fmt.Sprintf("expected , or ] after feature %d", n-1), er.off)
		}
	}
}

// element returns the next complete JSON value; it is valid until the next call.
func (er *elementReader) element() ([]byte, error) {
	for {
		data := er.buf[er.off:]
		s := jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
		ok := s.Skip()
		// A value that ends exactly at the end of the buffer may go on (a number), one that
		// failed at the end of the buffer may be complete once more is read.
		if ok && (s.Pos < len(data) || er.eof) {
			er.off += s.Pos
			return data[:s.Pos], nil
		}
		if (ok || s.Pos >= len(data)) && !er.eof && er.err == nil {
			if len(data) > maxElementBytes {
				return nil, er.syntaxError(fmt.Sprintf("a feature is larger than %d bytes", maxElementBytes), er.off)
			}
			if !er.fill() && !er.eof {
				return nil, er.syntaxError("read stalled", er.off)
			}
			continue
		}
		return nil, er.syntaxError(s.ErrMsg("bad feature"), er.off)
	}
}

// restOfObject returns the input after the array as the text of an object, "{" + the
// remaining members, and the offset that "{" stands for.
func (er *elementReader) restOfObject() (io.Reader, int64, error) {
	c, ok := er.next()
	if !ok {
		return nil, 0, er.syntaxError("input ends after the features array", er.off)
	}
	switch c {
	case '}':
	case ',':
		er.off++
		if c, ok := er.next(); !ok || c != '"' {
			return nil, 0, er.syntaxError("expected a member name after ,", er.off)
		}
	default:
		return nil, 0, er.syntaxError("expected , or } after the features array", er.off)
	}
	off := er.base + int64(er.off)
	return io.MultiReader(strings.NewReader("{"), bytes.NewReader(er.buf[er.off:]), er.src), off, nil
}

// --- newline-delimited GeoJSON ---------------------------------------------------------

func readNDJSON(br *bufio.Reader, fn func(*Feature) error) error {
	var (
		p     = newFeatureParser()
		feat  Feature
		long  []byte // a line longer than br's buffer, assembled here
		index int
	)
	for {
		line, err := br.ReadSlice('\n')
		tooLong := false
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				if len(long)+len(line) > maxLineBytes {
					tooLong = true
				} else {
					long = append(long, line...)
				}
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read ndjson: %w", err)
		}
		if tooLong {
			feat = Feature{Index: index, Err: &Problem{Index: index, Code: codeLineTooLong,
				Message: fmt.Sprintf("line is longer than %d bytes", maxLineBytes)}}
			if ferr := fn(&feat); ferr != nil {
				return ferr
			}
			index++
		} else if rec := trimRecord(line); len(rec) > 0 {
			p.parse(rec, index, &feat)
			if ferr := fn(&feat); ferr != nil {
				return ferr
			}
			index++
		}
		if err == io.EOF {
			return nil
		}
	}
}

// trimRecord strips whitespace and RFC 8142 record separators around one NDJSON line.
func trimRecord(b []byte) []byte {
	for len(b) > 0 {
		c := b[0]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0x1E {
			break
		}
		b = b[1:]
	}
	for len(b) > 0 {
		c := b[len(b)-1]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}

// --- CSV -------------------------------------------------------------------------------

var (
	csvLonNames = []string{"lon", "lng", "longitude", "x"}
	csvLatNames = []string{"lat", "latitude", "y"}
	csvWKTNames = []string{"wkt", "geometry"}
)

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

func readCSV(r io.Reader, fn func(*Feature) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return Errorf(Invalid, ErrInvalidInput.Code, "csv: empty input, a header row is required")
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return Errorf(Invalid, ErrInvalidInput.Code, "csv header: %v", pe)
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
			return Errorf(Invalid, ErrInvalidInput.Code, "csv header: column %q appears twice", h)
		}
		seen[lh] = true
	}
	lonCol, latCol, wktCol := csvGeometryColumns(names)
	if wktCol < 0 && (lonCol < 0 || latCol < 0) {
		return Errorf(Invalid, ErrInvalidInput.Code, "csv header: need lon and lat columns (lon/lng/longitude/x, lat/latitude/y) or a wkt/geometry column, got %q", names)
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
			feat.Err = &Problem{Index: index, Code: codeInvalidRow, Message: pe.Error()}
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
	for _, k := range [...]string{"id", "code", "GLBJBSM", "ObjID"} {
		if v := props[k]; v != "" {
			return v
		}
	}
	return ""
}

func csvPoint(lonText, latText string, index int) (orb.Geometry, *Problem) {
	lonText, latText = strings.TrimSpace(lonText), strings.TrimSpace(latText)
	if lonText == "" && latText == "" {
		return nil, nil
	}
	bad := func(format string, args ...any) *Problem {
		return &Problem{Index: index, Field: "geometry", Code: codeInvalidCoordinates, Message: fmt.Sprintf(format, args...)}
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
		return nil, bad("lon %s, lat %s: %s", lonText, latText, coordRangeMsg)
	}
	return p, nil
}

const coordRangeMsg = "coordinates must be finite WGS84/CGCS2000 degrees, |lon| <= 180 and |lat| <= 90"

// --- feature JSON parser ----------------------------------------------------------------

// featureParser decodes one GeoJSON Feature from its JSON text. It exists, rather than
// json.Unmarshal into a struct, so that numbers keep their literal text, property names and
// values cost one allocation per feature instead of one per value, and coordinates are checked
// while they are read. It keeps its buffers between features.
type featureParser struct {
	s       jsonscan.Scanner
	props   map[string]string
	keys    map[string]string // interned property names
	blob    []byte            // the feature's id and property values, back to back
	spans   []propSpan
	scratch []byte
	pts     []orb.Point
}

type propSpan struct {
	key        string
	start, end int
}

func newFeatureParser() *featureParser {
	return &featureParser{props: make(map[string]string), keys: make(map[string]string)}
}

// parse fills f from data, the JSON text of one feature at position index. f.Props is the
// parser's reused map.
func (p *featureParser) parse(data []byte, index int, f *Feature) {
	clear(p.props)
	*f = Feature{Index: index, Props: p.props}
	p.blob = p.blob[:0]
	p.spans = p.spans[:0]
	p.s = jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
	s := &p.s

	var (
		typ                string
		idStart, idEnd     = -1, -1
		geomStart, geomEnd = -1, -1
		notFeature         string
	)
	fail := func(code, msg string) {
		if f.ID == "" && 0 <= idStart && idStart <= idEnd && idEnd <= len(p.blob) {
			f.ID = string(p.blob[idStart:idEnd]) // name the feature in its problem if the id was read
		}
		f.Err = &Problem{Index: index, ID: f.ID, Code: code, Message: msg}
		if code == codeInvalidGeometry || code == codeInvalidCoordinates {
			f.Err.Field = "geometry"
		}
		f.Geometry = nil
		clear(p.props)
	}
	s.WS()
	if !s.Consume('{') {
		if s.Skip() && s.AtEnd() {
			fail(codeInvalidFeature, "the record is not a JSON object")
		} else {
			fail(codeInvalidJSON, s.ErrMsg("the record is not valid JSON"))
		}
		return
	}
	s.WS()
	if !s.Consume('}') {
		for {
			s.WS()
			key, ok := p.key()
			if !ok || !s.Colon() {
				fail(codeInvalidJSON, s.ErrMsg("bad object key"))
				return
			}
			switch key {
			case "type":
				if s.Peek() != '"' {
					if !s.Skip() {
						fail(codeInvalidJSON, s.ErrMsg("bad value"))
						return
					}
					notFeature = "type is not a string"
					break
				}
				v, ok := p.stringValue()
				if !ok {
					fail(codeInvalidJSON, s.ErrMsg("bad type string"))
					return
				}
				typ = v
			case "id":
				switch c := s.Peek(); {
				case c == '"':
					raw, esc, ok := s.String()
					if !ok {
						fail(codeInvalidJSON, s.ErrMsg("bad id string"))
						return
					}
					idStart = len(p.blob)
					p.blob = jsonscan.AppendUnquoted(p.blob, raw, esc)
					idEnd = len(p.blob)
				case c == '-' || c >= '0' && c <= '9':
					num, ok := s.Number()
					if !ok {
						fail(codeInvalidJSON, s.ErrMsg("bad id number"))
						return
					}
					idStart = len(p.blob)
					p.blob = append(p.blob, num...)
					idEnd = len(p.blob)
				case c == 'n':
					if !s.Literal("null") {
						fail(codeInvalidJSON, s.ErrMsg("bad literal"))
						return
					}
					idStart, idEnd = -1, -1
				default:
					if !s.Skip() {
						fail(codeInvalidJSON, s.ErrMsg("bad id"))
						return
					}
					notFeature = "id is neither a string nor a number"
				}
			case "geometry":
				geomStart = s.Pos
				if !s.Skip() {
					fail(codeInvalidJSON, s.ErrMsg("bad geometry"))
					return
				}
				geomEnd = s.Pos
			case "properties":
				if !p.properties() {
					if s.Err() != "" {
						fail(codeInvalidJSON, s.ErrMsg("bad properties"))
						return
					}
					notFeature = "properties is neither an object nor null"
				}
			default:
				if !s.Skip() {
					fail(codeInvalidJSON, s.ErrMsg("bad value"))
					return
				}
			}
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume('}') {
				break
			}
			fail(codeInvalidJSON, s.ErrMsg("expected , or }"))
			return
		}
	}
	if !s.AtEnd() {
		fail(codeInvalidJSON, s.ErrMsg("data after the feature object"))
		return
	}
	// One string holds the id and every property value, so a feature costs one allocation.
	all := string(p.blob)
	if idStart >= 0 {
		f.ID = all[idStart:idEnd]
	}
	for _, sp := range p.spans {
		p.props[sp.key] = all[sp.start:sp.end]
	}
	switch {
	case typ != "Feature":
		if typ == "" {
			fail(codeInvalidFeature, "the object has no \"type\": \"Feature\"")
		} else {
			fail(codeInvalidFeature, fmt.Sprintf("type is %q, want \"Feature\"", typ))
		}
		return
	case notFeature != "":
		fail(codeInvalidFeature, notFeature)
		return
	}
	if geomStart >= 0 {
		g, prob := p.geometry(data[geomStart:geomEnd], 0)
		if prob != nil {
			fail(prob.Code, prob.Message)
			return
		}
		f.Geometry = g
	}
}

// key reads an object key and returns it as an interned string.
func (p *featureParser) key() (string, bool) {
	raw, esc, ok := p.s.String()
	if !ok {
		return "", false
	}
	if esc || !utf8.Valid(raw) {
		p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], raw, true)
		raw = p.scratch
	}
	if k, ok := p.keys[string(raw)]; ok {
		return k, true
	}
	k := string(raw)
	if len(p.keys) < maxKeyIntern {
		p.keys[k] = k
	}
	return k, true
}

// stringValue reads a string value into a new string (for the rare small values we inspect).
func (p *featureParser) stringValue() (string, bool) {
	raw, esc, ok := p.s.String()
	if !ok {
		return "", false
	}
	if !esc {
		switch string(raw) { // common values without an allocation
		case "Feature":
			return "Feature", true
		}
	}
	p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], raw, esc)
	return string(p.scratch), true
}

// properties reads the properties member. It returns false with s.Err() empty when the value
// is well-formed JSON but not an object or null.
func (p *featureParser) properties() bool {
	s := &p.s
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '{':
	default:
		s.Skip()
		return false
	}
	s.Pos++
	s.WS()
	if s.Consume('}') {
		return true
	}
	for {
		s.WS()
		key, ok := p.key()
		if !ok || !s.Colon() {
			return false
		}
		start := len(p.blob)
		switch c := s.Peek(); {
		case c == '"':
			raw, esc, ok := s.String()
			if !ok {
				return false
			}
			p.blob = jsonscan.AppendUnquoted(p.blob, raw, esc)
		case c == '-' || c >= '0' && c <= '9':
			num, ok := s.Number()
			if !ok {
				return false
			}
			p.blob = append(p.blob, num...)
		case c == 't':
			if !s.Literal("true") {
				return false
			}
			p.blob = append(p.blob, "true"...)
		case c == 'f':
			if !s.Literal("false") {
				return false
			}
			p.blob = append(p.blob, "false"...)
		case c == 'n':
			if !s.Literal("null") {
				return false
			}
			start = -1
		default: // an object or array: its compact JSON text
			from := s.Pos
			if !s.Skip() {
				return false
			}
			buf := bytes.NewBuffer(p.blob)
			if err := json.Compact(buf, s.Data[from:s.Pos]); err != nil {
				s.Fail("bad nested value")
				return false
			}
			p.blob = buf.Bytes()
			if v := p.blob[start:]; !utf8.Valid(v) { // as for strings: invalid UTF-8 becomes U+FFFD
				p.blob = append(p.blob[:start], bytes.ToValidUTF8(v, []byte("\uFFFD"))...)
			}
		}
		if start >= 0 {
			p.spans = append(p.spans, propSpan{key, start, len(p.blob)})
		} else { // null: absent, also overriding an earlier duplicate key
			p.spans = append(p.spans, propSpan{key, -1, -1})
		}
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume('}') {
			p.dropNulls()
			return true
		}
		s.Fail("expected , or }")
		return false
	}
}

// dropNulls removes null properties and earlier duplicates they override.
func (p *featureParser) dropNulls() {
	hasNull := false
	for _, sp := range p.spans {
		if sp.start < 0 {
			hasNull = true
			break
		}
	}
	if !hasNull {
		return
	}
	out := p.spans[:0]
	for i, sp := range p.spans {
		if sp.start < 0 {
			continue
		}
		overridden := false
		for _, later := range p.spans[i+1:] {
			if later.key == sp.key && later.start < 0 {
				overridden = true
			}
		}
		if !overridden {
			out = append(out, sp)
		}
	}
	p.spans = out
}

// geometry decodes a GeoJSON geometry object (or null) from its JSON text, which the caller
// has already found to be well-formed.
func (p *featureParser) geometry(data []byte, depth int) (orb.Geometry, *Problem) {
	sub := jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
	s := &sub
	s.WS()
	if s.Literal("null") {
		return nil, nil
	}
	bad := func(msg string) *Problem {
		return &Problem{Field: "geometry", Code: codeInvalidGeometry, Message: msg}
	}
	if !s.Consume('{') {
		return nil, bad("geometry is not an object")
	}
	var typ string
	coords, geoms := []byte(nil), []byte(nil)
	s.WS()
	if !s.Consume('}') {
		for {
			s.WS()
			raw, esc, ok := s.String()
			if !ok || !s.Colon() {
				return nil, bad("bad geometry member")
			}
			if esc {
				p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], raw, true)
				raw = p.scratch
			}
			switch string(raw) {
			case "type":
				if s.Peek() != '"' {
					return nil, bad("geometry type is not a string")
				}
				v, esc, ok := s.String()
				if !ok {
					return nil, bad("bad geometry type")
				}
				p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], v, esc)
				typ = geometryTypeName(p.scratch)
			case "coordinates":
				from := s.Pos
				if !s.Skip() {
					return nil, bad("bad coordinates")
				}
				coords = s.Data[from:s.Pos]
			case "geometries":
				from := s.Pos
				if !s.Skip() {
					return nil, bad("bad geometries")
				}
				geoms = s.Data[from:s.Pos]
			default:
				if !s.Skip() {
					return nil, bad("bad geometry member")
				}
			}
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume('}') {
				break
			}
			return nil, bad("bad geometry object")
		}
	}
	if typ == "GeometryCollection" {
		if geoms == nil {
			return nil, bad("GeometryCollection has no geometries")
		}
		if depth >= 4 {
			return nil, bad("GeometryCollection nested too deep")
		}
		return p.collection(geoms, depth)
	}
	switch typ {
	case "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon":
	case "":
		return nil, bad("geometry has no type")
	default:
		return nil, bad(fmt.Sprintf("unknown geometry type %q", typ))
	}
	if coords == nil {
		return nil, bad(typ + " has no coordinates")
	}
	c := coordReader{s: jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: coords}, p: p}
	c.s.WS()
	var g orb.Geometry
	switch typ {
	case "Point":
		pt, ok := c.position()
		if ok {
			g = pt
		}
	case "MultiPoint":
		ls, ok := c.line()
		if ok {
			g = orb.MultiPoint(ls)
		}
	case "LineString":
		ls, ok := c.line()
		if ok {
			g = orb.LineString(ls)
		}
	case "MultiLineString":
		rs, ok := c.rings()
		if ok {
			mls := make(orb.MultiLineString, len(rs))
			for i, r := range rs {
				mls[i] = orb.LineString(r)
			}
			g = mls
		}
	case "Polygon":
		rs, ok := c.rings()
		if ok {
			g = orb.Polygon(rs)
		}
	case "MultiPolygon":
		mp, ok := c.multiPolygon()
		if ok {
			g = mp
		}
	}
	if c.prob != nil {
		return nil, c.prob
	}
	if g == nil || !c.s.AtEnd() {
		return nil, bad(fmt.Sprintf("%s coordinates are malformed", typ))
	}
	return g, nil
}

// geometryTypeName returns b as a string, without allocating for the GeoJSON type names.
func geometryTypeName(b []byte) string {
	switch string(b) {
	case "Point":
		return "Point"
	case "MultiPoint":
		return "MultiPoint"
	case "LineString":
		return "LineString"
	case "MultiLineString":
		return "MultiLineString"
	case "Polygon":
		return "Polygon"
	case "MultiPolygon":
		return "MultiPolygon"
	case "GeometryCollection":
		return "GeometryCollection"
	}
	return string(b)
}

func (p *featureParser) collection(data []byte, depth int) (orb.Geometry, *Problem) {
	s := jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
	s.WS()
	bad := &Problem{Field: "geometry", Code: codeInvalidGeometry, Message: "geometries is not an array of geometries"}
	if !s.Consume('[') {
		return nil, bad
	}
	out := orb.Collection{}
	s.WS()
	if s.Consume(']') {
		return out, nil
	}
	for {
		s.WS()
		from := s.Pos
		if !s.Skip() {
			return nil, bad
		}
		g, prob := p.geometry(s.Data[from:s.Pos], depth+1)
		if prob != nil {
			return nil, prob
		}
		if g == nil {
			return nil, bad
		}
		out = append(out, g)
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			return out, nil
		}
		return nil, bad
	}
}

// coordReader reads GeoJSON coordinate arrays, checking every position's range.
type coordReader struct {
	s    jsonscan.Scanner
	p    *featureParser
	prob *Problem // set on the first invalid coordinate
}

func (c *coordReader) position() (orb.Point, bool) {
	s := &c.s
	if !s.Consume('[') {
		return orb.Point{}, false
	}
	var v [2]float64
	n := 0
	for {
		s.WS()
		num, ok := s.Number()
		if !ok {
			return orb.Point{}, false
		}
		if n < 2 {
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return orb.Point{}, false
			}
			v[n] = f
		}
		n++ // altitude and further elements are allowed and dropped (RFC 7946 §3.1.1)
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			break
		}
		return orb.Point{}, false
	}
	if n < 2 {
		return orb.Point{}, false
	}
	pt := orb.Point(v)
	if !ValidPoint(pt) && c.prob == nil {
		c.prob = &Problem{Field: "geometry", Code: codeInvalidCoordinates,
			Message: fmt.Sprintf("position [%s, %s]: %s", fmtCoord(v[0]), fmtCoord(v[1]), coordRangeMsg)}
	}
	return pt, true
}

// line reads an array of positions into a new exact-size slice.
func (c *coordReader) line() ([]orb.Point, bool) {
	s := &c.s
	if !s.Consume('[') {
		return nil, false
	}
	start := len(c.p.pts)
	defer func() { c.p.pts = c.p.pts[:start] }()
	s.WS()
	if !s.Consume(']') {
		for {
			s.WS()
			pt, ok := c.position()
			if !ok {
				return nil, false
			}
			c.p.pts = append(c.p.pts, pt)
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume(']') {
				break
			}
			return nil, false
		}
	}
	out := make([]orb.Point, len(c.p.pts)-start)
	copy(out, c.p.pts[start:])
	return out, true
}

func (c *coordReader) rings() ([]orb.Ring, bool) {
	return readArray(c, func() (orb.Ring, bool) {
		ls, ok := c.line()
		return orb.Ring(ls), ok
	})
}

func (c *coordReader) multiPolygon() (orb.MultiPolygon, bool) {
	polys, ok := readArray(c, func() (orb.Polygon, bool) {
		rs, ok := c.rings()
		return orb.Polygon(rs), ok
	})
	return orb.MultiPolygon(polys), ok
}

// readArray reads a JSON array whose members elem reads; an empty array gives a non-nil,
// empty slice.
func readArray[T any](c *coordReader, elem func() (T, bool)) ([]T, bool) {
	s := &c.s
	if !s.Consume('[') {
		return nil, false
	}
	out := []T{}
	s.WS()
	if s.Consume(']') {
		return out, true
	}
	for {
		s.WS()
		v, ok := elem()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			return out, true
		}
		return nil, false
	}
}

func fmtCoord(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// --- WKT -------------------------------------------------------------------------------

// parseWKT parses the WKT (or EWKT with SRID 4326 or 4490) text of a POINT, MULTIPOINT,
// LINESTRING, POLYGON or MULTIPOLYGON, with optional Z/M ordinates, which are dropped.
// The returned Problem (Field "geometry") has code invalid_geometry for malformed text and
// invalid_coordinates for NaN, infinite or out-of-range lon/lat; its Index is 0.
func parseWKT(text string) (orb.Geometry, *Problem) {
	w := wktParser{s: text}
	g := w.parse()
	if w.prob != nil {
		return nil, w.prob
	}
	return g, nil
}

type wktParser struct {
	s    string
	pos  int
	dims int // ordinates per position from the Z/M tag; 0 = 2 to 4 accepted
	prob *Problem
}

func (w *wktParser) fail(code, format string, args ...any) {
	if w.prob == nil {
		w.prob = &Problem{Field: "geometry", Code: code, Message: "wkt: " + fmt.Sprintf(format, args...)}
	}
}

func (w *wktParser) ws() {
	for w.pos < len(w.s) {
		switch w.s[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *wktParser) word() string {
	w.ws()
	start := w.pos
	for w.pos < len(w.s) {
		c := w.s[w.pos]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			break
		}
		w.pos++
	}
	return strings.ToUpper(w.s[start:w.pos])
}

func (w *wktParser) consume(c byte) bool {
	w.ws()
	if w.pos < len(w.s) && w.s[w.pos] == c {
		w.pos++
		return true
	}
	return false
}

func (w *wktParser) parse() orb.Geometry {
	if len(w.s) > 5 && strings.EqualFold(w.s[:5], "SRID=") {
		semi := strings.IndexByte(w.s, ';')
		if semi < 0 {
			w.fail(codeInvalidGeometry, "SRID prefix without ;")
			return nil
		}
		switch srid := strings.TrimSpace(w.s[5:semi]); srid {
		case "4326", "4490":
		default:
			w.fail(codeInvalidGeometry, "SRID %q is not 4326 (WGS84) or 4490 (CGCS2000)", srid)
			return nil
		}
		w.pos = semi + 1
	}
	kw := w.word()
	for _, base := range [...]string{"POINT", "MULTIPOINT", "LINESTRING", "POLYGON", "MULTIPOLYGON", "MULTILINESTRING"} {
		if strings.HasPrefix(kw, base) {
			switch kw[len(base):] {
			case "Z", "M":
				kw, w.dims = base, 3
			case "ZM":
				kw, w.dims = base, 4
			}
		}
	}
	if w.dims == 0 {
		save := w.pos
		switch w.word() {
		case "Z", "M":
			w.dims = 3
		case "ZM":
			w.dims = 4
		default:
			w.pos = save
		}
	}
	empty := func() bool {
		save := w.pos
		if w.word() == "EMPTY" {
			return true
		}
		w.pos = save
		return false
	}
	var g orb.Geometry
	switch kw {
	case "POINT":
		if empty() {
			g = nil
			break
		}
		if !w.consume('(') {
			w.fail(codeInvalidGeometry, "expected ( after POINT")
			return nil
		}
		p := w.position()
		if !w.consume(')') {
			w.fail(codeInvalidGeometry, "expected ) after the POINT position")
		}
		g = p
	case "MULTIPOINT":
		if empty() {
			g = orb.MultiPoint{}
			break
		}
		g = orb.MultiPoint(w.points(true))
	case "LINESTRING":
		if empty() {
			g = orb.LineString{}
			break
		}
		g = orb.LineString(w.points(false))
	case "POLYGON":
		if empty() {
			g = orb.Polygon{}
			break
		}
		g = w.polygon()
	case "MULTIPOLYGON":
		if empty() {
			g = orb.MultiPolygon{}
			break
		}
		if !w.consume('(') {
			w.fail(codeInvalidGeometry, "expected ( after MULTIPOLYGON")
			return nil
		}
		mp := orb.MultiPolygon{}
		for w.prob == nil {
			mp = append(mp, w.polygon())
			if w.consume(',') {
				continue
			}
			if !w.consume(')') {
				w.fail(codeInvalidGeometry, "expected , or ) in MULTIPOLYGON at byte %d", w.pos)
			}
			break
		}
		g = mp
	case "":
		w.fail(codeInvalidGeometry, "no geometry type")
		return nil
	default:
		w.fail(codeInvalidGeometry, "unsupported geometry type %q (want POINT, MULTIPOINT, LINESTRING, POLYGON or MULTIPOLYGON)", kw)
		return nil
	}
	w.ws()
	if w.prob == nil && w.pos != len(w.s) {
		w.fail(codeInvalidGeometry, "unexpected text at byte %d", w.pos)
	}
	if w.prob != nil {
		return nil
	}
	return g
}

func (w *wktParser) polygon() orb.Polygon {
	if !w.consume('(') {
		w.fail(codeInvalidGeometry, "expected ( to start a polygon at byte %d", w.pos)
		return nil
	}
	var p orb.Polygon
	for w.prob == nil {
		p = append(p, orb.Ring(w.points(false)))
		if w.consume(',') {
			continue
		}
		if !w.consume(')') {
			w.fail(codeInvalidGeometry, "expected , or ) in a polygon at byte %d", w.pos)
		}
		break
	}
	return p
}

// points reads "(x y, x y, …)"; with paren, each position may be wrapped as "(x y)" (MULTIPOINT).
func (w *wktParser) points(paren bool) []orb.Point {
	if !w.consume('(') {
		w.fail(codeInvalidGeometry, "expected ( at byte %d", w.pos)
		return nil
	}
	var pts []orb.Point
	for w.prob == nil {
		wrapped := paren && w.consume('(')
		pts = append(pts, w.position())
		if wrapped && !w.consume(')') {
			w.fail(codeInvalidGeometry, "expected ) at byte %d", w.pos)
		}
		if w.consume(',') {
			continue
		}
		if !w.consume(')') {
			w.fail(codeInvalidGeometry, "expected , or ) at byte %d", w.pos)
		}
		break
	}
	return pts
}

func (w *wktParser) position() orb.Point {
	var v [2]float64
	n := 0
	for {
		w.ws()
		start := w.pos
		for w.pos < len(w.s) {
			c := w.s[w.pos]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ')' || c == '(' {
				break
			}
			w.pos++
		}
		if w.pos == start {
			break
		}
		f, err := strconv.ParseFloat(w.s[start:w.pos], 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			w.fail(codeInvalidGeometry, "%q is not a number", w.s[start:w.pos])
			return orb.Point{}
		}
		if n < 2 {
			v[n] = f
		}
		n++
	}
	if n < 2 || n > 4 || w.dims != 0 && n != w.dims {
		w.fail(codeInvalidGeometry, "a position has %d ordinates at byte %d", n, w.pos)
		return orb.Point{}
	}
	p := orb.Point(v)
	if !ValidPoint(p) {
		w.fail(codeInvalidCoordinates, "position (%s %s): %s", fmtCoord(v[0]), fmtCoord(v[1]), coordRangeMsg)
	}
	return p
}
