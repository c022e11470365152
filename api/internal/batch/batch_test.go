package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// limit is the batch limit of the tests, api.MaxBatchPoints.
const limit = 10000

// reference decodes body as encoding/json does: the whole body into []json.RawMessage (or a
// struct with Type, Coordinates and Features), then each position into a []float64 (or two
// numbers and a class string), each feature into a struct whose geometry and properties are
// decoded apart. It returns the positions (ok false for an element of the wrong shape or an
// invalid point) with their classes, or the error's code.
func reference(body []byte) ([]orb.Point, []bool, []string, string) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	features := false
	switch {
	case len(body) == 0:
		return nil, nil, nil, "invalid_input"
	case body[0] == '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, nil, nil, "invalid_input"
		}
	case body[0] == '{':
		var doc struct {
			Type        string
			Coordinates []json.RawMessage
			Features    []json.RawMessage
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, nil, nil, "invalid_input"
		}
		switch {
		case doc.Type == "MultiPoint" && doc.Coordinates != nil:
			raws = doc.Coordinates
		case doc.Type == "FeatureCollection" && doc.Features != nil:
			raws, features = doc.Features, true
		default:
			return nil, nil, nil, "invalid_input"
		}
	default:
		return nil, nil, nil, "invalid_input"
	}
	if len(raws) > limit {
		return nil, nil, nil, "too_many_points"
	}
	pts, oks, classes := make([]orb.Point, len(raws)), make([]bool, len(raws)), make([]string, len(raws))
	for i, raw := range raws {
		var ok bool
		if features {
			pts[i], classes[i], ok = referenceFeature(raw)
		} else {
			pts[i], classes[i], ok = referencePosition(raw, true)
		}
		oks[i] = ok && registry.ValidPoint(pts[i])
	}
	return pts, oks, classes, ""
}

// referencePosition decodes [lon,lat], [lon,lat,alt] or, with classes, [lon,lat,"class"].
func referencePosition(raw json.RawMessage, classes bool) (orb.Point, string, bool) {
	var xy []float64
	if err := json.Unmarshal(raw, &xy); err == nil {
		if len(xy) < 2 || len(xy) > 3 {
			return orb.Point{}, "", false
		}
		return orb.Point{xy[0], xy[1]}, "", true
	}
	var els []json.RawMessage
	if !classes || json.Unmarshal(raw, &els) != nil || len(els) != 3 {
		return orb.Point{}, "", false
	}
	var lon, lat float64
	var class string
	if json.Unmarshal(els[0], &lon) != nil || json.Unmarshal(els[1], &lat) != nil ||
		json.Unmarshal(els[2], &class) != nil || bytes.TrimSpace(els[2])[0] != '"' || class == "" {
		return orb.Point{}, "", false
	}
	return orb.Point{lon, lat}, class, true
}

// referenceFeature decodes a Point feature and its class.
func referenceFeature(raw json.RawMessage) (orb.Point, string, bool) {
	var f struct {
		Type       string
		Geometry   json.RawMessage
		Properties json.RawMessage
	}
	if json.Unmarshal(raw, &f) != nil || f.Type != "Feature" || f.Geometry == nil {
		return orb.Point{}, "", false
	}
	var g *struct {
		Type        string
		Coordinates json.RawMessage
	}
	if json.Unmarshal(f.Geometry, &g) != nil || g == nil || g.Type != "Point" || g.Coordinates == nil {
		return orb.Point{}, "", false
	}
	p, _, ok := referencePosition(g.Coordinates, false)
	if !ok {
		return orb.Point{}, "", false
	}
	class := ""
	if f.Properties != nil {
		var props *struct{ Class *string }
		if json.Unmarshal(f.Properties, &props) != nil {
			return orb.Point{}, "", false
		}
		if props != nil && props.Class != nil {
			class = *props.Class
		}
	}
	return p, class, true
}

