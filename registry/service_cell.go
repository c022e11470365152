package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/paulmach/orb"
)

// DefaultMaxCellArea is the largest area of a cell (m²) a census or a write accepts when
// Service.MaxCellArea is zero: a unit grid cell is about 100 m × 100 m (10,000 m²), so a cell of
// more than 1 km² is a district outline or a unit mistake, not a grid cell.
const DefaultMaxCellArea = 1e6

// maxCellArea is the cell area limit in force (m²); 0 when there is none.
func (s *Service) maxCellArea() float64 {
	switch {
	case s.MaxCellArea < 0:
		return 0
	case s.MaxCellArea == 0:
		return DefaultMaxCellArea
	}
	return s.MaxCellArea
}

// CheckRevisionArea checks the area of a grid revision: a district, street or community code
// (6, 9 or 12 digits). The error is Invalid, code invalid_area.
func CheckRevisionArea(area string) error {
	switch {
	case area == "":
		return Errorf(Invalid, CodeInvalidArea, "a grid revision (mode replace) needs the area it replaces: a district (6 digits), street (9) or community (12) code")
	case len(area) != 6 && len(area) != 9 && len(area) != 12 || strings.Trim(area, "0123456789") != "":
		return Errorf(Invalid, CodeInvalidArea, "area %q is not a district (6 digits), street (9) or community (12) code", area)
	}
	return nil
}

