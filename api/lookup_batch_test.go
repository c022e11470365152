package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/api"
	"citygrid/spatial"
)

// batchPoints returns n deterministic points spread over the city's bound widened by a
// tenth on each side, so that some fall outside the grid.
func batchPoints(tb testing.TB, idx *spatial.Index, n int, seed uint64) []orb.Point {
	tb.Helper()
	b := cityBound(tb, idx)
	dx, dy := (b.Max[0]-b.Min[0])/10, (b.Max[1]-b.Min[1])/10
	r := rand.New(rand.NewPCG(seed, 1))
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{b.Min[0] - dx + r.Float64()*(b.Max[0]-b.Min[0]+2*dx), b.Min[1] - dy + r.Float64()*(b.Max[1]-b.Min[1]+2*dy)}
	}
	return pts
}

// multiPointBody encodes positions as a GeoJSON MultiPoint.
func multiPointBody(pts []orb.Point) string {
	var sb strings.Builder
	sb.WriteString(`{"type":"MultiPoint","coordinates":[`)
	for i, p := range pts {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "[%v,%v]", p[0], p[1])
	}
	sb.WriteString("]}")
	return sb.String()
}

// TestLookupBatchMatchesGet: every result of a batch is, byte for byte, what
// GET /api/v1/lookup answers for the same point, class and crs; an error result carries
// the code and detail of GET's problem document, an invalid element's detail starting with
// its index (and, for one of the wrong shape, saying which shape was expected). The batch is large enough to take the
// parallel path and mixes points in cells, outside the grid and invalid positions.
func TestLookupBatchMatchesGet(t *testing.T) {
	e := sharedEnv(t)
	hits, _, err := e.idx.Within(cityBound(t, e.idx), spatial.Filter{}, 20, 0)
	if err != nil || len(hits) == 0 {
		t.Fatalf("Within: %d hits, %v", len(hits), err)
	}
	// position is a batch element and the query string GET gets for it.
	type position struct {
		json, query string
		shape       bool // of the wrong shape
	}
	var base []position
	for _, p := range batchPoints(t, e.idx, 300, 7) {
		base = append(base, position{json: fmt.Sprintf("[%v,%v]", p[0], p[1]), query: fmt.Sprintf("lon=%v&lat=%v", p[0], p[1])})
	}
	for _, h := range hits {
		base = append(base, position{json: fmt.Sprintf("[%v,%v,3.5]", h.Point[0], h.Point[1]), query: fmt.Sprintf("lon=%v&lat=%v", h.Point[0], h.Point[1])})
	}
	base = append(base,
		position{json: "[0,0]", query: "lon=0&lat=0"},
		position{json: "[200,10]", query: "lon=200&lat=10"},
		position{json: "[1e999,0]", query: "lon=1e999&lat=0"},
		position{json: `"x"`, query: "lon=x&lat=0", shape: true},
		position{json: "[1,2,3,4]", query: "lon=x&lat=0", shape: true},
	)
	crsGCJ, err := spatial.ParseCRS("gcj02")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, params string
		positions    []position
	}{
		{"no class", "", base},
		{"component class", "class=" + hits[0].Class, base},
		{"fields=cell", "fields=cell", base},
		{"fields=rule,point", "fields=rule,point", base},
		{"fields=unit,rule with a class", "fields=unit,rule&class=" + hits[0].Class, base},
		{"gcj02", "crs=gcj02", func() []position {
			var ps []position
			for _, p := range batchPoints(t, e.idx, 260, 9) {
				q := spatial.FromWGS84(p, crsGCJ)
				ps = append(ps, position{json: fmt.Sprintf("[%v,%v]", q[0], q[1]), query: fmt.Sprintf("lon=%v&lat=%v", q[0], q[1])})
			}
			return ps
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			elems := make([]string, len(tt.positions))
			for i, p := range tt.positions {
				elems[i] = p.json
			}
			body := "[" + strings.Join(elems, ",") + "]"
			target := "/api/v1/lookup?" + tt.params
			var got struct{ Results []json.RawMessage }
			decode(t, e.do(t, "POST", target, body), 200, &got)
			if len(got.Results) != len(tt.positions) {
				t.Fatalf("POST %s: %d results, want %d", target, len(got.Results), len(tt.positions))
			}
			var sawErr, sawLookup bool
			for i, p := range tt.positions {
				q := "/api/v1/lookup?" + p.query
				if tt.params != "" {
					q += "&" + tt.params
				}
				rec := e.do(t, "GET", q, "")
				if rec.Code == 200 {
					sawLookup = true
					if string(got.Results[i]) != rec.Body.String() {
						t.Errorf("result %d for %s = %s, want GET %s = %s", i, p.json, got.Results[i], q, rec.Body)
					}
					continue
				}
				sawErr = true
				pr := problemOf(t, rec)
				want := pr.Detail
				switch {
				case p.shape:
					want = fmt.Sprintf(`element %d: expected [lon,lat], [lon,lat,alt] or [lon,lat,"class"] (numbers, and a class code as a string)`, i)
				case pr.Code == "invalid_point":
					want = fmt.Sprintf("element %d: %s", i, pr.Detail)
				}
				var r struct{ Error struct{ Code, Detail string } }
				if err := json.Unmarshal(got.Results[i], &r); err != nil || r.Error.Code != pr.Code || r.Error.Detail != want {
					t.Errorf("result %d for %s = %s, want error %s %q as GET %s (%v)", i, p.json, got.Results[i], pr.Code, want, q, err)
				}
			}
			if !sawErr || !sawLookup {
				t.Errorf("the batch had errors %v and lookups %v, want both: the points no longer cover both cases", sawErr, sawLookup)
			}
		})
	}
}

