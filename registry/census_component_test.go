package registry_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"

	"citygrid/registry"
)

// censusLegacyClasses returns a legacy component class that maps to a 2026 class (and that class)
// and one without counterpart, as the catalogue has them.
func censusLegacyClasses(t testing.TB, cat *registry.Catalog) (mapped, mapsTo, unmapped string) {
	t.Helper()
	for _, c := range cat.List(registry.KindComponent, registry.StandardLegacy) {
		switch {
		case c.MapsTo != "" && mapped == "":
			mapped, mapsTo = c.Code, c.MapsTo
		case c.NoCounterpart && unmapped == "":
			unmapped = c.Code
		}
	}
	if mapped == "" || unmapped == "" {
		t.Fatalf("the catalogue has no mapped (%q) or no unmapped (%q) legacy component class", mapped, unmapped)
	}
	return mapped, mapsTo, unmapped
}

func censusClassName(t testing.TB, cat *registry.Catalog, code string) string {
	t.Helper()
	c, ok := cat.Lookup(registry.KindComponent, code)
	if !ok || c.Name == "" {
		t.Fatalf("Lookup(component, %s) = %+v, %v", code, c, ok)
	}
	return c.Name
}

// componentCodeText lets cmp compare and print ComponentCodes (unexported fields) as digits.
var componentCodeText = cmp.Transformer("ComponentCode", func(c registry.ComponentCode) string { return c.String() })

func censusDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestDecodeComponent(t *testing.T) {
	cat := registry.DefaultCatalog()
	mapped, mapsTo, unmapped := censusLegacyClasses(t, cat)
	pt := orb.Point{106.57712345, 29.55612345}
	admin, serial := "500103", "000042"
	id17 := admin + "01001" + serial
	legacyID := admin + mapped + serial
	convID := admin + mapsTo + serial

	tests := []struct {
		name      string
		id        string // the feature id
		geom      orb.Geometry
		props     map[string]string
		want      registry.Component
		wantCodes []string
		wantIn    string // a substring of the first problem's message
	}{
		{
			name:  "class only: defaults",
			geom:  pt,
			props: map[string]string{"class": "01001"},
			want:  registry.Component{Class: "01001", Name: censusClassName(t, cat, "01001"), Point: pt, Status: registry.StatusIntact},
		},
		{
			name: "every field by its own name",
			geom: pt,
			props: map[string]string{
				"id": id17, "class": "01001", "name": "供水井盖（解放碑）", "status": "破损",
				"supervisor": "渝中区城市管理局", "owner": "重庆水务集团", "maintainer": "unit-water",
				"census_date": "2025-03-01", "change_date": "20250402", "source": "实测", "note": " 井圈松动 ",
				"cell": "500103003001001", "key": "9", "version": "3", "other": "kept",
				"class_name": "上水井盖", "status_name": "破损", "updated": "2025-01-01T00:00:00Z", "updated_by": "x",
			},
			want: registry.Component{
				ID: registry.MustParseComponentCode(id17), Class: "01001", Name: "供水井盖（解放碑）", Point: pt,
				Status: registry.StatusDamaged, Supervisor: "渝中区城市管理局", Owner: "重庆水务集团", Maintainer: "unit-water",
				CensusDate: censusDay(2025, 3, 1), ChangeDate: censusDay(2025, 4, 2), Source: "实测", Note: "井圈松动",
				Attributes: `{"other":"kept"}`,
			},
		},
		{
			name: "GB/T 47678.5 Table 2 abbreviations",
			geom: pt,
			props: map[string]string{
				"GLBJBSM": id17, "class": "01001", "GLBJMC": "井盖", "GLBJZT": "丢失", "CSRQ": "20240101", "BGRQ": "2024-06-30",
				"SJLY": "地形图", "BZ": "备注", "ZGBMMC": "主管", "QSDWMC": "权属", "YHDWMC": "养护",
			},
			want: registry.Component{
				ID: registry.MustParseComponentCode(id17), Class: "01001", Name: "井盖", Point: pt, Status: registry.StatusLost,
				Supervisor: "主管", Owner: "权属", Maintainer: "养护", CensusDate: censusDay(2024, 1, 1), ChangeDate: censusDay(2024, 6, 30),
				Source: "地形图", Note: "备注",
			},
		},
		{
			name: "Suzhou legacy names with a mapped legacy class: the id is converted",
			geom: pt,
			props: map[string]string{
				"ObjID": legacyID, "CLASS": mapped, "ObjName": "上水井盖", "ObjState": "完好",
				"ORDate": "2020-05-06T23:30:00+08:00", "CHDate": "2021-01-02T01:00:00Z", "DataSource": "实测", "Note": "旧数据",
			},
			want: registry.Component{
				ID: registry.MustParseComponentCode(convID), LegacyID: registry.MustParseComponentCode(legacyID),
				Class: mapsTo, LegacyClass: mapped, Name: "上水井盖", Point: pt, Status: registry.StatusIntact,
				CensusDate: censusDay(2020, 5, 6), ChangeDate: censusDay(2021, 1, 2), Source: "实测", Note: "旧数据",
			},
		},
		{
			name:  "mapped legacy class without id",
			geom:  pt,
			props: map[string]string{"class": mapped},
			want:  registry.Component{Class: mapsTo, LegacyClass: mapped, Name: censusClassName(t, cat, mapsTo), Point: pt, Status: registry.StatusIntact},
		},
		{
			name:  "the feature id serves as id",
			id:    id17,
			geom:  pt,
			props: map[string]string{"class": "01001", "status": "Removed"},
			want:  registry.Component{ID: registry.MustParseComponentCode(id17), Class: "01001", Name: censusClassName(t, cat, "01001"), Point: pt, Status: registry.StatusRemoved},
		},
		{
			name:  "export names: id, legacy_id, class, legacy_class",
			id:    convID,
			geom:  pt,
			props: map[string]string{"id": convID, "legacy_id": legacyID, "class": mapsTo, "legacy_class": mapped, "name": "x"},
			want: registry.Component{ID: registry.MustParseComponentCode(convID), LegacyID: registry.MustParseComponentCode(legacyID),
				Class: mapsTo, LegacyClass: mapped, Name: "x", Point: pt, Status: registry.StatusIntact},
		},
		{
			name:  "legacy_id alone gives the converted id",
			geom:  pt,
			props: map[string]string{"legacy_id": legacyID, "class": mapsTo, "legacy_class": mapped, "name": "x"},
			want: registry.Component{ID: registry.MustParseComponentCode(convID), LegacyID: registry.MustParseComponentCode(legacyID),
				Class: mapsTo, LegacyClass: mapped, Name: "x", Point: pt, Status: registry.StatusIntact},
		},
		{
			name:  "a name of 100 characters is allowed",
			geom:  pt,
			props: map[string]string{"class": "01001", "name": strings.Repeat("井", 100), "note": strings.Repeat("n", 1000)},
			want: registry.Component{Class: "01001", Name: strings.Repeat("井", 100), Note: strings.Repeat("n", 1000),
				Point: pt, Status: registry.StatusIntact},
		},
		{name: "no geometry", props: map[string]string{"class": "01001"}, wantCodes: []string{"missing_field"}},
		{name: "polygon geometry", geom: orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}, props: map[string]string{"class": "01001"},
			wantCodes: []string{"invalid_geometry_type"}, wantIn: "Polygon"},
		{name: "NaN point", geom: orb.Point{math.NaN(), 1}, props: map[string]string{"class": "01001"}, wantCodes: []string{"invalid_coordinates"}},
		{name: "no class", geom: pt, props: map[string]string{"name": "x"}, wantCodes: []string{"missing_field"}},
		{name: "unknown class", geom: pt, props: map[string]string{"class": "99999"}, wantCodes: []string{"unknown_class"}},
		{name: "class given as a number loses its leading zero", geom: pt, props: map[string]string{"class": "1001"}, wantCodes: []string{"unknown_class"}},
		{name: "malformed class", geom: pt, props: map[string]string{"class": "12"}, wantCodes: []string{"invalid_class"}},
		{name: "legacy class without counterpart is rejected", geom: pt, props: map[string]string{"class": unmapped},
			wantCodes: []string{"unmapped_class"}, wantIn: "legacy class " + unmapped},
		{name: "malformed id", geom: pt, props: map[string]string{"class": "01001", "id": "123"}, wantCodes: []string{"invalid_component_code"}},
		{name: "id of another class", geom: pt, props: map[string]string{"class": "01002", "id": id17}, wantCodes: []string{"id_class_mismatch"}},
		{name: "legacy id with the 2026 class its class maps to", geom: pt, props: map[string]string{"class": mapsTo, "id": legacyID},
			want: registry.Component{ID: registry.MustParseComponentCode(convID), LegacyID: registry.MustParseComponentCode(legacyID),
				Class: mapsTo, LegacyClass: mapped, Name: censusClassName(t, cat, mapsTo), Point: pt, Status: registry.StatusIntact}},
		{name: "17-digit id with the legacy class that maps to its class", geom: pt, props: map[string]string{"class": mapped, "id": convID},
			want: registry.Component{ID: registry.MustParseComponentCode(convID), Class: mapsTo, LegacyClass: mapped,
				Name: censusClassName(t, cat, mapsTo), Point: pt, Status: registry.StatusIntact}},
		{name: "legacy id with a 2026 class its class does not map to", geom: pt, props: map[string]string{"class": "01002", "id": legacyID},
			wantCodes: []string{"id_class_mismatch"}, wantIn: "maps to " + mapsTo},
		{name: "17-digit id with a legacy class that maps elsewhere", geom: pt, props: map[string]string{"class": mapped, "id": admin + "01002" + serial},
			wantCodes: []string{"id_class_mismatch"}},
		{name: "feature id and id property differ", id: id17, geom: pt, props: map[string]string{"class": "01001", "id": admin + "01001000043"},
			wantCodes: []string{"conflicting_values"}},
		{name: "name and GLBJMC differ", geom: pt, props: map[string]string{"class": "01001", "name": "a", "GLBJMC": "b"},
			wantCodes: []string{"conflicting_values"}, wantIn: `GLBJMC "b" and name "a" differ`},
		{name: "legacy_class that does not map to class", geom: pt, props: map[string]string{"class": "01002", "legacy_class": mapped},
			wantCodes: []string{"legacy_class_mismatch"}},
		{name: "legacy_id that does not convert to id", geom: pt,
			props:     map[string]string{"id": convID, "class": mapsTo, "legacy_class": mapped, "legacy_id": admin + mapped + "000043"},
			wantCodes: []string{"legacy_id_mismatch"}},
		{name: "legacy_id that is not legacy", geom: pt, props: map[string]string{"class": "01001", "legacy_id": id17},
			wantCodes: []string{"invalid_component_code"}},
		{name: "bad status", geom: pt, props: map[string]string{"class": "01001", "status": "broken"}, wantCodes: []string{"invalid_status"}},
		{name: "slashed date", geom: pt, props: map[string]string{"class": "01001", "census_date": "2025/03/01"}, wantCodes: []string{"invalid_date"}},
		{name: "impossible date", geom: pt, props: map[string]string{"class": "01001", "change_date": "2025-02-30"}, wantCodes: []string{"invalid_date"}},
		{name: "name too long", geom: pt, props: map[string]string{"class": "01001", "name": strings.Repeat("井", 101)}, wantCodes: []string{"too_long"}},
		{name: "note too long", geom: pt, props: map[string]string{"class": "01001", "BZ": strings.Repeat("n", 1001)}, wantCodes: []string{"too_long"}},
		{name: "source too long", geom: pt, props: map[string]string{"class": "01001", "source": strings.Repeat("s", 31)}, wantCodes: []string{"too_long"}},
		{name: "GBK text", geom: pt, props: map[string]string{"class": "01001", "name": "\xbe\xae\xb8\xc7"}, wantCodes: []string{"invalid_encoding"}},
		{name: "every problem is reported", geom: orb.LineString{{0, 0}, {1, 1}},
			props:     map[string]string{"status": "?", "census_date": "yesterday"},
			wantCodes: []string{"invalid_geometry_type", "missing_field", "invalid_status", "invalid_date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &registry.Feature{Index: 7, ID: tt.id, Geometry: tt.geom, Props: tt.props}
			got, probs := registry.DecodeComponent(f, cat)
			if diff := cmp.Diff(tt.wantCodes, censusProblemCodes(probs)); diff != "" {
				t.Fatalf("DecodeComponent(%v) problems %+v, codes (-want +got):\n%s", tt.props, probs, diff)
			}
			wantID := tt.id
			for _, k := range []string{"id", "GLBJBSM", "ObjID"} {
				if v := tt.props[k]; v != "" && wantID == "" {
					wantID = v
				}
			}
			for _, p := range probs {
				if p.Index != 7 || p.ID != wantID || p.Message == "" {
					t.Errorf("DecodeComponent problem %+v, want Index 7, ID %q and a message", p, wantID)
				}
			}
			if tt.wantIn != "" && !strings.Contains(probs[0].Message, tt.wantIn) {
				t.Errorf("DecodeComponent message %q, want it to contain %q", probs[0].Message, tt.wantIn)
			}
			if diff := cmp.Diff(tt.want, got, componentCodeText); diff != "" {
				t.Errorf("DecodeComponent(%v) (-want +got):\n%s", tt.props, diff)
			}
		})
	}
}

