package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
)

func TestCellList(t *testing.T) {
	e := sharedEnv(t)
	b := cityBound(t, e.idx)
	seen := map[string]bool{}
	target := "/api/v1/cells?limit=64&bbox=" + bboxParam(b)
	for pages := 0; ; pages++ {
		var page pageResp
		decode(t, e.do(t, "GET", target, ""), 200, &page)
		for _, f := range page.Features {
			if seen[f.ID] || f.Properties["code"] != f.ID || f.Geometry.Type != "MultiPolygon" {
				t.Fatalf("cell feature %s: repeated or malformed (%v, %s)", f.ID, f.Properties, f.Geometry.Type)
			}
			seen[f.ID] = true
		}
		if page.Next == nil {
			break
		}
		target = "/api/v1/cells?limit=64&bbox=" + bboxParam(b) + "&cursor=" + *page.Next
	}
	if want := e.idx.Stats().Cells; len(seen) != want {
		t.Errorf("paging listed %d cells, the index holds %d", len(seen), want)
	}
}

func TestCellGet(t *testing.T) {
	e := sharedEnv(t)
	_, cell := cellPoint(t, e.idx, 4)
	rec := e.do(t, "GET", "/api/v1/cells/"+string(cell.Code), "")
	var f featureResp
	decode(t, rec, 200, &f)
	if rec.Header().Get("ETag") != fmt.Sprintf(`"%d"`, cell.Version) {
		t.Errorf("ETag = %s, want \"%d\"", rec.Header().Get("ETag"), cell.Version)
	}
	if f.ID != string(cell.Code) || f.Properties["name"] != cell.Name || f.Properties["district"] != cell.Code.District() ||
		f.Properties["street"] != cell.Code.Street() || f.Properties["community"] != cell.Code.Community() || f.Properties["area"] != math.Round(cell.Area*100)/100 {
		t.Errorf("GET cell %s = %v", cell.Code, f.Properties)
	}
	var mp orb.MultiPolygon
	if err := json.Unmarshal(f.Geometry.Coordinates, &mp); err != nil || !orb.Equal(mp, cell.Geometry) {
		t.Errorf("geometry = %s, want the cell's (%v)", f.Geometry.Coordinates, err)
	}
	// In BD-09 every vertex is converted and the index's own geometry is left alone.
	decode(t, e.do(t, "GET", "/api/v1/cells/"+string(cell.Code)+"?crs=bd09", ""), 200, &f)
	bd, _ := spatial.ParseCRS("bd09")
	if err := json.Unmarshal(f.Geometry.Coordinates, &mp); err != nil || mp[0][0][0] != spatial.FromWGS84(cell.Geometry[0][0][0], bd) {
		t.Errorf("bd09 first vertex = %v, want %v", mp[0][0][0], spatial.FromWGS84(cell.Geometry[0][0][0], bd))
	}
	if again, _ := e.idx.Cell(cell.Code); !orb.Equal(again.Geometry, cell.Geometry) || again.Geometry[0][0][0] == mp[0][0][0] {
		t.Errorf("the indexed geometry changed after a crs=bd09 read")
	}
}

func TestCellErrors(t *testing.T) {
	e := sharedEnv(t)
	_, cell := cellPoint(t, e.idx, 0)
	unknown := string(cell.Code)[:12] + "ZZZ"
	runErrCases(t, e, []errCase{
		{"list without bbox", "GET", "/api/v1/cells", "", nil, 400, "invalid_bbox"},
		{"list bbox too large", "GET", "/api/v1/cells?bbox=100,20,120,40", "", nil, 400, "bbox_too_large"},
		{"list limit 10001", "GET", "/api/v1/cells?bbox=106,29,107,30&limit=10001", "", nil, 400, "invalid_limit"},
		{"list bad cursor", "GET", "/api/v1/cells?bbox=106,29,107,30&cursor=%21%21%21", "", nil, 400, "invalid_cursor"},
		{"bad code", "GET", "/api/v1/cells/12345", "", nil, 400, "invalid_grid_code"},
		{"unknown code", "GET", "/api/v1/cells/" + unknown, "", nil, 404, "cell_not_found"},
		{"bad crs", "GET", "/api/v1/cells/" + string(cell.Code) + "?crs=mercator", "", nil, 400, "invalid_crs"},
	})
}

// cellFeature is a PUT body for a cell.
func cellFeature(t testing.TB, props map[string]any, g orb.Geometry) string {
	t.Helper()
	var geom any
	switch g := g.(type) {
	case orb.MultiPolygon:
		geom = map[string]any{"type": "MultiPolygon", "coordinates": g}
	case orb.Polygon:
		geom = map[string]any{"type": "Polygon", "coordinates": g}
	}
	return jsonBody(t, map[string]any{"type": "Feature", "properties": props, "geometry": geom})
}

func TestCellPut(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells"}})
	_, cell := cellPoint(t, e.idx, 6)
	code := string(cell.Code)
	body := cellFeature(t, map[string]any{"name": "改名网格"}, cell.Geometry)

	runErrCases(t, e, []errCase{
		{"stale If-Match", "PUT", "/api/v1/cells/" + code, body, []string{"If-Match", `"9"`}, 409, "version_conflict"},
		{"code mismatch", "PUT", "/api/v1/cells/" + code, cellFeature(t, map[string]any{"code": code[:12] + "999"}, cell.Geometry), nil, 400, "code_mismatch"},
		{"no geometry", "PUT", "/api/v1/cells/" + code, cellFeature(t, map[string]any{"name": "x"}, nil), nil, 400, "missing_field"},
		{"overlaps a neighbour", "PUT", "/api/v1/cells/" + code[:12] + "998", body, nil, 400, "overlapping_cells"},
		{"bad code", "PUT", "/api/v1/cells/abc", body, nil, 400, "invalid_grid_code"},
	})

	rec := e.do(t, "PUT", "/api/v1/cells/"+code, body, "If-Match", fmt.Sprintf(`"%d"`, cell.Version), "X-Actor", "gis-team")
	var f featureResp
	decode(t, rec, 200, &f)
	if f.Properties["name"] != "改名网格" || rec.Header().Get("ETag") != fmt.Sprintf(`"%d"`, cell.Version+1) {
		t.Errorf("PUT existing cell = %v ETag %s", f.Properties, rec.Header().Get("ETag"))
	}
	if got, _ := e.idx.Cell(cell.Code); got.Name != "改名网格" {
		t.Errorf("the index still names cell %s %q", code, got.Name)
	}

	// A new cell far from the grid is created.
	newCode := code[:12] + "Z01"
	square := orb.Polygon{{{10, 10}, {10.001, 10}, {10.001, 10.001}, {10, 10.001}, {10, 10}}}
	rec = e.do(t, "PUT", "/api/v1/cells/"+newCode, cellFeature(t, map[string]any{"name": "新网格"}, square))
	decode(t, rec, 201, &f)
	if rec.Header().Get("Location") != "/api/v1/cells/"+newCode || rec.Header().Get("ETag") != `"1"` {
		t.Errorf("PUT new cell: Location %q ETag %q", rec.Header().Get("Location"), rec.Header().Get("ETag"))
	}
	if got, err := e.idx.CellAt(orb.Point{10.0005, 10.0005}); err != nil || string(got.Code) != newCode {
		t.Errorf("CellAt inside the new cell = %v, %v", got, err)
	}
	if _, err := e.store.Cell(t.Context(), registry.GridCode(newCode)); err != nil {
		t.Errorf("store.Cell(%s): %v", newCode, err)
	}
}
