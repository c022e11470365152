package registry

import (
	"context"
	"fmt"

	"github.com/paulmach/orb"
)

// Store persists the registry. Every method that writes is one transaction: it either
// stores everything it was given or nothing. Implementations: store/bolt (embedded default)
// and store/postgres; store/storetest is the conformance suite both pass.
type Store interface {
	// ForEachCell and ForEachComponent stream every stored record in key order; used to
	// rebuild the index at start. fn's argument is only valid during the call.
	ForEachCell(ctx context.Context, fn func(*Cell) error) error
	ForEachComponent(ctx context.Context, fn func(*Component) error) error
	Units(ctx context.Context) ([]Unit, error)
	Rules(ctx context.Context) ([]Rule, error) // sorted by Order, then ID

	// Cell returns ErrCellNotFound when no cell has code.
	Cell(ctx context.Context, code GridCode) (Cell, error)
	// Component looks a component up by its identifier, or by the legacy identifier it was
	// imported with. Returns ErrComponentNotFound.
	Component(ctx context.Context, id ComponentCode) (Component, error)
	// ComponentsByKey returns the components with the given keys, in the same order;
	// ErrComponentNotFound if any is missing.
	ComponentsByKey(ctx context.Context, keys []Key) ([]Component, error)
	// History returns every change of the component, oldest first. Returns ErrComponentNotFound.
	History(ctx context.Context, id ComponentCode) ([]Change, error)
	// CellHistory returns every change of the cell with code, oldest first: Before is the
	// After of the entry before it (nil on the first). Returns ErrCellNotFound.
	CellHistory(ctx context.Context, code GridCode) ([]Revision[Cell], error)

	// PutCells creates cells whose code is new and replaces those whose code exists (keeping
	// their key, Version+1). It assigns Key, Version and Updated and returns the stored cells.
	// Cells are stored with the Status and Retired they carry. Each change is recorded in the
	// cell's history with actor.
	PutCells(ctx context.Context, cells []Cell, actor string) ([]Cell, error)
	// ReviseCells applies a grid revision in one transaction: it stores rev.Cells as PutCells
	// does (active), retires the cells named by rev.Retire (Status CellRetired, Retired and
	// Updated now, Version+1, op retire in history and feed) and updates rev.Moves as
	// PutComponents does with the components' Version as the expected version. Errors, after
	// which nothing is stored: ErrCellNotFound (a code of Retire is not stored), ErrDuplicate
	// (a code named twice in Cells and Retire), ErrVersionConflict (a moved component changed),
	// and those of PutCells and PutComponents.
	ReviseCells(ctx context.Context, rev CellRevision, actor string) (RevisionResult, error)
	// PutComponents creates components whose ID is new (Key assigned, Version 1; a zero ID is
	// assigned as district of Cell + Class + next free serial for that district and class) and
	// updates those whose ID exists (Version+1). Each change is recorded in the history with
	// actor. If expect is non-nil, expect[i] > 0 is the version comps[i] must currently have,
	// else the whole call fails with ErrVersionConflict. It may overwrite the elements of
	// comps, and return a slice sharing its array, whether or not it succeeds: a caller
	// that needs comps afterwards passes a copy.
	PutComponents(ctx context.Context, comps []Component, expect []int64, actor string) ([]Component, error)
	// PutComponentsNoted is PutComponents whose history entries of updates carry note (Change.Note:
	// why the change was made, e.g. a retirement's reason); "" is no note.
	PutComponentsNoted(ctx context.Context, comps []Component, expect []int64, actor, note string) ([]Component, error)
	// PutUnits creates or replaces units by ID (Version 1 on create, +1 on replace, Updated
	// stamped), recording each change with actor in the unit's history and on the feed, in the
	// same transaction. DeleteUnit removes one (ErrUnitNotFound), recording the delete; the
	// history of a deleted unit stays.
	PutUnits(ctx context.Context, units []Unit, actor string) ([]Unit, error)
	DeleteUnit(ctx context.Context, id, actor string) error
	// PutRules creates or replaces rules by ID and removes the stored rules whose ids are in
	// remove (an id not stored is skipped), all in one transaction, recording each change with
	// actor in the rule's history and on the feed. An id both in rules and in remove is an
	// error wrapping ErrInvalidInput. DeleteRule removes one (ErrRuleNotFound).
	PutRules(ctx context.Context, rules []Rule, remove []string, actor string) ([]Rule, error)
	DeleteRule(ctx context.Context, id, actor string) error
	// UnitHistory and RuleHistory return every change of the unit or rule with id, oldest
	// first, also after it was deleted: an empty list for a record stored before histories
	// were kept, ErrUnitNotFound (ErrRuleNotFound) when there is neither record nor history.
	UnitHistory(ctx context.Context, id string) ([]Revision[Unit], error)
	RuleHistory(ctx context.Context, id string) ([]Revision[Rule], error)

	Close() error
}