// checkSameAsReference decodes body with Decode and with encoding/json (reference), and fails
// unless both give the same error code or the same positions (validity, exact coordinates and
// class).
func checkSameAsReference(t testing.TB, body string) {
	t.Helper()
	wantPts, wantOK, wantClasses, wantCode := reference([]byte(body))
	pos, trimmed, n, err := Decode([]byte(body), nil, limit)
	code := ""
	var re *registry.Error
	switch {
	case errors.As(err, &re):
		code = re.Code
	case err != nil:
		t.Fatalf("Decode(%q): %v, not a registry error", body, err)
	case n > limit:
		code = "too_many_points"
	}
	if code != wantCode {
		t.Fatalf("Decode(%q) = %q (%v), want %q", body, code, err, wantCode)
	}
	if code != "" {
		return
	}
	if len(pos) != len(wantPts) || n != len(pos) {
		t.Fatalf("Decode(%q) = %d positions (counted %d), want %d", body, len(pos), n, len(wantPts))
	}
	for i := range pos {
		p, ok := pos[i].Point(trimmed)
		if ok != wantOK[i] {
			t.Fatalf("Decode(%q) position %d: ok = %v, want %v", body, i, ok, wantOK[i])
		}
		if !ok {
			continue
		}
		w := wantPts[i]
		if math.Float64bits(p[0]) != math.Float64bits(w[0]) || math.Float64bits(p[1]) != math.Float64bits(w[1]) {
			t.Fatalf("Decode(%q) position %d = %v, want %v", body, i, p, w)
		}
		if got := string(pos[i].AppendClass(nil, trimmed)); got != wantClasses[i] {
			t.Fatalf("Decode(%q) position %d class = %q, want %q", body, i, got, wantClasses[i])
		}
	}
}

