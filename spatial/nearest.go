package spatial

import (
	"math"
	"slices"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// Nearest returns up to k components matching f nearest to p (lon/lat WGS84), by geodesic
// distance: haversine on a sphere of radius orb.EarthRadius (6378137 m), the same value as
// orb/geo.DistanceHaversine. Results are in ascending distance, ties by key. radius (metres)
// limits the search; 0 means unlimited. R-trees are walked best-first with true lower
// bounds of the geodesic distance, so the result equals a brute-force scan.
//
// Cost: when f names classes, the search walks the small per-class trees of those classes
// (majors expand to their classes) unless they are so many, and together so common, that
// the shared tree is cheaper; a class with no component answers at once. A filter on
// Statuses or Cell alone walks the shared tree of all components, and without a radius one
// that matches nothing near p makes that walk visit the whole tree (about 0.2 s at
// 1,000,000 components): give such queries a radius.
// Errors: registry.ErrInvalidPoint; registry.ErrInvalidInput for k < 1 or a negative or
// NaN radius; registry.ErrInvalidClass / ErrInvalidStatus for a bad filter.
func (idx *Index) Nearest(p orb.Point, f Filter, k int, radius float64) ([]Hit, error) {
	if !registry.ValidPoint(p) {
		return nil, registry.ErrInvalidPoint
	}
	if k < 1 || !(radius >= 0) {
		return nil, registry.ErrInvalidInput
	}
	s := idx.load()
	flt, err := s.compileFilter(f)
	if err != nil {
		return nil, err
	}
	trees, useTrees := s.nearestPlan(&flt, k)
	return s.nearest(&flt, p, k, radius, trees, useTrees), nil
}

// nearest runs the k-NN search over trees when useTrees (they must hold every component f
// can match, in any order), else over the shared tree.
func (s *snapshot) nearest(f *filter, p orb.Point, k int, radius float64, trees []classTree, useTrees bool) []Hit {
	q := newKNN(s, f, p, k, radius)
	if useTrees {
		q.walkTrees(trees)
	} else {
		q.walkAll()
	}
	return q.hits()
}

// nnTreeCost is what the k-NN walk of one more class tree costs, in components visited by
// the walk of the shared tree; it puts the switch near the measured break-even
// (docs/benchmarks.md, "Figures behind the code").
const nnTreeCost = 40

// nearestPlan decides whether Nearest walks the class trees of f (returned, largest first)
// rather than the shared tree: it does when one tree holds every match, or when
// (T−1)·nnTreeCost ≤ k·N/M for T trees holding M entries among N components. The shared walk
// visits about k·N/M components to find k matches, if the classes mix evenly in space.
func (s *snapshot) nearestPlan(f *filter, k int) ([]classTree, bool) {
	if f.eff == nil {
		return nil, false
	}
	trees, size := s.classTreesOf(f)
	if len(trees) > 1 {
		n := float64(s.compTree.Len())
		if float64(len(trees)-1)*nnTreeCost > float64(k)*n/float64(size) {
			return nil, false
		}
		// The largest tree most likely holds the nearest matches: walked first, it gives the
		// tightest bound for pruning the others.
		slices.SortFunc(trees, func(a, b classTree) int { return b.t.Len() - a.t.Len() })
	}
	return trees, true
}

// knn is one k-nearest search. The walks are best-first on lower bounds of the haversine
// "a" term (monotone in distance): nodes and items alike are ranked by a bound from their
// float32 rectangle, without touching the component table or calling trigonometry. Only
// offered components get their exact a; a walk stops when the next bound exceeds the k-th
// exact a, so no unseen component can be nearer. Several walks (one per class tree) share
// found, each pruned by what the previous ones found. Candidates are kept up to a hair past
// the k-th so rounding cannot drop a tie; distances are computed from a at the end, exactly
// as orb/geo does.
type knn struct {
	s      *snapshot
	f      *filter
	p      orb.Point
	rb     rectBound
	k      int
	radius float64 // metres; +Inf when unlimited
	aStop  float64 // the radius as an a term, a hair above; +Inf when unlimited
	found  []nnCand
}

type nnCand struct {
	a    float64
	d    float64
	key  registry.Key
	slot uint32
}

// nnTie is the relative margin within which candidates past the k-th are kept as possible ties.
const nnTie = 1 + 1e-12

func newKNN(s *snapshot, f *filter, p orb.Point, k int, radius float64) *knn {
	q := &knn{s: s, f: f, p: p, rb: newRectBound(p), k: k, radius: radius, aStop: math.Inf(1),
		found: make([]nnCand, 0, k+4)}
	if radius == 0 {
		q.radius = math.Inf(1)
	} else {
		h := math.Sin(math.Min(radius/orb.EarthRadius, math.Pi) / 2)
		q.aStop = h * h * (1 + 1e-9)
	}
	return q
}

// pruned reports whether a component whose a term is at least lb cannot be among the results.
func (q *knn) pruned(lb float64) bool {
	return lb > q.aStop || len(q.found) >= q.k && lb > q.found[q.k-1].a*nnTie
}

func (q *knn) lowerA(min, max [2]float32) float64 {
	return q.rb.lowerA(float64(min[0]), float64(min[1]), float64(max[0]), float64(max[1]))
}

// offer considers a matching component: it is inserted in order of a, and what fell behind
// the (new) k-th is dropped.
func (q *knn) offer(slot uint32, e *compEntry) {
	a := haversineA(q.p, q.rb.cosP, e.pt)
	if q.pruned(a) {
		return
	}
	found := q.found
	i := len(found)
	found = append(found, nnCand{})
	for i > 0 && found[i-1].a > a {
		found[i] = found[i-1]
		i--
	}
	found[i] = nnCand{a: a, key: q.s.keyOf(slot), slot: slot}
	if k := q.k; len(found) > k {
		lim := found[k-1].a * nnTie
		for len(found) > k && found[len(found)-1].a > lim {
			found = found[:len(found)-1]
		}
	}
	q.found = found
}

// walkAll searches the shared tree of every component.
func (q *knn) walkAll() {
	s, f, rb := q.s, q.f, q.rb
	s.compTree.Nearby(
		func(min, max [2]float32, _ compItem, _ bool) float64 {
			return rb.lowerA(float64(min[0]), float64(min[1]), float64(max[0]), float64(max[1]))
		},
		func(_, _ [2]float32, it compItem, lb float64) bool {
			if q.pruned(lb) {
				return false
			}
			if !f.itemMay(it) {
				return true
			}
			e := s.comps.get(it.slot)
			if e != nil && f.match(s, e) {
				q.offer(it.slot, e)
			}
			return true
		},
	)
}

// walkTrees searches the given class trees, which hold every component the filter matches.
func (q *knn) walkTrees(trees []classTree) {
	s, f := q.s, q.f
	for _, ct := range trees {
		if min, max := ct.t.Bounds(); q.pruned(q.lowerA(min, max)) {
			continue
		}
		cid := ct.cid
		ct.t.Nearby(
			func(min, max [2]float32, _ uint32, _ bool) float64 { return q.lowerA(min, max) },
			func(_, _ [2]float32, slot uint32, lb float64) bool {
				if q.pruned(lb) {
					return false
				}
				e := s.comps.get(slot)
				if e != nil && f.owns(cid, e) && f.match(s, e) {
					q.offer(slot, e)
				}
				return true
			},
		)
	}
}

// hits turns the candidates into the results: within the radius, by distance then key, k
// at most.
func (q *knn) hits() []Hit {
	found := q.found
	n := 0
	for _, c := range found {
		c.d = distanceOfA(c.a)
		if c.d <= q.radius {
			found[n] = c
			n++
		}
	}
	found = found[:n]
	slices.SortFunc(found, func(a, b nnCand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	if len(found) > q.k {
		found = found[:q.k]
	}
	hits := make([]Hit, len(found))
	for i, c := range found {
		hits[i] = q.s.hit(c.slot, q.s.comps.get(c.slot))
		hits[i].Distance = c.d
	}
	return hits
}
