package spatial

import (
	"math"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"citygrid/registry"
)

// Hit is a component as the index holds it.
type Hit struct {
	Key        registry.Key
	ID         registry.ComponentCode
	Class      string // 5-digit class; the 4-digit legacy class when it has no 2026 counterpart
	Status     registry.Status
	Point      orb.Point // lon/lat WGS84
	Cell       registry.GridCode
	Maintainer string
	Distance   float64 // metres from the query point (haversine); Nearest only
}

// Filter narrows component queries. The zero Filter matches every component that is not
// retired.
type Filter struct {
	// Classes are exact 5-digit (or 4-digit legacy) codes or 2-digit majors; empty = all.
	// A 4-digit code also matches components imported with that legacy class and mapped to a
	// 2026 class. A major matches the 2026 class (the legacy class when there is none).
	Classes []string
	// Statuses to include; empty means every status except registry.StatusRemoved: retired
	// components are kept in the index but seen only by asking for StatusRemoved.
	Statuses []registry.Status
	// Cell is a grid code prefix (district, street, community or whole cell); "" = all.
	Cell string
}

type filter struct {
	eff, leg []bool // by class id; nil = any class
	// sel lists the class ids with eff set (leg implies it): every match lies in their
	// class trees.
	sel    []uint16
	anyLeg bool  // some leg is set (the filter names an exact class)
	status uint8 // bit per registry.Status
	cell   string
}

func (s *snapshot) compileFilter(f Filter) (filter, error) {
	out := filter{cell: f.Cell}
	if len(f.Statuses) == 0 {
		for st := registry.StatusIntact; st < registry.StatusRemoved; st++ {
			out.status |= 1 << st
		}
	}
	for _, st := range f.Statuses {
		if st < registry.StatusIntact || st > registry.StatusRemoved {
			return filter{}, registry.ErrInvalidStatus
		}
		out.status |= 1 << st
	}
	if len(f.Classes) == 0 {
		return out, nil
	}
	var majors, exact []string
	for _, c := range f.Classes {
		switch {
		case len(c) == 2 && allDigits(c):
			majors = append(majors, c)
		case (len(c) == 4 || len(c) == 5) && allDigits(c):
			exact = append(exact, c)
		default:
			return filter{}, registry.ErrInvalidClass
		}
	}
	out.eff = make([]bool, len(s.classes))
	out.leg = make([]bool, len(s.classes))
	for id, name := range s.classes {
		if name == "" {
			continue
		}
		if slices.Contains(exact, name) {
			out.eff[id], out.leg[id] = true, true
			out.anyLeg = true
		} else {
			for _, m := range majors {
				if strings.HasPrefix(name, m) {
					out.eff[id] = true
				}
			}
		}
		if out.eff[id] {
			out.sel = append(out.sel, uint16(id))
		}
	}
	return out, nil
}

// itemMay reports whether a component-tree item can match f, judged from the item alone so
// that most excluded components cost no table read: its status must be admitted, and its
// class too unless the filter names exact classes and the component has a legacy class
// (whose id only the table holds).
func (f *filter) itemMay(it compItem) bool {
	if f.status&(1<<it.status) == 0 {
		return false
	}
	return f.eff == nil || f.eff[it.class] || it.legacy != 0 && f.anyLeg
}

// owns reports whether the walk of class tree cid is the one to report e. A component lies
// in the trees of its class and of its legacy class; when the filter selects both, only its
// class's tree reports it, so a walk over several class trees sees each component once.
func (f *filter) owns(cid uint16, e *compEntry) bool {
	return e.class == cid || !f.eff[e.class] && !f.leg[e.class]
}

// classTree is one class tree a query walks.
type classTree struct {
	cid uint16
	t   *rtree.RTreeGN[float32, uint32]
}

// classTreesOf returns the non-empty class trees that together hold every component f can
// match (nil when f names no classes) and the number of entries they hold. Only the trees of
// the retirement states f admits are included.
func (s *snapshot) classTreesOf(f *filter) (trees []classTree, size int) {
	live := f.status&^(1<<registry.StatusRemoved) != 0
	retired := f.status&(1<<registry.StatusRemoved) != 0
	for _, cid := range f.sel {
		for _, r := range [2]bool{false, true} {
			if r && !retired || !r && !live {
				continue
			}
			if t := s.classTree(classTreeKey(cid, r)); t != nil && t.Len() > 0 {
				if trees == nil {
					trees = make([]classTree, 0, len(f.sel))
				}
				trees = append(trees, classTree{cid, t})
				size += t.Len()
			}
		}
	}
	return trees, size
}

