package registry_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"citygrid/registry"
)

// censusSquare returns a closed counter-clockwise square ring of side d at (x, y).
func censusSquare(x, y, d float64) orb.Ring {
	return orb.Ring{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}
}

func censusReversed(r orb.Ring) orb.Ring {
	out := make(orb.Ring, len(r))
	for i, p := range r {
		out[len(r)-1-i] = p
	}
	return out
}

// censusProblemCodes lists the codes of ps in order.
func censusProblemCodes(ps []registry.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Code)
	}
	return out
}

func TestValidatePolygonal(t *testing.T) {
	ext := censusSquare(106.5, 29.5, 0.001)
	hole := censusReversed(censusSquare(106.5002, 29.5002, 0.0002))
	tests := []struct {
		name      string
		in        orb.Geometry
		want      orb.MultiPolygon
		wantCodes []string
		wantIn    string // a substring of the first problem's message
	}{
		{
			name: "good polygon with hole",
			in:   orb.Polygon{ext, hole},
			want: orb.MultiPolygon{{ext, hole}},
		},
		{
			name: "orientation normalised: clockwise exterior, counter-clockwise hole",
			in:   orb.Polygon{censusReversed(ext), censusReversed(hole)},
			want: orb.MultiPolygon{{ext, hole}},
		},
		{
			name: "multipolygon",
			in:   orb.MultiPolygon{{ext}, {censusReversed(censusSquare(106.6, 29.6, 0.001))}},
			want: orb.MultiPolygon{{ext}, {censusSquare(106.6, 29.6, 0.001)}},
		},
		{
			name: "repeated consecutive points are dropped",
			in:   orb.Polygon{{{0, 0}, {0, 0}, {1, 0}, {1, 1}, {1, 1}, {1, 1}, {0, 1}, {0, 0}, {0, 0}}},
			want: orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}},
		},
		{
			name:      "unclosed ring is not closed silently",
			in:        orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 1}}},
			wantCodes: []string{"unclosed_ring"},
			wantIn:    "exterior ring is not closed",
		},
		{
			name:      "bowtie self-intersection reports the crossing",
			in:        orb.Polygon{{{0, 0}, {2, 2}, {2, 0}, {0, 2}, {0, 0}}},
			wantCodes: []string{"self_intersection"},
			wantIn:    "at (1 1)",
		},
		{
			name:      "ring touching itself at a vertex",
			in:        orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {2, 0}, {0, 4}, {0, 0}}},
			wantCodes: []string{"self_intersection"},
			wantIn:    "at (2 0)",
		},
		{
			name:      "spike folding back on itself",
			in:        orb.Polygon{{{0, 0}, {2, 0}, {1, 0}, {1, 1}, {0, 0}}},
			wantCodes: []string{"self_intersection"},
		},
		{
			name:      "collinear triangle",
			in:        orb.Polygon{{{0, 0}, {1, 1}, {2, 2}, {0, 0}}},
			wantCodes: []string{"self_intersection"},
		},
		{
			name:      "hole outside the exterior",
			in:        orb.Polygon{ext, censusReversed(censusSquare(107, 30, 0.0002))},
			wantCodes: []string{"hole_outside"},
			wantIn:    "hole 1",
		},
		{
			name:      "hole crossing the exterior",
			in:        orb.Polygon{censusSquare(0, 0, 4), censusReversed(censusSquare(3, 1, 2))},
			wantCodes: []string{"hole_outside"},
		},
		{
			name:      "hole crossing a concave exterior with every vertex inside",
			in:        orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {2, 1}, {0, 4}, {0, 0}}, {{1, 1.5}, {3, 1.5}, {3, 0.5}, {1, 0.5}, {1, 1.5}}},
			wantCodes: []string{"hole_outside"},
		},
		{
			name: "hole touching the exterior at one vertex is allowed",
			in:   orb.Polygon{censusSquare(0, 0, 4), {{0, 2}, {2, 3}, {2, 1}, {0, 2}}},
			want: orb.MultiPolygon{{censusSquare(0, 0, 4), {{0, 2}, {2, 3}, {2, 1}, {0, 2}}}},
		},
		{
			name:      "too few points",
			in:        orb.Polygon{{{0, 0}, {1, 0}, {0, 0}}},
			wantCodes: []string{"too_few_points"},
		},
		{
			name:      "too few distinct points",
			in:        orb.Polygon{{{0, 0}, {1, 0}, {1, 0}, {0, 0}}},
			wantCodes: []string{"too_few_points"},
		},
		{
			name:      "NaN coordinate",
			in:        orb.Polygon{{{0, 0}, {math.NaN(), 0}, {1, 1}, {0, 0}}},
			wantCodes: []string{"invalid_coordinates"},
		},
		{
			name:      "latitude out of range",
			in:        orb.Polygon{{{0, 0}, {1, 0}, {1, 90.5}, {0, 0}}},
			wantCodes: []string{"invalid_coordinates"},
		},
		{
			name:      "every bad ring is reported, with its polygon",
			in:        orb.MultiPolygon{{ext}, {{{0, 0}, {1, 0}, {1, 1}}}, {{{0, 0}, {2, 2}, {2, 0}, {0, 2}, {0, 0}}}},
			wantCodes: []string{"too_few_points", "self_intersection"},
			wantIn:    "exterior ring of polygon 1",
		},
		{name: "point", in: orb.Point{1, 2}, wantCodes: []string{"invalid_geometry_type"}},
		{name: "nil", in: nil, wantCodes: []string{"invalid_geometry_type"}},
		{name: "empty multipolygon", in: orb.MultiPolygon{}, wantCodes: []string{"empty_geometry"}},
		{name: "polygon without rings", in: orb.Polygon{}, wantCodes: []string{"empty_geometry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := registry.ValidatePolygonal(tt.in)
			if diff := cmp.Diff(tt.wantCodes, censusProblemCodes(probs)); diff != "" {
				t.Fatalf("ValidatePolygonal(%v) problems %+v, codes (-want +got):\n%s", tt.in, probs, diff)
			}
			for _, p := range probs {
				if p.Field != "geometry" || p.Message == "" {
					t.Errorf("ValidatePolygonal(%v) problem %+v, want Field geometry and a message", tt.in, p)
				}
			}
			if tt.wantIn != "" && !strings.Contains(probs[0].Message, tt.wantIn) {
				t.Errorf("ValidatePolygonal(%v) message %q, want it to contain %q", tt.in, probs[0].Message, tt.wantIn)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidatePolygonal(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestValidatePolygonalDoesNotModifyInput(t *testing.T) {
	in := orb.Polygon{censusReversed(censusSquare(0, 0, 1)), {{0.2, 0.2}, {0.2, 0.2}, {0.4, 0.2}, {0.4, 0.4}, {0.2, 0.2}}}
	before := in.Clone()
	if _, probs := registry.ValidatePolygonal(in); len(probs) > 0 {
		t.Fatalf("ValidatePolygonal: %+v", probs)
	}
	if diff := cmp.Diff(before, in); diff != "" {
		t.Errorf("ValidatePolygonal changed its input (-before +after):\n%s", diff)
	}
}

func TestGeodesicArea(t *testing.T) {
	// A 0.001° square at 29.5°N: 0.001° of latitude is R·π/180·0.001 m, of longitude that
	// times cos(29.5°) (to first order); the hole takes away 4 %.
	const r = orb.EarthRadius
	side := r * math.Pi / 180 * 0.001
	want := side * side * math.Cos(29.5005*math.Pi/180)
	ext := censusSquare(106.5, 29.5, 0.001)
	hole := censusReversed(censusSquare(106.5002, 29.5002, 0.0002))
	tests := []struct {
		name string
		in   orb.MultiPolygon
		want float64
	}{
		{"square", orb.MultiPolygon{{ext}}, want},
		{"clockwise square", orb.MultiPolygon{{censusReversed(ext)}}, want},
		{"with hole", orb.MultiPolygon{{ext, hole}}, want * 0.96},
		{"hole orientation does not matter", orb.MultiPolygon{{ext, censusReversed(hole)}}, want * 0.96},
		{"two squares", orb.MultiPolygon{{ext}, {censusSquare(106.6, 29.5, 0.001)}}, 2 * want},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := registry.GeodesicArea(tt.in)
			if math.Abs(got-tt.want) > 1e-3*tt.want+1e-9 {
				t.Errorf("GeodesicArea(%v) = %.3f m², want %.3f m² (±0.1 %%)", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidPoint(t *testing.T) {
	tests := []struct {
		p    orb.Point
		want bool
	}{
		{orb.Point{106.5, 29.5}, true},
		{orb.Point{-180, -90}, true},
		{orb.Point{180, 90}, true},
		{orb.Point{180.0001, 0}, false},
		{orb.Point{0, -90.0001}, false},
		{orb.Point{math.NaN(), 0}, false},
		{orb.Point{0, math.Inf(1)}, false},
		{orb.Point{math.Inf(-1), 0}, false},
	}
	for _, tt := range tests {
		if got := registry.ValidPoint(tt.p); got != tt.want {
			t.Errorf("ValidPoint(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// censusStarRing returns a closed, simple, star-shaped ring of n vertices around c whose radius
// varies randomly between r/2 and r: like a hand-drawn grid cell.
func censusStarRing(rng *rand.Rand, c orb.Point, r float64, n int) orb.Ring {
	ring := make(orb.Ring, 0, n+1)
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / float64(n)
		rr := r * (0.5 + 0.5*rng.Float64())
		ring = append(ring, orb.Point{c[0] + rr*math.Cos(a), c[1] + rr*math.Sin(a)})
	}
	return append(ring, ring[0])
}

func TestValidatePolygonalLargeRings(t *testing.T) {
	// Large rings take the sweep path; it must find what checking every pair finds.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		ring := censusStarRing(rng, orb.Point{106.5, 29.5}, 0.01, 200+rng.IntN(300))
		if _, probs := registry.ValidatePolygonal(orb.Polygon{ring}); len(probs) > 0 {
			t.Fatalf("star ring %d: %+v", i, probs)
		}
		// Swap two vertices far apart: the ring then crosses itself.
		j, k := 10+rng.IntN(50), 100+rng.IntN(90)
		bad := ring.Clone()
		bad[j], bad[k] = bad[k], bad[j]
		_, probs := registry.ValidatePolygonal(orb.Polygon{bad})
		if diff := cmp.Diff([]string{"self_intersection"}, censusProblemCodes(probs)); diff != "" {
			t.Fatalf("star ring %d with vertices %d and %d swapped: codes (-want +got):\n%s", i, j, k, diff)
		}
	}
}

func TestValidatePolygonalSharedData(t *testing.T) {
	// 渝中区 at the higher resolution, the polygon the demo grid is cut from (GCJ-02).
	path := filepath.Join("..", "..", "shared", "data", "boundaries", "chongqing_districts_datav", "500103.json")
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data: %v", err)
		}
		t.Skipf("shared data not available: %v", err)
	}
	defer f.Close()
	var mp orb.MultiPolygon
	err = registry.ReadFeatures(f, registry.FormatGeoJSON, func(ft *registry.Feature) error {
		if ft.Err != nil {
			t.Fatalf("feature %d: %+v", ft.Index, *ft.Err)
		}
		var probs []registry.Problem
		mp, probs = registry.ValidatePolygonal(ft.Geometry)
		if len(probs) > 0 {
			t.Fatalf("ValidatePolygonal(渝中区) = %+v", probs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 渝中区 is commonly given as about 23 km²; the simplified DataV outline must come close.
	if a := registry.GeodesicArea(mp); a < 21e6 || a > 25e6 {
		t.Errorf("GeodesicArea(渝中区) = %.0f m², want about 23 km²", a)
	}
	if a, b := registry.GeodesicArea(mp), geo.Area(mp); a != b {
		t.Errorf("GeodesicArea = %f, geo.Area = %f", a, b)
	}
}

// BenchmarkValidatePolygonal validates 50,000 star-shaped cells of 10–40 vertices, the size
// of a city's grid. The baseline is geo.Area over the same cells, the one pass over the
// vertices every import makes anyway.
func BenchmarkValidatePolygonal(b *testing.B) {
	const cells = 50_000
	rng := rand.New(rand.NewPCG(3, 4))
	polys := make([]orb.Polygon, cells)
	for i := range polys {
		c := orb.Point{106.5 + float64(i%250)*0.001, 29.5 + float64(i/250)*0.001}
		polys[i] = orb.Polygon{censusStarRing(rng, c, 0.0005, 10+rng.IntN(31))}
	}
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := censusCPU()
		for b.Loop() {
			for _, p := range polys {
				if _, probs := registry.ValidatePolygonal(p); len(probs) > 0 {
					b.Fatal(probs)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/cells, "ns/cell")
		b.ReportMetric(float64((censusCPU()-cpu0).Nanoseconds())/float64(b.N)/cells, "cpu-ns/cell")
	})
	b.Run("baseline=geo.Area", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0.0
		cpu0 := censusCPU()
		for b.Loop() {
			for _, p := range polys {
				sum += geo.Area(p)
			}
		}
		if sum <= 0 {
			b.Fatal("no area")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/cells, "ns/cell")
		b.ReportMetric(float64((censusCPU()-cpu0).Nanoseconds())/float64(b.N)/cells, "cpu-ns/cell")
	})
}

// censusCPU is the process's user+system CPU time, reported next to wall time because the
// benchmarks run on a shared machine.
func censusCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
