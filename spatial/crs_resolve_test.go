package spatial

import (
	"testing"

	"github.com/paulmach/orb"
)

// TestResolveCRS: the registry form of each datum has its canonical name and converts as
// ToWGS84 does (nil for the lon/lat datums); FromWGS84Func is FromWGS84, nil likewise;
// GeoJSONName names no member for WGS84 only.
func TestResolveCRS(t *testing.T) {
	p := orb.Point{106.5772, 29.5561}
	tests := []struct {
		name, canonical, geoJSON string
		crs                      CRS
		offset                   bool
	}{
		{"wgs84", "wgs84", "", WGS84, false},
		{"EPSG:4326", "wgs84", "", WGS84, false},
		{"cgcs2000", "cgcs2000", "urn:ogc:def:crs:EPSG::4490", CGCS2000, false},
		{"epsg:4490", "cgcs2000", "urn:ogc:def:crs:EPSG::4490", CGCS2000, false},
		{"GCJ-02", "gcj02", "urn:citygrid:crs:gcj02", GCJ02, true},
		{"bd09", "bd09", "urn:citygrid:crs:bd09", BD09, true},
	}
	for _, tt := range tests {
		rc, ok := ResolveCRS(tt.name)
		if !ok || rc.Name != tt.canonical || (rc.ToWGS84 != nil) != tt.offset {
			t.Errorf("ResolveCRS(%q) = %+v, %v; want %s, offset %v", tt.name, rc, ok, tt.canonical, tt.offset)
			continue
		}
		if tt.offset && rc.ToWGS84(p) != ToWGS84(p, tt.crs) {
			t.Errorf("ResolveCRS(%q).ToWGS84(%v) = %v, want %v", tt.name, p, rc.ToWGS84(p), ToWGS84(p, tt.crs))
		}
		if got := tt.crs.GeoJSONName(); got != tt.geoJSON {
			t.Errorf("%v.GeoJSONName() = %q, want %q", tt.crs, got, tt.geoJSON)
		}
		f := tt.crs.FromWGS84Func()
		if (f != nil) != tt.offset || tt.crs.Offset() != tt.offset {
			t.Errorf("%v: FromWGS84Func nil %v, Offset %v; want offset %v", tt.crs, f == nil, tt.crs.Offset(), tt.offset)
		} else if f != nil && f(p) != FromWGS84(p, tt.crs) {
			t.Errorf("%v.FromWGS84Func()(%v) = %v, want %v", tt.crs, p, f(p), FromWGS84(p, tt.crs))
		}
	}
	for _, bad := range []string{"", " ", "epsg:3857", "mars"} {
		if rc, ok := ResolveCRS(bad); ok {
			t.Errorf("ResolveCRS(%q) = %+v, true; want false", bad, rc)
		}
	}
}