var seeds = []string{
	``, ` `, `null`, `[]`, `{}`, `[[1,2]]`, `[[1,2] ]`, "\t[ [ 1 , 2 ] ]\n", `[[1,2],]`, `[[1,2]`, `[[1,2]] x`,
	`[[1,2,3]]`, `[[1,2,3,4]]`, `[[1]]`, `[[]]`, `[null]`, `[[null,1]]`, `[[1,null,null]]`, `[[null,null]]`,
	`["x"]`, `[{}]`, `[true,false]`, `[[1,"2"]]`, `[[1,[2]]]`, `[[1e999,0]]`, `[[1e-999,0]]`, `[[-0,-0.0]]`,
	`[[01,2]]`, `[[1.,2]]`, `[[.5,2]]`, `[[+1,2]]`, `[[1e,2]]`, `[[1E+2,3e-1]]`, `[[-,2]]`, `[[NaN,1]]`,
	`[[116.3974812345678901,39.9]]`, `[[123456789012345.5,0.1]]`, `[[0.0000000000000000000001,-0.0000]]`,
	`[[12345678901234567890123,1]]`, `[[-179.99999999999997,89.99999999999999]]`, `[[116.397481,39.908823]]`,
	`[[31.999999999999998,29.636145182530996]]`, `[[106.5710900891195,9007199254740993]]`,
	`[[200,10]]`, `[[180,90],[-180,-90],[180.0000001,0]]`, `[[116.39748,39.90882]]`,
	`{"type":"MultiPoint","coordinates":[[1,2]]}`, `{"type":"MultiPoint","coordinates":[]}`,
	`{"type":"MultiPoint","coordinates":null}`, `{"type":"MultiPoint"}`, `{"type":"Point","coordinates":[1,2]}`,
	`{"coordinates":[[1,2]],"type":"MultiPoint","bbox":[0,0,1,1],"properties":{"a":[{"b":null}]}}`,
	`{"TYPE":"MultiPoint","Coordinates":[[1,2]]}`, `{"type":"Multi\u0050oint","coordinate\u017f":[[1,2]]}`,
	`{"\u0074ype":"MultiPoint","coordinates":[[1,2]]}`, `{"type":"multipoint","coordinates":[[1,2]]}`,
	`{"type":"MultiPoint","coordinates":[[1,2]],"coordinates":null}`,
	`{"type":"MultiPoint","coordinates":null,"coordinates":[[3,4]]}`,
	`{"type":"MultiPoint","type":null,"coordinates":[[1,2]]}`, `{"type":1,"coordinates":[[1,2]]}`,
	`{"type":"MultiPoint","coordinates":{}}`, `{"type":"MultiPoint","coordinates":"x"}`,
	`{"type":"MultiPoint","coordinates":[[1,2]],}`, `{"type":"MultiPoint" "coordinates":[]}`,
	`{"type":"MultiPoint","coordinates":[[1,2]]}}`, `{"a":"\x01"}`, `{"a":"\q","type":"MultiPoint","coordinates":[]}`,
	`{"a":"\ud83d\ude00","type":"MultiPoint","coordinates":[]}`, `{"a":"\u12","type":"MultiPoint","coordinates":[]}`,
	`{"type":"MultiPoint\u0000","coordinates":[[1,2]]}`, `{"t\u0079pe":"Multi` + strings.Repeat("x", 70) + `","coordinates":[]}`,
	"\xef\xbb\xbf[[1,2]]", `[[1,2]]` + "\u00a0", `{"type":"MultiPoint","coordinates":[[1,2]]` + "\n}",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`[[1,2],` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `]`,
	`[[1,2],` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `]`,
	"[" + strings.Repeat("[116.4,39.9],", limit) + "[116.4,39.9]]",
	"[" + strings.Repeat("[116.4,39.9],", limit-1) + "[116.4,39.9]]",
	"[" + strings.Repeat("[116.4,39.9],", limit) + "[116.4,39.9]",
	`{"type":"MultiPoint","coordinates":[` + strings.Repeat("[1,2],", limit) + `[1,2]],"coordinates":[[3,4]]}`,
	// Each point its own class: [lon,lat,"class"] and Point features with a class property.
	`[[1,2,"01037"],[3,4],[5,6,7],[1,2,""],[1,2,"a\u0062"],[1,2,"01037",3],[1,"01037"],["01037",1,2],[1,2,{"class":"x"}]]`, `[[1,2,01037]]`,
	`[[1,2,null],[1,2,"x"]` + "\n" + `,[ 1 , 2 , "01037" ]]`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[106.5,29.5]},"properties":{"class":"01037"}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[106.5,29.5,300]},"properties":null},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[106.5,29.5]}},{"type":"Feature","geometry":null},` +
		`{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}},{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2,"01037"]}},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"class":1037}},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"CLASS":"01001","other":[1]}},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"class":"01001","class":null}},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"class":"01001"},"properties":{"x":1}},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":[]},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"geometry":null},` +
		`{"geometry":{"type":"Point","coordinates":[1,2]},"type":"Feature","type":null,"id":7},` +
		`{"type":"feature","geometry":{"type":"Point","coordinates":[1,2]}},[1,2],null,"x",{},` +
		`{"type":"Feature","geometry":{"coordinates":[1,2],"type":"Point","coordinates":null}},` +
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"class":"\u0030\u0031037"}}]}`,
	`{"type":"FeatureCollection","features":[]}`, `{"type":"FeatureCollection"}`, `{"type":"FeatureCollection","features":null}`,
	`{"type":"FeatureCollection","features":{}}`, `{"type":"FeatureCollection","features":[[1,2]]}`,
	`{"type":"FeatureCollection","coordinates":[[1,2]]}`, `{"type":"MultiPoint","features":[]}`,
	`{"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[9,9]}}],"type":"MultiPoint","coordinates":[[1,2]]}`,
	`{"coordinates":[[1,2]],"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[9,9]}}],"type":"MultiPoint"}`,
	`{"coordinates":[[1,2]],"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[9,9]}}],"type":"FeatureCollection"}`,
	`{"type":"MultiPoint","coordinates":[[1,2]],"features":1}`, `{"type":"MultiPoint","coordinates":[[1,2,"01037"]]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"class":"01037"}}` +
		strings.Repeat(`,{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}`, limit) + `]}`,
}

// TestDecodeSameAsEncodingJSON pins Decode to what encoding/json accepted.
func TestDecodeSameAsEncodingJSON(t *testing.T) {
	for _, body := range seeds {
		name := body
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) { checkSameAsReference(t, body) })
	}
}

// FuzzDecode: on any body, Decode and encoding/json agree on the error code or on every
// position.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, body string) { checkSameAsReference(t, body) })
}

// BenchmarkDecode decodes and converts 1,000 positions with altitudes, reporting allocations
// (none expected: the positions slice is reused).
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"type":"MultiPoint","coordinates":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("[116.39748123456,39.908821234567,12.5]")
	}
	sb.WriteString("]}")
	body := []byte(sb.String())
	pos := make([]Position, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		var trimmed []byte
		pos, trimmed, _, err = Decode(body, pos, limit)
		if err != nil || len(pos) != 1000 {
			b.Fatalf("Decode: %d positions, %v", len(pos), err)
		}
		for i := range pos {
			if _, ok := pos[i].Point(trimmed); !ok {
				b.Fatalf("position %d: not ok", i)
			}
		}
	}
}
