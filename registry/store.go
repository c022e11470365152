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

	// PutCells creates cells whose code is new and replaces those whose code exists (keeping
	// their key, Version+1). It assigns Key, Version and Updated and returns the stored cells.
	PutCells(ctx context.Context, cells []Cell, actor string) ([]Cell, error)
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
	// PutUnits creates or replaces units by ID; DeleteUnit removes one (ErrUnitNotFound).
	PutUnits(ctx context.Context, units []Unit) ([]Unit, error)
	DeleteUnit(ctx context.Context, id string) error
	// PutRules creates or replaces rules by ID; with replace, every other rule is removed in
	// the same transaction. DeleteRule removes one (ErrRuleNotFound).
	PutRules(ctx context.Context, rules []Rule, replace bool) ([]Rule, error)
	DeleteRule(ctx context.Context, id string) error

	Close() error
}

// Overlap is a pair of cells whose interiors intersect, with a point inside both.
type Overlap struct {
	A, B  GridCode
	Point orb.Point
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
	ApplyCells(cells []Cell)
	ApplyComponents(comps []Component)
	SetUnits(units []Unit)
	SetRules(rules []Rule)
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
