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
	"strings"
	"sync"
	"sync/atomic"

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
	cellTree *rtree.RTreeGN[float64, uint32] // active cells
	grid     *cellGrid                       // answers most point → cell questions without cellTree (cellgrid.go)
	nCells   int                             // active cells
	// retiredTree holds the retired cells by the bound of their geometry, for listings only:
	// their entries have no shape, so nothing else meets them.
	retiredTree *rtree.RTreeGN[float64, uint32]

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
		codes:       []registry.GridCode{""},
		codeSlot:    map[registry.GridCode]uint32{},
		cells:       []*cellEntry{nil},
		cellKey:     map[registry.Key]uint32{},
		cellTree:    &rtree.RTreeGN[float64, uint32]{},
		retiredTree: &rtree.RTreeGN[float64, uint32]{},
		compTree:    &rtree.RTreeGN[float32, compItem]{},
		bigSlot:     map[registry.Key]uint32{},
		classes:     []string{""},
		classID:     map[string]uint16{"": 0},
		maints:      []string{""},
		units:       compileUnits(nil),
		rules:       compileRules(nil, compileUnits(nil)),
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

// ApplyCells indexes cells after the store committed them: a cell whose code is indexed is
// replaced (its key and code stay), others are added. Cells are never removed: a retired cell
// (registry.CellRetired) stays readable through Cell, CellByKey and CellsWithinStatus, but
// CellAt, lookups, Overlaps and CellsWithin no longer meet it. The batch copies the cell slot
// table once (O(cells)); cell imports are rare.
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

// Stats returns the counts of the current snapshot. Cells are the active ones; components
// include retired ones.
func (idx *Index) Stats() Stats {
	s := idx.load()
	return Stats{Cells: s.nCells, Components: s.nComps, Units: len(s.units.list), Rules: len(s.rules.source)}
}

// Cell returns the indexed cell with code, active or retired (see its Status).
func (idx *Index) Cell(code registry.GridCode) (*registry.Cell, bool) {
	s := idx.load()
	sl, ok := s.codeSlot[code]
	if !ok || int(sl) >= len(s.cells) || s.cells[sl] == nil {
		return nil, false
	}
	return &s.cells[sl].cell, true
}

// HasCells reports whether an indexed cell's code is prefix or starts with it (a district,
// street or community that has at least one cell, or a cell code); "" is true when any cell
// is indexed.
func (idx *Index) HasCells(prefix string) bool {
	s := idx.load()
	active := func(sl int) bool {
		return sl < len(s.cells) && s.cells[sl] != nil && s.cells[sl].cell.Status != registry.CellRetired
	}
	if sl, ok := s.codeSlot[registry.GridCode(prefix)]; ok && active(int(sl)) {
		return true
	}
	for sl, code := range s.codes {
		if active(sl) && strings.HasPrefix(string(code), prefix) {
			return true
		}
	}
	return false
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
