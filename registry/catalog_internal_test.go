package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseClassTable(t *testing.T) {
	const head = "# comment\n" + catalogHeader + "\n"
	valid := head +
		"component\t01\t公用设施\t\t\t\t\n" +
		"component\t0101\t上水井盖\t01001\t\t\t\n" +
		"component\t0102\t无主\t\ttrue\ttrue\tonly A\n" +
		"\n" +
		"event\t01\t市容环境\t\t\t\t\n" +
		"event\t0199\t其他\t\t\t\t\n"
	majors, classes, err := parseClassTable([]byte(valid), StandardLegacy)
	if err != nil {
		t.Fatalf("parseClassTable(valid) error = %v", err)
	}
	wantMajors := []Class{
		{Kind: KindComponent, Standard: StandardLegacy, Code: "01", Name: "公用设施", Major: "01", MajorName: "公用设施"},
		{Kind: KindEvent, Standard: StandardLegacy, Code: "01", Name: "市容环境", Major: "01", MajorName: "市容环境"},
	}
	wantClasses := []Class{
		{Kind: KindComponent, Standard: StandardLegacy, Code: "0101", Name: "上水井盖", Major: "01", MajorName: "公用设施", MapsTo: "01001"},
		{Kind: KindComponent, Standard: StandardLegacy, Code: "0102", Name: "无主", Major: "01", MajorName: "公用设施", NoCounterpart: true, Uncertain: true, Note: "only A"},
		{Kind: KindEvent, Standard: StandardLegacy, Code: "0199", Name: "其他", Major: "01", MajorName: "市容环境"},
	}
	if diff := cmp.Diff(wantMajors, majors); diff != "" {
		t.Errorf("parseClassTable(valid) majors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantClasses, classes); diff != "" {
		t.Errorf("parseClassTable(valid) classes (-want +got):\n%s", diff)
	}

	const major = "component\t01\t公用设施\t\t\t\t\n"
	tests := []struct {
		name, in string
		std      Standard
		errHas   string
	}{
		{"no header", "# only comments\n", StandardLegacy, "no header"},
		{"wrong header", "kind\tcode\tname\n", StandardLegacy, "header"},
		{"6 fields", head + major + "component\t0101\t上水井盖\t01001\t\t\n", StandardLegacy, "6 fields"},
		{"class before its major", head + "component\t0101\t上水井盖\t01001\t\t\t\n", StandardLegacy, "before its major"},
		{"major twice", head + major + major, StandardLegacy, "twice"},
		{"major with mapping", head + "component\t01\t公用设施\t01001\t\t\t\n", StandardLegacy, "class-only"},
		{"bad kind", head + "matter\t01\t公用设施\t\t\t\t\n", StandardLegacy, "kind"},
		{"lost name", head + major + "component\t0101\t|\t01001\t\t\t\n", StandardLegacy, "name"},
		{"5 digits in legacy", head + major + "component\t01001\t供水井盖\t\t\t\t\n", StandardLegacy, "not 2 or 4 digits"},
		{"4 digits in 2026", head + major + "component\t0101\t上水井盖\t\t\t\t\n", StandardGB2026, "not 2 or 5 digits"},
		{"bad flag", head + major + "component\t0101\t上水井盖\t01001\t\tyes\t\n", StandardLegacy, "flag"},
		{"2026 class maps", head + major + "component\t01001\t供水井盖\t01002\t\t\t\n", StandardGB2026, "maps_to"},
		{"maps to 4 digits", head + major + "component\t0101\t上水井盖\t0102\t\t\t\n", StandardLegacy, "maps_to"},
		{"both mapping fields", head + major + "component\t0101\t上水井盖\t01001\ttrue\t\t\n", StandardLegacy, "no_counterpart"},
		{"legacy component unmapped", head + major + "component\t0101\t上水井盖\t\t\t\t\n", StandardLegacy, "needs maps_to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseClassTable([]byte(tt.in), tt.std)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("parseClassTable(%q) error = %v, want one mentioning %q", tt.in, err, tt.errHas)
			}
		})
	}
}
