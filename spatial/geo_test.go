package spatial

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

func TestHaversineMatchesOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for n := 0; n < 10000; n++ {
		p := orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90}
		q := orb.Point{p[0] + rng.NormFloat64(), math.Max(-90, math.Min(90, p[1]+rng.NormFloat64()))}
		cosP := math.Cos(deg2rad(p[1]))
		want := geo.DistanceHaversine(p, q)
		if got := haversine(p, cosP, q); got != want {
			t.Fatalf("haversine(%v, %v) = %v, orb says %v", p, q, got, want)
		}
		if got := distanceOfA(haversineA(p, cosP, q)); got != want {
			t.Fatalf("distanceOfA(haversineA(%v, %v)) = %v, orb says %v", p, q, got, want)
		}
	}
}

// TestRectLowerBound checks the search's pruning bound against the exact value at many
// points of random rectangles, near and far, at all latitudes and across the antimeridian.
func TestRectLowerBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for n := 0; n < 20000; n++ {
		scale := []float64{1e-4, 1e-2, 1, 30}[n%4]
		p := orb.Point{rng.Float64()*360 - 180, rng.Float64()*170 - 85}
		if n%5 == 0 {
			p[1] = 29.5 + rng.Float64()
		}
		c := orb.Point{p[0] + rng.NormFloat64()*scale*3, p[1] + rng.NormFloat64()*scale*3}
		c[0] = math.Max(-180, math.Min(180, c[0]))
		c[1] = math.Max(-90, math.Min(90, c[1]))
		r := orb.Bound{Min: c, Max: orb.Point{math.Min(180, c[0]+rng.Float64()*scale), math.Min(90, c[1]+rng.Float64()*scale)}}
		rb := newRectBound(p)
		lb := rb.lowerA(r.Min[0], r.Min[1], r.Max[0], r.Max[1])
		for m := 0; m < 20; m++ {
			q := orb.Point{r.Min[0] + rng.Float64()*(r.Max[0]-r.Min[0]), r.Min[1] + rng.Float64()*(r.Max[1]-r.Min[1])}
			switch m {
			case 0:
				q = r.Min
			case 1:
				q = r.Max
			case 2:
				q = orb.Point{r.Min[0], math.Max(r.Min[1], math.Min(r.Max[1], p[1]))}
			}
			if a := haversineA(p, rb.cosP, q); a < lb {
				t.Fatalf("lowerA(%v, rect %v) = %g > exact %g at %v", p, r, lb, a, q)
			}
		}
	}
}

func TestRadiusBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for n := 0; n < 20000; n++ {
		p := orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90}
		if n%2 == 0 {
			p = orb.Point{106 + rng.Float64(), 29 + rng.Float64()}
		}
		r := []float64{1, 30, 1000, 500000}[n%4]
		b := radiusBound(p, r)
		// points at exactly r in random directions must be inside the box
		q := geo.PointAtBearingAndDistance(p, rng.Float64()*360, r*(1-1e-9))
		if q[0] > 180 {
			q[0] -= 360
		} else if q[0] < -180 {
			q[0] += 360
		}
		if geo.DistanceHaversine(p, q) <= r && !b.Contains(q) {
			t.Fatalf("radiusBound(%v, %g) = %v misses %v at %g m", p, r, b, q, geo.DistanceHaversine(p, q))
		}
	}
}