// CellRevision is a grid revision (Store.ReviseCells): the cells stored as new or changed, the
// cells retired, and the components moved to a cell of the new grid (each with its new Cell
// and the Version it has now). Note goes into the history of every retired cell.
type CellRevision struct {
	Area   string
	Cells  []Cell
	Retire []GridCode
	Moves  []Component
	Note   string
}

// RevisionResult is what ReviseCells stored: the cells put, the cells retired and the
// components moved, each as stored now.
type RevisionResult struct {
	Cells   []Cell
	Retired []Cell
	Moved   []Component
}

// Overlap is a pair of cells whose interiors intersect, with a point inside both.
type Overlap struct {
	A, B  GridCode
	Point orb.Point
}

// CellMove is a component that a grid revision moves to another cell.
type CellMove struct {
	Key  Key
	ID   ComponentCode
	From GridCode
	To   GridCode
}

// ComponentRef names a component and its point (lon/lat WGS84/CGCS2000).
type ComponentRef struct {
	ID    ComponentCode
	Point orb.Point
}

// Index is what the Service needs from the spatial index (implemented by spatial.Index).
// The index is updated only after the store has committed.
type Index interface {
	// CellAt returns the cell containing p, or ErrOutsideGrid.
	CellAt(p orb.Point) (*Cell, error)
	// Overlaps returns the overlaps of the given cells with each other and with indexed cells
	// of other codes (an indexed cell with the same code is being replaced, so it is ignored).
	Overlaps(cells []*Cell) []Overlap
	// ComponentOutside returns a component of any status (retired included) whose cell is
	// cell.Code and whose point cell.Geometry would not contain if it replaced the indexed
	// cell, judged exactly as CellAt judges containment (closed polygons); ok is false when
	// there is none. A cell being replaced must keep every component located in it, since a
	// component's Cell is never recomputed when a cell changes.
	ComponentOutside(cell *Cell) (ref ComponentRef, ok bool)
	// ApplyCells indexes stored cells: a retired one stops answering CellAt and Overlaps but
	// stays readable by code.
	ApplyCells(cells []Cell)
	// ActiveCodes returns the codes of the active indexed cells under the code prefix, sorted.
	ActiveCodes(prefix string) []GridCode
	// PlanRevision decides where the components of an area go when its grid is replaced by
	// cells: every indexed component (any status) located in an active cell under the prefix
	// area is moved to the cell of cells that contains its point (judged as CellAt judges:
	// the smallest code among those whose closed polygon contains it). moves lists those
	// whose cell changes; stranded those no cell of cells contains.
	PlanRevision(area string, cells []*Cell) (moves []CellMove, stranded []ComponentRef)
	ApplyComponents(comps []Component)
	SetUnits(units []Unit)
	SetRules(rules []Rule)
	// HasCells reports whether an indexed cell's code is prefix or starts with it.
	HasCells(prefix string) bool
}

