package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"

	"citygrid/registry"
)

func TestDecodeCell(t *testing.T) {
	ext := censusSquare(106.57, 29.55, 0.001)
	hole := censusReversed(censusSquare(106.5702, 29.5502, 0.0002))
	norm := orb.MultiPolygon{{ext, hole}}
	code := "500103003001001"
	tests := []struct {
		name      string
		id        string
		geom      orb.Geometry
		props     map[string]string
		want      registry.Cell
		wantCodes []string
		wantID    string
	}{
		{
			name:  "polygon with hole, clockwise: normalised; input area ignored",
			geom:  orb.Polygon{censusReversed(ext), censusReversed(hole)},
			props: map[string]string{"code": code, "name": " 解放碑 1 号网格 ", "area": "1", "key": "4", "version": "2"},
			want:  registry.Cell{Code: registry.GridCode(code), Name: "解放碑 1 号网格", Geometry: norm, Area: registry.GeodesicArea(norm)},
		},
		{
			name: "code from the feature id, multipolygon",
			id:   code,
			geom: orb.MultiPolygon{{ext, hole}},
			want: registry.Cell{Code: registry.GridCode(code), Geometry: norm, Area: registry.GeodesicArea(norm)},
		},
		{
			name:  "legacy 14-digit code, upper-case property name",
			geom:  orb.Polygon{ext},
			props: map[string]string{"CODE": "50010300300101", "Name": "x"},
			want: registry.Cell{Code: registry.GridCode("50010300300101"), Name: "x", Geometry: orb.MultiPolygon{{ext}},
				Area: registry.GeodesicArea(orb.MultiPolygon{{ext}})},
		},
		{name: "no code", geom: orb.Polygon{ext}, props: map[string]string{"name": "x"}, wantCodes: []string{"missing_field"}},
		{name: "bad code", geom: orb.Polygon{ext}, props: map[string]string{"code": "0001"}, wantCodes: []string{"invalid_grid_code"}, wantID: "0001"},
		{name: "code and feature id differ", id: "500103003001002", geom: orb.Polygon{ext}, props: map[string]string{"code": code},
			wantCodes: []string{"conflicting_values"}, wantID: code},
		{name: "no geometry", props: map[string]string{"code": code}, wantCodes: []string{"missing_field"}, wantID: code},
		{name: "point geometry", geom: orb.Point{1, 2}, props: map[string]string{"code": code}, wantCodes: []string{"invalid_geometry_type"}, wantID: code},
		{name: "bowtie", geom: orb.Polygon{{{0, 0}, {2, 2}, {2, 0}, {0, 2}, {0, 0}}}, props: map[string]string{"code": code},
			wantCodes: []string{"self_intersection"}, wantID: code},
		{name: "unclosed ring", geom: orb.Polygon{{{0, 0}, {2, 0}, {2, 2}, {0, 2}}}, props: map[string]string{"code": code},
			wantCodes: []string{"unclosed_ring"}, wantID: code},
		{name: "name too long", geom: orb.Polygon{ext}, props: map[string]string{"code": code, "name": strings.Repeat("格", 101)},
			wantCodes: []string{"too_long"}, wantID: code},
		{name: "bad code and bad geometry", geom: orb.Polygon{{{0, 0}, {1, 0}, {0, 0}}}, props: map[string]string{"code": "x"},
			wantCodes: []string{"invalid_grid_code", "too_few_points"}, wantID: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &registry.Feature{Index: 5, ID: tt.id, Geometry: tt.geom, Props: tt.props}
			got, probs := registry.DecodeCell(f)
			if diff := cmp.Diff(tt.wantCodes, censusProblemCodes(probs)); diff != "" {
				t.Fatalf("DecodeCell(%v) problems %+v, codes (-want +got):\n%s", tt.props, probs, diff)
			}
			for _, p := range probs {
				if p.Index != 5 || p.ID != tt.wantID || p.Message == "" {
					t.Errorf("DecodeCell problem %+v, want Index 5, ID %q and a message", p, tt.wantID)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeCell(%v) (-want +got):\n%s", tt.props, diff)
			}
		})
	}
}

func TestDecodeCellArea(t *testing.T) {
	// A 0.001° × 0.001° cell at 29.55°N is about 111.2 m × 96.8 m ≈ 10,760 m².
	f := &registry.Feature{Geometry: orb.Polygon{censusSquare(106.57, 29.55, 0.001)}, Props: map[string]string{"code": "500103003001001"}}
	c, probs := registry.DecodeCell(f)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if c.Area < 10600 || c.Area > 10900 {
		t.Errorf("DecodeCell area = %.1f m², want about 10,760 m²", c.Area)
	}
}

func TestDecodeCellReaderError(t *testing.T) {
	f := &registry.Feature{Index: 2, Props: map[string]string{"code": "500103003001001"},
		Err: &registry.Problem{Index: 2, Field: "geometry", Code: "invalid_coordinates", Message: "bad"}}
	_, probs := registry.DecodeCell(f)
	want := []registry.Problem{{Index: 2, ID: "500103003001001", Field: "geometry", Code: "invalid_coordinates", Message: "bad"}}
	if diff := cmp.Diff(want, probs); diff != "" {
		t.Errorf("DecodeCell(feature with Err) (-want +got):\n%s", diff)
	}
}
