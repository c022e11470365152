// Package spatial is the in-memory index over grid cells and components that every
// feature shares: point → cell (CellAt), nearest and in-box component queries, and the
// Art. 13 responsibility lookup (Resolve). It also converts between WGS84/CGCS2000 and the
// GCJ-02 and BD-09 datums of Chinese map providers (crs.go).
//
// All coordinates are WGS84/CGCS2000 lon/lat degrees; distances are metres.
//
// Concurrency: reads never block on writes. The index publishes immutable snapshots through
// an atomic pointer; writers serialize on a mutex, take O(1) copy-on-write copies of the
// R-trees (tidwall/rtree Copy) and of the component table (copying only the touched
// chunks), apply their batch and publish. Pointers returned by reads (*registry.Cell,
// *registry.Unit, Resolution fields) point into a snapshot and must be treated as
// read-only; they stay valid after later writes.
package spatial

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"citygrid/registry"
)

// DefaultSnapRadius is the radius (metres) within which Resolve attributes a problem to a
// component's maintainer when Options.SnapRadius is zero.
const DefaultSnapRadius = 30

// Options configures an Index.
type Options struct {
	// SnapRadius is how far (metres, geodesic) a component may lie from the reported point for
	// its maintainer to be responsible (Resolve step 1). Zero means DefaultSnapRadius.
	SnapRadius float64
}

// Index is the shared spatial index. The zero value is not usable; call New.
type Index struct {
	opts Options
	snap atomic.Pointer[snapshot]

	mu  sync.Mutex // serializes writers; everything below is writer-only state
	gen uint64     // generation of the current write batch (copy-on-write of the table)
	// interning maps; the interned strings themselves live in append-only snapshot slices
	maintIDs map[string]uint32
}

var _ registry.Index = (*Index)(nil)

// New returns an empty index. It answers queries at once (with nothing found) and reports
// Ready only after Load.
func New(opts Options) *Index {
	if opts.SnapRadius <= 0 || math.IsNaN(opts.SnapRadius) {
		opts.SnapRadius = DefaultSnapRadius
	}
	idx := &Index{opts: opts}
	idx.snap.Store(idx.emptySnapshot())
	return idx
}

// directSlots is the first key that does not map to its own slot: keys are dense small
// integers in practice, and a key beyond this (up to registry.MaxKey) gets an overflow slot
// so the table stays small.
const directSlots = 1 << 26

// snapshot is one immutable state of the index. Slices marked append-only share their backing
// array with later snapshots, which only write beyond this snapshot's length.
type snapshot struct {
	ready bool

	// cells, by cell slot. Slots are interned grid codes: a component's cell is a slot even
	// when no cell with that code is indexed (cells[slot] == nil).
	codes    []registry.GridCode // append-only; slot 0 is ""
	codeSlot map[registry.GridCode]uint32
	cells    []*cellEntry // copied on each cell batch
	cellKey  map[registry.Key]uint32
	cellTree *rtree.RTreeGN[float64, uint32]
	grid     *cellGrid // answers most point → cell questions without cellTree (cellgrid.go)
	nCells   int

	// components, by slot (= key below directSlots).
	comps    compTable
	compTree *rtree.RTreeGN[float32, compItem]
	// classTrees index the components with a valid point and a class by class id and
	// retirement (see classTreeKey), under their current and their legacy class: Resolve's 30 m
	// search walks the small tree of one class's live components instead of the whole
	// component tree, and Nearest and Within walk the trees of the classes a filter names
	// when that is cheaper (query.go). Indexed by classTreeKey; nil where no such tree was
	// ever needed, and trees emptied by updates stay (with Len 0). Copied when a batch first
	// changes a tree (two pointers per class).
	classTrees []*rtree.RTreeGN[float32, uint32]
	nComps     int
	bigSlot    map[registry.Key]uint32 // keys ≥ directSlots → slot
	bigKey     []registry.Key          // append-only; slot directSlots+i → key
	classes    []string                // append-only; 0 is ""
	classID    map[string]uint16       // copied when a class is added (classes are few)
	maints     []string                // append-only; 0 is ""

	units units
	rules ruleSet
}

type cellEntry struct {
	// district first: it shares a cache line with the cell's code and name, which a lookup
	// answer reads too (Resolve's fallback reads the district).
	district string
	cell     registry.Cell
	shape    shape
}

func (idx *Index) emptySnapshot() *snapshot {
	idx.maintIDs = map[string]uint32{"": 0}
	return &snapshot{
		codes:    []registry.GridCode{""},
		codeSlot: map[registry.GridCode]uint32{},
		cells:    []*cellEntry{nil},
		cellKey:  map[registry.Key]uint32{},
		cellTree: &rtree.RTreeGN[float64, uint32]{},
		compTree: &rtree.RTreeGN[float32, compItem]{},
		bigSlot:  map[registry.Key]uint32{},
		classes:  []string{""},
		classID:  map[string]uint16{"": 0},
		maints:   []string{""},
		units:    compileUnits(nil),
		rules:    compileRules(nil, compileUnits(nil)),
	}
}

func (idx *Index) load() *snapshot { return idx.snap.Load() }

// Load rebuilds the index from s (every cell, component, unit and rule) and marks it ready.
// Writes wait while it runs; reads go on against the previous snapshot until it publishes.
// On error (the store's, or ctx's) the previous snapshot stays.
func (idx *Index) Load(ctx context.Context, s registry.Store) error {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	old := idx.maintIDs
	ns, err := idx.build(ctx, s)
	if err != nil {
		idx.maintIDs = old
		return err
	}
	idx.snap.Store(ns)
	return nil
}

