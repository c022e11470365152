package registry_test

import (
	"context"
	"strings"
	"testing"

	"citygrid/registry"
)

// TestImportProblemNamesBadGeometry: a feature whose geometry is bad is still named by its id
// (components) or code (cells) in every reader, carries its QGIS feature number, and a
// swapped position gets a hint.
func TestImportProblemNamesBadGeometry(t *testing.T) {
	const id = "50010301037000001"
	swapped := `{"type":"Feature","properties":{"id":"` + id + `","class":"01037"},"geometry":{"type":"Point","coordinates":[29.56,106.55]}}`
	for _, tc := range []struct {
		name   string
		kind   registry.Census
		format registry.Format
		doc    string
		wantID string
		index  int
		hint   string
	}{
		{"geojson component", registry.CensusComponents, registry.FormatGeoJSON,
			`{"type":"FeatureCollection","features":[` + okLamp + `,` + swapped + `]}`, id, 1, "swapped"},
		{"ndjson component", registry.CensusComponents, registry.FormatNDJSON, okLamp + "\n" + swapped + "\n", id, 1, "swapped"},
		{"ndjson component, id in ObjID", registry.CensusComponents, registry.FormatNDJSON,
			`{"type":"Feature","properties":{"ObjID":"` + id + `","class":"01037"},"geometry":{"type":"Point","coordinates":[1,2,"x"]}}`, id, 0, ""},
		{"csv component", registry.CensusComponents, registry.FormatCSV,
			csvHeader + id + ",01037,lamp,intact,,29.56,106.55\n", id, 0, "swapped"},
		{"csv component, projected", registry.CensusComponents, registry.FormatCSV,
			csvHeader + ",01037,lamp,intact,,x,1\n" + id + ",01037,lamp,intact,,11861380,3445395\n", id, 1, "Web Mercator"},
		{"csv component, wkt", registry.CensusComponents, registry.FormatCSV,
			"id,class,wkt\n" + id + ",01037,POINT (29.56 106.55)\n", id, 0, "swapped"},
		{"csv component outside the grid, swapped in range", registry.CensusComponents, registry.FormatCSV,
			csvHeader + id + ",01037,lamp,intact,,29.5505,86.5705\n", id, 0, "swapped"},
		{"ndjson cell", registry.CensusCells, registry.FormatNDJSON,
			`{"type":"Feature","properties":{"code":"500103003001009"},"geometry":{"type":"Polygon","coordinates":[[[29.55,106.57],[29.56,106.57],[29.56,106.58],[29.55,106.57]]]}}`,
			"500103003001009", 0, "swapped"},
		{"geojson cell, code as feature id", registry.CensusCells, registry.FormatGeoJSON,
			`{"type":"FeatureCollection","features":[{"type":"Feature","id":"500103003001009","properties":{},"geometry":{"type":"Polygon","coordinates":[[[1,2],[3]]]}}]}`,
			"500103003001009", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if _, err := e.importCells(t, twoCells, registry.ModeStrict); err != nil {
				t.Fatal(err)
			}
			rep, err := e.svc.Import(context.Background(), tc.kind, strings.NewReader(tc.doc),
				registry.ImportOptions{Mode: registry.ModePartial, Format: tc.format, Actor: "t"})
			if err != nil && tc.index == 0 {
				if !strings.Contains(err.Error(), "rejected") {
					t.Fatal(err)
				}
			}
			var p *registry.Problem
			for i := range rep.Problems {
				if rep.Problems[i].Index == tc.index {
					p = &rep.Problems[i]
				}
			}
			if p == nil {
				t.Fatalf("no problem at index %d: %+v", tc.index, rep.Problems)
			}
			if p.ID != tc.wantID {
				t.Errorf("problem %+v: id %q, want %q", *p, p.ID, tc.wantID)
			}
			if p.Feature() != tc.index+1 {
				t.Errorf("feature number %d, want %d", p.Feature(), tc.index+1)
			}
			if tc.hint != "" && !strings.Contains(p.Hint, tc.hint) {
				t.Errorf("problem %+v: hint %q, want it to say %q", *p, p.Hint, tc.hint)
			}
		})
	}
}

// okLamp is a valid street lamp (class 01037) in the first cell of twoCells.
const okLamp = `{"type":"Feature","properties":{"class":"01037"},"geometry":{"type":"Point","coordinates":[106.5705,29.5505]}}`
