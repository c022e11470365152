package spatial

import (
	"sort"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"citygrid/registry"
)

// CellAt returns the cell whose closed polygon contains p (lon/lat WGS84). A point on the
// boundary belongs to the cell; a point on an edge or vertex shared by several cells (or on a
// hole's edge that another cell fills) belongs to the cell with the smallest code among those
// whose closure contains it, so every point has exactly one answer. "On the edge" is decided
// in floating point on the edge's canonical endpoint order, identically for every cell that
// shares the edge. Returns registry.ErrInvalidPoint for NaN/infinite or out-of-range
// coordinates and registry.ErrOutsideGrid when no cell contains p.
func (idx *Index) CellAt(p orb.Point) (*registry.Cell, error) {
	if !registry.ValidPoint(p) {
		return nil, registry.ErrInvalidPoint
	}
	return cellResult(p, idx.load().cellAt(p))
}

// cellResult is CellAt's answer for p, whose cell (when valid) is e.
func cellResult(p orb.Point, e *cellEntry) (*registry.Cell, error) {
	switch {
	case !registry.ValidPoint(p):
		return nil, registry.ErrInvalidPoint
	case e == nil:
		return nil, registry.ErrOutsideGrid
	}
	return &e.cell, nil
}

func (s *snapshot) cellAt(p orb.Point) *cellEntry {
	v := s.grid.lookup(p)
	switch {
	case v == 0:
		return s.cellAtTree(p)
	case v&listBit == 0:
		return s.cells[v-1]
	}
	return s.listedCell(v, p)
}

// listedCell is cellAt for a point in a listed bucket (v, its value).
func (s *snapshot) listedCell(v uint32, p orb.Point) *cellEntry {
	for _, slot := range s.grid.list(v) { // in code order, as cellAtTree tries them
		if e := s.cells[slot]; e.shape.contains(p) {
			return e
		}
	}
	return nil
}

// cellAtTree is cellAt without the grid: the R-tree's candidates, tested in code order.
func (s *snapshot) cellAtTree(p orb.Point) *cellEntry {
	// Candidates are tried in code order so the first hit is the answer; a grid point has only
	// a handful of candidates, kept on the stack.
	var buf [16]*cellEntry
	cand := buf[:0]
	s.cellTree.Search(p, p, func(_, _ [2]float64, slot uint32) bool {
		cand = append(cand, s.cells[slot])
		return true
	})
	for i := 1; i < len(cand); i++ {
		for j := i; j > 0 && cand[j].cell.Code < cand[j-1].cell.Code; j-- {
			cand[j], cand[j-1] = cand[j-1], cand[j]
		}
	}
	for _, e := range cand {
		if e.shape.contains(p) {
			return e
		}
	}
	return nil
}

// Overlaps returns the pairs among cells, and between cells and indexed cells of other codes,
// whose interiors intersect, each with a point inside both. Indexed cells whose code is among
// cells are being replaced and are ignored. Cells that only share edges or vertices do not
// overlap; overlaps narrower than about 0.1 mm (1e-9°) are taken as rounding noise. Pairs are
// sorted by A, then B, with A from cells.
func (idx *Index) Overlaps(cells []*registry.Cell) []registry.Overlap {
	s := idx.load()
	batch := make(map[registry.GridCode]bool, len(cells))
	shapes := make([]shape, len(cells))
	var tmp rtree.RTreeGN[float64, int]
	for i, c := range cells {
		batch[c.Code] = true
		shapes[i] = newShape(c.Geometry)
		if !shapes[i].empty() {
			tmp.Insert(shapes[i].bound.Min, shapes[i].bound.Max, i)
		}
	}
	var out []registry.Overlap
	for i, c := range cells {
		sh := &shapes[i]
		if sh.empty() {
			continue
		}
		s.cellTree.Search(sh.bound.Min, sh.bound.Max, func(_, _ [2]float64, slot uint32) bool {
			e := s.cells[slot]
			if batch[e.cell.Code] {
				return true
			}
			if pt, ok := commonInterior(sh, &e.shape); ok {
				out = append(out, registry.Overlap{A: c.Code, B: e.cell.Code, Point: pt})
			}
			return true
		})
		tmp.Search(sh.bound.Min, sh.bound.Max, func(_, _ [2]float64, j int) bool {
			if j <= i {
				return true
			}
			if pt, ok := commonInterior(sh, &shapes[j]); ok {
				a, b := c.Code, cells[j].Code
				if b < a {
					a, b = b, a
				}
				out = append(out, registry.Overlap{A: a, B: b, Point: pt})
			}
			return true
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out
}

// ComponentOutside returns a component of any status whose cell is cell.Code and whose point
// lies outside the closure of cell.Geometry, the test CellAt uses; ok is false when there is
// none. The Service calls it before replacing a cell, so that no component is left with a
// Cell that no longer contains it. Components located in a cell lie inside its indexed
// geometry, so only the component tree under that geometry's bound is searched: the cost is
// proportional to the components in and around the cell, not to the index. A code with no
// indexed cell has no components to lose.
func (idx *Index) ComponentOutside(cell *registry.Cell) (registry.ComponentRef, bool) {
	s := idx.load()
	slot, ok := s.codeSlot[cell.Code]
	if !ok || int(slot) >= len(s.cells) || s.cells[slot] == nil {
		return registry.ComponentRef{}, false
	}
	old := s.cells[slot]
	if old.shape.empty() {
		return registry.ComponentRef{}, false
	}
	ns := newShape(cell.Geometry)
	var out registry.ComponentRef
	found := false
	min, max := boundRect32(old.shape.bound)
	s.compTree.Search(min, max, func(_, _ [2]float32, it compItem) bool {
		e := s.comps.get(it.slot)
		if e == nil || e.cell != slot || ns.contains(e.pt) {
			return true
		}
		out = registry.ComponentRef{ID: registry.ComponentCodeFromUint64(e.id, e.flags&flagLegacyID != 0), Point: e.pt}
		found = true
		return false
	})
	return out, found
}
