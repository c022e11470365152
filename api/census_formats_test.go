package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"citygrid/ogr/ogrtest"
	"citygrid/registry"
)

// TestCensusShapefileGeoPackage: a zipped Shapefile (projected to EPSG:4523) and a GeoPackage
// posted to the census route, told apart by their first bytes, store what the GeoJSON and CSV
// of the same city store.
func TestCensusShapefileGeoPackage(t *testing.T) {
	ogrtest.Need(t)
	dir := t.TempDir()
	compsJSON := filepath.Join(dir, "components.geojson")
	ogrtest.ComponentsGeoJSON(t, fixtureFile("components"), compsJSON)
	ogrtest.Shapefile(t, fixtureFile("cells"), filepath.Join(dir, "cells.shp"), "-t_srs", "EPSG:4523")
	ogrtest.Zip(t, filepath.Join(dir, "cells.shp"), filepath.Join(dir, "cells.zip"))
	ogrtest.GeoPackage(t, compsJSON, filepath.Join(dir, "comps.gpkg"), "-nln", "部件")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	ref := sharedEnv(t)
	e := newEnv(t, envOptions{kinds: []string{}})
	for _, s := range []struct{ target, body, contentType string }{
		{"/api/v1/census/cells", read("cells.zip"), "application/zip"},
		{"/api/v1/census/units", readFixture(t, "units"), "application/json"},
		{"/api/v1/census/rules", readFixture(t, "rules"), "application/json"},
		{"/api/v1/census/components?layer=%E9%83%A8%E4%BB%B6", read("comps.gpkg"), "application/geopackage+sqlite3"},
	} {
		var rep reportResp
		decode(t, e.do(t, "POST", s.target, s.body, "Content-Type", s.contentType), 200, &rep)
		if !rep.Stored || rep.Rejected != 0 || rep.Created == 0 {
			t.Fatalf("POST %s = %+v, want everything created", s.target, rep)
		}
	}
	for _, k := range []struct {
		kind, key string
		props     []string
	}{
		{"cells", "code", []string{"code", "name", "area"}},
		{"components", "id", []string{"id", "class", "name", "status", "supervisor", "owner", "maintainer", "census_date", "source", "cell"}},
	} {
		want := ogrtest.Features(t, ref.do(t, "GET", "/api/v1/export/"+k.kind, "").Body.Bytes(), k.key)
		got := ogrtest.Features(t, e.do(t, "GET", "/api/v1/export/"+k.kind, "").Body.Bytes(), k.key)
		if n := ogrtest.Equal(t, got, want, k.props, 1e-7); n < 150 {
			t.Errorf("%s: compared %d, want the whole city", k.kind, n)
		}
	}

	for _, tt := range []struct {
		name, target, body, code string
	}{
		{"no such layer", "/api/v1/census/components?layer=nope", read("comps.gpkg"), "invalid_input"},
		{"layer of a text body", "/api/v1/census/cells?layer=x", readFixture(t, "cells"), "invalid_input"},
		{"geopackage of units", "/api/v1/census/units", read("comps.gpkg"), "invalid_input"},
		{"unknown encoding", "/api/v1/census/components?encoding=latin1", readFixture(t, "components"), "invalid_input"},
		{"format gpkg of a text body", "/api/v1/census/cells?format=gpkg", readFixture(t, "cells"), "invalid_format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, "POST", tt.target, tt.body)
			if p := problemOf(t, rec); rec.Code != 400 || p.Code != tt.code {
				t.Errorf("POST %s = %d %s, want 400 %s", tt.target, rec.Code, p.Code, tt.code)
			}
		})
	}
}

// TestCensusGBK: a GBK CSV posted without a charset is detected (with a warning); with
// ?encoding=gbk or a charset in the Content-Type it is read as named.
func TestCensusGBK(t *testing.T) {
	csv := readFixture(t, "components")
	csv = strings.Replace(csv, "id,class,name,status,supervisor,owner,maintainer,census_date,source,note,lon,lat",
		"标识码,类别,名称,状态,主管部门,权属单位,养护单位,初始日期,数据来源,备注,经度,纬度", 1)
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(csv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, query, contentType string
		warn                     bool
	}{
		{"detected", "", "text/csv", true},
		{"query", "?encoding=gbk", "text/csv", false},
		{"charset", "", "text/csv; charset=GB18030", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}})
			var rep struct {
				reportResp
				Warnings []struct{ Code string } `json:"warnings"`
			}
			decode(t, e.do(t, "POST", "/api/v1/census/components"+tt.query, gbk, "Content-Type", tt.contentType), 200, &rep)
			if rep.Created != testCity().Components || rep.Rejected != 0 {
				t.Fatalf("report %+v, want every component created", rep.reportResp)
			}
			warned := len(rep.Warnings) > 0 && rep.Warnings[0].Code == "encoding_detected"
			if warned != tt.warn {
				t.Errorf("warnings %+v, want encoding_detected: %v", rep.Warnings, tt.warn)
			}
			first := strings.SplitN(strings.Split(csv, "\n")[1], ",", 2)[0]
			id, err := registry.ParseComponentCode(first)
			if err != nil {
				t.Fatal(err)
			}
			c, err := e.svc.Component(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.ContainsFunc(c.Name, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
				t.Errorf("component name %q, want Chinese text", c.Name)
			}
		})
	}
}
