package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"citygrid/fixtures"
	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
)

// crsRealData returns the path of a file of the shared data folder beside the module root
// (../../../shared/data from here); missing data skips the test, except under CI=true.
func crsRealData(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "..", "shared", "data"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real data %s is required under CI=true: %v", p, err)
		}
		t.Skipf("real data %s is not available: %v", p, err)
	}
	return p
}

// yuzhongGCJGrid draws a 100 m grid over the real 渝中区 outline (DataV, GCJ-02) and writes it
// to dir/name as a census GeoJSON file in GCJ-02, without a crs member, as a GIS officer
// would draw it over a Gaode map.
func yuzhongGCJGrid(t testing.TB, dir, name string) (string, []registry.Cell) {
	t.Helper()
	f, err := os.Open(crsRealData(t, "boundaries", "chongqing_districts_datav", "500103.json"))
	if err != nil {
		t.Fatal(err)
	}
	outline, err := fixtures.ReadBoundary(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cells, err := fixtures.BoundaryGrid("500103", outline, 100)
	if err != nil || len(cells) < 1500 {
		t.Fatalf("BoundaryGrid: %d cells, %v", len(cells), err)
	}
	var buf bytes.Buffer
	w := geojson.NewCensusWriter(&buf)
	for i := range cells {
		if err := w.WriteCell(&cells[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, cells
}

// exportedCells parses a cells export: code → its first ring, and the crs member's name.
func exportedCells(t testing.TB, b []byte) (map[string]orb.Ring, string) {
	t.Helper()
	var fc struct {
		CRS *struct {
			Properties struct{ Name string }
		}
		Features []struct {
			ID       string
			Geometry struct {
				Coordinates orb.MultiPolygon
			}
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("export: %v", err)
	}
	out := make(map[string]orb.Ring, len(fc.Features))
	for _, f := range fc.Features {
		out[f.ID] = f.Geometry.Coordinates[0][0]
	}
	name := ""
	if fc.CRS != nil {
		name = fc.CRS.Properties.Name
	}
	return out, name
}

// checkStored compares the stored (WGS84) rings of an export with the GCJ-02 cells drawn:
// with converted, every stored vertex must lie within 1 m of spatial.ToWGS84 of the drawn
// vertex; without, the store holds the GCJ-02 vertices as if they were WGS84, 300–600 m from
// the truth (the bug: a provider's outline taken for WGS84 without a word).
func checkStored(t testing.TB, stored map[string]orb.Ring, cells []registry.Cell, converted bool) {
	t.Helper()
	if len(stored) != len(cells) {
		t.Fatalf("the store holds %d cells, %d were drawn", len(stored), len(cells))
	}
	minOff, maxOff := 1e9, 0.0
	for _, c := range cells {
		ring := stored[string(c.Code)]
		drawn := c.Geometry[0][0]
		if len(ring) != len(drawn) {
			t.Fatalf("cell %s: %d vertices stored, %d drawn", c.Code, len(ring), len(drawn))
		}
		for i, g := range drawn {
			truth := spatial.ToWGS84(g, spatial.GCJ02)
			d := geo.Distance(ring[i], truth)
			if converted && d > 1 {
				t.Fatalf("cell %s vertex %d stored at %v, %.3f m from the truth %v", c.Code, i, ring[i], d, truth)
			}
			minOff, maxOff = min(minOff, d), max(maxOff, d)
		}
	}
	if !converted && (minOff < 300 || maxOff > 600) {
		t.Errorf("imported without crs, the vertices lie %.0f–%.0f m from the truth; want 300–600 m", minOff, maxOff)
	}
	t.Logf("stored vertices lie %.3f–%.3f m from the truth (converted: %v)", minOff, maxOff, converted)
}

// TestE2ECRSYuzhongGCJ02 is the real-data proof of coordinate systems on the way in and out:
// a 100 m grid drawn in GCJ-02 over the real 渝中区 outline, imported with -crs gcj02, is
// stored in WGS84 within a metre of the truth, answers WGS84 lookups with the right cell
// (cell centres and points 3 m inside a corner), exports back to GCJ-02 within a metre of
// what was drawn (with a crs member that a re-import honours), and the same file imported
// without -crs lands 300–600 m off. A GDAL-written copy (crs member EPSG:4490) with -crs
// gcj02 imports the same, with a crs_overridden warning.
func TestE2ECRSYuzhongGCJ02(t *testing.T) {
	dir := t.TempDir()
	path, cells := yuzhongGCJGrid(t, dir, "yuzhong-gcj02.geojson")
	db := filepath.Join(dir, "citygrid.db")
	r := mustRun(t, "import", "-db", db, "-kind", "cells", "-crs", "gcj02", path)
	if !strings.Contains(r.stdout, fmt.Sprintf("created %d", len(cells))) || !strings.Contains(r.stdout, ": stored") ||
		!strings.Contains(r.stdout, "coordinates read in gcj02") {
		t.Fatalf("import -crs gcj02: %s", r.stdout)
	}
	stored, name := exportedCells(t, export(t, db, "cells"))
	if name != "" {
		t.Errorf("the WGS84 export names crs %q; RFC 7946 needs none", name)
	}
	checkStored(t, stored, cells, true)

	// The export in GCJ-02 gives back what was drawn, within a metre, and says its datum.
	out := filepath.Join(dir, "export-gcj02.geojson")
	mustRun(t, "export", "-db", db, "-kind", "cells", "-crs", "gcj02", "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	back, name := exportedCells(t, b)
	if name != "urn:citygrid:crs:gcj02" {
		t.Errorf("the GCJ-02 export names crs %q, want urn:citygrid:crs:gcj02", name)
	}
	worst := 0.0
	for _, c := range cells {
		for i, g := range c.Geometry[0][0] {
			worst = max(worst, geo.Distance(back[string(c.Code)][i], g))
		}
	}
	if worst > 1 {
		t.Errorf("the GCJ-02 export is up to %.3f m from the vertices drawn; want within 1 m", worst)
	}
	// Its crs member is honoured: re-imported without -crs, it is stored as the first import.
	db2 := filepath.Join(dir, "reimport.db")
	mustRun(t, "import", "-db", db2, "-kind", "cells", out)
	again, _ := exportedCells(t, export(t, db2, "cells"))
	checkStored(t, again, cells, true)
	// A crs member contradicting -crs is refused, and nothing is stored.
	if r := citygrid(t, "import", "-db", filepath.Join(dir, "contradiction.db"), "-kind", "cells", "-crs", "wgs84", out); r.code == 0 ||
		!strings.Contains(r.stderr+r.stdout, "invalid_crs") && !strings.Contains(r.stderr+r.stdout, "urn:citygrid:crs:gcj02") {
		t.Errorf("import of a gcj02 export with -crs wgs84: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// The bug the issue describes: without -crs the outline's grid goes in as WGS84, off.
	dbRaw := filepath.Join(dir, "raw.db")
	mustRun(t, "import", "-db", dbRaw, "-kind", "cells", path)
	raw, _ := exportedCells(t, export(t, dbRaw, "cells"))
	checkStored(t, raw, cells, false)

	// GDAL's copy of the file labelled CGCS2000 (EPSG:4490), as Chinese GIS desks label their
	// layers: GCJ-02 has no EPSG code, so a GCJ-02 layer in QGIS carries a lon/lat label.
	if _, err := exec.LookPath("ogr2ogr"); err == nil {
		gdal := filepath.Join(dir, "yuzhong-gdal.geojson")
		if out, err := exec.Command("ogr2ogr", "-f", "GeoJSON", "-a_srs", "EPSG:4490", gdal, path).CombinedOutput(); err != nil {
			t.Fatalf("ogr2ogr: %v\n%s", err, out)
		}
		if b, _ := os.ReadFile(gdal); !bytes.Contains(b, []byte("urn:ogc:def:crs:EPSG::4490")) {
			t.Fatalf("ogr2ogr wrote no EPSG:4490 crs member: %.300s", b)
		}
		dbGDAL := filepath.Join(dir, "gdal.db")
		r := mustRun(t, "import", "-db", dbGDAL, "-kind", "cells", "-crs", "gcj02", gdal)
		if !strings.Contains(r.stdout, "crs_overridden") || !strings.Contains(r.stdout, ": stored") {
			t.Errorf("import of GDAL's copy with -crs gcj02: %s", r.stdout)
		}
		viaGDAL, _ := exportedCells(t, export(t, dbGDAL, "cells"))
		checkStored(t, viaGDAL, cells, true)
	} else {
		t.Log("ogr2ogr (Debian gdal-bin) is not installed: the GDAL copy is not checked")
	}

	// Lookups at WGS84 points: every cell's centre, and a point 3 m inside its south-west
	// corner, both converted from GCJ-02.
	addr := freeAddr(t)
	srv := exec.Command(binPath, "serve", "-db", db, "-addr", addr)
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() {
		srv.Process.Kill()
		<-done
	})
	waitReady(t, "http://"+addr, done)
	var pts [][2]float64
	var want []string
	for _, c := range cells {
		b := c.Geometry.Bound()
		for _, g := range []orb.Point{b.Center(), {b.Min[0] + (b.Max[0]-b.Min[0])*0.03, b.Min[1] + (b.Max[1]-b.Min[1])*0.03}} {
			w := spatial.ToWGS84(g, spatial.GCJ02)
			pts = append(pts, [2]float64{w[0], w[1]})
			want = append(want, string(c.Code))
		}
	}
	lookup := func(query string, pts [][2]float64) []string {
		body, _ := json.Marshal(pts)
		resp, err := http.Post("http://"+addr+"/api/v1/lookup?fields=cell"+query, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			Results []struct {
				Cell  *struct{ Code string }
				Error *struct{ Code string }
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got.Results) != len(pts) {
			t.Fatalf("batch lookup: %d, %d results, %v", resp.StatusCode, len(got.Results), err)
		}
		codes := make([]string, len(pts))
		for i, r := range got.Results {
			if r.Cell != nil {
				codes[i] = r.Cell.Code
			} else if r.Error != nil {
				codes[i] = r.Error.Code
			}
		}
		return codes
	}
	for i, code := range lookup("", pts) {
		if code != want[i] {
			t.Fatalf("lookup of WGS84 point %v = %s, want cell %s", pts[i], code, want[i])
		}
	}
	// The same points asked in GCJ-02 land in the same cells.
	gcjPts := make([][2]float64, len(pts))
	for i, p := range pts {
		g := spatial.FromWGS84(orb.Point(p), spatial.GCJ02)
		gcjPts[i] = [2]float64{g[0], g[1]}
	}
	for i, code := range lookup("&crs=gcj02", gcjPts) {
		if code != want[i] {
			t.Fatalf("lookup of GCJ-02 point %v with crs=gcj02 = %s, want cell %s", gcjPts[i], code, want[i])
		}
	}
}

// TestCRSFlagErrors: an unknown -crs, and -crs on a rules document, are usage errors (exit 2)
// that name the flag; nothing is opened.
func TestCRSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "never.db")
	rules := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rules, []byte(`{"rules":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"import unknown crs", []string{"import", "-db", db, "-kind", "cells", "-crs", "epsg:3857", rules}, `-crs "epsg:3857"`},
		{"import rules with crs", []string{"import", "-db", db, "-kind", "rules", "-crs", "gcj02", rules}, "-crs is for cells, components and units"},
		{"export unknown crs", []string{"export", "-db", db, "-kind", "cells", "-crs", "mars"}, `-crs "mars"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := citygrid(t, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("citygrid %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a usage error created the store")
	}
}
