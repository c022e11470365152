package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestE2EGridRevision revises one community of a generated city with `citygrid import -kind
// cells -mode replace -area`: its last cell is drawn again under a new code, so the old code
// retires and the cell's components move; the export then holds the current grid only.
func TestE2EGridRevision(t *testing.T) {
	dir := t.TempDir()
	db := newCity(t, dir, 200, 1000)
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string          `json:"type"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties map[string]any  `json:"properties"`
		} `json:"features"`
	}
	before := export(t, db, "cells")
	if err := json.Unmarshal(before, &fc); err != nil {
		t.Fatal(err)
	}
	area := fc.Features[0].Properties["code"].(string)[:12]
	var feats []map[string]any
	for _, f := range fc.Features {
		if strings.HasPrefix(f.Properties["code"].(string), area) {
			feats = append(feats, map[string]any{"type": "Feature", "geometry": f.Geometry,
				"properties": map[string]any{"code": f.Properties["code"], "name": f.Properties["name"]}})
		}
	}
	last := feats[len(feats)-1]["properties"].(map[string]any)
	oldCode := last["code"].(string)
	last["code"] = area + "999"
	b, err := json.Marshal(map[string]any{"type": "FeatureCollection", "features": feats})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "revision.geojson")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	r := citygrid(t, "import", "-db", db, "-kind", "cells", "-mode", "replace", path)
	if r.code != 2 || !strings.Contains(r.stderr, "area") {
		t.Errorf("a revision without -area: exit %d, stderr %q; want 2 naming the area", r.code, r.stderr)
	}
	r = citygrid(t, "import", "-db", db, "-kind", "components", "-area", area, path)
	if r.code != 2 {
		t.Errorf("-area with components: exit %d; want 2", r.code)
	}
	r = mustRun(t, "import", "-db", db, "-kind", "cells", "-mode", "replace", "-area", area, "-actor", "gis-wang", path)
	if !strings.Contains(r.stdout, "created 1, updated 0, unchanged "+strconv.Itoa(len(feats)-1)+", retired 1, moved ") || !strings.Contains(r.stdout, ": stored") {
		t.Errorf("revision report: %s", r.stdout)
	}
	after := export(t, db, "cells")
	if n, m := featureCount(t, before), featureCount(t, after); n != m {
		t.Errorf("the export holds %d cells after the revision, %d before; want the same (one retired, one new)", m, n)
	}
	if strings.Contains(string(after), `"`+oldCode+`"`) {
		t.Errorf("the export holds the retired cell %s", oldCode)
	}

	// A limit below the cells' size refuses them all.
	r = citygrid(t, "import", "-db", db, "-kind", "cells", "-max-cell-area", "0.001", path)
	if r.code != 1 || !strings.Contains(r.stdout, "cell_too_large") {
		t.Errorf("-max-cell-area 0.001: exit %d, stdout %s; want 1 with cell_too_large", r.code, r.stdout)
	}
	r = citygrid(t, "import", "-db", db, "-kind", "cells", "-boundaries", filepath.Join(dir, "missing.json"), path)
	if r.code == 0 || !strings.Contains(r.stderr, "missing.json") {
		t.Errorf("-boundaries of a missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}
