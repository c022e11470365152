package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"
)

// Service is the registry's write path: census imports and surveyor edits. It validates
// input against the catalogue and the spatial index, writes through the Store in one
// transaction, and only then updates the index, so readers of the index never see a write
// the store did not commit. Writes are serialised; reads go straight to the index or store.
// When several nodes share one store, each loads its index with LoadIndex and applies the
// others' writes with Follow (follow.go).
type Service struct {
	store   Store
	index   Index
	catalog *Catalog
	log     *slog.Logger

	mu sync.Mutex // serialises writes: validation must see the state it writes against
	// applyMu makes a store write and the index update after it one step, and Follow's read
	// of the feed and its apply another, so that the index never goes back to an older record:
	// a feed entry read before a local write is not applied after it. Taken after mu.
	applyMu sync.Mutex

	hub     hub           // woken after every local write and every applied feed batch
	applied atomic.Uint64 // the change seq the index reflects (see AppliedSeq)
	follow  atomic.Bool   // Follow is running
	// following: Follow has read the feed at least once (Following)
	following atomic.Bool

	// MaxProblems caps the problems kept in one report (the counts stay exact).
	MaxProblems int
	// Now is the clock that dates surveyor edits (a component's change_date, in UTC days);
	// time.Now unless a test pins it.
	Now func() time.Time
}

// NewService returns a Service writing to st and keeping idx in step.
func NewService(st Store, idx Index, cat *Catalog, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, index: idx, catalog: cat, log: log, MaxProblems: 10000, Now: time.Now}
}

// Catalog returns the class catalogue the service validates against.
func (s *Service) Catalog() *Catalog { return s.catalog }

// Store returns the underlying store (read access for handlers and exports).
func (s *Service) Store() Store { return s.store }

// ImportOptions tune a census import.
type ImportOptions struct {
	Mode     Mode
	Actor    string         // who imports; recorded in the history
	Progress func(read int) // called every few thousand features with the number read so far
	Format   Format         // required for cells and components
}

const progressEvery = 4096

// problemSink collects problems per feature index, capped in the report.
type problemSink struct {
	rep      *Report
	max      int
	rejected map[int]bool
}

func newSink(rep *Report, max int) *problemSink {
	return &problemSink{rep: rep, max: max, rejected: map[int]bool{}}
}

func (ps *problemSink) add(p Problem) {
	if p.Index >= 0 {
		ps.rejected[p.Index] = true
	}
	if ps.max <= 0 || len(ps.rep.Problems) < ps.max {
		ps.rep.Problems = append(ps.rep.Problems, p)
	}
}

func (ps *problemSink) addAll(ps2 []Problem) {
	for _, p := range ps2 {
		ps.add(p)
	}
}

// finish decides whether the valid part may be stored: strict mode stores nothing when any
// feature was rejected (or a whole-input problem was found).
func (ps *problemSink) finish(total int) (store bool) {
	rep := ps.rep
	sortProblems(rep.Problems)
	rep.Total = total
	rep.Rejected = len(ps.rejected)
	rep.Valid = total - rep.Rejected
	whole := false
	for _, p := range rep.Problems {
		if p.Index < 0 {
			whole = true
		}
	}
	if whole {
		return false
	}
	if rep.Mode == ModeStrict && rep.Rejected > 0 {
		return false
	}
	return rep.Valid > 0
}

func rejectedErr(rep *Report) error {
	if rep.Stored || len(rep.Problems) == 0 && rep.Rejected == 0 {
		return nil
	}
	if rep.Mode == ModePartial && rep.Valid > 0 {
		return nil
	}
	return ErrImportRejected
}

