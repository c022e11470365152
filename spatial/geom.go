package spatial

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// shape is a MultiPolygon prepared for repeated point-in-polygon tests: bounds of the whole
// and of each polygon are computed once (orb's planar.RingContains recomputes the ring
// bound on every call).
type shape struct {
	bound orb.Bound
	polys []shapePoly
}

type shapePoly struct {
	bound orb.Bound
	rings []orb.Ring // exterior first, then holes
}

func newShape(mp orb.MultiPolygon) shape {
	s := shape{polys: make([]shapePoly, 0, len(mp))}
	first := true
	for _, p := range mp {
		if len(p) == 0 || len(p[0]) == 0 {
			continue
		}
		b := p[0].Bound()
		s.polys = append(s.polys, shapePoly{bound: b, rings: p})
		if first {
			s.bound = b
			first = false
		} else {
			s.bound = s.bound.Union(b)
		}
	}
	return s
}

func (s *shape) empty() bool { return len(s.polys) == 0 }

func inBound(b orb.Bound, p orb.Point) bool {
	return p[0] >= b.Min[0] && p[0] <= b.Max[0] && p[1] >= b.Min[1] && p[1] <= b.Max[1]
}

// contains reports whether p lies in the closure of the multipolygon: its interior or its
// boundary, including the boundary of a hole.
func (s *shape) contains(p orb.Point) bool {
	if !inBound(s.bound, p) {
		return false
	}
	for i := range s.polys {
		sp := &s.polys[i]
		if inBound(sp.bound, p) && polyContains(sp.rings, p) {
			return true
		}
	}
	return false
}

func polyContains(rings []orb.Ring, p orb.Point) bool {
	in, on := ringLocate(rings[0], p)
	if on {
		return true
	}
	if !in {
		return false
	}
	for _, h := range rings[1:] {
		in, on := ringLocate(h, p)
		if on {
			return true // the hole's edge belongs to the polygon's closure
		}
		if in {
			return false
		}
	}
	return true
}

// ringLocate is a crossing-number test with an exact on-boundary test in the same pass.
// Each edge's side test is evaluated on the edge's endpoints in canonical order (lower y
// first), so an edge shared by two cells, whichever way each ring runs, gives bit-identical
// results in both: a point is on the boundary of both or of neither, and otherwise inside
// exactly one of them. The ring need not repeat its first point.
func ringLocate(r orb.Ring, p orb.Point) (inside, onBoundary bool) {
	n := len(r)
	if n < 2 {
		return false, false
	}
	x, y := p[0], p[1]
	a := r[n-1]
	for i := 0; i < n; i++ {
		b := r[i]
		ay, by := a[1], b[1]
		if (ay <= y) != (by <= y) {
			lo, hi := a, b
			if ay > by {
				lo, hi = b, a
			}
			c := (hi[0]-lo[0])*(y-lo[1]) - (hi[1]-lo[1])*(x-lo[0])
			if c == 0 {
				return false, true
			}
			if c > 0 {
				inside = !inside
			}
		} else if ay == y || by == y {
			if ay == by {
				if (a[0] <= x && x <= b[0]) || (b[0] <= x && x <= a[0]) {
					return false, true
				}
			} else if (ay == y && a[0] == x) || (by == y && b[0] == x) {
				return false, true
			}
		}
		a = b
	}
	return inside, false
}

// commonInterior returns a point inside the interiors of both s and t, if their interiors
// intersect. It sweeps horizontal lines through the middle of every strip between
// consecutive "event" heights (vertices of either shape and crossings of their edges):
// within such a strip the width of the intersection varies linearly, so if it is zero on the
// middle line it is zero throughout the strip. Overlaps narrower than minOverlap degrees
// (~0.1 mm) are taken as rounding noise, not as overlaps.
func commonInterior(s, t *shape) (orb.Point, bool) {
	ib, ok := intersectBound(s.bound, t.bound)
	if !ok || ib.Max[0]-ib.Min[0] <= minOverlap || ib.Max[1]-ib.Min[1] <= minOverlap {
		return orb.Point{}, false
	}
	es := s.edges(ib)
	et := t.edges(ib)
	if len(es) == 0 && len(et) == 0 {
		return orb.Point{}, false
	}
	ys := []float64{ib.Min[1], ib.Max[1]}
	for _, e := range es {
		ys = appendIn(ys, e[0][1], ib)
		ys = appendIn(ys, e[1][1], ib)
	}
	for _, e := range et {
		ys = appendIn(ys, e[0][1], ib)
		ys = appendIn(ys, e[1][1], ib)
	}
	for _, a := range es {
		for _, b := range et {
			if y, ok := crossingY(a, b); ok {
				ys = appendIn(ys, y, ib)
			}
		}
	}
	slices.Sort(ys)
	ys = slices.Compact(ys)
	var xs, xt []float64
	for i := 0; i+1 < len(ys); i++ {
		y := (ys[i] + ys[i+1]) / 2
		if !(y > ys[i] && y < ys[i+1]) {
			continue
		}
		xs = crossingsAt(xs[:0], es, y)
		xt = crossingsAt(xt[:0], et, y)
		if x, ok := overlapIntervals(xs, xt); ok {
			return orb.Point{x, y}, true
		}
	}
	return orb.Point{}, false
}

const minOverlap = 1e-9

func intersectBound(a, b orb.Bound) (orb.Bound, bool) {
	r := orb.Bound{
		Min: orb.Point{math.Max(a.Min[0], b.Min[0]), math.Max(a.Min[1], b.Min[1])},
		Max: orb.Point{math.Min(a.Max[0], b.Max[0]), math.Min(a.Max[1], b.Max[1])},
	}
	return r, r.Min[0] <= r.Max[0] && r.Min[1] <= r.Max[1]
}