// Identifier assignment. A component stored without an identifier gets one from its cell's
// district and its class: District(Cell) + Class + a free 6-digit serial: the next one above
// every identifier ever stored with that prefix (the stores keep the highest serial per prefix,
// and a batch's own identifiers count too) that names no stored component, and past 999999 the
// lowest free one. Both stores assign with AssignIDs: the rules live here, and a store only
// reads its counters and names and writes its counters.

// MaxSerial is the highest serial of an identifier (its last 6 digits).
const MaxSerial = 999999

// AssignPrefix returns the prefix of the identifier a store assigns to c: its cell's district
// (6 digits) and its class (5 digits) as the number district·10⁵ + class, so that the assigned
// identifier is prefix·10⁶ + serial. It returns an error wrapping ErrInvalidInput when c has
// no cell or no 5-digit (GB/T 47678.5-2026) class.
func AssignPrefix(c *Component) (uint64, error) {
	d, cl := c.Cell.District(), c.Class
	if len(d) != 6 || len(cl) != 5 || d[0] == '0' {
		return 0, assignErr(c)
	}
	dn, ok1 := digits(d)
	cn, ok2 := digits(cl)
	if !ok1 || !ok2 {
		return 0, assignErr(c)
	}
	return dn*100000 + cn, nil
}

func assignErr(c *Component) error {
	return fmt.Errorf("assigning an identifier needs a cell and a 5-digit class, have cell %q class %q: %w",
		c.Cell, c.Class, ErrInvalidInput)
}

// CheckIDs rejects the empty and repeated IDs of a batch of n units or rules, id(i) being the
// ID of element i: an error wrapping ErrInvalidInput or ErrDuplicate.
func CheckIDs(n int, id func(int) string) error {
	seen := make(map[string]int, n)
	for i := 0; i < n; i++ {
		s := id(i)
		if s == "" {
			return fmt.Errorf("element %d: empty id: %w", i, ErrInvalidInput)
		}
		if j, ok := seen[s]; ok {
			return fmt.Errorf("id %s at elements %d and %d: %w", s, j, i, ErrDuplicate)
		}
		seen[s] = i
	}
	return nil
}

// CheckRuleWrite rejects a PutRules batch with an empty or repeated id (errors as CheckIDs), or
// an id both to store and to remove (ErrInvalidInput).
func CheckRuleWrite(rules []Rule, remove []string) error {
	if err := CheckIDs(len(rules), func(i int) string { return rules[i].ID }); err != nil {
		return err
	}
	for _, id := range remove {
		for _, r := range rules {
			if r.ID == id {
				return fmt.Errorf("rule %s is both to store and to remove: %w", id, ErrInvalidInput)
			}
		}
	}
	return nil
}

// DistrictBoundaries are the outlines of administrative districts (loaded at run time with
// -boundaries; spatial.Boundaries), against which a census checks that a cell lies in the
// district its code names.
type DistrictBoundaries interface {
	// Inside reports whether p (WGS84) lies inside the district's boundary; known is false
	// when there is no boundary for the district.
	Inside(district string, p orb.Point) (inside, known bool)
}

// CheckCellCodes refuses a malformed code (ErrInvalidGridCode) and a code given twice
// (ErrDuplicate) among the cells put and the codes retired by one store write: both stores
// check a PutCells or ReviseCells batch with it before they write.
func CheckCellCodes(cells []Cell, retire []GridCode) error {
	seen := make(map[GridCode]int, len(cells)+len(retire))
	for i := 0; i < len(cells)+len(retire); i++ {
		var code GridCode
		if i < len(cells) {
			code = cells[i].Code
		} else {
			code = retire[i-len(cells)]
		}
		if _, err := ParseGridCode(string(code)); err != nil {
			return fmt.Errorf("cell %d %q: %w", i, code, err)
		}
		if j, ok := seen[code]; ok {
			return fmt.Errorf("cell %s at elements %d and %d: %w", code, j, i, ErrDuplicate)
		}
		seen[code] = i
	}
	return nil
}
