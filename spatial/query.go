package spatial

import (
	"math"
	"slices"
	"strings"

	"github.com/paulmach/orb"

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
	status   uint8  // bit per registry.Status
	cell     string
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
			continue
		}
		for _, m := range majors {
			if strings.HasPrefix(name, m) {
				out.eff[id] = true
			}
		}
	}
	return out, nil
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
// limits the search; 0 means unlimited. The R-tree is walked best-first with true lower
// bounds of the geodesic distance, so the result equals a brute-force scan.
// Without a radius, a filter that matches nothing near p makes the walk visit the whole tree.
// Errors: registry.ErrInvalidPoint; registry.ErrInvalidInput for k < 1 or a negative or
// NaN radius; registry.ErrInvalidClass / ErrInvalidStatus for a bad filter.
func (idx *Index) Nearest(p orb.Point, f Filter, k int, radius float64) ([]Hit, error) {
	if !validPoint(p) {
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
	if radius == 0 {
		radius = math.Inf(1)
	}
	// The walk is best-first on lower bounds of the haversine "a" term (monotone in distance):
	// nodes and items alike are ranked by a bound from their float32 rectangle, without
	// touching the component table or calling trigonometry. Only popped items get their exact
	// a; the walk stops when the next bound exceeds the k-th exact a, so no unseen item can
	// be nearer. Candidates are kept up to a hair past the k-th so rounding cannot drop a tie;
	// distances are computed from a at the end, exactly as orb/geo does.
	type cand struct {
		a    float64
		d    float64
		key  registry.Key
		slot uint32
	}
	found := make([]cand, 0, k+4)
	rb := newRectBound(p)
	cosP := rb.cosP
	inf := math.Inf(1)
	aStop := inf
	if !math.IsInf(radius, 1) {
		h := math.Sin(math.Min(radius/orb.EarthRadius, math.Pi) / 2)
		aStop = h * h * (1 + 1e-9)
	}
	const tie = 1 + 1e-12
	s.compTree.Nearby(
		func(min, max [2]float32, _ compItem, _ bool) float64 {
			return rb.lowerA(float64(min[0]), float64(min[1]), float64(max[0]), float64(max[1]))
		},
		func(_, _ [2]float32, it compItem, lb float64) bool {
			if lb > aStop || len(found) >= k && lb > found[k-1].a*tie {
				return false
			}
			if flt.status&(1<<it.status) == 0 {
				return true
			}
			slot := it.slot
			e := s.comps.get(slot)
			if e == nil || !flt.match(s, e) {
				return true
			}
			a := haversineA(p, cosP, e.pt)
			if a > aStop || len(found) >= k && a > found[k-1].a*tie {
				return true
			}
			// insert in order of a, then drop what fell behind the (new) k-th
			i := len(found)
			found = append(found, cand{})
			for i > 0 && found[i-1].a > a {
				found[i] = found[i-1]
				i--
			}
			found[i] = cand{a: a, key: s.keyOf(slot), slot: slot}
			if len(found) > k {
				lim := found[k-1].a * tie
				for len(found) > k && found[len(found)-1].a > lim {
					found = found[:len(found)-1]
				}
			}
			return true
		},
	)
	n := 0
	for _, c := range found {
		c.d = distanceOfA(c.a)
		if c.d <= radius {
			found[n] = c
			n++
		}
	}
	found = found[:n]
	slices.SortFunc(found, func(a, b cand) int {
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
	if len(found) > k {
		found = found[:k]
	}
	hits := make([]Hit, len(found))
	for i, c := range found {
		hits[i] = s.hit(c.slot, s.comps.get(c.slot))
		hits[i].Distance = c.d
	}
	return hits, nil
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
	h := newKeyHeap(limit)
	min, max := boundRect32(b)
	s.compTree.Search(min, max, func(_, _ [2]float32, it compItem) bool {
		if flt.status&(1<<it.status) == 0 {
			return true
		}
		slot := it.slot
		k := s.keyOf(slot)
		if k <= cursor {
			return true
		}
		e := s.comps.get(slot)
		if e == nil || !inBound(b, e.pt) || !flt.match(s, e) {
			return true
		}
		h.push(keySlot{k, slot})
		return true
	})
	ks, next := h.page(limit)
	hits = make([]Hit, len(ks))
	for i, x := range ks {
		hits[i] = s.hit(x.slot, s.comps.get(x.slot))
	}
	return hits, next, nil
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
