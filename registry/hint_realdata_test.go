package registry_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// TestCoordHintRealData: the vertices of the real 渝中区 outline (../shared/data, DataV,
// GCJ-02 lon/lat; see SOURCES.md), written as a CSV census the ways GIS files go wrong —
// latitude first, or in Web Mercator metres — are refused with invalid_coordinates, named by
// their id, with the hint that says what they look like (for Web Mercator, the lon/lat they
// stand for).
func TestCoordHintRealData(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "boundaries", "chongqing_districts_datav", "500103.json")
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data: %v", err)
		}
		t.Skipf("shared data not available: %v", err)
	}
	defer f.Close()
	var ring orb.Ring
	err = registry.ReadFeatures(f, registry.FormatGeoJSON, func(ft *registry.Feature) error {
		if mp, ok := ft.Geometry.(orb.MultiPolygon); ok {
			ring = mp[0][0]
		}
		return nil
	})
	if err != nil || len(ring) < 100 {
		t.Fatalf("渝中区 outline: %v, %d vertices", err, len(ring))
	}
	const r = 6378137.0
	for _, tc := range []struct {
		name string
		xy   func(p orb.Point) (float64, float64)
		hint string
	}{
		{"latitude first", func(p orb.Point) (float64, float64) { return p[1], p[0] }, "swapped"},
		{"web mercator", func(p orb.Point) (float64, float64) {
			return r * p[0] * math.Pi / 180, r * math.Log(math.Tan(math.Pi/4+p[1]*math.Pi/360))
		}, "Web Mercator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var csv strings.Builder
			csv.WriteString("id,class,lon,lat\n")
			for i, p := range ring {
				x, y := tc.xy(p)
				fmt.Fprintf(&csv, "50010301037%06d,01037,%.6f,%.6f\n", i+1, x, y)
			}
			n := 0
			err := registry.ReadFeatures(strings.NewReader(csv.String()), registry.FormatCSV, func(ft *registry.Feature) error {
				_, probs := registry.DecodeComponent(ft, registry.DefaultCatalog())
				want := fmt.Sprintf("50010301037%06d", ft.Index+1)
				if len(probs) != 1 || probs[0].Code != "invalid_coordinates" || probs[0].ID != want || !strings.Contains(probs[0].Hint, tc.hint) {
					t.Errorf("vertex %d: %+v; want invalid_coordinates of %s with a hint saying %q", ft.Index, probs, want, tc.hint)
					return nil
				}
				if tc.hint == "Web Mercator" {
					p := ring[ft.Index]
					var lon, lat float64
					h := probs[0].Hint
					_, err := fmt.Sscanf(h[strings.Index(h, "lon "):], "lon %f, lat %f", &lon, &lat)
					if err != nil || math.Abs(lon-p[0]) > 1e-5 || math.Abs(lat-p[1]) > 1e-5 {
						t.Errorf("vertex %d: hint %q does not give back %v (%v)", ft.Index, h, p, err)
					}
				}
				n++
				return nil
			})
			if err != nil || n != len(ring) {
				t.Errorf("%d of %d vertices with the hint (%v)", n, len(ring), err)
			}
		})
	}
}
