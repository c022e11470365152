package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
)

type featureResp struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Geometry struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type pageResp struct {
	Type     string        `json:"type"`
	Features []featureResp `json:"features"`
	Next     *string       `json:"next"`
}

func (f *featureResp) point(t testing.TB) orb.Point {
	t.Helper()
	var p [2]float64
	if f.Geometry.Type != "Point" || json.Unmarshal(f.Geometry.Coordinates, &p) != nil {
		t.Fatalf("geometry = %s %s, want a Point", f.Geometry.Type, f.Geometry.Coordinates)
	}
	return orb.Point(p)
}

// someComponent returns a stored component of the env (the n-th the index finds in the city).
func someComponent(t testing.TB, e *env, n int) registry.Component {
	t.Helper()
	hits, _, err := e.idx.Within(cityBound(t, e.idx), spatial.Filter{}, n+1, 0)
	if err != nil || len(hits) <= n {
		t.Fatalf("Within: %d hits, %v", len(hits), err)
	}
	c, err := e.store.ComponentsByKey(context.Background(), []registry.Key{hits[n].Key})
	if err != nil {
		t.Fatal(err)
	}
	return c[0]
}

func TestNearest(t *testing.T) {
	e := sharedEnv(t)
	c := someComponent(t, e, 10)
	target := fmt.Sprintf("/api/v1/nearest?lon=%v&lat=%v&k=7&radius=2000", c.Point[0], c.Point[1])
	var got pageResp
	decode(t, e.do(t, "GET", target, ""), 200, &got)
	want, err := e.idx.Nearest(c.Point, spatial.Filter{}, 7, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "FeatureCollection" || len(got.Features) != len(want) || len(want) == 0 {
		t.Fatalf("GET %s: %d features, want %d", target, len(got.Features), len(want))
	}
	prev := -1.0
	for i, f := range got.Features {
		d := f.Properties["distance"].(float64)
		cm := math.Round(want[i].Distance*100) / 100 // distances are answered to the centimetre
		if f.ID != want[i].ID.String() || d != cm || d < prev || d > 2000 {
			t.Errorf("feature %d = %s at %v m, want %s at %v m (ascending, within 2000 m)", i, f.ID, d, want[i].ID, cm)
		}
		prev = d
		// Each hit carries the component's name.
		stored, err := e.store.Component(context.Background(), want[i].ID)
		if err != nil || stored.Name == "" || f.Properties["name"] != stored.Name {
			t.Errorf("feature %d name = %v, want the stored name %q (%v)", i, f.Properties["name"], stored.Name, err)
		}
	}
	if got.Features[0].ID != c.ID.String() {
		t.Errorf("nearest to component %s's own point is %s", c.ID, got.Features[0].ID)
	}

	// A class filter keeps only that class.
	target = fmt.Sprintf("/api/v1/nearest?lon=%v&lat=%v&class=%s&k=50&radius=50000", c.Point[0], c.Point[1], c.Class)
	decode(t, e.do(t, "GET", target, ""), 200, &got)
	for _, f := range got.Features {
		if f.Properties["class"] != c.Class {
			t.Errorf("GET %s: feature %s has class %v", target, f.ID, f.Properties["class"])
		}
	}
	if len(got.Features) == 0 {
		t.Errorf("GET %s: nothing, want at least component %s", target, c.ID)
	}
}

func TestNearestErrors(t *testing.T) {
	e := sharedEnv(t)
	q := func(s string) string { return "/api/v1/nearest?" + s }
	runErrCases(t, e, []errCase{
		{"no point", "GET", q("k=3"), "", nil, 400, "invalid_point"},
		{"lat 91", "GET", q("lon=1&lat=91"), "", nil, 400, "invalid_point"},
		{"NaN", "GET", q("lon=NaN&lat=1"), "", nil, 400, "invalid_point"},
		{"k 0", "GET", q("lon=1&lat=1&k=0"), "", nil, 400, "invalid_k"},
		{"k 1001", "GET", q("lon=1&lat=1&k=1001"), "", nil, 400, "invalid_k"},
		{"k text", "GET", q("lon=1&lat=1&k=five"), "", nil, 400, "invalid_k"},
		{"radius 0", "GET", q("lon=1&lat=1&radius=0"), "", nil, 400, "invalid_radius"},
		{"radius 50001", "GET", q("lon=1&lat=1&radius=50001"), "", nil, 400, "invalid_radius"},
		{"radius NaN", "GET", q("lon=1&lat=1&radius=NaN"), "", nil, 400, "invalid_radius"},
		{"bad class", "GET", q("lon=1&lat=1&class=abc"), "", nil, 400, "invalid_class"},
		{"class not in the catalogue", "GET", q("lon=1&lat=1&class=01001,99999"), "", nil, 400, "invalid_class"},
		{"major not in the catalogue", "GET", q("lon=1&lat=1&class=98"), "", nil, 400, "invalid_class"},
		{"bad status", "GET", q("lon=1&lat=1&status=shiny"), "", nil, 400, "invalid_status"},
		{"bad crs", "GET", q("lon=1&lat=1&crs=x"), "", nil, 400, "invalid_crs"},
	})
}

// TestComponentPaging walks every page of a listing and compares with the index.
func TestComponentPaging(t *testing.T) {
	e := sharedEnv(t)
	b := cityBound(t, e.idx)
	want, _, err := e.idx.Within(b, spatial.Filter{}, 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 1000 {
		t.Fatalf("the test city has %d components in its bound, want more than 1000 for paging", len(want))
	}
	target := "/api/v1/components?limit=700&bbox=" + bboxParam(b)
	seen := map[string]bool{}
	var order []string // the features of every page in turn: the index's key order
	pages := 0
	for target != "" {
		rec := e.do(t, "GET", target, "")
		var page pageResp
		decode(t, rec, 200, &page)
		pages++
		for _, f := range page.Features {
			if seen[f.ID] {
				t.Fatalf("component %s on two pages", f.ID)
			}
			seen[f.ID] = true
			order = append(order, f.ID)
			for _, k := range []string{"id", "class", "class_name", "name", "status", "maintainer", "cell", "version", "updated"} {
				if _, ok := f.Properties[k]; !ok {
					t.Fatalf("component %s has no property %q: %v", f.ID, k, f.Properties)
				}
			}
		}
		link := rec.Header().Get("Link")
		if page.Next == nil {
			if link != "" {
				t.Errorf("last page has Link %q", link)
			}
			break
		}
		if len(page.Features) != 700 {
			t.Errorf("page %d has %d features, want 700 before the last", pages, len(page.Features))
		}
		u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
		if err != nil || u.Query().Get("cursor") != *page.Next || u.Query().Get("limit") != "700" {
			t.Fatalf("Link = %q, want the same query with cursor=%s", link, *page.Next)
		}
		target = u.String()
	}
	if len(seen) != len(want) {
		t.Errorf("paging found %d components, the index %d", len(seen), len(want))
	}
	for i, h := range want {
		if !seen[h.ID.String()] {
			t.Errorf("component %s missing from the pages", h.ID)
			break
		}
		if i < len(order) && order[i] != h.ID.String() {
			t.Errorf("feature %d of the pages is %s, the index has %s there (pages are in key order)", i, order[i], h.ID)
			break
		}
	}
}

func TestComponentFilters(t *testing.T) {
	e := sharedEnv(t)
	c := someComponent(t, e, 3)
	prefix := string(c.Cell)[:12] // the community
	target := fmt.Sprintf("/api/v1/components?cell=%s&class=%s&status=intact,damaged,lost,abandoned", prefix, c.Class)
	var page pageResp
	decode(t, e.do(t, "GET", target, ""), 200, &page)
	found := false
	for _, f := range page.Features {
		if cell := f.Properties["cell"].(string); !strings.HasPrefix(cell, prefix) || f.Properties["class"] != c.Class {
			t.Errorf("GET %s: %s in cell %s class %v", target, f.ID, cell, f.Properties["class"])
		}
		found = found || f.ID == c.ID.String()
	}
	if !found && c.Status != registry.StatusRemoved {
		t.Errorf("GET %s: component %s not listed", target, c.ID)
	}
	// A narrowing cell prefix lifts the bbox area cap.
	decode(t, e.do(t, "GET", "/api/v1/components?bbox=70,10,140,50&limit=5&cell="+prefix, ""), 200, &page)
}

func TestComponentListErrors(t *testing.T) {
	e := sharedEnv(t)
	b := bboxParam(cityBound(t, e.idx))
	q := func(s string) string { return "/api/v1/components?" + s }
	runErrCases(t, e, []errCase{
		{"no bbox, no cell", "GET", q(""), "", nil, 400, "invalid_bbox"},
		{"no bbox, a cell prefix shorter than a district", "GET", q("cell=50"), "", nil, 400, "invalid_bbox"},
		{"too large for a short prefix", "GET", q("bbox=70,10,140,50&cell=5001"), "", nil, 400, "bbox_too_large"},
		{"three numbers", "GET", q("bbox=1,2,3"), "", nil, 400, "invalid_bbox"},
		{"words", "GET", q("bbox=a,b,c,d"), "", nil, 400, "invalid_bbox"},
		{"min above max", "GET", q("bbox=117,40,116,39"), "", nil, 400, "invalid_bbox"},
		{"lat 91", "GET", q("bbox=116,39,117,91"), "", nil, 400, "invalid_bbox"},
		{"NaN", "GET", q("bbox=NaN,39,117,40"), "", nil, 400, "invalid_bbox"},
		{"too large", "GET", q("bbox=70,10,140,50"), "", nil, 400, "bbox_too_large"},
		{"limit 10001", "GET", q("bbox=" + b + "&limit=10001"), "", nil, 400, "invalid_limit"},
		{"limit 0", "GET", q("bbox=" + b + "&limit=0"), "", nil, 400, "invalid_limit"},
		{"limit text", "GET", q("bbox=" + b + "&limit=all"), "", nil, 400, "invalid_limit"},
		{"cursor not base64", "GET", q("bbox=" + b + "&cursor=!!!"), "", nil, 400, "invalid_cursor"},
		{"cursor too short", "GET", q("bbox=" + b + "&cursor=AAAA"), "", nil, 400, "invalid_cursor"},
		{"cursor zero", "GET", q("bbox=" + b + "&cursor=AAAAAAAAAAA"), "", nil, 400, "invalid_cursor"},
		{"bad class", "GET", q("bbox=" + b + "&class=0100x"), "", nil, 400, "invalid_class"},
		{"class not in the catalogue", "GET", q("bbox=" + b + "&class=99999"), "", nil, 400, "invalid_class"},
		{"event class", "GET", q("bbox=" + b + "&class=06001"), "", nil, 400, "invalid_class"},
		{"bad status", "GET", q("bbox=" + b + "&status=broken"), "", nil, 400, "invalid_status"},
		{"bad cell prefix", "GET", q("cell=abc"), "", nil, 400, "invalid_grid_code"},
	})
}

func TestComponentGet(t *testing.T) {
	e := sharedEnv(t)
	c := someComponent(t, e, 0)
	rec := e.do(t, "GET", "/api/v1/components/"+c.ID.String(), "")
	var f featureResp
	decode(t, rec, 200, &f)
	if tag := rec.Header().Get("ETag"); tag != fmt.Sprintf(`"%d"`, c.Version) {
		t.Errorf("ETag = %s, want \"%d\"", tag, c.Version)
	}
	if f.Type != "Feature" || f.ID != c.ID.String() || f.Properties["id"] != c.ID.String() || f.Properties["class"] != c.Class ||
		f.Properties["cell"] != string(c.Cell) || f.Properties["maintainer"] != c.Maintainer || f.Properties["status"] != c.Status.String() {
		t.Errorf("GET component %s = %+v", c.ID, f)
	}
	if p := f.point(t); p != c.Point {
		t.Errorf("point = %v, want %v", p, c.Point)
	}
	// Output in GCJ-02.
	decode(t, e.do(t, "GET", "/api/v1/components/"+c.ID.String()+"?crs=gcj02", ""), 200, &f)
	gcj, _ := spatial.ParseCRS("gcj02")
	if p, want := f.point(t), spatial.FromWGS84(c.Point, gcj); p != want {
		t.Errorf("crs=gcj02 point = %v, want %v", p, want)
	}
	// Conditional GET.
	rec = e.do(t, "GET", "/api/v1/components/"+c.ID.String(), "", "If-None-Match", rec.Header().Get("ETag"))
	if rec.Code != 304 || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match current = %d with %d bytes, want 304 and no body", rec.Code, rec.Body.Len())
	}

	var hist struct {
		Changes []struct {
			Seq     uint64          `json:"seq"`
			Op      string          `json:"op"`
			Actor   string          `json:"actor"`
			Version int64           `json:"version"`
			Before  json.RawMessage `json:"before"`
			After   *featureResp    `json:"after"`
		} `json:"changes"`
	}
	decode(t, e.do(t, "GET", "/api/v1/components/"+c.ID.String()+"/history", ""), 200, &hist)
	if len(hist.Changes) == 0 || hist.Changes[0].Op != "create" || string(hist.Changes[0].Before) != "null" ||
		hist.Changes[0].After == nil || hist.Changes[0].After.ID != c.ID.String() || hist.Changes[0].Actor != "test" {
		t.Errorf("history = %+v, want a create by test first", hist)
	}
}

func TestComponentReadErrors(t *testing.T) {
	e := sharedEnv(t)
	unknown := someComponent(t, e, 0).ID.String()[:11] + "999998"
	runErrCases(t, e, []errCase{
		{"short id", "GET", "/api/v1/components/123", "", nil, 400, "invalid_component_code"},
		{"letters", "GET", "/api/v1/components/1101010100100000A", "", nil, 400, "invalid_component_code"},
		{"unknown id", "GET", "/api/v1/components/" + unknown, "", nil, 404, "component_not_found"},
		{"unknown history", "GET", "/api/v1/components/" + unknown + "/history", "", nil, 404, "component_not_found"},
		{"bad crs", "GET", "/api/v1/components/" + unknown + "?crs=x", "", nil, 400, "invalid_crs"},
	})
}

// componentFeature builds a GeoJSON Feature request body.
func componentFeature(t testing.TB, p *orb.Point, props map[string]any) string {
	t.Helper()
	f := map[string]any{"type": "Feature", "properties": props}
	if p != nil {
		f["geometry"] = map[string]any{"type": "Point", "coordinates": []float64{p[0], p[1]}}
	} else {
		f["geometry"] = nil
	}
	return jsonBody(t, f)
}

func TestComponentWrites(t *testing.T) {
	e := newEnv(t, envOptions{})
	proto := someComponent(t, e, 0)
	p, cell := cellPoint(t, e.idx, 7)

	// Create: the store assigns the identifier.
	rec := e.do(t, "POST", "/api/v1/components", componentFeature(t, &p, map[string]any{"class": proto.Class, "name": "测试井盖", "maintainer": proto.Maintainer}),
		"X-Actor", "surveyor-1")
	var created featureResp
	decode(t, rec, 201, &created)
	id := created.ID
	if rec.Header().Get("Location") != "/api/v1/components/"+id || rec.Header().Get("ETag") != `"1"` {
		t.Errorf("create: Location %q ETag %q", rec.Header().Get("Location"), rec.Header().Get("ETag"))
	}
	if created.Properties["cell"] != string(cell.Code) || created.Properties["name"] != "测试井盖" || created.Properties["updated_by"] != "surveyor-1" {
		t.Errorf("created = %v, want cell %s, the name, updated_by surveyor-1", created.Properties, cell.Code)
	}
	stored, err := e.store.Component(context.Background(), registry.MustParseComponentCode(id))
	if err != nil || stored.Name != "测试井盖" || stored.Point != p {
		t.Fatalf("store has %+v, %v", stored, err)
	}

	// Update needs a precondition.
	patch := componentFeature(t, nil, map[string]any{"name": "改名"})
	runErrCases(t, e, []errCase{
		{"patch without If-Match", "PATCH", "/api/v1/components/" + id, patch, nil, 428, "precondition_required"},
		{"patch with a bad If-Match", "PATCH", "/api/v1/components/" + id, patch, []string{"If-Match", "v1"}, 400, "invalid_if_match"},
		{"patch a stale version", "PATCH", "/api/v1/components/" + id, patch, []string{"If-Match", `"7"`}, 409, "version_conflict"},
		{"patch the class", "PATCH", "/api/v1/components/" + id, componentFeature(t, nil, map[string]any{"class": "99999"}), []string{"If-Match", `"1"`}, 400, "class_immutable"},
		{"patch an unknown id", "PATCH", "/api/v1/components/" + id[:11] + "999997", patch, []string{"If-Match", `"1"`}, 404, "component_not_found"},
	})
	rec = e.do(t, "PATCH", "/api/v1/components/"+id, patch, "If-Match", `"1"`)
	var updated featureResp
	decode(t, rec, 200, &updated)
	if updated.Properties["name"] != "改名" || rec.Header().Get("ETag") != `"2"` {
		t.Errorf("patched = %v ETag %s, want name 改名 and \"2\"", updated.Properties, rec.Header().Get("ETag"))
	}
	// The same If-Match again is stale now.
	rec = e.do(t, "PATCH", "/api/v1/components/"+id, patch, "If-Match", `"1"`)
	if rec.Code != 409 || problemOf(t, rec).Code != "version_conflict" {
		t.Errorf("stale If-Match = %d %s, want 409 version_conflict", rec.Code, rec.Body)
	}
	// A "version" property works instead of If-Match; a geometry moves the component.
	q, cell2 := cellPoint(t, e.idx, 9)
	rec = e.do(t, "PATCH", "/api/v1/components/"+id, componentFeature(t, &q, map[string]any{"version": 2, "status": "damaged"}))
	decode(t, rec, 200, &updated)
	if updated.Properties["cell"] != string(cell2.Code) || updated.Properties["status"] != "damaged" || updated.point(t) != q {
		t.Errorf("moved = %v at %v, want cell %s, damaged, at %v", updated.Properties, updated.point(t), cell2.Code, q)
	}

	// Retire.
	rec = e.do(t, "DELETE", "/api/v1/components/"+id, "")
	if rec.Code != 428 {
		t.Errorf("DELETE without If-Match = %d, want 428", rec.Code)
	}
	rec = e.do(t, "DELETE", "/api/v1/components/"+id+"?note=demolished", "", "If-Match", `"3"`)
	var retired featureResp
	decode(t, rec, 200, &retired)
	// The retire note goes into the history entry, not over the component's note.
	if retired.Properties["status"] != "removed" || retired.Properties["note"] != "" {
		t.Errorf("retired = %v, want status removed and the note untouched", retired.Properties)
	}
	if got, _ := e.store.Component(context.Background(), registry.MustParseComponentCode(id)); got.Status != registry.StatusRemoved {
		t.Errorf("stored status after DELETE = %v, want removed", got.Status)
	}

	// A retired component comes back only through restore.
	runErrCases(t, e, []errCase{
		{"patch a retired component's status", "PATCH", "/api/v1/components/" + id, componentFeature(t, nil, map[string]any{"status": "intact"}), []string{"If-Match", `"4"`}, 409, "component_retired"},
		{"patch a retired component's status to a bad one", "PATCH", "/api/v1/components/" + id, componentFeature(t, nil, map[string]any{"status": "shiny"}), []string{"If-Match", `"4"`}, 409, "component_retired"},
		{"restore without If-Match", "POST", "/api/v1/components/" + id + "/restore", "", nil, 428, "precondition_required"},
		{"restore a stale version", "POST", "/api/v1/components/" + id + "/restore", "", []string{"If-Match", `"3"`}, 409, "version_conflict"},
		{"restore an unknown id", "POST", "/api/v1/components/" + id[:11] + "999997/restore", "", []string{"If-Match", "*"}, 404, "component_not_found"},
	})
	rec = e.do(t, "PATCH", "/api/v1/components/"+id, componentFeature(t, nil, map[string]any{"name": "已拆除的井盖"}), "If-Match", `"4"`)
	decode(t, rec, 200, &updated) // other fields of a retired component may still be corrected
	rec = e.do(t, "POST", "/api/v1/components/"+id+"/restore?note=误删", "", "If-Match", `"5"`, "X-Actor", "dispatcher-wang")
	var restored featureResp
	decode(t, rec, 200, &restored)
	if restored.Properties["status"] != "damaged" || rec.Header().Get("ETag") != `"6"` || restored.Properties["updated_by"] != "dispatcher-wang" {
		t.Errorf("restored = %v ETag %s, want the status before the retirement (damaged), version 6", restored.Properties, rec.Header().Get("ETag"))
	}
	runErrCases(t, e, []errCase{
		{"restore a component that is not retired", "POST", "/api/v1/components/" + id + "/restore", "", []string{"If-Match", "*"}, 409, "not_retired"},
	})

	var hist struct {
		Changes []struct {
			Op, Note string
			Changed  []string
		} `json:"changes"`
	}
	decode(t, e.do(t, "GET", "/api/v1/components/"+id+"/history", ""), 200, &hist)
	var ops []string
	for _, c := range hist.Changes {
		ops = append(ops, c.Op+":"+c.Note)
	}
	if want := "create:,update:,update:,retire:demolished,update:,update:误删"; strings.Join(ops, ",") != want {
		t.Fatalf("history ops:notes = %v, want %s", ops, want)
	}
	// Each entry lists the properties it changed ("geometry" for the point), and only those; the
	// retirement's note goes into its entry, not over the component's note.
	for i, w := range []struct{ has, hasNot []string }{
		{[]string{"id", "class", "name", "cell", "geometry"}, nil},
		{[]string{"name"}, []string{"status", "geometry", "cell"}},
		{[]string{"status", "cell", "geometry"}, []string{"name"}},
		{[]string{"status"}, []string{"name", "geometry", "note"}},
	} {
		got := hist.Changes[i].Changed
		for _, f := range w.has {
			if !slices.Contains(got, f) {
				t.Errorf("history[%d] (%s) changed %v, want %s among them", i, ops[i], got, f)
			}
		}
		for _, f := range w.hasNot {
			if slices.Contains(got, f) {
				t.Errorf("history[%d] (%s) changed %v, want no %s", i, ops[i], got, f)
			}
		}
	}
}

func TestComponentWriteErrors(t *testing.T) {
	e := newEnv(t, envOptions{cfg: apiConfigSmallBodies()})
	proto := someComponent(t, e, 0)
	p, _ := cellPoint(t, e.idx, 2)
	far := orb.Point{10, 10}
	dup := componentFeature(t, &proto.Point, map[string]any{"id": proto.ID.String(), "class": proto.Class})
	runErrCases(t, e, []errCase{
		{"not JSON", "POST", "/api/v1/components", "{", nil, 400, "invalid_input"},
		{"a FeatureCollection of two", "POST", "/api/v1/components",
			`{"type":"FeatureCollection","features":[` + componentFeature(t, &p, map[string]any{"class": proto.Class}) + "," + componentFeature(t, &p, map[string]any{"class": proto.Class}) + `]}`,
			nil, 400, "invalid_input"},
		{"no class", "POST", "/api/v1/components", componentFeature(t, &p, map[string]any{"name": "x"}), nil, 400, "missing_field"},
		{"unknown class", "POST", "/api/v1/components", componentFeature(t, &p, map[string]any{"class": "99999"}), nil, 400, "unknown_class"},
		{"no geometry", "POST", "/api/v1/components", componentFeature(t, nil, map[string]any{"class": proto.Class}), nil, 400, "missing_field"},
		{"outside the grid", "POST", "/api/v1/components", componentFeature(t, &far, map[string]any{"class": proto.Class}), nil, 400, "outside_grid"},
		{"coordinates out of range", "POST", "/api/v1/components", `{"type":"Feature","geometry":{"type":"Point","coordinates":[1e999,0]},"properties":{"class":"` + proto.Class + `"}}`, nil, 400, "invalid_coordinates"},
		{"duplicate id", "POST", "/api/v1/components", dup, nil, 409, "duplicate"},
		{"bad crs", "POST", "/api/v1/components?crs=x", dup, nil, 400, "invalid_crs"},
		{"body over the limit", "POST", "/api/v1/components", componentFeature(t, &p, map[string]any{"class": proto.Class, "note": strings.Repeat("x", 5000)}), nil, 413, "body_too_large"},
		{"bad version property", "PATCH", "/api/v1/components/" + proto.ID.String(), componentFeature(t, nil, map[string]any{"version": "two"}), nil, 400, "invalid_version"},
		{"delete a stale version", "DELETE", "/api/v1/components/" + proto.ID.String() + "?version=9", "", nil, 409, "version_conflict"},
		{"delete a bad version", "DELETE", "/api/v1/components/" + proto.ID.String() + "?version=x", "", nil, 400, "invalid_version"},
	})
}

// FuzzListQuery feeds raw query strings to the read routes that parse bbox, limit, cursor,
// k, radius, class, status, cell and crs. Property: never a 5xx, and every error is a
// problem document.
func FuzzListQuery(f *testing.F) {
	e := sharedEnv(f)
	b := bboxParam(cityBound(f, e.idx))
	routes := []string{"/api/v1/components", "/api/v1/cells", "/api/v1/nearest", "/api/v1/classes"}
	for _, s := range []string{
		"bbox=" + b, "bbox=" + b + "&limit=3&cursor=AAAAAAAAAAE", "cell=500103&status=intact,removed&class=01,01001",
		"bbox=NaN,1,2,3", "bbox=1e999,0,0,0", "limit=-1&bbox=0,0,0,0", "cursor=%ff%fe", "lon=106.5&lat=29.5&k=3&radius=1e-300",
		"kind=event&standard=legacy", "bbox=,,,&cell=",
	} {
		for r := range routes {
			f.Add(uint8(r), s)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, raw string) {
		req := httptest.NewRequest("GET", routes[int(route)%len(routes)], nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s?%s = %d: %s", req.URL.Path, raw, rec.Code, short(rec.Body))
		}
		if rec.Code >= 400 {
			var pr problem
			if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || pr.Code == "" || pr.Status != rec.Code {
				t.Fatalf("GET %s?%s = %d %s: not a problem document", req.URL.Path, raw, rec.Code, short(rec.Body))
			}
		}
	})
}