func (idx *Index) build(ctx context.Context, s registry.Store) (*snapshot, error) {
	w := idx.begin(idx.emptySnapshot())
	n := 0
	check := func() error {
		if n++; n%4096 == 0 {
			return ctx.Err()
		}
		return nil
	}
	err := s.ForEachCell(ctx, func(c *registry.Cell) error {
		w.putCell(c)
		return check()
	})
	if err != nil {
		return nil, fmt.Errorf("load cells: %w", err)
	}
	w.s.grid = buildCellGrid(w.s)
	w.gridDirty = nil
	err = s.ForEachComponent(ctx, func(c *registry.Component) error {
		w.putComponent(c)
		return check()
	})
	if err != nil {
		return nil, fmt.Errorf("load components: %w", err)
	}
	us, err := s.Units(ctx)
	if err != nil {
		return nil, fmt.Errorf("load units: %w", err)
	}
	rs, err := s.Rules(ctx)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	ns := w.finish()
	ns.units = compileUnits(us)
	ns.rules = compileRules(rs, ns.units)
	ns.ready = true
	return ns, nil
}

// Ready reports whether Load has completed.
func (idx *Index) Ready() bool { return idx.load().ready }

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
		w.cellTree = true
	}
	e := &cellEntry{cell: *c, district: c.Code.District()}
	e.cell.Geometry = orb.Clone(c.Geometry).(orb.MultiPolygon)
	e.shape = newShape(e.cell.Geometry)
	if !e.shape.empty() {
		w.gridDirty = append(w.gridDirty, e.shape.bound)
	}
	if old := s.cells[slot]; old != nil {
		if !old.shape.empty() {
			s.cellTree.Delete(old.shape.bound.Min, old.shape.bound.Max, slot)
			w.gridDirty = append(w.gridDirty, old.shape.bound)
		}
		if old.cell.Key != c.Key && old.cell.Key != 0 {
			w.cellKeyMap()
			delete(s.cellKey, old.cell.Key)
		}
	} else {
		s.nCells++
	}
	s.cells[slot] = e
	if !e.shape.empty() {
		s.cellTree.Insert(e.shape.bound.Min, e.shape.bound.Max, slot)
	}
	if c.Key != 0 && s.cellKey[c.Key] != slot {
		w.cellKeyMap()
		s.cellKey[c.Key] = slot
	}
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

// ApplyCells indexes cells after the store committed them: a cell whose code is indexed is
// replaced (its key and code stay), others are added. Cells are never removed. The batch
// copies the cell slot table once (O(cells)); cell imports are rare.
func (idx *Index) ApplyCells(cells []registry.Cell) {
	if len(cells) == 0 {
		return
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	w := idx.begin(idx.load())
	for i := range cells {
		w.putCell(&cells[i])
	}
	w.updateGrid(w.gridDirty)
	idx.snap.Store(w.finish())
}

// ApplyComponents indexes components after the store committed them, by Key: new keys are
// added, known keys replaced (moved, reclassified, retired). A component with Key 0 is
// ignored; a zero Status is taken as StatusIntact. Retired components (StatusRemoved) stay
// in the index; see Filter for who sees them. One component's update copies O(1) data: a
// path in each R-tree and one 256-entry chunk of the component table.
func (idx *Index) ApplyComponents(comps []registry.Component) {
	if len(comps) == 0 {
		return
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	w := idx.begin(idx.load())
	for i := range comps {
		w.putComponent(&comps[i])
	}
	idx.snap.Store(w.finish())
}

// SetUnits replaces every unit (the store's full list).
func (idx *Index) SetUnits(us []registry.Unit) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	ns := *idx.load()
	ns.units = compileUnits(us)
	ns.rules = compileRules(ns.rules.source, ns.units)
	idx.snap.Store(&ns)
}

// SetRules replaces every rule (the store's full list; any order).
func (idx *Index) SetRules(rs []registry.Rule) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	ns := *idx.load()
	ns.rules = compileRules(rs, ns.units)
	idx.snap.Store(&ns)
}

// Stats counts what the index holds.
type Stats struct {
	Cells, Components, Units, Rules int
}

// Stats returns the counts of the current snapshot. Components include retired ones.
func (idx *Index) Stats() Stats {
	s := idx.load()
	return Stats{Cells: s.nCells, Components: s.nComps, Units: len(s.units.list), Rules: len(s.rules.source)}
}

// Cell returns the indexed cell with code.
func (idx *Index) Cell(code registry.GridCode) (*registry.Cell, bool) {
	s := idx.load()
	sl, ok := s.codeSlot[code]
	if !ok || int(sl) >= len(s.cells) || s.cells[sl] == nil {
		return nil, false
	}
	return &s.cells[sl].cell, true
}

// CellByKey returns the indexed cell with key k.
func (idx *Index) CellByKey(k registry.Key) (*registry.Cell, bool) {
	s := idx.load()
	sl, ok := s.cellKey[k]
	if !ok || s.cells[sl] == nil {
		return nil, false
	}
	return &s.cells[sl].cell, true
}

// Unit returns the unit with id.
func (idx *Index) Unit(id string) (*registry.Unit, bool) {
	u := idx.load().units
	i, ok := u.byID[id]
	if !ok {
		return nil, false
	}
	return &u.list[i], true
}

// Units returns every unit, sorted by ID. The slice is a copy; the units' own slices are
// shared and read-only.
func (idx *Index) Units() []registry.Unit { return slices.Clone(idx.load().units.list) }

// Rules returns every rule in evaluation order (Order, then ID). The slice is a copy.
func (idx *Index) Rules() []registry.Rule { return slices.Clone(idx.load().rules.source) }

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
