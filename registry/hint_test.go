package registry_test

import (
	"strings"
	"testing"

	"citygrid/registry"
)

func TestCoordHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y float64
		want string // a part of the hint; "" for none
	}{
		{"lon/lat in Chongqing", 106.55, 29.56, ""},
		{"swapped in Chongqing", 29.56, 106.55, "swapped"},
		{"swapped, both in range", 39.9, 86.1, "swapped"},
		{"outside China, in range", 2.35, 48.85, ""},
		{"web mercator", 11861380, 3445395, "Web Mercator"},
		{"gauss-kruger 3 degree zone 35", 35455000, 3270000, "3° zone 35, central meridian 105°E"},
		{"gauss-kruger 6 degree zone 18", 18650000, 3270000, "6° zone 18, central meridian 105°E"},
		{"utm without zone", 650000, 3270000, "without zone number"},
		{"northing first", 3270000, 650000, "northing first"},
		{"far beyond anything", 1e12, 5, "projected metres?"},
		{"NaN", nan(), 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := registry.CoordHint(tc.x, tc.y)
			if tc.want == "" {
				if got != "" {
					t.Errorf("CoordHint(%v, %v) = %q, want none", tc.x, tc.y, got)
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("CoordHint(%v, %v) = %q, want it to say %q", tc.x, tc.y, got, tc.want)
			}
		})
	}
}

func nan() float64 {
	var z float64
	return z / z
}
