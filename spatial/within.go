package spatial

import (
	"math"
	"slices"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

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
// other classes passed over by the shared tree's search; it leaves a margin for the
// many-tree searches (a major of 33 classes) whose cost grows with the box. The costs it was
// set from are in docs/benchmarks.md, "Figures behind the code".
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

// CellsWithin returns the active cells whose polygon's bounding box meets the closed box b, in
// ascending Key after cursor, at most limit (≤ 0: all); next is 0 when there are no more.
// Cells stored without a key (0) are not listed. Errors: registry.ErrInvalidInput.
func (idx *Index) CellsWithin(b orb.Bound, limit int, cursor registry.Key) ([]*registry.Cell, registry.Key, error) {
	return idx.CellsWithinStatus(b, true, false, limit, cursor)
}

// CellsWithinStatus is CellsWithin for the active cells, the retired ones, or both.
func (idx *Index) CellsWithinStatus(b orb.Bound, active, retired bool, limit int, cursor registry.Key) ([]*registry.Cell, registry.Key, error) {
	if !validBound(b) {
		return nil, 0, registry.ErrInvalidInput
	}
	s := idx.load()
	h := newKeyHeap(limit)
	push := func(_, _ [2]float64, slot uint32) bool {
		if k := s.cells[slot].cell.Key; k > cursor {
			h.push(keySlot{k, slot})
		}
		return true
	}
	if active {
		s.cellTree.Search(b.Min, b.Max, push)
	}
	if retired && s.retiredTree != nil {
		s.retiredTree.Search(b.Min, b.Max, push)
	}
	ks, next := h.page(limit)
	out := make([]*registry.Cell, len(ks))
	for i, x := range ks {
		out[i] = &s.cells[x.slot].cell
	}
	return out, next, nil
}