// BenchmarkLookupBatch measures POST /api/v1/lookup with 1,000 points through the real
// router against the named baseline "baseline": the previous handler (encoding/json
// decoding per position, sequential resolve, re-encoded cells and units), kept in
// lookup_baseline_test.go and served by the same router and middleware.
func BenchmarkLookupBatch(b *testing.B) {
	e := sharedEnv(b)
	body := multiPointBody(batchPoints(b, e.idx, 1000, 42))
	for _, bm := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"api", e.h, "/api/v1/lookup"},
		{"baseline", api.BaselineBatchHandler(api.Config{Index: e.idx, Service: e.svc}), api.BaselineBatchPath},
	} {
		b.Run(bm.name, func(b *testing.B) {
			req := httptest.NewRequest("POST", bm.path, nil)
			w := &reusedWriter{h: http.Header{}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req.Body = io.NopCloser(strings.NewReader(body))
				w.status, w.n = 0, 0
				bm.h.ServeHTTP(w, req)
			}
			if w.status != 200 || w.n < 1000 {
				b.Fatalf("POST %s = %d with %d bytes", bm.path, w.status, w.n)
			}
		})
	}
}

// TestLookupBatchPerPointClass: each point may name its own class, as [lon,lat,"class"] or as
// a Point feature's class property; the others take ?class=. Each result is what GET answers
// for its point and class; an unknown class or a feature of the wrong shape is that point's
// error only.
func TestLookupBatchPerPointClass(t *testing.T) {
	e := sharedEnv(t)
	hits, _, err := e.idx.Within(cityBound(t, e.idx), spatial.Filter{}, 200, 0)
	if err != nil || len(hits) < 100 {
		t.Fatalf("Within: %d hits, %v", len(hits), err)
	}
	const def = "06001" // an event class: the default of the points without one
	type point struct {
		json, feature string // the element in either body
		class         string // the class GET is asked with
		wantCode      string // an error result's code; "" for a lookup
		wantDetail    string // a substring of its detail
	}
	var pts []point
	sawComponent := false
	for i, h := range hits[:150] { // > minChunk·2: several chunks
		geom := fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, h.Point[0], h.Point[1])
		switch i % 3 {
		case 0: // its own class: the component's, so that its maintainer may answer
			pts = append(pts, point{json: fmt.Sprintf(`[%v,%v,%q]`, h.Point[0], h.Point[1], h.Class),
				feature: fmt.Sprintf(`{"type":"Feature","geometry":%s,"properties":{"class":%q,"name":"x"}}`, geom, h.Class), class: h.Class})
		case 1: // the query's class
			pts = append(pts, point{json: fmt.Sprintf(`[%v,%v]`, h.Point[0], h.Point[1]),
				feature: fmt.Sprintf(`{"type":"Feature","geometry":%s,"properties":null}`, geom), class: def})
		default: // a legacy 4-digit class
			pts = append(pts, point{json: fmt.Sprintf(`[%v,%v,"0101"]`, h.Point[0], h.Point[1]),
				feature: fmt.Sprintf(`{"type":"Feature","geometry":%s,"properties":{"class":"0101"}}`, geom), class: "0101"})
		}
	}
	p := hits[0].Point
	pts = append(pts,
		point{json: fmt.Sprintf(`[%v,%v,"99999"]`, p[0], p[1]), feature: fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%v,%v]},"properties":{"class":"99999"}}`, p[0], p[1]),
			wantCode: "invalid_class", wantDetail: "99999"},
		point{json: fmt.Sprintf(`[%v,%v,7,"01001"]`, p[0], p[1]), feature: `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}}`,
			wantCode: "invalid_point", wantDetail: "expected"},
	)
	for _, form := range []string{"array", "features"} {
		t.Run(form, func(t *testing.T) {
			elems := make([]string, len(pts))
			for i, pt := range pts {
				elems[i] = pt.json
				if form == "features" {
					elems[i] = pt.feature
				}
			}
			body := "[" + strings.Join(elems, ",") + "]"
			if form == "features" {
				body = `{"type":"FeatureCollection","features":` + body + "}"
			}
			var got struct{ Results []json.RawMessage }
			decode(t, e.do(t, "POST", "/api/v1/lookup?class="+def, body), 200, &got)
			if len(got.Results) != len(pts) {
				t.Fatalf("%d results, want %d", len(got.Results), len(pts))
			}
			for i, pt := range pts {
				if pt.wantCode != "" {
					var r struct{ Error struct{ Code, Detail string } }
					if err := json.Unmarshal(got.Results[i], &r); err != nil || r.Error.Code != pt.wantCode || !strings.Contains(r.Error.Detail, pt.wantDetail) {
						t.Errorf("result %d = %s, want error %s mentioning %q", i, got.Results[i], pt.wantCode, pt.wantDetail)
					}
					if form == "features" && pt.wantCode == "invalid_point" && !strings.Contains(string(got.Results[i]), "a Feature with a Point geometry") {
						t.Errorf("result %d = %s, want the detail to say a Point feature was expected", i, got.Results[i])
					}
					continue
				}
				h := hits[i]
				q := fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v&class=%s", h.Point[0], h.Point[1], pt.class)
				rec := e.do(t, "GET", q, "")
				if rec.Code != 200 || string(got.Results[i]) != rec.Body.String() {
					t.Errorf("result %d = %s, want GET %s = %d %s", i, got.Results[i], q, rec.Code, rec.Body)
				}
				sawComponent = sawComponent || strings.Contains(string(got.Results[i]), `"kind":"component"`)
			}
		})
	}
	if !sawComponent {
		t.Error("no point was answered by a component's maintainer: the test no longer covers its own class")
	}
}