// checkCell returns the problems of a decoded cell that are not about its own shape: too
// large, a district that the administrative code table does not have, a code outside the
// revised area (area non-empty), a retired code outside a revision.
func (s *Service) checkCell(c *Cell, index int, area string) []Problem {
	var probs []Problem
	add := func(field, code, format string, args ...any) {
		probs = append(probs, Problem{Index: index, ID: c.Code.String(), Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if max := s.maxCellArea(); max > 0 && c.Area > max {
		add("geometry", CodeCellTooLarge, "the cell covers %.0f m², more than the limit of %.0f m² (a unit grid cell is about 10,000 m²; is this a district outline, or are the coordinates projected?)", c.Area, max)
	}
	if d := c.Code.District(); d != "" {
		if _, ok := DistrictName(d); !ok {
			add("code", CodeUnknownDistrict, "district %s (the first 6 digits of %s) is not in the 2023 administrative code table", d, c.Code)
		}
	}
	if area != "" {
		if !strings.HasPrefix(string(c.Code), area) {
			add("code", CodeCellOutsideArea, "cell %s is not under the revised area %s", c.Code, area)
		}
	} else if cur, ok := s.indexedCell(c.Code); ok && cur.Status == CellRetired {
		add("code", CodeCellRetired, "cell %s was retired on %s; only a grid revision of its area (mode replace) brings a retired code back",
			c.Code, cur.Retired.Format("2006-01-02"))
	}
	return probs
}

// indexedCell returns the cell the index holds under code, when the index can tell.
func (s *Service) indexedCell(code GridCode) (*Cell, bool) {
	ci, ok := s.index.(interface {
		Cell(GridCode) (*Cell, bool)
	})
	if !ok {
		return nil, false
	}
	return ci.Cell(code)
}

// sameCell reports whether c equals the active cell stored under its code (name and geometry):
// storing it again would change nothing.
func (s *Service) sameCell(c *Cell) bool {
	cur, ok := s.indexedCell(c.Code)
	return ok && cur.Status == CellActive && cur.Name == c.Name && orb.Equal(cur.Geometry, c.Geometry)
}

// outsideDistrict returns the warning of a cell whose centroid lies outside its district's
// boundary, when boundaries are configured and have the district.
func (s *Service) outsideDistrict(c *Cell, index int) *Problem {
	if s.Boundaries == nil {
		return nil
	}
	d := c.Code.District()
	p := cellCentroid(c.Geometry)
	in, known := s.Boundaries.Inside(d, p)
	if !known || in {
		return nil
	}
	name, _ := DistrictName(d)
	return &Problem{Index: index, ID: c.Code.String(), Field: "geometry", Code: CodeCellOutsideDistrict,
		Message: fmt.Sprintf("the cell's centre %s lies outside the boundary of its district %s %s", fmtPoint(p), d, name)}
}

// cellCentroid is the centre of the bound of a cell's largest polygon's outer ring: inside
// or near a grid cell, which is what a district check needs.
func cellCentroid(mp orb.MultiPolygon) orb.Point {
	best, bestN := orb.Ring(nil), -1
	for _, p := range mp {
		if len(p) > 0 && len(p[0]) > bestN {
			best, bestN = p[0], len(p[0])
		}
	}
	return best.Bound().Center()
}

// importCells reads grid cells from r and stores them: new codes are created, existing codes
// replaced, cells equal to the stored ones left as they are (Report.Unchanged). In strict mode
// (the default) any invalid feature means nothing is stored; the report lists every problem.
// In mode replace (a grid revision, opt.Area the district, street or community it revises) the
// file is the area's whole new grid: see reviseCells. It returns ErrImportRejected (with the
// report) when nothing was stored because of invalid input.
func (s *Service) importCells(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: string(CensusCells), Mode: modeOr(opt.Mode)}
	replace := opt.Mode == ModeReplace
	area := ""
	if replace {
		if err := CheckRevisionArea(opt.Area); err != nil {
			return rep, fmt.Errorf("import cells: %w", err)
		}
		area = opt.Area
	} else if opt.Area != "" {
		return rep, fmt.Errorf("import cells: %w", Errorf(Invalid, CodeInvalidArea, "an area (%s) is given only with mode replace, to revise its grid", opt.Area))
	}
	sink := newSink(&rep, s.MaxProblems)
	sink.rejects = opt.Rejected
	s.mu.Lock()
	defer s.mu.Unlock()

	var cells []Cell
	var idxOf []int
	seen := map[GridCode]int{}
	total := 0
	ignored := ignoredCellProps{}
	err := readCensus(r, opt, &rep, func(f *Feature) error {
		ignored.add(f)
		total++
		if opt.Progress != nil && total%progressEvery == 0 {
			opt.Progress(total)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c, probs := DecodeCell(f) // a reader's f.Err too, named by the feature's code
		if len(probs) > 0 {
			return sink.reject(f, probs...)
		}
		if first, dup := seen[c.Code]; dup {
			return sink.reject(f, Problem{Index: f.Index, ID: c.Code.String(), Field: "code", Code: CodeDuplicateCode,
				Message: fmt.Sprintf("cell code %s already appears at feature %d", c.Code, first)})
		}
		seen[c.Code] = f.Index
		if probs := s.checkCell(&c, f.Index, area); len(probs) > 0 {
			return sink.reject(f, probs...)
		}
		cells = append(cells, c)
		idxOf = append(idxOf, f.Index)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import cells: %w", err)
	}
	ignored.warn(&rep)
	if opt.Progress != nil {
		opt.Progress(total)
	}

	// Overlaps, with each other and with the stored grid: the later feature of a pair is
	// refused. In a revision the area's stored cells are being replaced: they do not count.
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
		if replace && !aNew != !bNew && strings.HasPrefix(string(other), area) {
			continue
		}
		sink.addLate(Problem{Index: idxOf[victim], ID: cells[victim].Code.String(), Field: "geometry", Code: CodeOverlappingCells,
			Message: fmt.Sprintf("cell %s overlaps cell %s, e.g. at %s", cells[victim].Code, other, fmtPoint(o.Point))})
	}
	unchanged := make([]bool, len(cells))
	for i := range cells {
		if sink.rejected[idxOf[i]] {
			continue
		}
		if unchanged[i] = s.sameCell(&cells[i]); unchanged[i] {
			continue
		}
		if !replace {
			if p := s.strands(&cells[i], idxOf[i]); p != nil {
				sink.addLate(*p)
			}
		}
	}
	if len(sink.late) > 0 {
		at := make(map[int]int, len(sink.late)) // input index → position in cells
		for i, x := range idxOf {
			if _, ok := sink.late[x]; ok {
				at[x] = i
			}
		}
		if err := sink.flushLate(func(x int) *Feature { return cellFeature(&cells[at[x]], x) }); err != nil {
			return rep, fmt.Errorf("import cells: %w", err)
		}
	}
	for i := range cells {
		if !sink.rejected[idxOf[i]] {
			if w := s.outsideDistrict(&cells[i], idxOf[i]); w != nil {
				rep.Warnings = append(rep.Warnings, *w)
			}
		}
	}
	var plan []CellMove
	if replace {
		grid := make([]*Cell, 0, len(cells))
		for i := range cells {
			if !sink.rejected[idxOf[i]] {
				grid = append(grid, &cells[i])
			}
		}
		var stranded []ComponentRef
		plan, stranded = s.index.PlanRevision(area, grid)
		for _, ref := range stranded {
			sink.add(Problem{Index: -1, ID: ref.ID.String(), Field: "geometry", Code: CodeStrandedComponent,
				Message: fmt.Sprintf("component %s at %s lies in area %s but in no cell of the new grid; draw a cell over it, or move or retire the component first",
					ref.ID, fmtPoint(ref.Point), area)})
		}
	}

	if !sink.finish(total) {
		return rep, rejectedErr(&rep)
	}
	var valid []Cell
	keep := map[GridCode]bool{}
	for i, c := range cells {
		switch {
		case sink.rejected[idxOf[i]]:
		case unchanged[i]:
			rep.Unchanged++
			keep[c.Code] = true
		default:
			valid = append(valid, c)
			keep[c.Code] = true
		}
	}
	for i := range valid { // counted before the write, so that a dry run counts the same
		switch _, err := s.store.Cell(ctx, valid[i].Code); {
		case err == nil:
			rep.Updated++
		case errors.Is(err, ErrCellNotFound):
			rep.Created++
		default:
			return rep, fmt.Errorf("import cells: %w", err)
		}
	}
	if replace {
		if err := s.warnEmptiedRuleAreas(ctx, &rep, area, keep); err != nil {
			return rep, fmt.Errorf("revise cells of %s: %w", area, err)
		}
		return s.reviseCells(ctx, &rep, opt, area, valid, keep, plan)
	}
	err = s.write(&rep, opt, len(valid), func() error {
		stored, err := s.store.PutCells(ctx, valid, opt.Actor)
		if err != nil {
			return err
		}
		s.index.ApplyCells(stored)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import cells: %w", err)
	}
	s.log.InfoContext(ctx, "cells imported", "created", rep.Created, "updated", rep.Updated, "unchanged", rep.Unchanged, "rejected", rep.Rejected,
		"dry_run", rep.DryRun, "actor", opt.Actor)
	return rep, nil
}

// cellFeature is a decoded cell as the census feature at input index x (its code, name and
// geometry), for ImportOptions.Rejected.
func cellFeature(c *Cell, x int) *Feature {
	return &Feature{Index: x, Geometry: c.Geometry, Props: map[string]string{"code": c.Code.String(), "name": c.Name}}
}

// reviseCells stores a validated grid revision of area: cells (new or changed), the retirement
// of the area's active cells that the file does not keep, and the moves of plan, in one store
// transaction; the index follows after the commit, cells first.
func (s *Service) reviseCells(ctx context.Context, rep *Report, opt ImportOptions, area string, cells []Cell, keep map[GridCode]bool, plan []CellMove) (Report, error) {
	actor := opt.Actor
	var retire []GridCode
	for _, code := range s.index.ActiveCodes(area) {
		if !keep[code] {
			retire = append(retire, code)
		}
	}
	var moves []Component
	if len(plan) > 0 {
		keys := make([]Key, len(plan))
		for i, m := range plan {
			keys[i] = m.Key
		}
		comps, err := s.store.ComponentsByKey(ctx, keys)
		if err != nil {
			return *rep, fmt.Errorf("revise cells of %s: read the components to move: %w", area, err)
		}
		for i := range comps {
			comps[i].Cell = plan[i].To
		}
		moves = comps
	}
	rep.Retired, rep.Moved = len(retire), len(moves) // counted before the write, so that a dry run counts the same
	var res RevisionResult
	err := s.write(rep, opt, len(cells)+len(retire)+len(moves), func() error {
		var err error
		res, err = s.store.ReviseCells(ctx, CellRevision{Area: area, Cells: cells, Retire: retire, Moves: moves,
			Note: "grid revision of " + area}, actor)
		if err != nil {
			return err
		}
		s.index.ApplyCells(append(slices.Clip(res.Cells), res.Retired...))
		s.index.ApplyComponents(res.Moved)
		return nil
	})
	if err != nil {
		return *rep, fmt.Errorf("revise cells of %s: %w", area, err)
	}
	if rep.Stored && (len(res.Retired) != rep.Retired || len(res.Moved) != rep.Moved) {
		s.log.WarnContext(ctx, "grid revision counts differ from the plan", "area", area,
			"retired", len(res.Retired), "planned_retired", rep.Retired, "moved", len(res.Moved), "planned_moved", rep.Moved)
		rep.Retired, rep.Moved = len(res.Retired), len(res.Moved)
	}
	s.log.InfoContext(ctx, "grid revised", "area", area, "dry_run", rep.DryRun, "created", rep.Created, "updated", rep.Updated, "unchanged", rep.Unchanged,
		"retired", rep.Retired, "moved", rep.Moved, "actor", actor)
	return *rep, nil
}

// strands returns the problem of a cell replacement that would leave a component located in
// the cell (of any status) outside its new geometry, or nil. Components are not re-located
// when a cell changes, so this refusal is what keeps every stored Component.Cell true: a
// grown cell cannot take another cell's components, because cells do not overlap and every
// component lies in its own cell. (A grid revision moves them instead.)
func (s *Service) strands(c *Cell, index int) *Problem {
	ref, ok := s.index.ComponentOutside(c)
	if !ok {
		return nil
	}
	return &Problem{Index: index, ID: c.Code.String(), Field: "geometry", Code: CodeComponentsOutsideCell,
		Message: fmt.Sprintf("the new geometry of cell %s leaves its component %s at %s outside it (a component keeps the cell it was located in; a grid revision, mode replace, moves components)",
			c.Code, ref.ID, fmtPoint(ref.Point))}
}

// PutCell creates a cell or replaces the one with the same code. version, when > 0, must be
// the stored cell's current version (ErrVersionConflict otherwise). A cell equal to the stored
// one (name and geometry) is returned as stored, without a new version. A retired code is a
// Conflict, code cell_retired: only a grid revision brings it back.
func (s *Service) PutCell(ctx context.Context, f *Feature, version int64, actor string) (Cell, error) {
	if err := CheckActor(actor); err != nil {
		return Cell{}, fmt.Errorf("put cell: %w", err)
	}
	c, probs := DecodeCell(f)
	if len(probs) > 0 {
		return Cell{}, probs[0].Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Cell(ctx, c.Code)
	switch {
	case err == nil:
		if version > 0 && cur.Version != version {
			return Cell{}, fmt.Errorf("put cell %s (version %d, current %d): %w", c.Code, version, cur.Version, ErrVersionConflict)
		}
		if cur.Status == CellRetired {
			return Cell{}, Errorf(Conflict, CodeCellRetired, "cell %s was retired on %s; only a grid revision of its area (mode replace) brings a retired code back",
				c.Code, cur.Retired.Format("2006-01-02"))
		}
	case errors.Is(err, ErrCellNotFound):
		if version > 0 {
			return Cell{}, fmt.Errorf("put cell %s: %w", c.Code, ErrCellNotFound)
		}
	default:
		return Cell{}, fmt.Errorf("put cell %s: %w", c.Code, err)
	}
	if probs := s.checkCell(&c, -1, ""); len(probs) > 0 {
		return Cell{}, probs[0].Err()
	}
	if err == nil && cur.Name == c.Name && orb.Equal(cur.Geometry, c.Geometry) {
		return cur, nil
	}
	if ov := s.index.Overlaps([]*Cell{&c}); len(ov) > 0 {
		o := ov[0]
		other := o.B
		if other == c.Code {
			other = o.A
		}
		return Cell{}, Errorf(Invalid, CodeOverlappingCells, "cell %s overlaps cell %s, e.g. at %s", c.Code, other, fmtPoint(o.Point))
	}
	if p := s.strands(&c, -1); p != nil {
		return Cell{}, p.Err()
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
	s.log.InfoContext(ctx, "cell stored", "code", c.Code, "version", stored[0].Version, "actor", actor)
	return stored[0], nil
}

// Cell returns the stored cell with code, active or retired; ErrCellNotFound.
func (s *Service) Cell(ctx context.Context, code GridCode) (Cell, error) {
	return s.store.Cell(ctx, code)
}

// CellHistory returns every change of the cell with code, oldest first; ErrCellNotFound.
func (s *Service) CellHistory(ctx context.Context, code GridCode) ([]Revision[Cell], error) {
	return s.store.CellHistory(ctx, code)
}

// ChangedCellFields lists the fields that differ between two versions of a cell, in a fixed
// order: name, geometry, status. A nil before (a create) has every field of after changed.
func ChangedCellFields(before, after *Cell) []string {
	var out []string
	switch {
	case after == nil:
		return nil
	case before == nil:
		out = append(out, "name", "geometry", "status")
		return out
	}
	if before.Name != after.Name {
		out = append(out, "name")
	}
	if !orb.Equal(before.Geometry, after.Geometry) {
		out = append(out, "geometry")
	}
	if before.Status != after.Status {
		out = append(out, "status")
	}
	return out
}

// warnEmptiedRuleAreas adds a rule_area_empty warning for each rule whose area has active cells
// now but would have none once the grid of area is the cells of keep: such a rule would match
// nothing from then on (unknown_area is checked only when rules are written).
func (s *Service) warnEmptiedRuleAreas(ctx context.Context, rep *Report, area string, keep map[GridCode]bool) error {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return err
	}
	for _, ru := range rules {
		if ru.Area == "" || !strings.HasPrefix(ru.Area, area) && !strings.HasPrefix(area, ru.Area) || !s.index.HasCells(ru.Area) {
			continue // outside the revision, or already without cells
		}
		has := false
		for code := range keep {
			if strings.HasPrefix(string(code), ru.Area) {
				has = true
				break
			}
		}
		if !has && len(ru.Area) < len(area) { // cells of the rule's area outside the revised one stay
			for _, code := range s.index.ActiveCodes(ru.Area) {
				if !strings.HasPrefix(string(code), area) {
					has = true
					break
				}
			}
		}
		if !has {
			rep.Warn(-1, ru.ID, "area", CodeRuleAreaEmpty,
				"rule %s applies to area %s, which has no active cell once the grid of %s is revised: it matches nothing until the area has cells again", ru.ID, ru.Area, area)
		}
	}
	return nil
}