func (f *filter) match(s *snapshot, e *compEntry) bool {
	if f.status&(1<<e.status) == 0 {
		return false
	}
	if f.eff != nil && !f.eff[e.class] && !f.leg[e.legacy] {
		return false
	}
	return f.cell == "" || strings.HasPrefix(string(s.codes[e.cell]), f.cell)
}

func (s *snapshot) keyOf(slot uint32) registry.Key {
	if slot < directSlots {
		return registry.Key(slot)
	}
	return s.bigKey[slot-directSlots]
}

func (s *snapshot) slotOf(k registry.Key) (uint32, bool) {
	if k == 0 {
		return 0, false
	}
	if k < directSlots {
		return uint32(k), true
	}
	sl, ok := s.bigSlot[k]
	return sl, ok
}

func (s *snapshot) hit(slot uint32, e *compEntry) Hit {
	return Hit{
		Key:        s.keyOf(slot),
		ID:         registry.ComponentCodeFromUint64(e.id, e.flags&flagLegacyID != 0),
		Class:      s.classes[e.class],
		Status:     e.status,
		Point:      e.pt,
		Cell:       s.codes[e.cell],
		Maintainer: s.maints[e.maint],
	}
}

// ComponentByKey returns the component with key k, retired or not.
func (idx *Index) ComponentByKey(k registry.Key) (Hit, bool) {
	s := idx.load()
	sl, ok := s.slotOf(k)
	if !ok {
		return Hit{}, false
	}
	e := s.comps.get(sl)
	if e == nil {
		return Hit{}, false
	}
	return s.hit(sl, e), true
}

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
// the walk of the shared tree. Measured at 1,000,000 components (k = 5): a class walk costs
// 4–14 µs, the shared walk about 15 µs plus 0.2 µs per 1,000 components in k·N/M; 40 puts
// the switch near the break-even (5 mid-sized classes: trees 3× faster; 10 of them or a
// major such as "02": shared tree 1.3–3× faster).
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

// keyHeap keeps the smallest n keys seen (a max-heap on key), for paging in key order
// without collecting every match of a large box.
type keyHeap struct {
	n  int
	ks []keySlot
}

type keySlot struct {
	key  registry.Key
	slot uint32
}

// wants reports whether push would keep key k: a full heap only takes smaller keys. It lets
// a search skip the table read of a component that could not make the page.
func (h *keyHeap) wants(k registry.Key) bool {
	return h.n == 0 || len(h.ks) < h.n || k < h.ks[0].key
}

func (h *keyHeap) push(x keySlot) {
	if h.n > 0 && len(h.ks) == h.n {
		if x.key >= h.ks[0].key {
			return
		}
		h.ks[0] = x
		h.down(0)
		return
	}
	h.ks = append(h.ks, x)
	i := len(h.ks) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.ks[p].key >= h.ks[i].key {
			break
		}
		h.ks[p], h.ks[i] = h.ks[i], h.ks[p]
		i = p
	}
}

func (h *keyHeap) down(i int) {
	n := len(h.ks)
	for {
		l, big := 2*i+1, i
		if l < n && h.ks[l].key > h.ks[big].key {
			big = l
		}
		if r := l + 1; r < n && h.ks[r].key > h.ks[big].key {
			big = r
		}
		if big == i {
			return
		}
		h.ks[i], h.ks[big] = h.ks[big], h.ks[i]
		i = big
	}
}

