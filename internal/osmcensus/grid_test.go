package osmcensus

import (
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// testLattice is a lattice over a Vaduz-sized extent.
func testLattice(t testing.TB) lattice {
	t.Helper()
	return newLattice(orb.Bound{Min: orb.Point{9.50, 47.12}, Max: orb.Point{9.53, 47.15}}, 100)
}

// inRing is an even-odd point-in-ring test; the points it is used with are random, so
// boundary cases have probability zero.
func inRing(r orb.Ring, p orb.Point) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

func cross(o, a, b orb.Point) float64 {
	return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0])
}

// segmentsCross reports whether segments ab and cd properly cross or touch.
func segmentsCross(a, b, c, d orb.Point) bool {
	d1, d2 := cross(c, d, a), cross(c, d, b)
	d3, d4 := cross(a, b, c), cross(a, b, d)
	return (d1 > 0) != (d2 > 0) && (d3 > 0) != (d4 > 0) || d1 == 0 && d2 == 0 && d3 == 0 && d4 == 0
}

func TestLatticeRings(t *testing.T) {
	l := testLattice(t)
	var rect, bent, concave int
	for i := 0; i < l.cols; i++ {
		for j := 0; j < l.rows; j++ {
			r := l.ring(i, j)
			if !r.Closed() || len(r) < 5 {
				t.Fatalf("ring(%d, %d) = %v, want a closed ring of at least 4 vertices", i, j, r)
			}
			if o := r.Orientation(); o != orb.CCW {
				t.Errorf("ring(%d, %d).Orientation() = %v, want CCW", i, j, o)
			}
			n := len(r) - 1
			for a := 0; a < n; a++ {
				for b := a + 2; b < n; b++ {
					if a == 0 && b == n-1 {
						continue // adjacent through the closing vertex
					}
					if segmentsCross(r[a], r[a+1], r[b], r[b+1]) {
						t.Errorf("ring(%d, %d) edges %d and %d cross: %v", i, j, a, b, r)
					}
				}
			}
			isConcave := false
			for a := 0; a < n; a++ {
				if cross(r[(a+n-1)%n], r[a], r[(a+1)%n]) < 0 {
					isConcave = true
				}
			}
			switch {
			case isConcave:
				concave++
			case n == 4 && r[0][1] == r[1][1] && r[1][0] == r[2][0] && r[2][1] == r[3][1] && r[3][0] == r[0][0]:
				rect++
			default:
				bent++
			}
			// The east neighbour's west edge is this cell's east edge, reversed.
			if i+1 < l.cols {
				east := l.ring(i+1, j)
				mine := edge(r, l.vertex(i+1, j+1), l.vertex(i+1, j))
				theirs := edge(east, l.vertex(i+1, j), l.vertex(i+1, j+1))
				if !reversed(mine, theirs) {
					t.Errorf("cell %d,%d east edge %v, neighbour's west edge %v: not shared", i, j, mine, theirs)
				}
			}
		}
	}
	t.Logf("%d cells: %d rectangles, %d convex irregular, %d concave", l.cols*l.rows, rect, bent, concave)
	if rect == 0 || bent == 0 || concave == 0 {
		t.Errorf("rectangles, convex irregular, concave = %d, %d, %d, want some of each", rect, bent, concave)
	}
}

// edge returns the vertices of r from a to b (inclusive), following r's order.
func edge(r orb.Ring, a, b orb.Point) []orb.Point {
	n := len(r) - 1
	for s := 0; s < n; s++ {
		if r[s] != a {
			continue
		}
		out := []orb.Point{a}
		for k := 1; k < n; k++ {
			p := r[(s+k)%n]
			out = append(out, p)
			if p == b {
				return out
			}
		}
	}
	return nil
}

func reversed(a, b []orb.Point) bool {
	if len(a) == 0 || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[len(b)-1-i] {
			return false
		}
	}
	return true
}

// TestLatticeCoverage checks the jittered cells tile: a random point lies in exactly one
// ring, and that ring is its lattice cell or one of the eight neighbours.
func TestLatticeCoverage(t *testing.T) {
	l := testLattice(t)
	rng := rand.New(rand.NewPCG(1, 2))
	b := l.bound()
	for n := 0; n < 20000; n++ {
		// Stay one cell inside the lattice: the outermost ring of cells has no outer neighbours.
		p := orb.Point{
			b.Min[0] + l.dLon + rng.Float64()*(b.Max[0]-b.Min[0]-2*l.dLon),
			b.Min[1] + l.dLat + rng.Float64()*(b.Max[1]-b.Min[1]-2*l.dLat),
		}
		ci, cj := l.cellOf(p)
		var hits [][2]int
		for i := ci - 2; i <= ci+2; i++ {
			for j := cj - 2; j <= cj+2; j++ {
				if inRing(l.ring(i, j), p) {
					hits = append(hits, [2]int{i, j})
				}
			}
		}
		if len(hits) != 1 {
			t.Fatalf("point %v (lattice cell %d,%d) is in rings %v, want exactly one", p, ci, cj, hits)
		}
		if h := hits[0]; h[0] < ci-1 || h[0] > ci+1 || h[1] < cj-1 || h[1] > cj+1 {
			t.Fatalf("point %v (lattice cell %d,%d) is in ring %v, want a neighbour", p, ci, cj, h)
		}
	}
}

func TestLatticeDeterministic(t *testing.T) {
	a, b := testLattice(t), testLattice(t)
	for i := 0; i < 10; i++ {
		for j := 0; j < 10; j++ {
			ra, rb := a.ring(i, j), b.ring(i, j)
			if !ra.Equal(rb) {
				t.Fatalf("ring(%d, %d) = %v, then %v", i, j, ra, rb)
			}
		}
	}
}
