package api_test

import (
	"testing"

	"citygrid/registry"
)

type classResp struct {
	Code          string `json:"code"`
	Name          string `json:"name"`
	Major         string `json:"major"`
	MajorName     string `json:"major_name"`
	Standard      string `json:"standard"`
	Kind          string `json:"kind"`
	Uncertain     bool   `json:"uncertain"`
	Note          string `json:"note"`
	MapsTo        string `json:"maps_to"`
	NoCounterpart bool   `json:"no_counterpart"`
}

func TestClasses(t *testing.T) {
	e := sharedEnv(t)
	cat := registry.DefaultCatalog()
	tests := []struct {
		query string
		kinds []registry.ClassKind
		std   registry.Standard
	}{
		{"", []registry.ClassKind{registry.KindComponent, registry.KindEvent}, ""},
		{"?kind=component", []registry.ClassKind{registry.KindComponent}, ""},
		{"?kind=event&standard=gb47678-2026", []registry.ClassKind{registry.KindEvent}, registry.StandardGB2026},
		{"?kind=component&standard=legacy", []registry.ClassKind{registry.KindComponent}, registry.StandardLegacy},
	}
	for _, tt := range tests {
		var got struct{ Classes []classResp }
		decode(t, e.do(t, "GET", "/api/v1/classes"+tt.query, ""), 200, &got)
		var want []registry.Class
		for _, k := range tt.kinds {
			want = append(want, cat.List(k, tt.std)...)
		}
		if len(want) == 0 || len(got.Classes) != len(want) {
			t.Fatalf("GET /classes%s: %d classes, want %d (non-zero)", tt.query, len(got.Classes), len(want))
		}
		for i, w := range want {
			g := got.Classes[i]
			if g.Code != w.Code || g.Name != w.Name || g.Kind != string(w.Kind) || g.Standard != string(w.Standard) ||
				g.Major != w.Major || g.MajorName != w.MajorName || g.MapsTo != w.MapsTo || g.NoCounterpart != w.NoCounterpart ||
				g.Uncertain != w.Uncertain || g.Note != w.Note {
				t.Errorf("GET /classes%s [%d] = %+v, want %+v", tt.query, i, g, w)
			}
		}
	}
	// One class, 5-digit and legacy 4-digit.
	for _, std := range []registry.Standard{registry.StandardGB2026, registry.StandardLegacy} {
		w := cat.List(registry.KindComponent, std)[0]
		var g classResp
		decode(t, e.do(t, "GET", "/api/v1/classes/component/"+w.Code, ""), 200, &g)
		if g.Code != w.Code || g.Name != w.Name || g.Standard != string(std) {
			t.Errorf("GET /classes/component/%s = %+v, want %+v", w.Code, g, w)
		}
	}
}

func TestClassErrors(t *testing.T) {
	runErrCases(t, sharedEnv(t), []errCase{
		{"bad kind", "GET", "/api/v1/classes?kind=thing", "", nil, 400, "invalid_kind"},
		{"bad standard", "GET", "/api/v1/classes?standard=iso", "", nil, 400, "invalid_standard"},
		{"bad kind in path", "GET", "/api/v1/classes/thing/01001", "", nil, 400, "invalid_kind"},
		{"unknown code", "GET", "/api/v1/classes/component/99999", "", nil, 404, "class_not_found"},
		{"not a code", "GET", "/api/v1/classes/event/abc", "", nil, 404, "class_not_found"},
	})
}
