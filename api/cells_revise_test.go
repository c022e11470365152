package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// TestCellRevisionRoutes revises one community over HTTP (its last cell drawn again under a
// new code), then reads the retired cell, its history and the listings by status.
func TestCellRevisionRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	pt, first := cellPoint(t, e.idx, 0)
	area := string(first.Code[:12])
	cells, _, err := e.idx.CellsWithin(orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ours []*registry.Cell
	for _, c := range cells {
		if strings.HasPrefix(string(c.Code), area) {
			ours = append(ours, c)
		}
	}
	oldCode, newCode := first.Code, registry.GridCode(area+"999")
	var body strings.Builder
	for _, c := range ours {
		code := c.Code
		if code == oldCode {
			code = newCode
		}
		b, err := json.Marshal(map[string]any{"type": "Feature", "properties": map[string]any{"code": code, "name": c.Name},
			"geometry": map[string]any{"type": "MultiPolygon", "coordinates": c.Geometry}})
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	runErrCases(t, e, []errCase{
		{"replace without area", "POST", "/api/v1/census/cells?mode=replace&format=ndjson", body.String(), nil, 400, "invalid_area"},
		{"replace with a bad area", "POST", "/api/v1/census/cells?mode=replace&area=5001&format=ndjson", body.String(), nil, 400, "invalid_area"},
		{"area without replace", "POST", "/api/v1/census/cells?area=" + area + "&format=ndjson", body.String(), nil, 400, "invalid_area"},
		{"components in mode replace", "POST", "/api/v1/census/components?mode=replace&format=csv", "id\n", nil, 400, "invalid_mode"},
	})

	var rep reportResp
	decode(t, e.do(t, "POST", "/api/v1/census/cells?mode=replace&area="+area+"&format=ndjson", body.String(), "X-Actor", "gis-wang"), 200, &rep)
	if rep.Mode != "replace" || rep.Created != 1 || rep.Retired != 1 || rep.Unchanged != len(ours)-1 || !rep.Stored {
		t.Errorf("revision report %+v; want 1 created, 1 retired, %d unchanged", rep, len(ours)-1)
	}

	// The retired cell answers with its status; lookups answer the new one.
	var f featureResp
	decode(t, e.do(t, "GET", "/api/v1/cells/"+string(oldCode), ""), 200, &f)
	if f.Properties["status"] != "retired" || f.Properties["retired"] == nil {
		t.Errorf("retired cell properties %v", f.Properties)
	}
	var nf featureResp // a fresh one: decoding into f would merge its properties
	decode(t, e.do(t, "GET", "/api/v1/cells/"+string(newCode), ""), 200, &nf)
	if nf.Properties["status"] != "active" || nf.Properties["retired"] != nil {
		t.Errorf("new cell properties %v", nf.Properties)
	}
	if at, err := e.idx.CellAt(pt); err != nil || at.Code != newCode {
		t.Errorf("CellAt(%v) = %v, %v; want %s", pt, at, err, newCode)
	}

	var hist struct {
		Changes []struct {
			Op      string          `json:"op"`
			Actor   string          `json:"actor"`
			Version int64           `json:"version"`
			Changed []string        `json:"changed"`
			Before  json.RawMessage `json:"before"`
			After   json.RawMessage `json:"after"`
		} `json:"changes"`
	}
	decode(t, e.do(t, "GET", "/api/v1/cells/"+string(oldCode)+"/history", ""), 200, &hist)
	if len(hist.Changes) != 2 {
		t.Fatalf("history %+v; want create, retire", hist)
	}
	c0, c1 := hist.Changes[0], hist.Changes[1]
	if c0.Op != "create" || string(c0.Before) != "null" || c1.Op != "retire" || c1.Actor != "gis-wang" || c1.Version != 2 ||
		!slices.Equal(c1.Changed, []string{"status"}) || !strings.Contains(string(c1.After), `"status":"retired"`) || !strings.Contains(string(c1.Before), `"status":"active"`) {
		t.Errorf("history entries %+v", hist.Changes)
	}

	bbox := bboxParam(first.Geometry.Bound())
	listed := func(status string) []string {
		var page pageResp
		decode(t, e.do(t, "GET", "/api/v1/cells?bbox="+bbox+status, ""), 200, &page)
		var out []string
		for _, f := range page.Features {
			out = append(out, f.ID)
		}
		return out
	}
	if got := listed(""); slices.Contains(got, string(oldCode)) || !slices.Contains(got, string(newCode)) {
		t.Errorf("default listing %v", got)
	}
	if got := listed("&status=retired"); !slices.Equal(got, []string{string(oldCode)}) {
		t.Errorf("retired listing %v", got)
	}
	if got := listed("&status=all"); !slices.Contains(got, string(oldCode)) || !slices.Contains(got, string(newCode)) {
		t.Errorf("listing of all %v", got)
	}
	runErrCases(t, e, []errCase{
		{"list status bogus", "GET", "/api/v1/cells?bbox=" + bbox + "&status=removed", "", nil, 400, "invalid_status"},
		{"history of an unknown cell", "GET", "/api/v1/cells/" + area + "998/history", "", nil, 404, "cell_not_found"},
		{"put a retired code", "PUT", "/api/v1/cells/" + string(oldCode), `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[106.4,29.4],[106.401,29.4],[106.401,29.401],[106.4,29.401],[106.4,29.4]]]}}`, nil, 409, "cell_retired"},
	})
}
