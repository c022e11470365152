package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportDryRunAndRejected: -dry-run reports what an import would change and stores
// nothing; -rejected writes the refused features with their problems as GeoJSON, which
// imports again once fixed; the report table has the QGIS feature number.
func TestImportDryRunAndRejected(t *testing.T) {
	dir := t.TempDir()
	db := newCity(t, dir, 200, 200)
	fx := filepath.Join(dir, "fx")
	comps := filepath.Join(fx, demoFiles["components"])
	before := export(t, db, "components")

	r := mustRun(t, "import", "-db", db, "-kind", "components", "-dry-run", comps)
	if !strings.Contains(r.stdout, "created 0, updated 0, unchanged 200") || !strings.Contains(r.stdout, "dry run, nothing stored") {
		t.Errorf("dry run of the stored components:\n%s", r.stdout)
	}
	// A dry run against a store that does not exist checks the census against an empty one
	// and creates no file.
	cells := filepath.Join(fx, demoFiles["cells"])
	fresh := filepath.Join(dir, "fresh.db")
	r = mustRun(t, "import", "-db", fresh, "-kind", "cells", "-dry-run", cells)
	if !strings.Contains(r.stdout, "dry run, nothing stored") || !regexp.MustCompile(`created [1-9][0-9]*, updated 0, unchanged 0`).MatchString(r.stdout) {
		t.Errorf("dry run against a new store:\n%s", r.stdout)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run created the store %s (stat: %v)", fresh, err)
	}
	r = mustRun(t, "import", "-db", db, "-kind", "components", comps)
	if !strings.Contains(r.stdout, "unchanged 200") {
		t.Errorf("re-import of the stored components:\n%s", r.stdout)
	}
	if after := export(t, db, "components"); string(after) != string(before) {
		t.Errorf("the export changed after a dry run and an unchanged re-import")
	}

	// A CSV with one good row, one with swapped coordinates, one without a class, at the
	// point of a stored component.
	var fc0 struct {
		Features []struct {
			Geometry struct{ Coordinates [2]json.Number }
		}
	}
	if err := json.Unmarshal(before, &fc0); err != nil || len(fc0.Features) == 0 {
		t.Fatalf("export: %v", err)
	}
	lon, lat := fc0.Features[0].Geometry.Coordinates[0].String(), fc0.Features[0].Geometry.Coordinates[1].String()
	bad := filepath.Join(dir, "bad.csv")
	csv := "id,class,name,lon,lat\n" +
		",01037,lamp ok," + lon + "," + lat + "\n" +
		"50010301037900001,01037,lamp swapped," + lat + "," + lon + "\n" +
		"50010301037900002,,lamp without class," + lon + "," + lat + "\n"
	if err := os.WriteFile(bad, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	rej := filepath.Join(dir, "rejected.geojson")
	r = citygrid(t, "import", "-db", db, "-kind", "components", "-dry-run", "-rejected", rej, bad)
	if r.code != 1 {
		t.Fatalf("import with bad rows: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"INDEX  FEATURE", "1      2        50010301037900001", "swapped", "2      3        50010301037900002"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	b, err := os.ReadFile(rej)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Geometry   json.RawMessage
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil || fc.Type != "FeatureCollection" || len(fc.Features) != 2 {
		t.Fatalf("rejected file: %v, %d features\n%s", err, len(fc.Features), b)
	}
	for i, want := range []struct{ id, code string }{{"50010301037900001", "invalid_coordinates"}, {"50010301037900002", "missing_field"}} {
		p := fc.Features[i].Properties
		probs, _ := p["citygrid_problems"].([]any)
		if p["id"] != want.id || len(probs) != 1 || probs[0].(map[string]any)["code"] != want.code {
			t.Errorf("rejected feature %d: %v, want id %s with %s", i, p, want.id, want.code)
		}
	}
	if !strings.Contains(string(fc.Features[1].Geometry), "["+lon+","+lat+"]") {
		t.Errorf("rejected row keeps its point: %s", fc.Features[1].Geometry)
	}
	// Fixed in QGIS (here: the class filled in), the file imports again.
	fixed := strings.Replace(string(b), `"name":"lamp without class"`, `"class":"01037","name":"lamp without class"`, 1)
	if err := os.WriteFile(rej, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	r = citygrid(t, "import", "-db", db, "-kind", "components", "-mode", "partial", "-dry-run", rej)
	if !strings.Contains(r.stdout, "rejected 1, created 1") {
		t.Errorf("re-import of the fixed rejected file:\n%s%s", r.stdout, r.stderr)
	}
	if r := citygrid(t, "import", "-db", db, "-kind", "units", "-rejected", rej, bad); r.code != 2 || !strings.Contains(r.stderr, "-rejected is for cells and components") {
		t.Errorf("-rejected with units: exit %d\n%s", r.code, r.stderr)
	}
}
