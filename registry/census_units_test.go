package registry_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"

	"citygrid/registry"
)

// censusProblemKeys lists "index:code" for each problem, to compare where problems were found.
func censusProblemKeys(ps []registry.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, strconv.Itoa(p.Index)+":"+p.Code)
	}
	return out
}

func TestDecodeUnits(t *testing.T) {
	area := orb.MultiPolygon{{censusSquare(106.5, 29.5, 0.01)}}
	tests := []struct {
		name      string
		in        string
		want      []registry.Unit
		wantProbs []string // index:code
		wantErr   string
	}{
		{
			name: "object form, every member",
			in: `{"units":[
				{"id":"cq-yz-cgj","name":"渝中区城市管理局","type":"admin_department","districts":["500103"],"parent":"cq-centre"},
				{"id":" cq-yz-water ","name":"渝中区供水公司","type":"public_service_unit","supervisor":"cq-yz-cgj",
				 "districts":["500103","500104"],"phone":"023-6300000",
				 "area":{"type":"Polygon","coordinates":[[[106.5,29.5],[106.5,29.51],[106.51,29.51],[106.51,29.5],[106.5,29.5]]]},
				 "unknown":"ignored"}
			]}`,
			want: []registry.Unit{
				{ID: "cq-yz-cgj", Name: "渝中区城市管理局", Type: registry.UnitAdminDepartment, Districts: []string{"500103"}, Parent: "cq-centre"},
				{ID: "cq-yz-water", Name: "渝中区供水公司", Type: registry.UnitPublicService, Supervisor: "cq-yz-cgj",
					Districts: []string{"500103", "500104"}, Phone: "023-6300000", Area: area},
			},
		},
		{
			name: "array form, null area",
			in:   "\xEF\xBB\xBF" + `[{"id":"c","name":"市中心","type":"city_centre","area":null}]`,
			want: []registry.Unit{{ID: "c", Name: "市中心", Type: registry.UnitCityCentre}},
		},
		{
			name: "entry problems keep indexes aligned",
			in: `[
				{"id":"","name":"x","type":"city_centre"},
				{"id":"a","name":"","type":"bogus"},
				{"id":"a","name":"dup","type":"city_centre"},
				{"id":"b","name":"b","type":"district_centre","districts":["50010","050010","5001AB"]},
				"not an object",
				{"id":"c","name":"c","type":"district_centre","area":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}},
				{"id":"d","name":"d","type":"district_centre","area":{"type":"Point","coordinates":[1,2]}},
				{"id":"e","name":"e","type":"district_centre","area":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,100],[0,0]]]}},
				{"id":"f","name":"f"},
				{"id":"g","name":"` + strings.Repeat("名", 201) + `","type":"city_centre"},
				{"id":"h","name":"h","type":"city_centre","districts":"500103"}
			]`,
			want: []registry.Unit{
				{Name: "x", Type: registry.UnitCityCentre},
				{ID: "a"},
				{ID: "a", Name: "dup", Type: registry.UnitCityCentre},
				{ID: "b", Name: "b", Type: registry.UnitDistrictCentre},
				{},
				{ID: "c", Name: "c", Type: registry.UnitDistrictCentre},
				{ID: "d", Name: "d", Type: registry.UnitDistrictCentre},
				{ID: "e", Name: "e", Type: registry.UnitDistrictCentre},
				{ID: "f", Name: "f"},
				{ID: "g", Name: strings.Repeat("名", 201), Type: registry.UnitCityCentre},
				{},
			},
			wantProbs: []string{
				"0:missing_field",
				"1:missing_field", "1:invalid_unit_type",
				"2:duplicate_id",
				"3:invalid_district", "3:invalid_district", "3:invalid_district",
				"4:invalid_entry",
				"5:self_intersection",
				"6:invalid_geometry_type",
				"7:invalid_coordinates",
				"8:missing_field",
				"9:too_long",
				"10:invalid_entry",
			},
		},
		{
			name: "references inside the document",
			in: `[
				{"id":"a","name":"a","type":"admin_department","parent":"a"},
				{"id":"b","name":"b","type":"public_service_unit","parent":"c"},
				{"id":"c","name":"c","type":"public_service_unit","parent":"b","supervisor":"b"},
				{"id":"d","name":"d","type":"public_service_unit","supervisor":"a","parent":"elsewhere"}
			]`,
			want: []registry.Unit{
				{ID: "a", Name: "a", Type: registry.UnitAdminDepartment, Parent: "a"},
				{ID: "b", Name: "b", Type: registry.UnitPublicService, Parent: "c"},
				{ID: "c", Name: "c", Type: registry.UnitPublicService, Parent: "b", Supervisor: "b"},
				{ID: "d", Name: "d", Type: registry.UnitPublicService, Parent: "elsewhere", Supervisor: "a"},
			},
			wantProbs: []string{"0:invalid_reference", "1:parent_cycle", "2:invalid_supervisor", "2:parent_cycle"},
		},
		{
			name: "ids: UTF-8 and at most 64 characters",
			in: `[
				{"id":"a` + "\xff" + `b","name":"x","type":"city_centre"},
				{"id":"` + strings.Repeat("编", 64) + `","name":"x","type":"admin_department"},
				{"id":"` + strings.Repeat("编", 65) + `","name":"x","type":"city_centre"},
				{"id":"p","name":"x","type":"district_centre","parent":"` + strings.Repeat("p", 65) + `"},
				{"id":"s","name":"x","type":"district_centre","supervisor":"` + strings.Repeat("s", 65) + `"},
				{"id":"n","name":"` + "\xc3" + `","type":"city_centre"}
			]`,
			want: []registry.Unit{
				{},
				{ID: strings.Repeat("编", 64), Name: "x", Type: registry.UnitAdminDepartment},
				{ID: strings.Repeat("编", 65), Name: "x", Type: registry.UnitCityCentre},
				{ID: "p", Name: "x", Type: registry.UnitDistrictCentre, Parent: strings.Repeat("p", 65)},
				{ID: "s", Name: "x", Type: registry.UnitDistrictCentre, Supervisor: strings.Repeat("s", 65)},
				{},
			},
			wantProbs: []string{"0:invalid_encoding", "2:too_long", "3:too_long", "4:too_long", "5:invalid_encoding"},
		},
		{name: "not UTF-8 outside the entries", in: `{"units":[], "x` + "\xff" + `":1}`, wantErr: "invalid_encoding"},
		{name: "empty", in: " ", wantErr: "invalid_input"},
		{name: "not JSON", in: "units:", wantErr: "invalid_input"},
		{name: "object without units", in: `{"rules":[]}`, wantErr: "invalid_input"},
		{name: "units not an array", in: `{"units":{}}`, wantErr: "invalid_input"},
		{name: "truncated", in: `[{"id":"a"`, wantErr: "invalid_input"},
		{name: "empty array", in: `[]`, want: []registry.Unit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs, err := registry.DecodeUnits(strings.NewReader(tt.in))
			if code := censusErrCodeOf(err); code != tt.wantErr {
				t.Fatalf("DecodeUnits error = %v, want code %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantProbs, censusProblemKeys(probs)); diff != "" {
				t.Errorf("DecodeUnits problems %+v (-want +got):\n%s", probs, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeUnits units (-want +got):\n%s", diff)
			}
		})
	}
}

func censusErrCodeOf(err error) string {
	if err == nil {
		return ""
	}
	return registry.ErrorCode(err)
}

func TestUnitRefs(t *testing.T) {
	units := []registry.Unit{
		{ID: "a", Parent: "top", Supervisor: "b"},
		{ID: "b", Parent: "top", Supervisor: "dept"},
		{ID: "c", Parent: "a"},
	}
	want := []string{"dept", "top"}
	if got := registry.UnitRefs(units); !cmp.Equal(got, want) {
		t.Errorf("UnitRefs(%v) = %v, want %v", units, got, want)
	}
	if got := registry.UnitRefs(nil); len(got) != 0 {
		t.Errorf("UnitRefs(nil) = %v, want none", got)
	}
}

func TestDecodeRules(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      []registry.Rule
		wantProbs []string
		wantErr   string
	}{
		{
			name: "object form, every member and class pattern",
			in: `{"rules":[
				{"id":"water","order":10,"class":"01001","kind":"component","area":"500103","unit":"cq-yz-water","reason":"供水井盖"},
				{"id":"legacy","order":11,"class":"0101","area":"500103003","unit":"u"},
				{"id":"major","order":20,"class":"01","kind":"event","area":"500103003001","unit":"u"},
				{"id":"major-star","order":21,"class":"01*","area":"500103003001001","unit":"u"},
				{"id":"cell14","class":"*","area":"50010300300101","unit":"u"},
				{"id":"own","order":5,"class":"*","in_unit":true,"unit":"u"},
				{"id":"fallback","order":1000,"class":"*","unit":"centre"}
			]}`,
			want: []registry.Rule{
				{ID: "water", Order: 10, Class: "01001", Kind: "component", Area: "500103", Unit: "cq-yz-water", Reason: "供水井盖"},
				{ID: "legacy", Order: 11, Class: "0101", Area: "500103003", Unit: "u"},
				{ID: "major", Order: 20, Class: "01", Kind: "event", Area: "500103003001", Unit: "u"},
				{ID: "major-star", Order: 21, Class: "01*", Area: "500103003001001", Unit: "u"},
				{ID: "cell14", Order: registry.DefaultRuleOrder, Class: "*", Area: "50010300300101", Unit: "u"},
				{ID: "own", Order: 5, Class: "*", InUnit: true, Unit: "u"},
				{ID: "fallback", Order: 1000, Class: "*", Unit: "centre"},
			},
		},
		{
			name: "entry problems keep indexes aligned",
			in: `[
				{"class":"*","unit":"u"},
				{"id":"a","class":"1","unit":"u"},
				{"id":"a","class":"*","unit":"u"},
				{"id":"b","class":"010","kind":"matter","area":"5001","unit":""},
				{"id":"c","class":"0*","area":"0001030030","unit":"u"},
				{"id":"d","class":"","area":"50010300300A","unit":"u"},
				{"id":"e","class":"*","order":1.5,"unit":"u"},
				{"id":"f","class":"**","area":"500103003001ZZZ","unit":"u"},
				{"id":"g","class":"01a01","area":"000103","unit":"u","reason":"` + strings.Repeat("r", 201) + `"},
				7
			]`,
			want: []registry.Rule{
				{Order: registry.DefaultRuleOrder, Class: "*", Unit: "u"},
				{ID: "a", Order: registry.DefaultRuleOrder, Class: "1", Unit: "u"},
				{ID: "a", Order: registry.DefaultRuleOrder, Class: "*", Unit: "u"},
				{ID: "b", Order: registry.DefaultRuleOrder, Class: "010", Kind: "matter", Area: "5001"},
				{ID: "c", Order: registry.DefaultRuleOrder, Class: "0*", Area: "0001030030", Unit: "u"},
				{ID: "d", Order: registry.DefaultRuleOrder, Area: "50010300300A", Unit: "u"},
				{},
				{ID: "f", Order: registry.DefaultRuleOrder, Class: "**", Area: "500103003001ZZZ", Unit: "u"},
				{ID: "g", Order: registry.DefaultRuleOrder, Class: "01a01", Area: "000103", Unit: "u", Reason: strings.Repeat("r", 201)},
				{},
			},
			wantProbs: []string{
				"0:missing_field",
				"1:invalid_class_pattern",
				"2:duplicate_id",
				"3:invalid_class_pattern", "3:invalid_kind", "3:invalid_area", "3:missing_field",
				"4:invalid_class_pattern", "4:invalid_area",
				"5:missing_field", "5:invalid_area",
				"6:invalid_entry",
				"7:invalid_class_pattern",
				"8:invalid_class_pattern", "8:invalid_area", "8:too_long",
				"9:invalid_entry",
			},
		},
		{
			name: "ids: UTF-8 and at most 64 characters",
			in: `[
				{"id":"r` + "\xfe" + `","class":"*","unit":"u"},
				{"id":"` + strings.Repeat("r", 64) + `","class":"*","unit":"` + strings.Repeat("u", 64) + `"},
				{"id":"` + strings.Repeat("r", 65) + `","class":"*","unit":"u"},
				{"id":"long-unit","class":"*","unit":"` + strings.Repeat("u", 65) + `"}
			]`,
			want: []registry.Rule{
				{},
				{ID: strings.Repeat("r", 64), Order: registry.DefaultRuleOrder, Class: "*", Unit: strings.Repeat("u", 64)},
				{ID: strings.Repeat("r", 65), Order: registry.DefaultRuleOrder, Class: "*", Unit: "u"},
				{ID: "long-unit", Order: registry.DefaultRuleOrder, Class: "*", Unit: strings.Repeat("u", 65)},
			},
			wantProbs: []string{"0:invalid_encoding", "2:too_long", "3:too_long"},
		},
		{
			name: "a rule without order is tried last: absent or null, unlike an explicit 0",
			in: `[
				{"id":"a","class":"*","unit":"u"},
				{"id":"b","order":null,"class":"*","unit":"u"},
				{"id":"c","order":0,"class":"*","unit":"u"},
				{"id":"d","order":-3,"class":"*","unit":"u"}
			]`,
			want: []registry.Rule{
				{ID: "a", Order: registry.DefaultRuleOrder, Class: "*", Unit: "u"},
				{ID: "b", Order: registry.DefaultRuleOrder, Class: "*", Unit: "u"},
				{ID: "c", Order: 0, Class: "*", Unit: "u"},
				{ID: "d", Order: -3, Class: "*", Unit: "u"},
			},
		},
		{name: "not JSON", in: "{", wantErr: "invalid_input"},
		{name: "object without rules", in: `{"units":[]}`, wantErr: "invalid_input"},
		{name: "a string", in: `"rules"`, wantErr: "invalid_input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs, err := registry.DecodeRules(strings.NewReader(tt.in))
			if code := censusErrCodeOf(err); code != tt.wantErr {
				t.Fatalf("DecodeRules error = %v, want code %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantProbs, censusProblemKeys(probs)); diff != "" {
				t.Errorf("DecodeRules problems %+v (-want +got):\n%s", probs, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeRules rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeUnitsTooLarge(t *testing.T) {
	big := strings.NewReader("[" + strings.Repeat(" ", 64<<20) + "]")
	_, _, err := registry.DecodeUnits(big)
	if code := censusErrCodeOf(err); code != "too_large" || registry.ErrorKind(err) != registry.TooLarge {
		t.Errorf("DecodeUnits(64 MiB + 2 bytes) error = %v, want code too_large of kind TooLarge", err)
	}
}
