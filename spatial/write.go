package spatial

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"citygrid/registry"
)

// writer applies one batch to a private copy of a snapshot.
type writer struct {
	idx       *Index
	s         *snapshot // private copy, published by finish
	table     *tableWriter
	cellsCopy bool
	cellTree  bool
	compTree  bool
	treeList  bool            // s.classTrees is private to this batch
	treeOwn   map[uint32]bool // class trees already copied in this batch
	codeMap   bool
	keyMap    bool
	bigMap    bool
	classMap  bool
	// gridDirty collects the bounds of replaced and new cells for updateGrid.
	gridDirty []orb.Bound
}

// begin starts a batch on top of base. The caller holds idx.mu.
func (idx *Index) begin(base *snapshot) *writer {
	idx.gen++
	ns := *base
	return &writer{idx: idx, s: &ns, table: newTableWriter(base.comps, idx.gen)}
}

func (w *writer) finish() *snapshot {
	w.s.comps = w.table.t
	return w.s
}

func (w *writer) codeSlotFor(code registry.GridCode) uint32 {
	if code == "" {
		return 0
	}
	if sl, ok := w.s.codeSlot[code]; ok {
		return sl
	}
	if !w.codeMap {
		w.s.codeSlot = cloneMap(w.s.codeSlot, 1)
		w.codeMap = true
	}
	sl := uint32(len(w.s.codes))
	w.s.codes = append(w.s.codes, code)
	w.s.codeSlot[code] = sl
	return sl
}

// putCell indexes c in its code's slot. An active cell goes into the cell tree and the grid;
// a retired one keeps its entry (Index.Cell answers it) but has no shape, so that CellAt,
// Overlaps and the grid never meet it, and goes into the tree of retired cells instead.
func (w *writer) putCell(c *registry.Cell) {
	s := w.s
	slot := w.codeSlotFor(c.Code)
	if slot == 0 {
		return
	}
	if !w.cellsCopy {
		s.cells = slices.Clone(s.cells)
		w.cellsCopy = true
	}
	for len(s.cells) <= int(slot) {
		s.cells = append(s.cells, nil)
	}
	if !w.cellTree {
		s.cellTree = s.cellTree.Copy()
		s.retiredTree = s.retiredTree.Copy()
		w.cellTree = true
	}
	e := &cellEntry{cell: *c, district: c.Code.District()}
	e.cell.Geometry = orb.Clone(c.Geometry).(orb.MultiPolygon)
	retired := c.Status == registry.CellRetired
	if !retired {
		e.shape = newShape(e.cell.Geometry)
	}
	if !e.shape.empty() {
		w.gridDirty = append(w.gridDirty, e.shape.bound)
	}
	if old := s.cells[slot]; old != nil {
		if !old.shape.empty() {
			s.cellTree.Delete(old.shape.bound.Min, old.shape.bound.Max, slot)
			w.gridDirty = append(w.gridDirty, old.shape.bound)
		}
		if old.cell.Status == registry.CellRetired {
			if b, ok := geomBound(old.cell.Geometry); ok {
				s.retiredTree.Delete(b.Min, b.Max, slot)
			}
		} else {
			s.nCells--
		}
		if old.cell.Key != c.Key && old.cell.Key != 0 {
			w.cellKeyMap()
			delete(s.cellKey, old.cell.Key)
		}
	}
	if !retired {
		s.nCells++
	}
	s.cells[slot] = e
	if !e.shape.empty() {
		s.cellTree.Insert(e.shape.bound.Min, e.shape.bound.Max, slot)
	}
	if retired {
		if b, ok := geomBound(e.cell.Geometry); ok {
			s.retiredTree.Insert(b.Min, b.Max, slot)
		}
	}
	if c.Key != 0 && s.cellKey[c.Key] != slot {
		w.cellKeyMap()
		s.cellKey[c.Key] = slot
	}
}

// geomBound is the bound of a cell's geometry; ok is false when it has no point.
func geomBound(mp orb.MultiPolygon) (orb.Bound, bool) {
	for _, p := range mp {
		for _, r := range p {
			if len(r) > 0 {
				return mp.Bound(), true
			}
		}
	}
	return orb.Bound{}, false
}

func (w *writer) cellKeyMap() {
	if !w.keyMap {
		w.s.cellKey = cloneMap(w.s.cellKey, 1)
		w.keyMap = true
	}
}

// compSlot maps a component key to its table slot, allocating an overflow slot for a key
// beyond directSlots. ok is false for key 0 or when overflow slots run out.
func (w *writer) compSlot(k registry.Key) (uint32, bool) {
	if k == 0 {
		return 0, false
	}
	if k < directSlots {
		return uint32(k), true
	}
	if sl, ok := w.s.bigSlot[k]; ok {
		return sl, true
	}
	if len(w.s.bigKey) >= math.MaxUint32-directSlots {
		return 0, false
	}
	if !w.bigMap {
		w.s.bigSlot = cloneMap(w.s.bigSlot, 1)
		w.bigMap = true
	}
	sl := uint32(directSlots + len(w.s.bigKey))
	w.s.bigKey = append(w.s.bigKey, k)
	w.s.bigSlot[k] = sl
	return sl, true
}

func (w *writer) classIDFor(c string) uint16 {
	if id, ok := w.s.classID[c]; ok {
		return id
	}
	if len(w.s.classes) > math.MaxUint16 {
		return 0 // more distinct classes than any catalogue has: keep the component, lose the class
	}
	if !w.classMap {
		w.s.classID = cloneMap(w.s.classID, 1)
		w.classMap = true
	}
	id := uint16(len(w.s.classes))
	w.s.classes = append(w.s.classes, c)
	w.s.classID[c] = id
	return id
}

