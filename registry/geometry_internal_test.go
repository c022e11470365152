package registry

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
)

// jaggedRing is a closed ring of n vertices around c with random radii; with wild set the
// radii range from 0 to r and the ring often crosses itself.
func jaggedRing(rng *rand.Rand, c orb.Point, r float64, n int, wild bool) orb.Ring {
	ring := make(orb.Ring, 0, n+1)
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / float64(n)
		if wild {
			a = 2 * math.Pi * rng.Float64()
		}
		rr := r * (0.5 + 0.5*rng.Float64())
		// Snap to a coarse lattice so that touching vertices and collinear edges occur.
		p := orb.Point{math.Round((c[0]+rr*math.Cos(a))*1e3) / 1e3, math.Round((c[1]+rr*math.Sin(a))*1e3) / 1e3}
		if len(ring) > 0 && ring[len(ring)-1] == p {
			continue
		}
		ring = append(ring, p)
	}
	return append(ring, ring[0])
}

func TestRingSelfIntersectionSweepMatchesBrute(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	found := 0
	for i := 0; i < 3000; i++ {
		ring := jaggedRing(rng, orb.Point{0, 0}, 0.05, 4+rng.IntN(60), i%2 == 0)
		if len(ring) < 4 || ring[len(ring)-2] == ring[0] {
			continue
		}
		_, _, _, brute := ringSelfIntersectionBrute(ring)
		_, _, _, sweep := ringSelfIntersectionSweep(ring)
		if brute != sweep {
			t.Fatalf("ring %v: brute force found %v, sweep found %v", ring, brute, sweep)
		}
		if brute {
			found++
		}
	}
	if found < 100 || found > 2900 {
		t.Errorf("%d of 3000 random rings intersect themselves: the generator does not test both outcomes", found)
	}
}

// BenchmarkRingSelfIntersection compares the pairwise check (the baseline) with the sweep on
// cell-sized and district-sized simple rings, where every pair must be looked at.
func BenchmarkRingSelfIntersection(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{16, 40, 200, 400, 800, 2000} {
		ring := make(orb.Ring, 0, n+1)
		for i := 0; i < n; i++ {
			a := 2 * math.Pi * float64(i) / float64(n)
			rr := 0.01 * (0.95 + 0.05*rng.Float64()) // a boundary wiggles; it does not zigzag
			ring = append(ring, orb.Point{106.5 + rr*math.Cos(a), 29.5 + rr*math.Sin(a)})
		}
		ring = append(ring, ring[0])
		for _, alg := range []struct {
			name string
			fn   func(orb.Ring) (orb.Point, int, int, bool)
		}{{"baseline=brute", ringSelfIntersectionBrute}, {"sweep", ringSelfIntersectionSweep}} {
			b.Run(alg.name+"/vertices="+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					if _, _, _, bad := alg.fn(ring); bad {
						b.Fatal("simple ring reported as self-intersecting")
					}
				}
			})
		}
	}
}
