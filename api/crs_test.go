package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"citygrid/api"
	"citygrid/registry"
	"citygrid/spatial"
)

// positions returns every position under a "coordinates" member of a JSON document, in
// document order.
func positions(t testing.TB, body []byte) []orb.Point {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v in %.300s", err, body)
	}
	var out []orb.Point
	var walkCoords func(any)
	walkCoords = func(x any) {
		a, ok := x.([]any)
		if !ok {
			return
		}
		if len(a) >= 2 {
			if lon, ok := a[0].(float64); ok {
				if lat, ok := a[1].(float64); ok {
					out = append(out, orb.Point{lon, lat})
					return
				}
			}
		}
		for _, y := range a {
			walkCoords(y)
		}
	}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, y := range x {
				if k == "coordinates" {
					walkCoords(y)
				} else {
					walk(y)
				}
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	return out
}

// streamBody reads the first n events of a change stream and returns their data as one JSON
// array.
func streamBody(t testing.TB, e *env, target string, n int) []byte {
	t.Helper()
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", target, resp.StatusCode)
	}
	var datas []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for len(datas) < n && sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			datas = append(datas, d)
		}
	}
	if len(datas) < n {
		t.Fatalf("GET %s: %d events, want %d (%v)", target, len(datas), n, sc.Err())
	}
	return []byte("[" + strings.Join(datas, ",") + "]")
}

// TestCRSReadRoutes: every read route with geometry answers it in the datum asked: each
// position of the crs=gcj02 (and bd09) answer is spatial.FromWGS84 of the same position of the
// WGS84 answer, and is hundreds of metres from it; cgcs2000 answers as WGS84.
func TestCRSReadRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	comp := someComponent(t, e, 3)
	_, cell := cellPoint(t, e.idx, 2)
	// One edit, so the history has a before and an after.
	if rec := e.do(t, "PATCH", "/api/v1/components/"+comp.ID.String(), `{"type":"Feature","properties":{"note":"crs"}}`, "If-Match", "*"); rec.Code != 200 {
		t.Fatalf("PATCH = %d %s", rec.Code, short(rec.Body))
	}
	feed, ok := e.svc.Feed()
	if !ok {
		t.Fatal("the store keeps no feed")
	}
	last, err := feed.LastSeq(context.Background())
	if err != nil || last < 40 {
		t.Fatalf("LastSeq = %d, %v", last, err)
	}
	city := cityBound(t, e.idx)
	wide := orb.Bound{Min: orb.Point{city.Min[0] - 0.02, city.Min[1] - 0.02}, Max: orb.Point{city.Max[0] + 0.02, city.Max[1] + 0.02}}
	tests := []struct {
		name   string
		target string // without crs; "?" or "&" follows
		point  bool   // the target takes lon= and lat= of comp's point in the datum asked
		stream bool
	}{
		{name: "component", target: "/api/v1/components/" + comp.ID.String() + "?"},
		{name: "component history", target: "/api/v1/components/" + comp.ID.String() + "/history?"},
		{name: "component listing by cell", target: "/api/v1/components?cell=" + string(comp.Cell) + "&limit=20&"},
		{name: "component listing by bbox", target: "/api/v1/components?bbox=" + bboxParam(wide) + "&limit=20&"},
		{name: "cell", target: "/api/v1/cells/" + string(cell.Code) + "?"},
		{name: "cell listing", target: "/api/v1/cells?bbox=" + bboxParam(wide) + "&limit=5&"},
		{name: "nearest", target: "/api/v1/nearest?k=3&", point: true},
		{name: "changes", target: "/api/v1/changes?limit=30&"},
		{name: "change stream", target: fmt.Sprintf("/api/v1/changes/stream?since=%d&", last-40), stream: true},
		{name: "export cells", target: "/api/v1/export/cells?"},
		{name: "export components", target: "/api/v1/export/components?"},
		{name: "units", target: "/api/v1/units?"},
	}
	for _, tt := range tests {
		for _, name := range []string{"gcj02", "bd09", "cgcs2000"} {
			t.Run(tt.name+" "+name, func(t *testing.T) {
				crs, err := spatial.ParseCRS(name)
				if err != nil {
					t.Fatal(err)
				}
				get := func(c spatial.CRS, withCRS bool) []byte {
					target := tt.target
					if tt.point {
						p := spatial.FromWGS84(comp.Point, c)
						target += fmt.Sprintf("lon=%v&lat=%v&", p[0], p[1])
					}
					if withCRS {
						target += "crs=" + name
					}
					if tt.stream {
						return streamBody(t, e, target, 40)
					}
					rec := e.do(t, "GET", target, "")
					if rec.Code != 200 {
						t.Fatalf("GET %s = %d: %s", target, rec.Code, short(rec.Body))
					}
					return rec.Body.Bytes()
				}
				wgsBody, body := get(spatial.WGS84, false), get(crs, true)
				wgs, got := positions(t, wgsBody), positions(t, body)
				if len(wgs) == 0 || len(wgs) != len(got) {
					t.Fatalf("%d positions in WGS84, %d in %s", len(wgs), len(got), name)
				}
				for i := range wgs {
					want := spatial.FromWGS84(wgs[i], crs)
					if math.Abs(got[i][0]-want[0]) > 1e-9 || math.Abs(got[i][1]-want[1]) > 1e-9 {
						t.Fatalf("position %d = %v, want %v (FromWGS84 of %v)", i, got[i], want, wgs[i])
					}
					if d := geo.Distance(got[i], wgs[i]); crs.Offset() && (d < 200 || d > 1500) {
						t.Fatalf("position %d is %.0f m from the WGS84 one; GCJ-02/BD-09 in Chongqing are 300–1,000 m off", i, d)
					}
				}
				if strings.HasPrefix(tt.name, "export") {
					var fc struct {
						CRS *struct {
							Properties struct{ Name string }
						}
					}
					if err := json.Unmarshal(body, &fc); err != nil || fc.CRS == nil || fc.CRS.Properties.Name != crs.GeoJSONName() {
						t.Errorf("export crs member = %+v (%v), want %q", fc.CRS, err, crs.GeoJSONName())
					}
					if strings.Contains(string(wgsBody[:min(len(wgsBody), 200)]), `"crs"`) {
						t.Errorf("the WGS84 export has a crs member: %.200s", wgsBody)
					}
				}
			})
		}
	}
}