// page sorts the kept keys and splits off the extra one that tells whether more remain.
func (h *keyHeap) page(limit int) (ks []keySlot, next registry.Key) {
	ks = h.ks
	slices.SortFunc(ks, func(a, b keySlot) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	if limit > 0 && len(ks) > limit {
		ks = ks[:limit]
		next = ks[limit-1].key
	}
	return ks, next
}

func newKeyHeap(limit int) *keyHeap {
	if limit <= 0 {
		return &keyHeap{}
	}
	return &keyHeap{n: limit + 1, ks: make([]keySlot, 0, min(limit+1, 1024))}
}

// Within returns the components matching f whose point lies in the closed box b (lon/lat
// WGS84), in ascending Key after cursor (0 = from the start), at most limit of them
// (limit ≤ 0: all). next is the cursor for the following page, 0 when there are no more.
// Retired components appear only when f asks for registry.StatusRemoved (see Filter).
// Cost: proportional to the components in b, or, when f names classes and that is cheaper,
// to the components of those classes in b (their class trees are searched instead).
// Errors: registry.ErrInvalidInput for a malformed box; ErrInvalidClass/ErrInvalidStatus.
func (idx *Index) Within(b orb.Bound, f Filter, limit int, cursor registry.Key) (hits []Hit, next registry.Key, err error) {
	if !validBound(b) {
		return nil, 0, registry.ErrInvalidInput
	}
	s := idx.load()
	flt, err := s.compileFilter(f)
	if err != nil {
		return nil, 0, err
	}
	trees, useTrees := s.withinPlan(&flt, b)
	hits, next = s.within(&flt, b, limit, cursor, trees, useTrees)
	return hits, next, nil
}

// within searches trees when useTrees (they must hold every component f can match), else
// the shared tree.
func (s *snapshot) within(flt *filter, b orb.Bound, limit int, cursor registry.Key, trees []classTree, useTrees bool) ([]Hit, registry.Key) {
	h := newKeyHeap(limit)
	min, max := boundRect32(b)
	if useTrees {
		for _, ct := range trees {
			cid := ct.cid
			ct.t.Search(min, max, func(_, _ [2]float32, slot uint32) bool {
				k := s.keyOf(slot)
				if k <= cursor || !h.wants(k) {
					return true
				}
				e := s.comps.get(slot)
				if e == nil || !inBound(b, e.pt) || !flt.owns(cid, e) || !flt.match(s, e) {
					return true
				}
				h.push(keySlot{k, slot})
				return true
			})
		}
	} else {
		s.compTree.Search(min, max, func(_, _ [2]float32, it compItem) bool {
			if !flt.itemMay(it) {
				return true
			}
			slot := it.slot
			k := s.keyOf(slot)
			if k <= cursor || !h.wants(k) {
				return true
			}
			e := s.comps.get(slot)
			if e == nil || !inBound(b, e.pt) || !flt.match(s, e) {
				return true
			}
			h.push(keySlot{k, slot})
			return true
		})
	}
	ks, next := h.page(limit)
	hits := make([]Hit, len(ks))
	for i, x := range ks {
		hits[i] = s.hit(x.slot, s.comps.get(x.slot))
	}
	return hits, next
}

// withinTreeCost is what searching one more class tree for a box costs, in components of
// other classes passed over by the shared tree's search. Measured at 1,000,000 components: a
// class tree search costs about 0.5 µs more than the one before, the shared search about
// 40 ns per component in the box; 32 leaves a margin for the many-tree searches (a major
// of 33 classes) whose cost grows with the box.
const withinTreeCost = 32

// withinPlan decides whether Within searches the class trees of f rather than the shared
// tree: it does when one tree holds every match, or when (T−1)·withinTreeCost is below the
// components of other classes the shared search would pass over, (N−M) times b's share of
// the index's bounding box (T trees holding M entries among N components).
func (s *snapshot) withinPlan(f *filter, b orb.Bound) ([]classTree, bool) {
	if f.eff == nil {
		return nil, false
	}
	trees, size := s.classTreesOf(f)
	if len(trees) <= 1 {
		return trees, true
	}
	n := s.compTree.Len()
	tmin, tmax := s.compTree.Bounds()
	w, h := float64(tmax[0])-float64(tmin[0]), float64(tmax[1])-float64(tmin[1])
	iw := math.Min(b.Max[0], float64(tmax[0])) - math.Max(b.Min[0], float64(tmin[0]))
	ih := math.Min(b.Max[1], float64(tmax[1])) - math.Max(b.Min[1], float64(tmin[1]))
	if iw < 0 || ih < 0 {
		return nil, false // b misses every component: the shared search ends at its root
	}
	share := 1.0
	if w > 0 {
		share *= math.Min(1, iw/w)
	}
	if h > 0 {
		share *= math.Min(1, ih/h)
	}
	return trees, float64(len(trees)-1)*withinTreeCost < float64(n-size)*share
}

// CellsWithin returns the cells whose polygon's bounding box meets the closed box b, in
// ascending Key after cursor, at most limit (≤ 0: all); next is 0 when there are no more.
// Cells stored without a key (0) are not listed. Errors: registry.ErrInvalidInput.
func (idx *Index) CellsWithin(b orb.Bound, limit int, cursor registry.Key) ([]*registry.Cell, registry.Key, error) {
	if !validBound(b) {
		return nil, 0, registry.ErrInvalidInput
	}
	s := idx.load()
	h := newKeyHeap(limit)
	s.cellTree.Search(b.Min, b.Max, func(_, _ [2]float64, slot uint32) bool {
		if k := s.cells[slot].cell.Key; k > cursor {
			h.push(keySlot{k, slot})
		}
		return true
	})
	ks, next := h.page(limit)
	out := make([]*registry.Cell, len(ks))
	for i, x := range ks {
		out[i] = &s.cells[x.slot].cell
	}
	return out, next, nil
}