func (w *writer) maintIDFor(m string) uint32 {
	if id, ok := w.idx.maintIDs[m]; ok {
		return id
	}
	id := uint32(len(w.s.maints))
	w.s.maints = append(w.s.maints, m)
	w.idx.maintIDs[m] = id
	return id
}

func (w *writer) putComponent(c *registry.Component) {
	slot, ok := w.compSlot(c.Key)
	if !ok {
		return
	}
	s := w.s
	if !w.compTree {
		s.compTree = s.compTree.Copy()
		w.compTree = true
	}
	e := w.table.slot(slot)
	present := e.flags&flagPresent != 0
	if !present {
		s.nComps++
	}
	id := c.ID
	if id.IsZero() {
		id = c.LegacyID
	}
	class := c.Class
	if class == "" {
		class = c.LegacyClass
	}
	ne := compEntry{
		id:     id.Uint64(),
		pt:     c.Point,
		cell:   w.codeSlotFor(c.Cell),
		maint:  w.maintIDFor(c.Maintainer),
		class:  w.classIDFor(class),
		legacy: w.classIDFor(c.LegacyClass),
		status: c.Status,
		flags:  flagPresent,
	}
	if ne.status == 0 {
		ne.status = registry.StatusIntact // an unset status is a freshly surveyed component
	}
	if id.Legacy() {
		ne.flags |= flagLegacyID
	}
	oldItem, newItem := e.item(slot), ne.item(slot)
	if !present || e.pt != ne.pt || oldItem != newItem {
		// Points that are not valid lon/lat stay out of the trees (no query could find them)
		// but keep their table entry.
		if present && registry.ValidPoint(e.pt) {
			min, max := pointRect32(e.pt)
			s.compTree.Delete(min, max, oldItem)
		}
		if registry.ValidPoint(ne.pt) {
			min, max := pointRect32(ne.pt)
			s.compTree.Insert(min, max, newItem)
		}
	}
	retired, nowRetired := e.status == registry.StatusRemoved, ne.status == registry.StatusRemoved
	if !present || e.pt != ne.pt || e.class != ne.class || e.legacy != ne.legacy || retired != nowRetired {
		if present {
			keys, n := e.treeKeys()
			for _, tk := range keys[:n] {
				min, max := pointRect32(e.pt)
				w.classTree(tk).Delete(min, max, slot)
			}
		}
		keys, n := ne.treeKeys()
		for _, tk := range keys[:n] {
			min, max := pointRect32(ne.pt)
			w.classTree(tk).Insert(min, max, slot)
		}
	}
	*e = ne
}

// classTreeKey is the index in snapshot.classTrees of the tree holding the components of class
// id cid (as their class or their legacy class) that are retired (StatusRemoved) or not.
// Retired components have trees of their own so that Resolve, which never snaps to them,
// does not walk over them.
func classTreeKey(cid uint16, retired bool) uint32 {
	k := uint32(cid) << 1
	if retired {
		k |= 1
	}
	return k
}

// classTree returns the class tree tk, nil if there is none.
func (s *snapshot) classTree(tk uint32) *rtree.RTreeGN[float32, uint32] {
	if int(tk) < len(s.classTrees) {
		return s.classTrees[tk]
	}
	return nil
}

// treeKeys are the class trees an entry belongs to: none without a valid point or a class,
// else the trees of its class and of its legacy class.
func (e *compEntry) treeKeys() (keys [2]uint32, n int) {
	if !registry.ValidPoint(e.pt) || e.class == 0 {
		return keys, 0
	}
	retired := e.status == registry.StatusRemoved
	keys[0] = classTreeKey(e.class, retired)
	if e.legacy != 0 && e.legacy != e.class {
		keys[1] = classTreeKey(e.legacy, retired)
		return keys, 2
	}
	return keys, 1
}

// classTree returns the batch-private class tree tk, creating or copying it.
func (w *writer) classTree(tk uint32) *rtree.RTreeGN[float32, uint32] {
	if !w.treeList {
		w.s.classTrees = slices.Clone(w.s.classTrees)
		w.treeOwn = map[uint32]bool{}
		w.treeList = true
	}
	if n := int(tk) + 1; n > len(w.s.classTrees) {
		w.s.classTrees = append(w.s.classTrees, make([]*rtree.RTreeGN[float32, uint32], n-len(w.s.classTrees))...)
	}
	t := w.s.classTrees[tk]
	switch {
	case t == nil:
		t = &rtree.RTreeGN[float32, uint32]{}
		w.s.classTrees[tk] = t
		w.treeOwn[tk] = true
	case !w.treeOwn[tk]:
		t = t.Copy()
		w.s.classTrees[tk] = t
		w.treeOwn[tk] = true
	}
	return t
}

// pointRect32 is the smallest float32 rectangle that contains p: float32 rounds to nearest,
// so each side is stepped outward when rounding went inward. Exact float64 tests on the
// entries then find every point a float64 query would.
func pointRect32(p orb.Point) (min, max [2]float32) {
	for i := 0; i < 2; i++ {
		min[i], max[i] = down32(p[i]), up32(p[i])
	}
	return min, max
}

func down32(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

func up32(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

func boundRect32(b orb.Bound) (min, max [2]float32) {
	return [2]float32{down32(b.Min[0]), down32(b.Min[1])}, [2]float32{up32(b.Max[0]), up32(b.Max[1])}
}

func cloneMap[K comparable, V any](m map[K]V, extra int) map[K]V {
	c := make(map[K]V, len(m)+extra)
	for k, v := range m {
		c[k] = v
	}
	return c
}
