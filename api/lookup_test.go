package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
)

type lookupResp struct {
	Point []float64 `json:"point"`
	Cell  *struct {
		Code, Name, Community, Street, District string
	} `json:"cell"`
	Unit *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"unit"`
	Rule struct {
		Kind   string  `json:"kind"`
		ID     *string `json:"id"`
		Reason string  `json:"reason"`
	} `json:"rule"`
	Component *string `json:"component"`
}

// checkLookup compares an API answer with what the index itself resolves for p and class.
func checkLookup(t *testing.T, idx *spatial.Index, got lookupResp, p orb.Point, class string) {
	t.Helper()
	want, err := idx.Resolve(p, class)
	if err != nil {
		t.Fatalf("Resolve(%v, %q): %v", p, class, err)
	}
	if len(got.Point) != 2 || got.Point[0] != p[0] || got.Point[1] != p[1] {
		t.Errorf("point = %v, want %v", got.Point, p)
	}
	code := want.Cell.Code
	if got.Cell == nil || got.Cell.Code != string(code) || got.Cell.Name != want.Cell.Name ||
		got.Cell.District != code.District() || got.Cell.Street != code.Street() || got.Cell.Community != code.Community() {
		t.Errorf("cell = %+v, want code %s name %q", got.Cell, code, want.Cell.Name)
	}
	if got.Unit == nil || got.Unit.ID != want.Unit.ID || got.Unit.Name != want.Unit.Name || got.Unit.Type != want.Unit.Type.String() {
		t.Errorf("unit = %+v, want %s %q %s", got.Unit, want.Unit.ID, want.Unit.Name, want.Unit.Type)
	}
	if got.Rule.Kind != want.Kind || got.Rule.Reason != want.Reason {
		t.Errorf("rule = %+v, want kind %q reason %q", got.Rule, want.Kind, want.Reason)
	}
	if (got.Rule.ID == nil) != (want.RuleID == "") || got.Rule.ID != nil && *got.Rule.ID != want.RuleID {
		t.Errorf("rule id = %v, want %q", got.Rule.ID, want.RuleID)
	}
	if want.Component.IsZero() != (got.Component == nil) || got.Component != nil && *got.Component != want.Component.String() {
		t.Errorf("component = %v, want %q", got.Component, want.Component)
	}
}

func TestLookup(t *testing.T) {
	e := sharedEnv(t)
	for n := range 5 {
		p, cell := cellPoint(t, e.idx, n*17)
		t.Run(string(cell.Code), func(t *testing.T) {
			target := fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1])
			rec := e.do(t, "GET", target, "")
			var got lookupResp
			decode(t, rec, 200, &got)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			checkLookup(t, e.idx, got, p, "")
			var keys map[string]json.RawMessage
			json.Unmarshal(rec.Body.Bytes(), &keys)
			for _, k := range []string{"point", "cell", "unit", "rule"} {
				if _, ok := keys[k]; !ok {
					t.Errorf("GET %s: no %q member in %s", target, k, rec.Body)
				}
			}
		})
	}
}

// TestLookupComponentClass asks about a problem at a component, with that component's class:
// the answer must say what Resolve says, including a component attribution.
func TestLookupComponentClass(t *testing.T) {
	e := sharedEnv(t)
	hits, _, err := e.idx.Within(cityBound(t, e.idx), spatial.Filter{}, 50, 0)
	if err != nil || len(hits) == 0 {
		t.Fatalf("Within: %d hits, %v", len(hits), err)
	}
	sawComponent := false
	for _, h := range hits {
		rec := e.do(t, "GET", fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v&class=%s", h.Point[0], h.Point[1], h.Class), "")
		var got lookupResp
		decode(t, rec, 200, &got)
		checkLookup(t, e.idx, got, h.Point, h.Class)
		sawComponent = sawComponent || got.Rule.Kind == spatial.KindComponent
	}
	if !sawComponent {
		t.Errorf("no lookup at 50 components was attributed to a component maintainer; the fixtures or Resolve changed")
	}
}

func TestLookupCRS(t *testing.T) {
	e := sharedEnv(t)
	p, cell := cellPoint(t, e.idx, 3)
	for _, name := range []string{"wgs84", "cgcs2000", "gcj02", "bd09"} {
		t.Run(name, func(t *testing.T) {
			crs, err := spatial.ParseCRS(name)
			if err != nil {
				t.Fatal(err)
			}
			q := spatial.FromWGS84(p, crs)
			rec := e.do(t, "GET", fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v&crs=%s", q[0], q[1], name), "")
			var got lookupResp
			decode(t, rec, 200, &got)
			back := spatial.ToWGS84(q, crs)
			if got.Cell == nil || got.Cell.Code != string(cell.Code) {
				t.Errorf("crs=%s: cell = %+v, want %s", name, got.Cell, cell.Code)
			}
			if got.Point[0] != back[0] || got.Point[1] != back[1] {
				t.Errorf("crs=%s: point = %v, want the WGS84 point %v", name, got.Point, back)
			}
		})
	}
}

// TestLookupEscapedQuery: percent-encoded and reordered parameters mean the same.
func TestLookupEscapedQuery(t *testing.T) {
	e := sharedEnv(t)
	p, cell := cellPoint(t, e.idx, 1)
	v := url.Values{"lat": {fmt.Sprint(p[1])}, "lon": {fmt.Sprint(p[0])}, "crs": {"wgs84"}}
	raw := strings.ReplaceAll(v.Encode(), ".", "%2E")
	rec := e.do(t, "GET", "/api/v1/lookup?x=1&"+raw, "")
	var got lookupResp
	decode(t, rec, 200, &got)
	if got.Cell == nil || got.Cell.Code != string(cell.Code) {
		t.Errorf("GET ?%s: cell = %+v, want %s", raw, got.Cell, cell.Code)
	}
}

// TestLookupFirstOccurrence: the first occurrence of a parameter counts; later ones, even
// malformed, are ignored.
func TestLookupFirstOccurrence(t *testing.T) {
	e := sharedEnv(t)
	p, cell := cellPoint(t, e.idx, 2)
	lon, lat := fmt.Sprint(p[0]), fmt.Sprint(p[1])
	for _, tt := range []struct{ name, query string }{
		{"later lon and lat", "lon=" + lon + "&lat=" + lat + "&lon=0&lat=0"},
		{"later lon malformed", "lon=" + lon + "&lat=" + lat + "&lon=%zz"},
		{"later fields malformed", "lon=" + lon + "&lat=" + lat + "&fields=cell&fields=%zz"},
		{"later crs with a semicolon", "lon=" + lon + "&lat=" + lat + "&crs=wgs84&crs=a;b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got lookupResp
			decode(t, e.do(t, "GET", "/api/v1/lookup?"+tt.query, ""), 200, &got)
			if got.Cell == nil || got.Cell.Code != string(cell.Code) {
				t.Errorf("GET ?%s: cell = %+v, want %s", tt.query, got.Cell, cell.Code)
			}
		})
	}
}

// TestLookupNoUnit: a grid without units still answers with the cell, unit null and rule
// kind "none".
func TestLookupNoUnit(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells"}})
	p, cell := cellPoint(t, e.idx, 0)
	if _, err := e.idx.Resolve(p, ""); !errors.Is(err, registry.ErrNoUnit) {
		t.Fatalf("Resolve without units: %v, want ErrNoUnit", err)
	}
	rec := e.do(t, "GET", fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1]), "")
	var got lookupResp
	decode(t, rec, 200, &got)
	if got.Cell == nil || got.Cell.Code != string(cell.Code) || got.Unit != nil || got.Rule.Kind != "none" || got.Rule.ID != nil || got.Rule.Reason == "" {
		t.Errorf("lookup without units = %s, want the cell %s, unit null, rule kind none with a reason", rec.Body, cell.Code)
	}
}

func TestLookupErrors(t *testing.T) {
	e := sharedEnv(t)
	p, _ := cellPoint(t, e.idx, 0)
	lon, lat := fmt.Sprint(p[0]), fmt.Sprint(p[1])
	q := func(s string) string { return "/api/v1/lookup?" + s }
	runErrCases(t, e, []errCase{
		{"no query", "GET", q(""), "", nil, 400, "invalid_point"},
		{"missing lat", "GET", q("lon=" + lon), "", nil, 400, "invalid_point"},
		{"missing lon", "GET", q("lat=" + lat), "", nil, 400, "invalid_point"},
		{"empty lon", "GET", q("lon=&lat=" + lat), "", nil, 400, "invalid_point"},
		{"NaN", "GET", q("lon=NaN&lat=" + lat), "", nil, 400, "invalid_point"},
		{"Inf", "GET", q("lon=" + lon + "&lat=-Inf"), "", nil, 400, "invalid_point"},
		{"1e999 overflows", "GET", q("lon=1e999&lat=" + lat), "", nil, 400, "invalid_point"},
		{"lat 91", "GET", q("lon=" + lon + "&lat=91"), "", nil, 400, "invalid_point"},
		{"lon -180.5", "GET", q("lon=-180.5&lat=" + lat), "", nil, 400, "invalid_point"},
		{"not a number", "GET", q("lon=east&lat=" + lat), "", nil, 400, "invalid_point"},
		{"bad escape", "GET", q("lon=%zz&lat=" + lat), "", nil, 400, "invalid_point"},
		{"bad escape in the first lon", "GET", q("lon=%zz&lon=" + lon + "&lat=" + lat + "&crs=epsg3857"), "", nil, 400, "invalid_point"},
		{"bad escape in class", "GET", q("lon=" + lon + "&lat=" + lat + "&class=%zz&crs=epsg3857"), "", nil, 400, "invalid_class"},
		{"bad escape in crs", "GET", q("lon=" + lon + "&lat=" + lat + "&crs=%zz&fields=x"), "", nil, 400, "invalid_crs"},
		{"semicolon in lon", "GET", q("lon=" + lon + ";&lat=" + lat), "", nil, 400, "invalid_point"},
		{"semicolon in class", "GET", q("lon=" + lon + "&lat=" + lat + "&class=01001;x"), "", nil, 400, "invalid_class"},
		{"semicolon in class, bad crs", "GET", q("lon=" + lon + "&lat=" + lat + "&class=01001;x&crs=epsg3857"), "", nil, 400, "invalid_crs"},
		{"semicolon in fields", "GET", q("lon=" + lon + "&lat=" + lat + "&fields=cell;unit"), "", nil, 400, "invalid_fields"},
		{"bad crs", "GET", q("lon=" + lon + "&lat=" + lat + "&crs=epsg3857"), "", nil, 400, "invalid_crs"},
		{"bad class", "GET", q("lon=" + lon + "&lat=" + lat + "&class=manhole"), "", nil, 400, "invalid_class"},
		{"outside the grid", "GET", q("lon=0&lat=0"), "", nil, 404, "outside_grid"},
		{"outside the grid, cell only", "GET", q("lon=0&lat=0&fields=cell"), "", nil, 404, "outside_grid"},
		{"empty fields", "GET", q("lon=" + lon + "&lat=" + lat + "&fields="), "", nil, 400, "invalid_fields"},
		{"unknown field", "GET", q("lon=" + lon + "&lat=" + lat + "&fields=cell,district"), "", nil, 400, "invalid_fields"},
		{"empty field in the list", "GET", q("lon=" + lon + "&lat=" + lat + "&fields=cell,,unit"), "", nil, 400, "invalid_fields"},
		{"bad escape in fields", "GET", q("lon=" + lon + "&lat=" + lat + "&fields=%zz"), "", nil, 400, "invalid_fields"},
		{"bad class, cell only", "GET", q("lon=" + lon + "&lat=" + lat + "&class=manhole&fields=cell"), "", nil, 400, "invalid_class"},
		{"class not in the catalogue", "GET", q("lon=" + lon + "&lat=" + lat + "&class=99999"), "", nil, 400, "invalid_class"},
		{"legacy class not in the catalogue", "GET", q("lon=" + lon + "&lat=" + lat + "&class=9999"), "", nil, 400, "invalid_class"},
		{"class not in the catalogue, cell only", "GET", q("lon=" + lon + "&lat=" + lat + "&class=99999&fields=cell"), "", nil, 400, "invalid_class"},
		{"batch with a class not in the catalogue", "POST", q("class=99999"), "[[" + lon + "," + lat + "]]", nil, 400, "invalid_class"},
		{"wrong method", "PUT", q("lon=" + lon + "&lat=" + lat), "", nil, 405, "method_not_allowed"},
	})
}

// TestLookupFields: ?fields= answers the members it names, each as the full answer has it, in
// the full answer's order; the component member goes with rule.
func TestLookupFields(t *testing.T) {
	e := sharedEnv(t)
	hits, _, err := e.idx.Within(cityBound(t, e.idx), spatial.Filter{}, 1, 0)
	if err != nil || len(hits) == 0 {
		t.Fatalf("Within: %d hits, %v", len(hits), err)
	}
	p, _ := cellPoint(t, e.idx, 3)
	queries := []string{
		fmt.Sprintf("lon=%v&lat=%v", p[0], p[1]),
		fmt.Sprintf("lon=%v&lat=%v&class=%s", hits[0].Point[0], hits[0].Point[1], hits[0].Class),
	}
	order := []string{"point", "cell", "unit", "rule", "component"}
	sawComponent := false
	for _, query := range queries {
		var full map[string]json.RawMessage
		decode(t, e.do(t, "GET", "/api/v1/lookup?"+query, ""), 200, &full)
		_, hasComponent := full["component"]
		sawComponent = sawComponent || hasComponent
		for _, fields := range []string{"cell", "point", "unit", "rule", "rule,cell", "unit,point,rule", "cell,unit", "point,cell,unit,rule", "cell,cell"} {
			rec := e.do(t, "GET", "/api/v1/lookup?"+query+"&fields="+fields, "")
			var got map[string]json.RawMessage
			decode(t, rec, 200, &got)
			want := map[string]bool{}
			for _, f := range strings.Split(fields, ",") {
				want[f] = true
			}
			want["component"] = want["rule"] && hasComponent
			var keys []string
			for _, k := range order {
				if !want[k] {
					if _, ok := got[k]; ok {
						t.Errorf("?%s&fields=%s: member %s present, want it left out", query, fields, k)
					}
					continue
				}
				keys = append(keys, k)
				if string(got[k]) != string(full[k]) {
					t.Errorf("?%s&fields=%s: %s = %s, want %s as in the full answer", query, fields, k, got[k], full[k])
				}
			}
			if len(got) != len(keys) {
				t.Errorf("?%s&fields=%s = %s: %d members, want %v", query, fields, rec.Body, len(got), keys)
			}
			// The members keep the full answer's order.
			last := -1
			for _, k := range keys {
				i := strings.Index(rec.Body.String(), `"`+k+`":`)
				if i < last {
					t.Errorf("?%s&fields=%s = %s: %s out of order", query, fields, rec.Body, k)
				}
				last = i
			}
		}
	}
	if !sawComponent {
		t.Error("no answer named a component: the component member is not tested")
	}
}

type batchResp struct {
	Results []struct {
		lookupResp
		Error *struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		} `json:"error"`
	} `json:"results"`
}

func TestLookupBatch(t *testing.T) {
	e := sharedEnv(t)
	p0, c0 := cellPoint(t, e.idx, 0)
	p1, c1 := cellPoint(t, e.idx, 5)
	positions := fmt.Sprintf(`[[%v,%v],[0,0],[200,10],[%v,%v,12.5],"x",[1e999,0]]`, p0[0], p0[1], p1[0], p1[1])
	for _, body := range []string{
		`{"type":"MultiPoint","coordinates":` + positions + `}`,
		positions,
	} {
		rec := e.do(t, "POST", "/api/v1/lookup", body)
		var got batchResp
		decode(t, rec, 200, &got)
		wantErr := []string{"", "outside_grid", "invalid_point", "", "invalid_point", "invalid_point"}
		if len(got.Results) != len(wantErr) {
			t.Fatalf("POST %s: %d results, want %d", body, len(got.Results), len(wantErr))
		}
		for i, w := range wantErr {
			r := got.Results[i]
			switch {
			case w == "" && (r.Error != nil || r.Cell == nil):
				t.Errorf("result %d = %+v, want a lookup", i, r)
			case w != "" && (r.Error == nil || r.Error.Code != w || r.Error.Detail == ""):
				t.Errorf("result %d = %+v, want error %s", i, r, w)
			}
		}
		if got.Results[0].Cell.Code != string(c0.Code) || got.Results[3].Cell.Code != string(c1.Code) {
			t.Errorf("cells = %s, %s; want %s, %s", got.Results[0].Cell.Code, got.Results[3].Cell.Code, c0.Code, c1.Code)
		}
		checkLookup(t, e.idx, got.Results[0].lookupResp, p0, "")
	}
	// An empty MultiPoint is an empty batch (a null or missing coordinates member is not).
	var empty batchResp
	decode(t, e.do(t, "POST", "/api/v1/lookup", `{"type":"MultiPoint","coordinates":[]}`), 200, &empty)
	if empty.Results == nil || len(empty.Results) != 0 {
		t.Errorf("POST an empty MultiPoint: results = %v, want []", empty.Results)
	}
}

func TestLookupBatchErrors(t *testing.T) {
	e := sharedEnv(t)
	tooMany := "[" + strings.Repeat("[116.4,39.9],", 10000) + "[116.4,39.9]]"
	huge := "[" + strings.Repeat(" ", 1<<20) + "]"
	runErrCases(t, e, []errCase{
		{"empty body", "POST", "/api/v1/lookup", "", nil, 400, "invalid_input"},
		{"not JSON", "POST", "/api/v1/lookup", "lon=1&lat=2", nil, 400, "invalid_input"},
		{"broken JSON", "POST", "/api/v1/lookup", "[[1,2]", nil, 400, "invalid_input"},
		{"a Point", "POST", "/api/v1/lookup", `{"type":"Point","coordinates":[1,2]}`, nil, 400, "invalid_input"},
		{"MultiPoint with null coordinates", "POST", "/api/v1/lookup", `{"type":"MultiPoint","coordinates":null}`, nil, 400, "invalid_input"},
		{"MultiPoint without coordinates", "POST", "/api/v1/lookup", `{"type":"MultiPoint"}`, nil, 400, "invalid_input"},
		{"bad crs", "POST", "/api/v1/lookup?crs=utm", `[[1,2]]`, nil, 400, "invalid_crs"},
		{"bad fields", "POST", "/api/v1/lookup?fields=cell,cells", `[[1,2]]`, nil, 400, "invalid_fields"},
		{"10001 points", "POST", "/api/v1/lookup", tooMany, nil, 413, "too_many_points"},
		{"body over 1 MiB", "POST", "/api/v1/lookup", huge, nil, 413, "body_too_large"},
	})
}

// FuzzLookupQuery feeds raw query strings to GET /api/v1/lookup. Property: never a 5xx;
// a 200 is a JSON lookup with a cell, anything else a problem document.
func FuzzLookupQuery(f *testing.F) {
	e := sharedEnv(f)
	p, _ := cellPoint(f, e.idx, 0)
	for _, s := range []string{
		fmt.Sprintf("lon=%v&lat=%v", p[0], p[1]),
		fmt.Sprintf("lon=%v&lat=%v&class=01001&crs=gcj02", p[0], p[1]),
		"lon=NaN&lat=1", "lon=1e999&lat=0", "lat=91&lon=0", "lon=%zz&lat=%", "lon=&lat=", "&&&==&",
		"lon=0x1p-2&lat=1_0", "lon=+1&lat=-0", "class=%00&lon=1&lat=1", "crs=BD09&lon=116&lat=40",
		"lon=116.4;lat=39.9", "lon=1&lon=2&lat=3",
		fmt.Sprintf("lon=%v&lat=%v&fields=unit", p[0], p[1]), "fields=cell,point&lon=0&lat=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/v1/lookup", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("GET ?%q = %d: %s", raw, rec.Code, rec.Body)
		case rec.Code == 200:
			// ?fields= may leave any member out, but not all of them, and a cell is never null.
			var got map[string]json.RawMessage
			err := json.Unmarshal(rec.Body.Bytes(), &got)
			if err != nil || len(got) == 0 || string(got["cell"]) == "null" {
				t.Fatalf("GET ?%q = 200 %q: not a lookup (%v)", raw, rec.Body, err)
			}
			for k := range got {
				if !strings.Contains("point cell unit rule component", k) {
					t.Fatalf("GET ?%q = 200 %q: member %q", raw, rec.Body, k)
				}
			}
		default:
			var pr problem
			if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || pr.Code == "" || pr.Status != rec.Code {
				t.Fatalf("GET ?%q = %d %q: not a problem document (%v)", raw, rec.Code, rec.Body, err)
			}
		}
	})
}

// reusedWriter is an http.ResponseWriter that keeps its header map and discards the body,
// so a benchmark measures the handler's allocations, not the recorder's.
type reusedWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *reusedWriter) Header() http.Header         { return w.h }
func (w *reusedWriter) WriteHeader(s int)           { w.status = s }
func (w *reusedWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// lookupRequests returns GET /api/v1/lookup requests at points inside n different cells.
func lookupRequests(tb testing.TB, idx *spatial.Index, n int) []*http.Request {
	tb.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		p, _ := cellPoint(tb, idx, i)
		reqs[i] = httptest.NewRequest("GET", fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1]), nil)
	}
	return reqs
}

// BenchmarkLookupHandler measures GET /api/v1/lookup through the real router, with its
// allocations (4 per lookup when measured, 2 of them url.ParseQuery's; a figure to watch,
// not a gate: gin or the Prometheus client may change it), against two named baselines in
// the same run: "resolve" is the index call alone (the floor), and "gin-bind-json" is the
// straightforward handler of style guide §3.4 (ShouldBindQuery and c.JSON over a DTO)
// answering the same JSON.
func BenchmarkLookupHandler(b *testing.B) {
	e := sharedEnv(b)
	reqs := lookupRequests(b, e.idx, 128)
	points := make([]orb.Point, len(reqs))
	for i, r := range reqs {
		var lon, lat float64
		fmt.Sscanf(r.URL.RawQuery, "lon=%g&lat=%g", &lon, &lat)
		points[i] = orb.Point{lon, lat}
	}

	b.Run("api", func(b *testing.B) {
		w := &reusedWriter{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	})

	b.Run("resolve", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := e.idx.Resolve(points[i%len(points)], ""); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	b.Run("gin-bind-json", func(b *testing.B) {
		h := baselineLookupHandler(e.idx)
		w := &reusedWriter{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	})
}

// baselineLookupHandler is the conventional gin handler for the same route.
func baselineLookupHandler(idx *spatial.Index) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	type cellDTO struct{ Code, Name, Community, Street, District string }
	type unitDTO struct{ ID, Name, Type string }
	type ruleDTO struct {
		Kind   string  `json:"kind"`
		ID     *string `json:"id"`
		Reason string  `json:"reason"`
	}
	e.GET("/api/v1/lookup", func(c *gin.Context) {
		var q struct {
			Lon   *float64 `form:"lon" binding:"required"`
			Lat   *float64 `form:"lat" binding:"required"`
			Class string   `form:"class"`
		}
		if err := c.ShouldBindQuery(&q); err != nil {
			c.JSON(400, gin.H{"code": "invalid_point"})
			return
		}
		p := orb.Point{*q.Lon, *q.Lat}
		res, err := idx.Resolve(p, q.Class)
		if err != nil {
			c.JSON(404, gin.H{"code": registry.ErrorCode(err)})
			return
		}
		var id *string
		if res.RuleID != "" {
			id = &res.RuleID
		}
		c.JSON(200, struct {
			Point []float64 `json:"point"`
			Cell  cellDTO   `json:"cell"`
			Unit  unitDTO   `json:"unit"`
			Rule  ruleDTO   `json:"rule"`
		}{
			Point: []float64{p[0], p[1]},
			Cell:  cellDTO{string(res.Cell.Code), res.Cell.Name, res.Cell.Code.Community(), res.Cell.Code.Street(), res.Cell.Code.District()},
			Unit:  unitDTO{res.Unit.ID, res.Unit.Name, res.Unit.Type.String()},
			Rule:  ruleDTO{res.Kind, id, res.Reason},
		})
	})
	return e
}
