package ogr_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"citygrid/ogr"
	"citygrid/ogr/ogrtest"
	"citygrid/registry"
)

// sharedData is the team's real public test data beside the checkout (../shared/data,
// SOURCES.md); from this package directory ../../shared/data.
func sharedData(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data: %v", err)
		}
		t.Skipf("shared data not available: %v", err)
	}
	return p
}

// TestOpenRealBoundaries: the 38 district outlines of Chongqing (DataV, 6,606 vertices)
// written by ogr2ogr as a Shapefile projected to CGCS2000 Gauss-Krüger zone 35 and as a
// GeoPackage come back through Open with every vertex within 1e-7° and their Chinese names.
func TestOpenRealBoundaries(t *testing.T) {
	ogrtest.Need(t)
	src := sharedData(t, "boundaries/chongqing_500000_districts_datav.json")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	want := features(t, f, registry.FormatGeoJSON, "adcode")
	f.Close()
	if len(want) != 38 || want["500103"].Props["name"] != "渝中区" {
		t.Fatalf("source: %d districts, 500103 named %q; want 38 and 渝中区", len(want), want["500103"].Props["name"])
	}
	dir := t.TempDir()
	shp, gpkg := filepath.Join(dir, "districts.shp"), filepath.Join(dir, "districts.gpkg")
	// Only the scalar properties: a Shapefile has no arrays or objects.
	sel := []string{"-select", "adcode,name"}
	ogrtest.Shapefile(t, src, shp, append(sel, "-t_srs", "EPSG:4523", "-nlt", "MULTIPOLYGON")...)
	ogrtest.GeoPackage(t, src, gpkg, sel...)
	for _, path := range []string{shp, gpkg} {
		t.Run(filepath.Ext(path), func(t *testing.T) {
			rc, err := ogr.Open(context.Background(), path, ogr.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got := features(t, rc, registry.FormatNDJSON, "adcode")
			ogrtest.Equal(t, got, want, []string{"adcode", "name"}, 1e-7)
		})
	}
}
