package spatial

import (
	"errors"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"citygrid/registry"
)

func TestParseCRS(t *testing.T) {
	tests := []struct {
		in   string
		want CRS
		err  error
	}{
		{"", WGS84, nil},
		{"wgs84", WGS84, nil},
		{"WGS84", WGS84, nil},
		{"EPSG:4326", WGS84, nil},
		{"cgcs2000", CGCS2000, nil},
		{"epsg:4490", CGCS2000, nil},
		{" gcj02 ", GCJ02, nil},
		{"GCJ-02", GCJ02, nil},
		{"bd09", BD09, nil},
		{"bd-09", BD09, nil},
		{"bd09mc", WGS84, registry.ErrInvalidCRS},
		{"epsg:3857", WGS84, registry.ErrInvalidCRS},
		{"mars", WGS84, registry.ErrInvalidCRS},
	}
	for _, tt := range tests {
		got, err := ParseCRS(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParseCRS(%q) = %v, %v; want %v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseCRS(f *testing.F) {
	for _, s := range []string{"", "wgs84", "GCJ-02", "bd09", "epsg:4490", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCRS(s)
		if err != nil {
			if !errors.Is(err, registry.ErrInvalidCRS) {
				t.Fatalf("ParseCRS(%q) error %v, want ErrInvalidCRS", s, err)
			}
			return
		}
		if back, err := ParseCRS(c.String()); err != nil || back != c {
			t.Fatalf("ParseCRS(%q) = %v, but ParseCRS(%q) = %v, %v", s, c, c.String(), back, err)
		}
	})
}

// Published reference pairs of the public GCJ-02/BD-09 formula, lon/lat. Tolerances are in
// metres; where a library's inverse is the usual approximate one, our exact inverse differs
// by its approximation error (the tolerance says how much that is).
var crsPairs = []struct {
	name     string
	from, to CRS
	in, want orb.Point
	tol      float64
}{
	// wandergis/coordtransform, test/app.js ("//result" block), input (116.404, 39.915)
	{"coordtransform wgs84togcj02", WGS84, GCJ02, orb.Point{116.404, 39.915}, orb.Point{116.41024449916938, 39.91640428150164}, 1e-6},
	{"coordtransform gcj02tobd09", GCJ02, BD09, orb.Point{116.404, 39.915}, orb.Point{116.41036949371029, 39.92133699351021}, 1e-6},
	{"coordtransform bd09togcj02 (approximate inverse)", BD09, GCJ02, orb.Point{116.404, 39.915}, orb.Point{116.39762729119315, 39.90865673957631}, 0.1},
	{"coordtransform gcj02towgs84 (one-step inverse)", GCJ02, WGS84, orb.Point{116.404, 39.915}, orb.Point{116.39775550083061, 39.91359571849836}, 0.1},
	// googollee/eviltransform, go/transform_test.go (pairs given there as lat, lng)
	{"eviltransform shanghai", WGS84, GCJ02, orb.Point{121.5272106, 31.1774276}, orb.Point{121.531541859215, 31.17530398364597}, 1e-6},
	{"eviltransform shenzhen", WGS84, GCJ02, orb.Point{113.912316, 22.543847}, orb.Point{113.9171764808363, 22.540796131694766}, 1e-6},
	{"eviltransform beijing", WGS84, GCJ02, orb.Point{116.377817, 39.911954}, orb.Point{116.38404722455657, 39.91334545536069}, 1e-6},
	{"eviltransform shanghai inverse", GCJ02, WGS84, orb.Point{121.531541859215, 31.17530398364597}, orb.Point{121.5272106, 31.1774276}, 1e-3},
	{"eviltransform shenzhen inverse", GCJ02, WGS84, orb.Point{113.9171764808363, 22.540796131694766}, orb.Point{113.912316, 22.543847}, 1e-3},
	{"eviltransform beijing inverse", GCJ02, WGS84, orb.Point{116.38404722455657, 39.91334545536069}, orb.Point{116.377817, 39.911954}, 1e-3},
	// hujiulong/gcoord, test/unit/crs/GCJ02.spec.js (checked there to 5 decimals, ~1 m)
	{"gcoord GCJ02 to WGS84", GCJ02, WGS84, orb.Point{123, 45}, orb.Point{122.99395597, 44.99804071}, 0.1},
	{"gcoord GCJ02 to BD09", GCJ02, BD09, orb.Point{123, 45}, orb.Point{123.00636499, 45.00636899}, 0.1},
}

func TestCRSReferencePairs(t *testing.T) {
	for _, tt := range crsPairs {
		t.Run(tt.name, func(t *testing.T) {
			got := FromWGS84(ToWGS84(tt.in, tt.from), tt.to)
			if d := geo.DistanceHaversine(got, tt.want); d > tt.tol {
				t.Errorf("%v→%v(%v) = %v, want %v (off by %.4g m, tolerance %g m)", tt.from, tt.to, tt.in, got, tt.want, d, tt.tol)
			}
		})
	}
}

func TestCRSOffsetsOfCityCentres(t *testing.T) {
	// /work/shared/docs/gis-serving.md §5 lists the WGS84 → GCJ-02 and WGS84 → BD-09 offsets
	// measured at these city centres (rounded to metres; the doc does not give its points,
	// so a few metres of tolerance cover the choice of centre).
	tests := []struct {
		city    string
		p       orb.Point
		gcj, bd float64
	}{
		{"Beijing", orb.Point{116.4074, 39.9042}, 555, 1378},
		{"Shanghai", orb.Point{121.4737, 31.2304}, 481, 1140},
		{"Guangzhou", orb.Point{113.2644, 23.1291}, 621, 1267},
		{"Chengdu", orb.Point{104.0665, 30.5723}, 363, 946},
		{"Urumqi", orb.Point{87.6168, 43.8256}, 265, 1106},
		{"Harbin", orb.Point{126.6424, 45.7567}, 511, 1296},
	}
	const tol = 3.0
	for _, tt := range tests {
		g := geo.Distance(tt.p, FromWGS84(tt.p, GCJ02))
		b := geo.Distance(tt.p, FromWGS84(tt.p, BD09))
		if math.Abs(g-tt.gcj) > tol || math.Abs(b-tt.bd) > tol {
			t.Errorf("%s: offsets GCJ-02 %.1f m, BD-09 %.1f m; want %g m, %g m (±%g)", tt.city, g, b, tt.gcj, tt.bd, tol)
		}
	}
}

func TestCRSRoundTripOverChina(t *testing.T) {
	worst := map[CRS]float64{}
	n := 0
	for lon := 73.0; lon <= 135.0; lon += 0.37 {
		for lat := 18.0; lat <= 53.5; lat += 0.29 {
			p := orb.Point{lon, lat}
			for _, c := range []CRS{GCJ02, BD09} {
				q := FromWGS84(p, c)
				if q == p {
					t.Fatalf("FromWGS84(%v, %v) applied no offset inside China", p, c)
				}
				back := ToWGS84(q, c)
				if d := geo.DistanceHaversine(p, back); d > worst[c] {
					worst[c] = d
				}
			}
			n++
		}
	}
	for c, w := range worst {
		if w > 1e-3 {
			t.Errorf("%v round trip over %d points: worst error %.3g m, want < 1 mm", c, n, w)
		}
	}
}

func TestCRSOutsideChinaUnchanged(t *testing.T) {
	for _, p := range []orb.Point{{2.3522, 48.8566}, {139.6917, 35.6895}, {106.5, 56.0}, {-74.006, 40.7128}, {100, 0.5}} {
		for _, c := range []CRS{WGS84, GCJ02, BD09} {
			if got := FromWGS84(p, c); got != p {
				t.Errorf("FromWGS84(%v, %v) = %v, want unchanged outside China", p, c, got)
			}
			if got := ToWGS84(p, c); got != p {
				t.Errorf("ToWGS84(%v, %v) = %v, want unchanged outside China", p, c, got)
			}
		}
	}
	// WGS84 is the identity everywhere, CGCS2000 included
	p := orb.Point{106.55, 29.56}
	if FromWGS84(p, WGS84) != p || ToWGS84(p, WGS84) != p {
		t.Errorf("WGS84 conversion changed %v", p)
	}
}
