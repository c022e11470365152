package ogr_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"golang.org/x/text/encoding/simplifiedchinese"

	"citygrid/fixtures"
	"citygrid/ogr"
	"citygrid/ogr/ogrtest"
	"citygrid/registry"
)

// city writes a small generated city to a temp dir and returns the dir.
func city(t *testing.T) string {
	t.Helper()
	cfg := fixtures.DefaultConfig()
	cfg.Cells, cfg.Components = 200, 300
	c, err := fixtures.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// features reads r as GeoJSONSeq (or GeoJSON) into the code/id-keyed form of ogrtest.
func features(t *testing.T, r io.Reader, f registry.Format, key string) map[string]ogrtest.Feature {
	t.Helper()
	out := map[string]ogrtest.Feature{}
	err := registry.ReadFeatures(r, f, func(ft *registry.Feature) error {
		if ft.Err != nil {
			t.Errorf("feature %d: %+v", ft.Index, *ft.Err)
			return nil
		}
		props := map[string]string{}
		for k, v := range ft.Props {
			props[k] = v
		}
		g := ft.Geometry
		if _, ok := g.(orb.Point); !ok {
			// As the registry stores it: RFC 7946 ring orientation, whatever the file had.
			mp, probs := registry.ValidatePolygonal(g)
			if len(probs) > 0 {
				t.Errorf("feature %s: %+v", props[key], probs)
			}
			g = mp
		}
		out[props[key]] = ogrtest.Feature{Key: props[key], Props: props, Coords: coords(nil, g)}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFeatures: %v", err)
	}
	return out
}

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		name string
		head string
		want ogr.Container
		ok   bool
	}{
		{"a.shp", "", ogr.Shapefile, true},
		{"A.SHP", "", ogr.Shapefile, true},
		{"grid.gpkg", "", ogr.GeoPackage, true},
		{"grid.zip", "", ogr.Zip, true},
		{"", "PK\x03\x04rest", ogr.Zip, true},
		{"upload", "SQLite format 3\x00....", ogr.GeoPackage, true},
		{"cells.geojson", "PK\x03\x04", ogr.Zip, true}, // the content tells: no JSON starts so
		{"", `{"type":"FeatureCollection"}`, "", false},
		{"", "SQLite format 3", "", false}, // no NUL: not the header
		{"", "", "", false},
	} {
		got, ok := ogr.Detect(tt.name, []byte(tt.head))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Detect(%q, %q) = %q, %v, want %q, %v", tt.name, tt.head, got, ok, tt.want, tt.ok)
		}
	}
}

// TestOpen converts the fixtures' grid and components, written by ogr2ogr as a Shapefile
// (geographic, projected to CGCS2000 3-degree Gauss-Krüger zone 35, zipped) and as a
// GeoPackage, and checks each reads back as the GeoJSON it came from.
func TestOpen(t *testing.T) {
	ogrtest.Need(t)
	dir := city(t)
	compsJSON := filepath.Join(dir, "components.geojson")
	ogrtest.ComponentsGeoJSON(t, filepath.Join(dir, "components.csv"), compsJSON)
	cellsJSON := filepath.Join(dir, "cells.geojson")

	for _, kind := range []struct {
		name, src, key string
		props          []string
	}{
		{"cells", cellsJSON, "code", []string{"code", "name"}},
		{"components", compsJSON, "id", []string{"id", "class", "name", "status", "maintainer", "owner", "supervisor", "source"}},
	} {
		f, err := os.Open(kind.src)
		if err != nil {
			t.Fatal(err)
		}
		want := features(t, f, registry.FormatGeoJSON, kind.key)
		f.Close()
		if len(want) < 50 {
			t.Fatalf("%s: only %d features in the source", kind.name, len(want))
		}
		out := t.TempDir()
		shp := filepath.Join(out, kind.name+".shp")
		ogrtest.Shapefile(t, kind.src, shp)
		proj := filepath.Join(out, kind.name+"_4523.shp")
		ogrtest.Shapefile(t, kind.src, proj, "-t_srs", "EPSG:4523")
		zipped := filepath.Join(out, kind.name+".zip")
		ogrtest.Zip(t, proj, zipped)
		gpkg := filepath.Join(out, kind.name+".gpkg")
		ogrtest.GeoPackage(t, kind.src, gpkg, "-nln", kind.name)
		for _, tt := range []struct{ name, path string }{
			{"shapefile", shp},
			{"projected EPSG:4523", proj},
			{"zip of the projected", zipped},
			{"geopackage", gpkg},
		} {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				rc, err := ogr.Open(context.Background(), tt.path, ogr.Options{})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer rc.Close()
				got := features(t, rc, registry.FormatNDJSON, kind.key)
				// Shapefile field names are cut to 10 characters (census_date → census_dat);
				// the component reader maps the cut names, compared here by value.
				ogrtest.Equal(t, got, want, kind.props, 1e-7)
			})
		}
	}
}