// TestCRSListingBBox: a listing's bbox is in the datum asked, like its answer: a 20 m box
// around a component's GCJ-02 point finds it with crs=gcj02, not without.
func TestCRSListingBBox(t *testing.T) {
	e := sharedEnv(t)
	comp := someComponent(t, e, 5)
	gcj := spatial.FromWGS84(comp.Point, spatial.GCJ02)
	box := func(p orb.Point) string {
		return bboxParam(orb.Bound{Min: orb.Point{p[0] - 0.0001, p[1] - 0.0001}, Max: orb.Point{p[0] + 0.0001, p[1] + 0.0001}})
	}
	has := func(target string) bool {
		var page struct {
			Features []struct{ ID string }
		}
		decode(t, e.do(t, "GET", target, ""), 200, &page)
		for _, f := range page.Features {
			if f.ID == comp.ID.String() {
				return true
			}
		}
		return false
	}
	tests := []struct {
		target string
		want   bool
	}{
		{"/api/v1/components?bbox=" + box(gcj) + "&crs=gcj02", true},
		{"/api/v1/components?bbox=" + box(gcj), false},
		{"/api/v1/components?bbox=" + box(comp.Point), true},
		{"/api/v1/components?bbox=" + box(comp.Point) + "&crs=gcj02", false},
	}
	for _, tt := range tests {
		if got := has(tt.target); got != tt.want {
			t.Errorf("%s finds component %s: %v, want %v", tt.target, comp.ID, got, tt.want)
		}
	}
	var cells struct {
		Features []struct{ ID string }
	}
	decode(t, e.do(t, "GET", "/api/v1/cells?bbox="+box(gcj)+"&crs=gcj02", ""), 200, &cells)
	found := false
	for _, f := range cells.Features {
		found = found || f.ID == string(comp.Cell)
	}
	if !found {
		t.Errorf("cells in a GCJ-02 box around the component's GCJ-02 point: %v, want its cell %s", cells.Features, comp.Cell)
	}
}