func TestDecodeComponentProblemFields(t *testing.T) {
	cat := registry.DefaultCatalog()
	f := &registry.Feature{Index: 3, Geometry: orb.Point{1, 2}, Props: map[string]string{
		"class": "01001", "CSRQ": "bad", "GLBJZT": "bad"}}
	_, probs := registry.DecodeComponent(f, cat)
	got := map[string]string{}
	for _, p := range probs {
		got[p.Code] = p.Field
	}
	want := map[string]string{"invalid_date": "census_date", "invalid_status": "status"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeComponent problem fields (-want +got):\n%s", diff)
	}
}

func TestDecodeComponentReaderError(t *testing.T) {
	cat := registry.DefaultCatalog()
	f := &registry.Feature{Index: 4, ID: "x", Err: &registry.Problem{Index: 4, ID: "x", Field: "geometry", Code: "invalid_geometry", Message: "bad"}}
	_, probs := registry.DecodeComponent(f, cat)
	if diff := cmp.Diff([]registry.Problem{*f.Err}, probs); diff != "" {
		t.Errorf("DecodeComponent(feature with Err) (-want +got):\n%s", diff)
	}
}

// BenchmarkDecodeComponent decodes one typical census row; the baseline is ParseComponentCode
// plus ResolveComponentClass, the work no decoder can skip.
func BenchmarkDecodeComponent(b *testing.B) {
	cat := registry.DefaultCatalog()
	f := &registry.Feature{Geometry: orb.Point{106.5, 29.5}, Props: map[string]string{
		"id": "50010301001000042", "class": "01001", "name": "供水井盖", "status": "intact", "maintainer": "unit-water",
		"census_date": "2025-03-01", "source": "实测"}}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, probs := registry.DecodeComponent(f, cat); len(probs) > 0 {
				b.Fatal(probs)
			}
		}
	})
	b.Run("baseline=parse-id-and-class", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := registry.ParseComponentCode(f.Props["id"]); err != nil {
				b.Fatal(err)
			}
			if _, _, err := cat.ResolveComponentClass(f.Props["class"]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