// coords appends every ordinate of g, in order; a Polygon counts as a one-polygon
// MultiPolygon, as a Shapefile cannot tell them apart.
func coords(dst []float64, g orb.Geometry) []float64 {
	switch g := g.(type) {
	case orb.Point:
		return append(dst, g[0], g[1])
	case orb.Ring:
		for _, p := range g {
			dst = append(dst, p[0], p[1])
		}
	case orb.Polygon:
		for _, r := range g {
			dst = coords(dst, r)
		}
	case orb.MultiPolygon:
		for _, p := range g {
			dst = coords(dst, p)
		}
	}
	return dst
}

func TestOpenLayer(t *testing.T) {
	ogrtest.Need(t)
	dir := city(t)
	gpkg := filepath.Join(t.TempDir(), "two.gpkg")
	ogrtest.GeoPackage(t, filepath.Join(dir, "cells.geojson"), gpkg, "-nln", "grid")
	ogrtest.Convert(t, "-f", "GPKG", "-update", "-nln", "sample", gpkg, filepath.Join(dir, "cells.geojson"), "-where", "code LIKE '%001'")
	count := func(t *testing.T, opt ogr.Options) int {
		t.Helper()
		rc, err := ogr.Open(context.Background(), gpkg, opt)
		if err != nil {
			t.Fatalf("Open(%+v): %v", opt, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return bytes.Count(b, []byte("\n"))
	}
	all, sample := count(t, ogr.Options{}), count(t, ogr.Options{Layer: "sample"})
	if all < 50 || sample == 0 || sample >= all {
		t.Errorf("first layer %d features, layer sample %d: want the first to be the whole grid and sample a part", all, sample)
	}
	_, err := ogr.Open(context.Background(), gpkg, ogr.Options{Layer: "nope"})
	if registry.ErrorCode(err) != registry.CodeInvalidInput || !strings.Contains(err.Error(), "grid, sample") {
		t.Errorf("Open(layer nope) = %v, want invalid_input naming the layers", err)
	}
}

// TestOpenGBK: a Chinese .dbf without .cpg (as older ArcGIS writes it) is read as GB18030;
// -encoding overrides it.
func TestOpenGBK(t *testing.T) {
	ogrtest.Need(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "cells.geojson")
	doc := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"500103001001001","name":"七星岗街道001网格"},"geometry":{"type":"Polygon","coordinates":[[[106.54,29.55],[106.541,29.55],[106.541,29.551],[106.54,29.55]]]}}]}`
	if err := os.WriteFile(src, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	shp := filepath.Join(dir, "gbk.shp")
	ogrtest.Convert(t, "-f", "ESRI Shapefile", "-lco", "ENCODING=CP936", shp, src)
	os.Remove(filepath.Join(dir, "gbk.cpg"))
	// Clear the language driver byte too: only the bytes can tell.
	dbf := filepath.Join(dir, "gbk.dbf")
	b, err := os.ReadFile(dbf)
	if err != nil {
		t.Fatal(err)
	}
	b[29] = 0
	if err := os.WriteFile(dbf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("七星岗")
	if !bytes.Contains(b, []byte(gbk)) {
		t.Fatalf("the .dbf does not hold the name in GBK")
	}
	for _, tt := range []struct {
		enc  registry.Encoding
		want string
	}{
		{registry.EncodingAuto, "七星岗街道001网格"},
		{registry.EncodingGBK, "七星岗街道001网格"},
	} {
		rc, err := ogr.Open(context.Background(), shp, ogr.Options{Encoding: tt.enc})
		if err != nil {
			t.Fatal(err)
		}
		got := features(t, rc, registry.FormatNDJSON, "code")
		rc.Close()
		if n := got["500103001001001"].Props["name"]; n != tt.want {
			t.Errorf("encoding %q: name %q, want %q", tt.enc, n, tt.want)
		}
		// Guessing is said in the report; an encoding named is not a guess.
		w := rc.Warnings()
		if guessed := len(w) == 1 && w[0].Code == registry.CodeEncodingDetected; guessed != (tt.enc == registry.EncodingAuto) {
			t.Errorf("encoding %q: warnings %+v", tt.enc, w)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ogrtest.Need(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notZip := write("bad.zip", "PK\x03\x04 not really")
	emptyZip := filepath.Join(dir, "empty.zip")
	ogrtest.Zip(t, filepath.Join(dir, "nothing.shp"), emptyZip)
	text := write("cells.txt", "code,wkt\n")
	write("junk.shp", "not a shapefile at all")
	junkZip := filepath.Join(dir, "junk-upload") // a spooled upload: no extension
	ogrtest.Zip(t, filepath.Join(dir, "junk.shp"), junkZip)
	broken := write("broken.gpkg", "SQLite format 3\x00 and then nothing")
	// A site grid in metres: a .prj no transform leads from to WGS84.
	src := write("one.geojson", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"500103001001001"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[100,0],[100,100],[0,0]]]}}]}`)
	site := filepath.Join(dir, "site.shp")
	ogrtest.Shapefile(t, src, site)
	write("site.prj", `LOCAL_CS["site grid",UNIT["metre",1]]`)

	for _, tt := range []struct {
		name, path string
		opt        ogr.Options
		code       string
		msg        string
	}{
		{"ogr2ogr missing", text, ogr.Options{Program: "/nonexistent/ogr2ogr"}, registry.CodeConverterMissing, "gdal-bin"},
		{"not a GIS file", text, ogr.Options{}, registry.CodeInvalidInput, "not a Shapefile"},
		{"not a zip", notZip, ogr.Options{}, registry.CodeInvalidInput, "not a readable zip"},
		{"zip without shapefile", emptyZip, ogr.Options{}, registry.CodeInvalidInput, "no .shp"},
		{"broken geopackage", broken, ogr.Options{}, registry.CodeInvalidInput, "ogrinfo"},
		{"a .prj without a transform", site, ogr.Options{}, registry.CodeInvalidCRS, "cannot be transformed to WGS84"},
		{"broken shapefile in a zip", junkZip, ogr.Options{}, registry.CodeInvalidInput, "ogr2ogr could not convert junk-upload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := ogr.Open(context.Background(), tt.path, tt.opt)
			if err == nil {
				_, err = io.ReadAll(rc)
				// The failure stays: a reader that reads again after an error gets it again.
				if _, again := rc.Read(make([]byte, 8)); again != err {
					t.Errorf("Read after the failure = %v, want the failure again", again)
				}
				rc.Close()
			}
			if registry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Open = %v, want %s mentioning %q", err, tt.code, tt.msg)
			}
		})
	}
}

// TestOpenCancel: cancelling the context kills ogr2ogr and the reader says so.
func TestOpenCancel(t *testing.T) {
	ogrtest.Need(t)
	dir := city(t)
	gpkg := filepath.Join(t.TempDir(), "cells.gpkg")
	ogrtest.GeoPackage(t, filepath.Join(dir, "cells.geojson"), gpkg)
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := ogr.Open(ctx, gpkg, ogr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, rc)
		done <- err
	}()
	select {
	case err := <-done:
		// The process may have finished writing before the kill; what must not happen is
		// a clean end after a kill that cut the output.
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel = %v, want context.Canceled or a complete output", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading did not end after the cancel")
	}
}