func appendIn(ys []float64, y float64, b orb.Bound) []float64 {
	if y > b.Min[1] && y < b.Max[1] {
		ys = append(ys, y)
	}
	return ys
}

type edge [2]orb.Point

// edges returns the non-horizontal edges whose y-range meets b's, endpoints in canonical
// order (lower y first).
func (s *shape) edges(b orb.Bound) []edge {
	var out []edge
	for i := range s.polys {
		sp := &s.polys[i]
		if sp.bound.Max[1] < b.Min[1] || sp.bound.Min[1] > b.Max[1] {
			continue
		}
		for _, r := range sp.rings {
			n := len(r)
			if n < 2 {
				continue
			}
			a := r[n-1]
			for _, c := range r {
				lo, hi := a, c
				a = c
				if lo[1] == hi[1] {
					continue
				}
				if lo[1] > hi[1] {
					lo, hi = hi, lo
				}
				if hi[1] < b.Min[1] || lo[1] > b.Max[1] {
					continue
				}
				out = append(out, edge{lo, hi})
			}
		}
	}
	return out
}

// crossingsAt appends the x of every edge crossing the line at height y, sorted. Edges are
// canonical, so an edge shared by two shapes yields the same x for both.
func crossingsAt(xs []float64, es []edge, y float64) []float64 {
	for _, e := range es {
		lo, hi := e[0], e[1]
		if lo[1] <= y && y < hi[1] {
			xs = append(xs, lo[0]+(y-lo[1])*(hi[0]-lo[0])/(hi[1]-lo[1]))
		}
	}
	slices.Sort(xs)
	return xs
}

// overlapIntervals intersects the even-odd interior intervals of two crossing lists and
// returns the middle of the first common interval wider than minOverlap.
func overlapIntervals(a, b []float64) (float64, bool) {
	i, j := 0, 0
	for i+1 < len(a) && j+1 < len(b) {
		lo := math.Max(a[i], b[j])
		hi := math.Min(a[i+1], b[j+1])
		if hi-lo > minOverlap {
			return (lo + hi) / 2, true
		}
		if a[i+1] < b[j+1] {
			i += 2
		} else {
			j += 2
		}
	}
	return 0, false
}

// crossingY returns the height where segments a and b cross at a single point interior to
// both (a proper crossing).
func crossingY(a, b edge) (float64, bool) {
	d1 := orient(b[0], b[1], a[0])
	d2 := orient(b[0], b[1], a[1])
	d3 := orient(a[0], a[1], b[0])
	d4 := orient(a[0], a[1], b[1])
	if !((d1 > 0 && d2 < 0 || d1 < 0 && d2 > 0) && (d3 > 0 && d4 < 0 || d3 < 0 && d4 > 0)) {
		return 0, false
	}
	t := d1 / (d1 - d2)
	return a[0][1] + t*(a[1][1]-a[0][1]), true
}

func orient(a, b, c orb.Point) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

// segmentMeetsRect reports whether segment ab has a point in the closed rectangle r
// (Liang–Barsky clipping). With open, the point must lie in r's interior.
func segmentMeetsRect(a, b orb.Point, r orb.Bound, open bool) bool {
	t0, t1 := 0.0, 1.0
	dx, dy := b[0]-a[0], b[1]-a[1]
	clip := func(p, q float64) bool {
		if p == 0 {
			return q >= 0
		}
		t := q / p
		if p < 0 {
			if t > t1 {
				return false
			}
			if t > t0 {
				t0 = t
			}
		} else {
			if t < t0 {
				return false
			}
			if t < t1 {
				t1 = t
			}
		}
		return true
	}
	if !clip(-dx, a[0]-r.Min[0]) || !clip(dx, r.Max[0]-a[0]) ||
		!clip(-dy, a[1]-r.Min[1]) || !clip(dy, r.Max[1]-a[1]) {
		return false
	}
	if !open {
		return true
	}
	// The clipped piece is a chord of the convex rectangle: if any of it is interior, its
	// middle is.
	tm := (t0 + t1) / 2
	m := orb.Point{a[0] + tm*dx, a[1] + tm*dy}
	return m[0] > r.Min[0] && m[0] < r.Max[0] && m[1] > r.Min[1] && m[1] < r.Max[1]
}

// intersectsRect reports whether the closure of s meets the closed rectangle r.
func (s *shape) intersectsRect(r orb.Bound) bool {
	if _, ok := intersectBound(s.bound, r); !ok {
		return false
	}
	if s.contains(r.Center()) {
		return true
	}
	return s.anyEdge(r, false)
}

// containsRect reports whether the closed rectangle r lies in the closure of s.
func (s *shape) containsRect(r orb.Bound) bool {
	if !inBound(s.bound, r.Min) || !inBound(s.bound, r.Max) {
		return false
	}
	return s.contains(r.Center()) && !s.anyEdge(r, true)
}

func (s *shape) anyEdge(r orb.Bound, open bool) bool {
	for i := range s.polys {
		sp := &s.polys[i]
		if _, ok := intersectBound(sp.bound, r); !ok {
			continue
		}
		for _, ring := range sp.rings {
			n := len(ring)
			if n < 2 {
				continue
			}
			a := ring[n-1]
			for _, b := range ring {
				if segmentMeetsRect(a, b, r, open) {
					return true
				}
				a = b
			}
		}
	}
	return false
}
