package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"citygrid/ogr/ogrtest"
)

// TestImportShapefileGeoPackage: the grid and the components, written by GDAL's ogr2ogr as a
// Shapefile (plain, projected to CGCS2000 Gauss-Krüger zone 35 (EPSG:4523), zipped) and as a
// GeoPackage, import through `citygrid import` into stores that export what the GeoJSON/CSV
// import of the same city exports: the same codes and ids, the same properties, every
// coordinate within 1e-7°.
func TestImportShapefileGeoPackage(t *testing.T) {
	ogrtest.Need(t)
	dir := t.TempDir()
	ref := newCity(t, dir, 200, 400)
	fx := filepath.Join(dir, "fx")
	compsJSON := filepath.Join(dir, "components.geojson")
	ogrtest.ComponentsGeoJSON(t, filepath.Join(fx, "components.csv"), compsJSON)
	cellsJSON := filepath.Join(fx, "cells.geojson")

	gis := filepath.Join(dir, "gis")
	if err := os.Mkdir(gis, 0o755); err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(gis, name) }
	ogrtest.Shapefile(t, cellsJSON, at("cells.shp"))
	ogrtest.Shapefile(t, cellsJSON, at("cells_4523.shp"), "-t_srs", "EPSG:4523")
	ogrtest.Zip(t, at("cells_4523.shp"), at("cells_4523.zip"))
	ogrtest.GeoPackage(t, cellsJSON, at("cells.gpkg"))
	ogrtest.Shapefile(t, compsJSON, at("components.shp"))
	ogrtest.Shapefile(t, compsJSON, at("components_4523.shp"), "-t_srs", "EPSG:4523")
	ogrtest.Zip(t, at("components_4523.shp"), at("components_4523.zip"))
	ogrtest.GeoPackage(t, compsJSON, at("components.gpkg"))

	wantCells := ogrtest.Features(t, export(t, ref, "cells"), "code")
	wantComps := ogrtest.Features(t, export(t, ref, "components"), "id")
	compProps := []string{"id", "class", "name", "status", "supervisor", "owner", "maintainer", "census_date", "source", "cell"}
	for _, tt := range []struct{ name, cells, comps string }{
		{"shapefile", "cells.shp", "components.shp"},
		{"projected shapefile zipped", "cells_4523.zip", "components_4523.zip"},
		{"projected shapefile", "cells_4523.shp", "components_4523.shp"},
		{"geopackage", "cells.gpkg", "components.gpkg"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "citygrid.db")
			for _, step := range []struct{ kind, path string }{
				{"cells", at(tt.cells)},
				{"units", filepath.Join(fx, demoFiles["units"])},
				{"rules", filepath.Join(fx, demoFiles["rules"])},
				{"components", at(tt.comps)},
			} {
				r := mustRun(t, "import", "-db", db, "-kind", step.kind, step.path)
				if !strings.Contains(r.stdout, "rejected 0") || !strings.Contains(r.stdout, ": stored") {
					t.Fatalf("import %s %s: %s", step.kind, step.path, r.stdout)
				}
			}
			n := ogrtest.Equal(t, ogrtest.Features(t, export(t, db, "cells"), "code"), wantCells, []string{"code", "name", "area"}, 1e-7)
			m := ogrtest.Equal(t, ogrtest.Features(t, export(t, db, "components"), "id"), wantComps, compProps, 1e-7)
			if n < 200 || m < 400 {
				t.Errorf("compared %d cells and %d components, want the whole city", n, m)
			}
		})
	}

	t.Run("projected without .prj", func(t *testing.T) {
		// Without its .prj nothing tells the metres of zone 35 from degrees: the import
		// refuses them as coordinates out of range, as it does for any projected file.
		for _, ext := range []string{".shp", ".shx", ".dbf", ".cpg"} {
			b, err := os.ReadFile(at("cells_4523" + ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(at("noprj"+ext), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := citygrid(t, "import", "-db", filepath.Join(t.TempDir(), "citygrid.db"), "-kind", "cells", at("noprj.shp"))
		if r.code != 1 || !strings.Contains(r.stdout, "invalid_coordinates") || !strings.Contains(r.stdout, "nothing stored") {
			t.Errorf("import without .prj: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("errors", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "citygrid.db")
		for _, tt := range []struct {
			args []string
			msg  string
		}{
			{[]string{"-kind", "units", at("cells.gpkg")}, "holds cells or components"},
			{[]string{"-kind", "cells", "-layer", "nope", at("cells.gpkg")}, `no layer "nope"`},
			{[]string{"-kind", "cells", "-layer", "grid", cellsJSON}, "-layer is for a GeoPackage"},
			{[]string{"-kind", "cells", "-encoding", "latin1", cellsJSON}, "encoding must be"},
		} {
			r := citygrid(t, append([]string{"import", "-db", db}, tt.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr+r.stdout, tt.msg) {
				t.Errorf("import %v: exit %d, stderr %q, want an error mentioning %q", tt.args, r.code, r.stderr, tt.msg)
			}
		}
	})
}

// TestImportGBKCSV: components in a GBK CSV with the column names 经度/纬度 and Chinese
// attribute names, as Excel on a Chinese Windows saves it, import as their UTF-8 form does;
// the report warns that the encoding was detected. A tab-separated copy imports too.
func TestImportGBKCSV(t *testing.T) {
	dir := t.TempDir()
	ref := newCity(t, dir, 200, 300)
	fx := filepath.Join(dir, "fx")
	b, err := os.ReadFile(filepath.Join(fx, "components.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "id,class,name,status,supervisor,owner,maintainer,census_date,source,note,lon,lat" {
		t.Fatalf("components.csv header changed: %s", lines[0])
	}
	lines[0] = "管理部件标识码,部件类别,名称,状态,主管部门,权属单位,养护单位,初始日期,数据来源,备注,经度,纬度"
	utf := strings.Join(lines, "\r\n") + "\r\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	tsv := strings.ReplaceAll(utf, ",", "\t") // no field of the fixtures holds a comma
	want := ogrtest.Features(t, export(t, ref, "components"), "id")
	props := []string{"id", "class", "name", "status", "supervisor", "owner", "maintainer", "census_date", "source", "cell"}
	for _, tt := range []struct {
		name, file, content string
		args                []string
		warn                bool
	}{
		{"gbk detected", "components.csv", gbk, nil, true},
		{"gbk named", "components.csv", gbk, []string{"-encoding", "gbk"}, false},
		{"tsv", "components.tsv", tsv, nil, false},
		{"tsv sniffed", "components.txt", tsv, []string{"-format", "csv"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			db := filepath.Join(tmp, "citygrid.db")
			for _, kind := range []string{"cells", "units", "rules"} {
				mustRun(t, "import", "-db", db, "-kind", kind, filepath.Join(fx, demoFiles[kind]))
			}
			path := filepath.Join(tmp, tt.file)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			r := mustRun(t, append(append([]string{"import", "-db", db, "-kind", "components"}, tt.args...), path)...)
			if !strings.Contains(r.stdout, "rejected 0") || !strings.Contains(r.stdout, ": stored") {
				t.Fatalf("import: %s", r.stdout)
			}
			if got := strings.Contains(r.stdout, "encoding_detected"); got != tt.warn {
				t.Errorf("warning encoding_detected shown: %v, want %v\n%s", got, tt.warn, r.stdout)
			}
			ogrtest.Equal(t, ogrtest.Features(t, export(t, db, "components"), "id"), want, props, 0)
		})
	}
}
