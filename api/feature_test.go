package api

import (
	"encoding/json"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
)

// The features themselves are package geojson's (its tests hold them to encoding/json); these
// tests cover what the API adds: class names from the catalogue and the datum of ?crs=.

// TestAppendComponentClassName: class_name is the catalogue's name of the class, of the
// legacy class when there is no 2026 class, and empty for a class the catalogue lacks.
func TestAppendComponentClassName(t *testing.T) {
	s := &Server{catalog: registry.DefaultCatalog(), wgs84: spatial.WGS84}
	name := func(code string) string {
		t.Helper()
		cl, ok := s.catalog.Lookup(registry.KindComponent, code)
		if !ok || cl.Name == "" {
			t.Fatalf("the catalogue has no name for component class %s", code)
		}
		return cl.Name
	}
	tests := []struct {
		name, class, legacyClass, want string
	}{
		{"2026 class", "01001", "", name("01001")},
		{"2026 class of a converted legacy record", "01001", "0101", name("01001")},
		{"legacy class without a 2026 counterpart", "", "0139", name("0139")},
		{"unknown class", "99999", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.Component{ID: registry.MustParseComponentCode("50010301001000001"), Class: tt.class, LegacyClass: tt.legacyClass}
			var f struct {
				Properties struct {
					ClassName *string `json:"class_name"`
				}
			}
			out := s.appendComponent(nil, &c, nil)
			if err := json.Unmarshal(out, &f); err != nil {
				t.Fatalf("appendComponent = %s: %v", out, err)
			}
			if f.Properties.ClassName == nil || *f.Properties.ClassName != tt.want {
				t.Errorf("appendComponent(class %q, legacy class %q) class_name = %v in %s, want %q", tt.class, tt.legacyClass, f.Properties.ClassName, out, tt.want)
			}
		})
	}
}

// TestProjection: WGS84 (and CGCS2000) answers keep the stored points (no projection at
// all); the other datums convert them as spatial.FromWGS84 does.
func TestProjection(t *testing.T) {
	s := &Server{catalog: registry.DefaultCatalog(), wgs84: spatial.WGS84}
	p := orb.Point{106.5772, 29.5561}
	for _, name := range []string{"wgs84", "cgcs2000", "gcj02", "bd09"} {
		crs, err := spatial.ParseCRS(name)
		if err != nil {
			t.Fatal(err)
		}
		proj := s.projection(crs)
		if !crs.Offset() {
			if proj != nil {
				t.Errorf("projection(%s) is not nil", name)
			}
			continue
		}
		if got, want := proj(p), spatial.FromWGS84(p, crs); got != want || got == p {
			t.Errorf("projection(%s)(%v) = %v, want %v", name, p, got, want)
		}
	}
}
