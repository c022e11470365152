package spatial

import (
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

const twoDistricts = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"adcode":500103,"name":"渝中区"},"geometry":{"type":"Polygon","coordinates":[[[106.5,29.5],[106.6,29.5],[106.6,29.6],[106.5,29.6],[106.5,29.5]]]}},
{"type":"Feature","properties":{"adcode":"500112","name":"渝北区"},"geometry":{"type":"MultiPolygon","coordinates":[[[[106.6,29.6],[106.7,29.6],[106.7,29.7],[106.6,29.7],[106.6,29.6]]]]}},
{"type":"Feature","properties":{"adcode":500000,"name":"重庆市"},"geometry":{"type":"Polygon","coordinates":[[[100,20],[110,20],[110,40],[100,40],[100,20]]]}}]}`

func TestLoadBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		crs      CRS
		district string
		p        orb.Point
		in, ok   bool
	}{
		{"inside, wgs84", WGS84, "500103", orb.Point{106.55, 29.55}, true, true},
		{"outside, wgs84", WGS84, "500103", orb.Point{106.65, 29.65}, false, true},
		{"string adcode", WGS84, "500112", orb.Point{106.65, 29.65}, true, true},
		{"the city outline is not a district", WGS84, "500000", orb.Point{106.65, 29.65}, false, false},
		{"unknown district", WGS84, "500101", orb.Point{106.55, 29.55}, false, false},
		// GCJ-02 outlines move about 500 m south-west in WGS84: a point 200 m inside the
		// GCJ-02 east edge is outside the converted outline.
		{"gcj02 converted", GCJ02, "500103", orb.Point{106.598, 29.55}, false, true},
		{"gcj02 inside", GCJ02, "500103", orb.Point{106.55, 29.55}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBoundaries(strings.NewReader(twoDistricts), tc.crs)
			if err != nil {
				t.Fatal(err)
			}
			if b.Len() != 2 {
				t.Errorf("Len = %d, want 2", b.Len())
			}
			in, ok := b.Inside(tc.district, tc.p)
			if in != tc.in || ok != tc.ok {
				t.Errorf("Inside(%s, %v) = %v, %v; want %v, %v", tc.district, tc.p, in, ok, tc.in, tc.ok)
			}
		})
	}
}

// FuzzLoadBoundaries: any input loads or fails, without a panic, and a loaded file answers.
func FuzzLoadBoundaries(f *testing.F) {
	f.Add(twoDistricts)
	f.Add(`{"type":"FeatureCollection","features":[]}`)
	f.Add(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":5001.5},"geometry":null}]}`)
	f.Add(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":"500103"},"geometry":{"type":"Polygon","coordinates":[]}}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := LoadBoundaries(strings.NewReader(s), GCJ02)
		if err != nil {
			return
		}
		if b.Len() == 0 {
			t.Fatal("loaded without a district")
		}
		b.Inside("500103", orb.Point{106.55, 29.55})
	})
}