// ImportCells reads grid cells from r and stores them: new codes are created, existing codes
// replaced. In strict mode (the default) any invalid feature means nothing is stored; the
// report lists every problem. It returns ErrImportRejected (with the report) when nothing was
// stored because of invalid input.
func (s *Service) ImportCells(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: "cells", Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	s.mu.Lock()
	defer s.mu.Unlock()

	var cells []Cell
	var idxOf []int
	seen := map[GridCode]int{}
	total := 0
	err := ReadFeatures(r, opt.Format, func(f *Feature) error {
		total++
		if opt.Progress != nil && total%progressEvery == 0 {
			opt.Progress(total)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Err != nil {
			sink.add(*f.Err)
			return nil
		}
		c, probs := DecodeCell(f)
		if len(probs) > 0 {
			sink.addAll(probs)
			return nil
		}
		if first, dup := seen[c.Code]; dup {
			sink.add(Problem{Index: f.Index, ID: c.Code.String(), Field: "code", Code: "duplicate_code",
				Message: fmt.Sprintf("cell code %s already appears at feature %d", c.Code, first)})
			return nil
		}
		seen[c.Code] = f.Index
		cells = append(cells, c)
		idxOf = append(idxOf, f.Index)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import cells: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(total)
	}

	// Overlaps, with each other and with the stored grid: the later feature of a pair is refused.
	ptrs := make([]*Cell, len(cells))
	pos := make(map[GridCode]int, len(cells))
	for i := range cells {
		ptrs[i] = &cells[i]
		pos[cells[i].Code] = i
	}
	for _, o := range s.index.Overlaps(ptrs) {
		ia, aNew := pos[o.A]
		ib, bNew := pos[o.B]
		victim, other := -1, GridCode("")
		switch {
		case aNew && bNew:
			if idxOf[ia] > idxOf[ib] {
				victim, other = ia, o.B
			} else {
				victim, other = ib, o.A
			}
		case aNew:
			victim, other = ia, o.B
		case bNew:
			victim, other = ib, o.A
		default:
			continue
		}
		sink.add(Problem{Index: idxOf[victim], ID: cells[victim].Code.String(), Field: "geometry", Code: "overlapping_cells",
			Message: fmt.Sprintf("cell %s overlaps cell %s, e.g. at %s", cells[victim].Code, other, fmtPoint(o.Point))})
	}
	for i := range cells {
		if sink.rejected[idxOf[i]] {
			continue
		}
		if p := s.strands(&cells[i], idxOf[i]); p != nil {
			sink.add(*p)
		}
	}

	if !sink.finish(total) {
		return rep, rejectedErr(&rep)
	}
	valid := cells[:0]
	for i, c := range cells {
		if !sink.rejected[idxOf[i]] {
			valid = append(valid, c)
		}
	}
	var stored []Cell
	err = s.commit(func() error {
		if stored, err = s.store.PutCells(ctx, valid, opt.Actor); err != nil {
			return err
		}
		s.index.ApplyCells(stored)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import cells: %w", err)
	}
	rep.Stored = true
	for _, c := range stored { // the store starts a cell at version 1 and bumps it on replace
		if c.Version == 1 {
			rep.Created++
		} else {
			rep.Updated++
		}
	}
	s.log.InfoContext(ctx, "cells imported", "created", rep.Created, "updated", rep.Updated, "rejected", rep.Rejected, "actor", opt.Actor)
	return rep, nil
}

// strands returns the problem of a cell replacement that would leave a component located in
// the cell (of any status) outside its new geometry, or nil. Components are not re-located
// when a cell changes, so this refusal is what keeps every stored Component.Cell true: a
// grown cell cannot take another cell's components, because cells do not overlap and every
// component lies in its own cell.
func (s *Service) strands(c *Cell, index int) *Problem {
	ref, ok := s.index.ComponentOutside(c)
	if !ok {
		return nil
	}
	return &Problem{Index: index, ID: c.Code.String(), Field: "geometry", Code: "components_outside_cell",
		Message: fmt.Sprintf("the new geometry of cell %s leaves its component %s at %s outside it (a component keeps the cell it was located in)",
			c.Code, ref.ID, fmtPoint(ref.Point))}
}

// interner shares repeated strings (units, sources, names) between imported records.
type interner map[string]string

func (in interner) get(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < 1<<16 {
		in[s] = s
	}
	return s
}

// ImportComponents reads components from r, computes each one's cell from its point, and
// stores them: new identifiers are created (missing ones assigned from the cell's district,
// the class and the next free serial), existing identifiers updated, each change recorded in
// the history under opt.Actor. Strict mode stores nothing if any feature is invalid.
func (s *Service) ImportComponents(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: "components", Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	in := interner{}
	// Held for the whole import: the cells each component is located in must not change
	// between validation and the write. Readers never take this lock.
	s.mu.Lock()
	defer s.mu.Unlock()

	// Decoded components go into fixed-size blocks, not one growing slice: appending 1M
	// components (about 300 B each) to one slice allocates and copies about 5× the final
	// size as it grows, and every fresh page is a page fault, which costs about 28 µs on
	// the virtual machines we measure on (1.1 GB of the 1.6 GB the import touched).
	var blocks [][]Component
	var idxOf []int
	seen := map[ComponentCode]int{}
	total := 0
	err := ReadFeatures(r, opt.Format, func(f *Feature) error {
		total++
		if opt.Progress != nil && total%progressEvery == 0 {
			opt.Progress(total)
		}
		if total%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.Err != nil {
			sink.add(*f.Err)
			return nil
		}
		c, probs := DecodeComponent(f, s.catalog)
		if len(probs) > 0 {
			sink.addAll(probs)
			return nil
		}
		if p := s.locate(&c, f.Index); p != nil {
			sink.add(*p)
			return nil
		}
		for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
			if id.IsZero() {
				continue
			}
			if first, dup := seen[id]; dup {
				sink.add(Problem{Index: f.Index, ID: id.String(), Field: "id", Code: "duplicate_id",
					Message: fmt.Sprintf("identifier %s already appears at feature %d", id, first)})
				return nil
			}
		}
		for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
			if !id.IsZero() {
				seen[id] = f.Index
			}
		}
		c.Name = in.get(c.Name)
		c.Supervisor = in.get(c.Supervisor)
		c.Owner = in.get(c.Owner)
		c.Maintainer = in.get(c.Maintainer)
		c.Source = in.get(c.Source)
		c.Class = in.get(c.Class)
		c.LegacyClass = in.get(c.LegacyClass)
		if len(blocks) == 0 || len(blocks[len(blocks)-1]) == importBlock {
			blocks = append(blocks, make([]Component, 0, importBlock))
		}
		blocks[len(blocks)-1] = append(blocks[len(blocks)-1], c)
		idxOf = append(idxOf, f.Index)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import components: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(total)
	}
	if !sink.finish(total) {
		return rep, rejectedErr(&rep)
	}
	valid := make([]Component, 0, len(idxOf))
	i := 0
	for k, b := range blocks {
		for _, c := range b {
			if !sink.rejected[idxOf[i]] {
				valid = append(valid, c)
			}
			i++
		}
		blocks[k] = nil // garbage from here on
	}

	var stored []Component
	err = s.commit(func() error {
		if stored, err = s.store.PutComponents(ctx, valid, nil, opt.Actor); err != nil {
			return err
		}
		s.index.ApplyComponents(stored)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import components: %w", err)
	}
	rep.Stored = true
	for _, c := range stored {
		if c.Version == 1 {
			rep.Created++
		} else {
			rep.Updated++
		}
	}
	s.log.InfoContext(ctx, "components imported", "created", rep.Created, "updated", rep.Updated, "rejected", rep.Rejected, "actor", opt.Actor)
	return rep, nil
}

// importBlock is how many decoded components ImportComponents keeps per block.
const importBlock = 8192

// locate sets c.Cell from c.Point and checks that an identifier's district matches the
// cell's. It returns the problem, or nil.
func (s *Service) locate(c *Component, index int) *Problem {
	cell, err := s.index.CellAt(c.Point)
	if err != nil {
		code := ErrorCode(err)
		if code == "internal" {
			code = ErrOutsideGrid.Code
		}
		return &Problem{Index: index, ID: c.ID.String(), Field: "geometry", Code: code,
			Message: fmt.Sprintf("component at %s lies outside every grid cell", fmtPoint(c.Point))}
	}
	c.Cell = cell.Code
	for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
		if !id.IsZero() && id.Admin() != cell.Code.District() {
			return &Problem{Index: index, ID: id.String(), Field: "id", Code: "district_mismatch",
				Message: fmt.Sprintf("identifier %s is of district %s but the component lies in cell %s of district %s",
					id, id.Admin(), cell.Code, cell.Code.District())}
		}
	}
	return nil
}

// CreateComponent validates one component (a census feature) and stores it as new.
// It returns ErrDuplicate when its identifier exists, a validation *Error otherwise.
func (s *Service) CreateComponent(ctx context.Context, f *Feature, actor string) (Component, error) {
	c, probs := DecodeComponent(f, s.catalog)
	if len(probs) > 0 {
		return Component{}, problemError(probs[0])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.locate(&c, f.Index); p != nil {
		return Component{}, problemError(*p)
	}
	for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
		if id.IsZero() {
			continue
		}
		if _, err := s.store.Component(ctx, id); err == nil {
			return Component{}, fmt.Errorf("create component %s: %w", id, ErrDuplicate)
		} else if !errors.Is(err, ErrComponentNotFound) {
			return Component{}, fmt.Errorf("create component %s: %w", id, err)
		}
	}
	return s.put(ctx, c, 0, actor)
}

func (s *Service) put(ctx context.Context, c Component, version int64, actor string) (Component, error) {
	var expect []int64
	if version > 0 {
		expect = []int64{version}
	}
	var stored []Component
	err := s.commit(func() error {
		var err error
		if stored, err = s.store.PutComponents(ctx, []Component{c}, expect, actor); err != nil {
			return err
		}
		s.index.ApplyComponents(stored)
		return nil
	})
	if err != nil {
		return Component{}, fmt.Errorf("put component %s: %w", c.ID, err)
	}
	return stored[0], nil
}

// UpdateComponent applies a surveyor's edit: the properties present in patch replace the
// stored ones (an empty string clears an optional field), a geometry moves the component
// (its cell is recomputed). version must be the component's current version, else
// ErrVersionConflict. The identifier and class cannot change.
func (s *Service) UpdateComponent(ctx context.Context, id ComponentCode, patch *Feature, version int64, actor string) (Component, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Component(ctx, id)
	if err != nil {
		return Component{}, fmt.Errorf("update component %s: %w", id, err)
	}
	if version > 0 && cur.Version != version {
		return Component{}, fmt.Errorf("update component %s (version %d, current %d): %w", id, version, cur.Version, ErrVersionConflict)
	}
	merged := componentFeature(&cur)
	for k, v := range patch.Props {
		k = canonicalProp(k)
		switch k {
		case "id", "legacy_id", "cell", "key", "version", "legacy_class":
			continue // computed or immutable: ignored
		case "class":
			// The class may be repeated, never changed or cleared; an unmapped component's
			// class is its legacy class.
			if v == "" || v != cur.Class && v != cur.LegacyClass {
				return Component{}, Errorf(Invalid, "class_immutable", "the class of %s cannot change (its identifier encodes it); retire it and create a new component", id)
			}
			continue
		}
		merged.Props[k] = v
	}
	if patch.Geometry != nil {
		merged.Geometry = patch.Geometry
	}
	c, probs := DecodeComponent(merged, s.catalog)
	if len(probs) > 0 {
		return Component{}, problemError(probs[0])
	}
	c.Key, c.ID, c.LegacyID, c.Class, c.LegacyClass = cur.Key, cur.ID, cur.LegacyID, cur.Class, cur.LegacyClass
	if p := s.locate(&c, -1); p != nil {
		return Component{}, problemError(*p)
	}
	_, dated := patch.Props["change_date"]
	if sameComponent(&c, &cur, dated) {
		return cur, nil // nothing changes: no new version, no history or feed entry
	}
	if !dated {
		c.ChangeDate = s.today()
	}
	return s.put(ctx, c, cur.Version, actor)
}

// sameComponent reports whether an edit leaves a component as it was, ignoring what every
// write sets (Version, Updated, UpdatedBy) and, unless the edit names it, ChangeDate.
func sameComponent(a, b *Component, dated bool) bool {
	x, y := *a, *b
	x.Version, x.Updated, x.UpdatedBy = y.Version, y.Updated, y.UpdatedBy
	if !dated || x.ChangeDate.Equal(y.ChangeDate) {
		x.ChangeDate = y.ChangeDate
	}
	if x.CensusDate.Equal(y.CensusDate) {
		x.CensusDate = y.CensusDate
	}
	return x == y
}

// RetireComponent marks a component removed (移除). Components are never deleted: the
// record and its history stay. note, when given, replaces the note (e.g. why it was removed).
func (s *Service) RetireComponent(ctx context.Context, id ComponentCode, version int64, actor, note string) (Component, error) {
	if err := CheckNote(note); err != nil {
		return Component{}, fmt.Errorf("retire component %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Component(ctx, id)
	if err != nil {
		return Component{}, fmt.Errorf("retire component %s: %w", id, err)
	}
	if version > 0 && cur.Version != version {
		return Component{}, fmt.Errorf("retire component %s (version %d, current %d): %w", id, version, cur.Version, ErrVersionConflict)
	}
	if cur.Status == StatusRemoved {
		return cur, nil
	}
	c := cur
	c.Status = StatusRemoved
	c.ChangeDate = s.today()
	if note != "" {
		c.Note = note
	}
	return s.put(ctx, c, cur.Version, actor)
}

// PutCell creates a cell or replaces the one with the same code. version, when > 0, must be
// the stored cell's current version (ErrVersionConflict otherwise).
func (s *Service) PutCell(ctx context.Context, f *Feature, version int64, actor string) (Cell, error) {
	c, probs := DecodeCell(f)
	if len(probs) > 0 {
		return Cell{}, problemError(probs[0])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Cell(ctx, c.Code)
	switch {
	case err == nil:
		if version > 0 && cur.Version != version {
			return Cell{}, fmt.Errorf("put cell %s (version %d, current %d): %w", c.Code, version, cur.Version, ErrVersionConflict)
		}
	case errors.Is(err, ErrCellNotFound):
		if version > 0 {
			return Cell{}, fmt.Errorf("put cell %s: %w", c.Code, ErrCellNotFound)
		}
	default:
		return Cell{}, fmt.Errorf("put cell %s: %w", c.Code, err)
	}
	if ov := s.index.Overlaps([]*Cell{&c}); len(ov) > 0 {
		o := ov[0]
		other := o.B
		if other == c.Code {
			other = o.A
		}
		return Cell{}, Errorf(Invalid, "overlapping_cells", "cell %s overlaps cell %s, e.g. at %s", c.Code, other, fmtPoint(o.Point))
	}
	if p := s.strands(&c, -1); p != nil {
		return Cell{}, problemError(*p)
	}
	var stored []Cell
	err = s.commit(func() error {
		if stored, err = s.store.PutCells(ctx, []Cell{c}, actor); err != nil {
			return err
		}
		s.index.ApplyCells(stored)
		return nil
	})
	if err != nil {
		return Cell{}, fmt.Errorf("put cell %s: %w", c.Code, err)
	}
	return stored[0], nil
}

// ImportUnits reads a units document and stores its units (created or replaced by id).
// References (parent, supervisor) must name a unit in the document or in the store.
func (s *Service) ImportUnits(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: "units", Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	units, probs, err := DecodeUnits(r)
	if err != nil {
		return rep, fmt.Errorf("import units: %w", err)
	}
	sink.addAll(probs)

	s.mu.Lock()
	defer s.mu.Unlock()
	stored, err := s.store.Units(ctx)
	if err != nil {
		return rep, fmt.Errorf("import units: %w", err)
	}
	// Check the entries against the units the store would hold: the stored ones with the
	// accepted entries replacing or adding to them. Refusing an entry brings back the stored
	// unit of its id (or none), which can break another entry's reference, parent chain or
	// supervisor, so the check repeats until it refuses nothing more.
	for {
		var cand []Unit
		var at []int
		for i, u := range units {
			if !sink.rejected[i] {
				cand = append(cand, u)
				at = append(at, i)
			}
		}
		ps := unitGraphProblems(stored, cand, at)
		if len(ps) == 0 {
			break
		}
		sink.addAll(ps)
	}
	if !sink.finish(len(units)) {
		return rep, rejectedErr(&rep)
	}
	var valid []Unit
	for i, u := range units {
		if !sink.rejected[i] {
			valid = append(valid, u)
		}
	}
	var reloadErr error
	err = s.commit(func() error {
		if _, err := s.store.PutUnits(ctx, valid); err != nil {
			return err
		}
		reloadErr = s.reloadUnits(ctx)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import units: %w", err)
	}
	for _, u := range valid {
		if stored := has(stored, u.ID); stored {
			rep.Updated++
		} else {
			rep.Created++
		}
	}
	rep.Stored = true
	return rep, reloadErr
}

func has(units []Unit, id string) bool {
	for _, u := range units {
		if u.ID == id {
			return true
		}
	}
	return false
}

func (s *Service) reloadUnits(ctx context.Context) error {
	units, err := s.store.Units(ctx)
	if err != nil {
		return fmt.Errorf("reload units: %w", err)
	}
	s.index.SetUnits(units)
	return nil
}

func (s *Service) reloadRules(ctx context.Context) error {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("reload rules: %w", err)
	}
	s.index.SetRules(rules)
	return nil
}

// unitGraphProblems checks the units cand (document entries at indexes at, or -1) against
// the units the store would hold with them: the stored units, cand replacing or adding to
// them by ID. For each candidate: its parent and supervisor must exist (unknown_unit) and not
// be itself (invalid_reference), its parents must not lead back to it (parent_cycle), its
// supervisor must be an admin_department, and if it is no admin_department no other unit may
// keep it as supervisor (invalid_supervisor). A candidate gets at most one problem.
func unitGraphProblems(stored, cand []Unit, at []int) []Problem {
	byID := make(map[string]*Unit, len(stored)+len(cand))
	for i := range stored {
		byID[stored[i].ID] = &stored[i]
	}
	isCand := make(map[string]bool, len(cand))
	for i := range cand {
		byID[cand[i].ID] = &cand[i]
		isCand[cand[i].ID] = true
	}
	// supervised maps an id to a unit that is not a candidate and names it as supervisor:
	// a candidate that stops being an admin department would leave that unit wrong.
	supervised := map[string]string{}
	for i := range stored {
		if u := &stored[i]; !isCand[u.ID] && u.Supervisor != "" {
			if _, ok := supervised[u.Supervisor]; !ok {
				supervised[u.Supervisor] = u.ID
			}
		}
	}
	var probs []Problem
	for i := range cand {
		u := &cand[i]
		add := func(field, code, format string, args ...any) {
			probs = append(probs, Problem{Index: at[i], ID: u.ID, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
		}
		if p := unitRefProblem(u, byID); p != nil {
			add(p.Field, p.Code, "%s", p.Message)
			continue
		}
		if v, ok := supervised[u.ID]; ok && u.Type != UnitAdminDepartment {
			add("type", codeInvalidSupervisor, "unit %q supervises unit %q, so it must stay an admin_department, not become a %s", u.ID, v, u.Type)
		}
	}
	return probs
}

// unitRefProblem checks one unit's references within byID (the units the store would hold).
func unitRefProblem(u *Unit, byID map[string]*Unit) *Problem {
	for _, ref := range [2]struct{ field, id string }{{"parent", u.Parent}, {"supervisor", u.Supervisor}} {
		switch {
		case ref.id == "":
		case ref.id == u.ID:
			return &Problem{Field: ref.field, Code: codeInvalidReference, Message: fmt.Sprintf("unit %q names itself as its %s", u.ID, ref.field)}
		case byID[ref.id] == nil:
			return &Problem{Field: ref.field, Code: "unknown_unit", Message: fmt.Sprintf("%s %q is not a known unit", ref.field, ref.id)}
		}
	}
	if u.Supervisor != "" {
		if sup := byID[u.Supervisor]; sup.Type != UnitAdminDepartment {
			return &Problem{Field: "supervisor", Code: codeInvalidSupervisor,
				Message: fmt.Sprintf("supervisor %q is a %s, want an admin_department", u.Supervisor, sup.Type)}
		}
	}
	// Follow the parents; coming back to u is a cycle. The walk is bounded by the number of
	// units, so a cycle that does not pass through u (none can be stored) cannot loop forever.
	for p, steps := u.Parent, 0; p != "" && steps <= len(byID); steps++ {
		if p == u.ID {
			return &Problem{Field: "parent", Code: codeParentCycle, Message: fmt.Sprintf("the parents of unit %q lead back to it", u.ID)}
		}
		next := byID[p]
		if next == nil {
			break
		}
		p = next.Parent
	}
	return nil
}

// PutUnit creates or replaces one unit. version, when > 0, must be the stored unit's current
// version (ErrVersionConflict; ErrUnitNotFound when there is no such unit); 0 writes
// unconditionally. Its parent and supervisor must exist (unknown_unit), its parents must not
// lead back to it (parent_cycle), its supervisor must be an admin_department, and a unit that
// supervises another must stay one (invalid_supervisor). The stored unit has Version 1 when it
// was created.
func (s *Service) PutUnit(ctx context.Context, u Unit, version int64) (Unit, error) {
	if u.ID == "" || u.Name == "" || u.Type == 0 {
		return Unit{}, Errorf(Invalid, "invalid_unit", "a unit needs an id, a name and a type")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	units, err := s.store.Units(ctx)
	if err != nil {
		return Unit{}, fmt.Errorf("put unit %s: %w", u.ID, err)
	}
	if version > 0 {
		i := slices.IndexFunc(units, func(o Unit) bool { return o.ID == u.ID })
		if i < 0 {
			return Unit{}, fmt.Errorf("put unit %s: %w", u.ID, ErrUnitNotFound)
		}
		if units[i].Version != version {
			return Unit{}, fmt.Errorf("put unit %s (version %d, current %d): %w", u.ID, version, units[i].Version, ErrVersionConflict)
		}
	}
	if ps := unitGraphProblems(units, []Unit{u}, []int{-1}); len(ps) > 0 {
		return Unit{}, problemError(ps[0])
	}
	var stored []Unit
	var reloadErr error
	err = s.commit(func() error {
		var err error
		if stored, err = s.store.PutUnits(ctx, []Unit{u}); err != nil {
			return err
		}
		reloadErr = s.reloadUnits(ctx)
		return nil
	})
	if err != nil {
		return Unit{}, fmt.Errorf("put unit %s: %w", u.ID, err)
	}
	return stored[0], reloadErr
}

// DeleteUnit removes a unit that no rule and no other unit refers to (Conflict "unit_in_use").
func (s *Service) DeleteUnit(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	for _, r := range rules {
		if r.Unit == id {
			return Errorf(Conflict, "unit_in_use", "unit %s is used by rule %s", id, r.ID)
		}
	}
	units, err := s.store.Units(ctx)
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	for _, u := range units {
		if u.ID != id && (u.Parent == id || u.Supervisor == id) {
			return Errorf(Conflict, "unit_in_use", "unit %s is referenced by unit %s", id, u.ID)
		}
	}
	var reloadErr error
	err = s.commit(func() error {
		if err := s.store.DeleteUnit(ctx, id); err != nil {
			return err
		}
		reloadErr = s.reloadUnits(ctx)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	return reloadErr
}

// ImportRules reads a rules document. The document is the city's whole ordered rule set:
// stored rules that are not in it are removed in the same transaction.
func (s *Service) ImportRules(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: "rules", Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	rules, probs, err := DecodeRules(r)
	if err != nil {
		return rep, fmt.Errorf("import rules: %w", err)
	}
	sink.addAll(probs)
	s.mu.Lock()
	defer s.mu.Unlock()
	units, err := s.store.Units(ctx)
	if err != nil {
		return rep, fmt.Errorf("import rules: %w", err)
	}
	for i, ru := range rules {
		if ru.Unit != "" && !has(units, ru.Unit) {
			sink.add(Problem{Index: i, ID: ru.ID, Field: "unit", Code: "unknown_unit",
				Message: fmt.Sprintf("unit %q is not a known unit", ru.Unit)})
		}
	}
	// An empty, valid document is an empty rule set: it clears the rules.
	clearAll := len(rules) == 0 && len(rep.Problems) == 0
	if !sink.finish(len(rules)) && !clearAll {
		return rep, rejectedErr(&rep)
	}
	var valid []Rule
	refused := map[string]bool{} // ids of refused entries: their stored rules stay as they are
	for i, ru := range rules {
		if !sink.rejected[i] {
			valid = append(valid, ru)
		} else if ru.ID != "" {
			refused[ru.ID] = true
		}
	}
	old, err := s.store.Rules(ctx)
	if err != nil {
		return rep, fmt.Errorf("import rules: %w", err)
	}
	// The document replaces the whole rule set, but an entry refused in partial mode is not a
	// request to delete its rule: the stored version is kept. A refused entry whose id is also
	// a valid entry's (a duplicate) keeps nothing; the valid entry replaces the rule.
	inValid := make(map[string]bool, len(valid))
	for _, ru := range valid {
		inValid[ru.ID] = true
	}
	set := valid
	for _, o := range old {
		if refused[o.ID] && !inValid[o.ID] {
			set = append(set, o)
		}
	}
	inSet := make(map[string]bool, len(set))
	for _, ru := range set {
		inSet[ru.ID] = true
	}
	var reloadErr error
	err = s.commit(func() error {
		if _, err := s.store.PutRules(ctx, set, true); err != nil {
			return err
		}
		reloadErr = s.reloadRules(ctx)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import rules: %w", err)
	}
	stored := make(map[string]bool, len(old))
	for _, o := range old {
		stored[o.ID] = true
		if !inSet[o.ID] {
			rep.Deleted++
		}
	}
	for _, ru := range valid {
		if stored[ru.ID] {
			rep.Updated++
		} else {
			rep.Created++
		}
	}
	rep.Stored = true
	return rep, reloadErr
}

// PutRule creates or replaces one rule; its unit must exist. version, when > 0, must be the
// stored rule's current version (ErrVersionConflict; ErrRuleNotFound when there is no such
// rule); 0 writes unconditionally. The stored rule has Version 1 when it was created.
func (s *Service) PutRule(ctx context.Context, ru Rule, version int64) (Rule, error) {
	if ru.ID == "" || ru.Unit == "" {
		return Rule{}, Errorf(Invalid, "invalid_rule", "a rule needs an id and a unit")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if version > 0 {
		rules, err := s.store.Rules(ctx)
		if err != nil {
			return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, err)
		}
		i := slices.IndexFunc(rules, func(o Rule) bool { return o.ID == ru.ID })
		if i < 0 {
			return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, ErrRuleNotFound)
		}
		if rules[i].Version != version {
			return Rule{}, fmt.Errorf("put rule %s (version %d, current %d): %w", ru.ID, version, rules[i].Version, ErrVersionConflict)
		}
	}
	units, err := s.store.Units(ctx)
	if err != nil {
		return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, err)
	}
	if !has(units, ru.Unit) {
		return Rule{}, Errorf(Invalid, "unknown_unit", "unit %q does not exist", ru.Unit)
	}
	var stored []Rule
	var reloadErr error
	err = s.commit(func() error {
		var err error
		if stored, err = s.store.PutRules(ctx, []Rule{ru}, false); err != nil {
			return err
		}
		reloadErr = s.reloadRules(ctx)
		return nil
	})
	if err != nil {
		return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, err)
	}
	return stored[0], reloadErr
}

// DeleteRule removes one rule (ErrRuleNotFound).
func (s *Service) DeleteRule(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var reloadErr error
	err := s.commit(func() error {
		if err := s.store.DeleteRule(ctx, id); err != nil {
			return err
		}
		reloadErr = s.reloadRules(ctx)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return reloadErr
}

// ExportCells writes every stored cell to w as a GeoJSON FeatureCollection.
func (s *Service) ExportCells(ctx context.Context, w io.Writer) (int, error) {
	gw := NewGeoJSONWriter(w)
	n := 0
	err := s.store.ForEachCell(ctx, func(c *Cell) error { n++; return gw.WriteCell(c) })
	if err != nil {
		return n, fmt.Errorf("export cells: %w", err)
	}
	return n, gw.Close()
}

// ExportComponents writes every stored component to w as a GeoJSON FeatureCollection;
// retired (removed) ones only with includeRemoved.
func (s *Service) ExportComponents(ctx context.Context, w io.Writer, includeRemoved bool) (int, error) {
	gw := NewGeoJSONWriter(w)
	n := 0
	err := s.store.ForEachComponent(ctx, func(c *Component) error {
		if c.Status == StatusRemoved && !includeRemoved {
			return nil
		}
		n++
		return gw.WriteComponent(c)
	})
	if err != nil {
		return n, fmt.Errorf("export components: %w", err)
	}
	return n, gw.Close()
}

// componentFeature turns a stored component back into a census feature (import names).
func componentFeature(c *Component) *Feature {
	p := map[string]string{
		"class":      c.Class,
		"name":       c.Name,
		"status":     c.Status.String(),
		"supervisor": c.Supervisor,
		"owner":      c.Owner,
		"maintainer": c.Maintainer,
		"source":     c.Source,
		"note":       c.Note,
	}
	if c.Class == "" {
		p["class"] = c.LegacyClass
	}
	if !c.ID.IsZero() {
		p["id"] = c.ID.String()
	}
	if !c.CensusDate.IsZero() {
		p["census_date"] = c.CensusDate.Format(time.DateOnly)
	}
	if !c.ChangeDate.IsZero() {
		p["change_date"] = c.ChangeDate.Format(time.DateOnly)
	}
	return &Feature{Index: -1, ID: c.ID.String(), Geometry: c.Point, Props: p}
}

// canonicalProp maps a patch's property name (any case, or a GB/T 47678.5 Table 2 / Suzhou
// alias) to the census property name, so a patch replaces the stored value instead of
// conflicting with it.
func canonicalProp(k string) string {
	k = strings.ToLower(k)
	if i, ok := compFields[k]; ok {
		return compFieldNames[i]
	}
	return k
}

func problemError(p Problem) *Error {
	msg := p.Message
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return &Error{Kind: Invalid, Code: p.Code, Message: msg}
}

func modeOr(m Mode) Mode {
	if m == "" {
		return ModeStrict
	}
	return m
}

func fmtPoint(p orb.Point) string {
	return "[" + strconv.FormatFloat(p[0], 'f', -1, 64) + "," + strconv.FormatFloat(p[1], 'f', -1, 64) + "]"
}

// today is the UTC date of s.Now, the change_date of an edit.
func (s *Service) today() time.Time {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	t := now().UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// sortProblems orders a report's problems by feature index (stable for equal indexes).
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Index < ps[j].Index })
}
