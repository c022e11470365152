package spatial

import (
	"cmp"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"citygrid/registry"
)

// ActiveCodes returns the codes of the active indexed cells under the code prefix (all of them
// for ""), sorted. It walks every cell slot: a grid revision asks it once.
func (idx *Index) ActiveCodes(prefix string) []registry.GridCode {
	s := idx.load()
	var out []registry.GridCode
	for _, e := range s.cells {
		if e != nil && e.cell.Status != registry.CellRetired && strings.HasPrefix(string(e.cell.Code), prefix) {
			out = append(out, e.cell.Code)
		}
	}
	slices.Sort(out)
	return out
}

// PlanRevision decides where the components of area go when its active cells are replaced by
// cells (see registry.Index). The components searched are those under the bounds of the
// area's active cells whose cell code is under area; each new place is judged as CellAt
// judges: among the new cells whose closed polygon contains the point, the smallest code.
// Moves are sorted by key, stranded components by identifier.
func (idx *Index) PlanRevision(area string, cells []*registry.Cell) (moves []registry.CellMove, stranded []registry.ComponentRef) {
	s := idx.load()
	sorted := slices.Clone(cells)
	slices.SortFunc(sorted, func(a, b *registry.Cell) int { return cmp.Compare(a.Code, b.Code) })
	shapes := make([]shape, len(sorted))
	var tmp rtree.RTreeGN[float64, int]
	for i, c := range sorted {
		shapes[i] = newShape(c.Geometry)
		if !shapes[i].empty() {
			tmp.Insert(shapes[i].bound.Min, shapes[i].bound.Max, i)
		}
	}
	inArea := map[uint32]bool{}
	var bound orb.Bound
	found := false
	for code, slot := range s.codeSlot {
		if !strings.HasPrefix(string(code), area) {
			continue
		}
		inArea[slot] = true
		if int(slot) < len(s.cells) && s.cells[slot] != nil && !s.cells[slot].shape.empty() {
			if b := s.cells[slot].shape.bound; found {
				bound = bound.Union(b)
			} else {
				bound, found = b, true
			}
		}
	}
	if !found {
		return nil, nil
	}
	min, max := boundRect32(bound)
	var cand []int
	s.compTree.Search(min, max, func(_, _ [2]float32, it compItem) bool {
		e := s.comps.get(it.slot)
		if e == nil || !inArea[e.cell] {
			return true
		}
		id := registry.ComponentCodeFromUint64(e.id, e.flags&flagLegacyID != 0)
		cand = cand[:0]
		tmp.Search(e.pt, e.pt, func(_, _ [2]float64, i int) bool {
			cand = append(cand, i)
			return true
		})
		slices.Sort(cand) // code order
		to := -1
		for _, i := range cand {
			if shapes[i].contains(e.pt) {
				to = i
				break
			}
		}
		switch {
		case to < 0:
			stranded = append(stranded, registry.ComponentRef{ID: id, Point: e.pt})
		case sorted[to].Code != s.codes[e.cell]:
			moves = append(moves, registry.CellMove{Key: s.keyOf(it.slot), ID: id, From: s.codes[e.cell], To: sorted[to].Code})
		}
		return true
	})
	slices.SortFunc(moves, func(a, b registry.CellMove) int { return cmp.Compare(a.Key, b.Key) })
	slices.SortFunc(stranded, func(a, b registry.ComponentRef) int { return cmp.Compare(a.ID.Uint64(), b.ID.Uint64()) })
	return moves, stranded
}
