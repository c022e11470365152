package spatial

import (
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