// TestCRSWrites: a write's body is read in the datum asked and its answer written in it; what
// is stored is WGS84 within a centimetre.
func TestCRSWrites(t *testing.T) {
	e := newEnv(t, envOptions{})
	proto := someComponent(t, e, 0)
	target, _ := cellPoint(t, e.idx, 9)
	moved, _ := cellPoint(t, e.idx, 11)
	for _, name := range []string{"gcj02", "bd09"} {
		crs, _ := spatial.ParseCRS(name)
		in := spatial.FromWGS84(target, crs)
		check := func(what string, rec *httptest.ResponseRecorder, status int, stored orb.Point) string {
			t.Helper()
			var f featureResp
			decode(t, rec, status, &f)
			if got := f.point(t); geo.Distance(got, spatial.FromWGS84(stored, crs)) > 0.01 {
				t.Errorf("%s %s: answered point %v, want %v (the stored point in %s)", name, what, got, spatial.FromWGS84(stored, crs), name)
			}
			c, err := e.svc.Component(context.Background(), registry.MustParseComponentCode(f.ID))
			if err != nil {
				t.Fatal(err)
			}
			if d := geo.Distance(c.Point, stored); d > 0.01 {
				t.Errorf("%s %s: stored %v, %.3f m from %v", name, what, c.Point, d, stored)
			}
			return f.ID
		}
		id := check("POST", e.do(t, "POST", "/api/v1/components?crs="+name, componentFeature(t, &in, map[string]any{"class": proto.Class})), 201, target)
		to := spatial.FromWGS84(moved, crs)
		check("PATCH", e.do(t, "PATCH", "/api/v1/components/"+id+"?crs="+name, componentFeature(t, &to, map[string]any{}), "If-Match", "*"), 200, moved)
		check("DELETE", e.do(t, "DELETE", "/api/v1/components/"+id+"?crs="+name, "", "If-Match", "*"), 200, moved)
	}

	// A cell written in GCJ-02 is stored in WGS84 and answered in GCJ-02.
	_, cell := cellPoint(t, e.idx, 3)
	gcjGeom := orb.Clone(cell.Geometry).(orb.MultiPolygon)
	for _, poly := range gcjGeom {
		for _, r := range poly {
			for i := range r {
				r[i] = spatial.FromWGS84(r[i], spatial.GCJ02)
			}
		}
	}
	body := jsonBody(t, map[string]any{"type": "Feature", "properties": map[string]any{"name": cell.Name},
		"geometry": map[string]any{"type": "MultiPolygon", "coordinates": gcjGeom}})
	rec := e.do(t, "PUT", "/api/v1/cells/"+string(cell.Code)+"?crs=gcj02", body, "If-Match", fmt.Sprintf(`"%d"`, cell.Version))
	if rec.Code != 200 {
		t.Fatalf("PUT cell in gcj02 = %d %s", rec.Code, short(rec.Body))
	}
	got := positions(t, rec.Body.Bytes())
	stored, _ := e.idx.Cell(cell.Code)
	if len(got) != len(stored.Geometry[0][0]) {
		t.Fatalf("PUT answered %d positions, the cell has %d", len(got), len(stored.Geometry[0][0]))
	}
	for i, p := range stored.Geometry[0][0] {
		if d := geo.Distance(p, cell.Geometry[0][0][i]); d > 0.01 {
			t.Errorf("stored vertex %d is %.3f m from the original", i, d)
		}
		if d := geo.Distance(got[i], gcjGeom[0][0][i]); d > 0.01 {
			t.Errorf("answered vertex %d is %.3f m from the GCJ-02 one sent", i, d)
		}
	}
}

