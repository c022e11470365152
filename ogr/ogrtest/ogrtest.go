// Package ogrtest writes Shapefiles and GeoPackages with GDAL's ogr2ogr for tests, as a GIS
// officer's QGIS would, and compares census GeoJSON features.
package ogrtest

import (
	"archive/zip"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Need fails the test under CI=true, and skips it elsewhere, when ogr2ogr is not installed
// (`make test` installs gdal-bin: scripts/gdal-ensure.sh).
func Need(t testing.TB) {
	t.Helper()
	for _, p := range []string{"ogr2ogr", "ogrinfo"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (Debian gdal-bin): %v", p, err)
			}
			t.Skipf("%s is not installed (Debian gdal-bin): %v", p, err)
		}
	}
}

// Convert runs ogr2ogr with args (its output first, then its input and options, as ogr2ogr
// takes them) and fails the test on an error.
func Convert(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ogr2ogr", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ogr2ogr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ComponentsGeoJSON converts a components CSV with lon and lat columns (the fixtures'
// components.csv) to a GeoJSON FeatureCollection at dst, every column a string property.
func ComponentsGeoJSON(t testing.TB, csv, dst string) {
	t.Helper()
	Convert(t, "-f", "GeoJSON", dst, csv, "-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat",
		"-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs", "EPSG:4326", "-lco", "COORDINATE_PRECISION=7")
}

// Shapefile writes src (GeoJSON) as the Shapefile dst (.shp) in UTF-8 with a .cpg, with more
// ogr2ogr options (such as "-t_srs", "EPSG:4523") after.
func Shapefile(t testing.TB, src, dst string, more ...string) {
	t.Helper()
	Convert(t, append([]string{"-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", dst, src}, more...)...)
}

// GeoPackage writes src as the GeoPackage dst, with more ogr2ogr options after.
func GeoPackage(t testing.TB, src, dst string, more ...string) {
	t.Helper()
	Convert(t, append([]string{"-f", "GPKG", dst, src}, more...)...)
}

// Zip puts the Shapefile shp and the files beside it (.dbf, .shx, .prj, .cpg) into dst, in
// a folder as an archive made on a desktop often has them.
func Zip(t testing.TB, shp, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	stem := strings.TrimSuffix(shp, filepath.Ext(shp))
	for _, ext := range []string{".shp", ".shx", ".dbf", ".prj", ".cpg"} {
		src, err := os.Open(stem + ext)
		if err != nil {
			continue
		}
		w, err := zw.Create("export/" + filepath.Base(stem+ext))
		if err == nil {
			_, err = io.Copy(w, src)
		}
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Feature is a census feature reduced to what a comparison needs.
type Feature struct {
	Key    string            // its id (components) or code (cells)
	Props  map[string]string // string and number properties, as text
	Coords []float64         // every ordinate, in order
}

// Features reads a GeoJSON FeatureCollection (an export) keyed by the property key.
func Features(t testing.TB, b []byte, key string) map[string]Feature {
	t.Helper()
	var fc struct {
		Features []struct {
			Geometry struct {
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("not a FeatureCollection: %v", err)
	}
	out := map[string]Feature{}
	for _, f := range fc.Features {
		ft := Feature{Props: map[string]string{}}
		for k, v := range f.Properties {
			switch v := v.(type) {
			case string:
				ft.Props[k] = v
			case float64:
				b, _ := json.Marshal(v)
				ft.Props[k] = string(b)
			}
		}
		var nested any
		if err := json.Unmarshal(f.Geometry.Coordinates, &nested); err != nil {
			t.Fatalf("coordinates: %v", err)
		}
		ft.Coords = flatten(nested, nil)
		ft.Key = ft.Props[key]
		out[ft.Key] = ft
	}
	return out
}

func flatten(v any, dst []float64) []float64 {
	switch v := v.(type) {
	case float64:
		return append(dst, v)
	case []any:
		for _, e := range v {
			dst = flatten(e, dst)
		}
	}
	return dst
}

// Equal reports (as test errors) how got differs from want: the same keys, the same values
// of props, and every ordinate within tol degrees. It returns how many features it compared.
func Equal(t testing.TB, got, want map[string]Feature, props []string, tol float64) int {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d features, want %d", len(got), len(want))
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	bad := 0
	for _, k := range keys {
		w := want[k]
		g, ok := got[k]
		if !ok {
			t.Errorf("feature %s is missing", k)
			bad++
			continue
		}
		for _, p := range props {
			if g.Props[p] != w.Props[p] {
				t.Errorf("feature %s: %s = %q, want %q", k, p, g.Props[p], w.Props[p])
				bad++
			}
		}
		if len(g.Coords) != len(w.Coords) {
			t.Errorf("feature %s: %d ordinates, want %d", k, len(g.Coords), len(w.Coords))
			bad++
			continue
		}
		for i := range w.Coords {
			if d := math.Abs(g.Coords[i] - w.Coords[i]); d > tol {
				t.Errorf("feature %s: ordinate %d = %.9f, want %.9f (off by %.2g°)", k, i, g.Coords[i], w.Coords[i], d)
				bad++
				break
			}
		}
		if bad > 10 {
			t.Fatalf("more than 10 differences; stopping")
		}
	}
	return len(want)
}