// TestCRSUnitArea: a unit read in GCJ-02 and written back in GCJ-02 keeps its WGS84 area to
// the centimetre.
func TestCRSUnitArea(t *testing.T) {
	e := newEnv(t, envOptions{})
	var unit *registry.Unit
	for _, u := range e.idx.Units() {
		if len(u.Area) > 0 {
			unit = &u
			break
		}
	}
	if unit == nil {
		t.Fatal("the test city has no unit with an area")
	}
	rec := e.do(t, "GET", "/api/v1/units/"+unit.ID+"?crs=gcj02", "")
	if rec.Code != 200 {
		t.Fatalf("GET unit = %d %s", rec.Code, short(rec.Body))
	}
	gcj := positions(t, rec.Body.Bytes())
	if len(gcj) == 0 || geo.Distance(gcj[0], unit.Area[0][0][0]) < 200 {
		t.Fatalf("GET unit in gcj02: positions %v, want the area's converted", gcj)
	}
	rec = e.do(t, "PUT", "/api/v1/units/"+unit.ID+"?crs=gcj02", rec.Body.String(), "If-Match", rec.Header().Get("ETag"))
	if rec.Code != 200 {
		t.Fatalf("PUT unit in gcj02 = %d %s", rec.Code, short(rec.Body))
	}
	if got := positions(t, rec.Body.Bytes()); len(got) != len(gcj) || geo.Distance(got[0], gcj[0]) > 0.01 {
		t.Errorf("PUT answered %v, want the GCJ-02 area sent %v", got, gcj)
	}
	stored, _ := e.idx.Unit(unit.ID)
	for i, p := range stored.Area[0][0] {
		if d := geo.Distance(p, unit.Area[0][0][i]); d > 0.01 {
			t.Errorf("stored vertex %d is %.3f m from the original", i, d)
		}
	}

	// A units document in GCJ-02, imported with crs=gcj02, is stored in WGS84 too; the same
	// document without crs would move the area hundreds of metres.
	var entry map[string]any
	if err := json.Unmarshal(e.do(t, "GET", "/api/v1/units/"+unit.ID+"?crs=gcj02", "").Body.Bytes(), &entry); err != nil {
		t.Fatal(err)
	}
	delete(entry, "version")
	delete(entry, "updated")
	doc := jsonBody(t, map[string]any{"units": []any{entry}})
	if rec := e.do(t, "POST", "/api/v1/census/units?crs=gcj02", doc); rec.Code != 200 {
		t.Fatalf("census units in gcj02 = %d %s", rec.Code, short(rec.Body))
	}
	stored, _ = e.idx.Unit(unit.ID)
	for i, p := range stored.Area[0][0] {
		if d := geo.Distance(p, unit.Area[0][0][i]); d > 0.01 {
			t.Errorf("census in gcj02: stored vertex %d is %.3f m from the original", i, d)
		}
	}
	if rec := e.do(t, "POST", "/api/v1/census/units", doc); rec.Code != 200 {
		t.Fatalf("census units without crs = %d %s", rec.Code, short(rec.Body))
	}
	stored, _ = e.idx.Unit(unit.ID)
	if d := geo.Distance(stored.Area[0][0][0], unit.Area[0][0][0]); d < 200 {
		t.Errorf("census without crs: the area moved %.1f m; the GCJ-02 document read as WGS84 should move it hundreds", d)
	}
}

// TestCRSCensus: ?crs= converts a census of components; units and rules refuse it.
func TestCRSCensus(t *testing.T) {
	e := newEnv(t, envOptions{})
	proto := someComponent(t, e, 0)
	p, cell := cellPoint(t, e.idx, 5)
	g := spatial.FromWGS84(p, spatial.GCJ02)
	line := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%v,%v]},"properties":{"class":%q,"name":"gcj"}}`+"\n", g[0], g[1], proto.Class)
	var rep struct {
		CRS string `json:"crs"`
	}
	decode(t, e.do(t, "POST", "/api/v1/census/components?format=ndjson&crs=gcj02", line), 200, &rep)
	if rep.CRS != "gcj02" {
		t.Errorf("the report says crs %q, want gcj02", rep.CRS)
	}
	hits, err := e.idx.Nearest(p, spatial.Filter{}, 1, 1)
	if err != nil || len(hits) != 1 {
		t.Fatalf("nothing stored within 1 m of the WGS84 point: %v %v", hits, err)
	}
	if hits[0].Cell != cell.Code {
		t.Errorf("stored in cell %s, want %s", hits[0].Cell, cell.Code)
	}
	// The same line without crs lands hundreds of metres away, or outside the grid.
	rec := e.do(t, "POST", "/api/v1/census/components?format=ndjson&mode=partial", line)
	if rec.Code == 200 {
		hits, _ := e.idx.Nearest(g, spatial.Filter{}, 1, 1)
		if len(hits) != 1 {
			t.Errorf("the line without crs was not stored at its raw point")
		}
	}
	runErrCases(t, e, []errCase{
		{"census bad crs", "POST", "/api/v1/census/components?crs=epsg:3857", line, nil, 400, "invalid_crs"},
		{"census units with a bad crs", "POST", "/api/v1/census/units?crs=mars", `{"units":[]}`, nil, 400, "invalid_crs"},
		{"census rules with crs", "POST", "/api/v1/census/rules?crs=wgs84", `{"rules":[]}`, nil, 400, "invalid_crs"},
		{"census foreign crs member", "POST", "/api/v1/census/cells",
			`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[]}`, nil, 400, "invalid_crs"},
	})
}

// TestCRSRefusedOrInvalid: every route that takes crs answers 400 invalid_crs to a value it
// does not know, and every route without coordinates refuses crs= rather than ignore it.
func TestCRSRefusedOrInvalid(t *testing.T) {
	e := sharedEnv(t)
	comp := someComponent(t, e, 0)
	_, cell := cellPoint(t, e.idx, 0)
	id, code := comp.ID.String(), string(cell.Code)
	var cases []errCase
	for _, r := range []struct{ method, target string }{
		{"GET", "/api/v1/lookup?lon=106.55&lat=29.56&"},
		{"POST", "/api/v1/lookup?"},
		{"GET", "/api/v1/nearest?lon=106.55&lat=29.56&"},
		{"GET", "/api/v1/components?cell=500103&"},
		{"POST", "/api/v1/components?"},
		{"GET", "/api/v1/components/" + id + "?"},
		{"PATCH", "/api/v1/components/" + id + "?"},
		{"DELETE", "/api/v1/components/" + id + "?"},
		{"GET", "/api/v1/components/" + id + "/history?"},
		{"GET", "/api/v1/cells?bbox=106.5,29.5,106.6,29.6&"},
		{"GET", "/api/v1/cells/" + code + "?"},
		{"PUT", "/api/v1/cells/" + code + "?"},
		{"POST", "/api/v1/census/cells?"},
		{"GET", "/api/v1/export/cells?"},
		{"GET", "/api/v1/changes?"},
		{"GET", "/api/v1/changes/stream?"},
		{"GET", "/api/v1/units?"},
		{"GET", "/api/v1/units/x?"},
		{"PUT", "/api/v1/units/x?"},
		{"POST", "/api/v1/census/units?"},
	} {
		for _, bad := range []string{"epsg:3857", "mars", "wgs 84"} {
			cases = append(cases, errCase{name: r.method + " " + r.target + bad, method: r.method,
				target: r.target + "crs=" + url.QueryEscape(bad), body: `{}`, status: 400, code: "invalid_crs"})
		}
	}
	for _, r := range []struct{ method, target string }{
		{"GET", "/api/v1/classes"},
		{"GET", "/api/v1/classes/component/01001"},
		{"DELETE", "/api/v1/units/x"},
		{"GET", "/api/v1/rules"},
		{"GET", "/api/v1/rules/fallback"},
		{"PUT", "/api/v1/rules/x"},
		{"DELETE", "/api/v1/rules/x"},
	} {
		for _, v := range []string{"wgs84", "gcj02", ""} {
			cases = append(cases, errCase{name: r.method + " " + r.target + " crs=" + v, method: r.method,
				target: r.target + "?crs=" + v, body: `{}`, status: 400, code: "invalid_crs"})
		}
	}
	runErrCases(t, e, cases)
}

// TestCRSRoutesRegistered: every route named as taking crs is a route of the engine (a
// renamed route would otherwise start refusing crs), and every other route under /api/v1
// refuses crs= with 400 invalid_crs.
func TestCRSRoutesRegistered(t *testing.T) {
	e := sharedEnv(t)
	engine, ok := e.h.(routedHandler)
	if !ok {
		t.Fatalf("the handler is a %T, which lists no routes", e.h)
	}
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		key := r.Method + " " + r.Path
		registered[key] = true
		if !strings.HasPrefix(r.Path, "/api/v1/") || api.CRSRoutes[key] || r.Method == "HEAD" || r.Method == "OPTIONS" {
			continue
		}
		target := strings.NewReplacer(":kind", "component", ":code", "01001", ":id", "x").Replace(r.Path)
		if r.Path == "/api/v1/classes/:kind/:code" {
			target = "/api/v1/classes/component/01001"
		}
		rec := e.do(t, r.Method, target+"?crs=wgs84", "{}")
		if rec.Code != 400 || problemOf(t, rec).Code != "invalid_crs" {
			t.Errorf("%s %s?crs=wgs84 = %d %s; a route without coordinates must refuse crs", r.Method, target, rec.Code, short(rec.Body))
		}
	}
	for key := range api.CRSRoutes {
		if !registered[key] {
			t.Errorf("crsRoutes names %q, which is not a route", key)
		}
	}
}
