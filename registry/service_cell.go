package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// importCells reads grid cells from r and stores them: new codes are created, existing codes
// replaced. In strict mode (the default) any invalid feature means nothing is stored; the
// report lists every problem. It returns ErrImportRejected (with the report) when nothing was
// stored because of invalid input.
func (s *Service) importCells(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: string(CensusCells), Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	sink.rejects = opt.Rejected
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
		c, probs := DecodeCell(f) // a reader's f.Err too, named by the feature's code
		if len(probs) > 0 {
			return sink.reject(f, probs...)
		}
		if first, dup := seen[c.Code]; dup {
			return sink.reject(f, Problem{Index: f.Index, ID: c.Code.String(), Field: "code", Code: CodeDuplicateCode,
				Message: fmt.Sprintf("cell code %s already appears at feature %d", c.Code, first)})
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
		sink.addLate(Problem{Index: idxOf[victim], ID: cells[victim].Code.String(), Field: "geometry", Code: CodeOverlappingCells,
			Message: fmt.Sprintf("cell %s overlaps cell %s, e.g. at %s", cells[victim].Code, other, fmtPoint(o.Point))})
	}
	for i := range cells {
		if sink.rejected[idxOf[i]] {
			continue
		}
		if p := s.strands(&cells[i], idxOf[i]); p != nil {
			sink.addLate(*p)
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

	if !sink.finish(total) {
		return rep, rejectedErr(&rep)
	}
	valid := cells[:0]
	for i, c := range cells {
		if !sink.rejected[idxOf[i]] {
			valid = append(valid, c)
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
	s.log.InfoContext(ctx, "cells imported", "created", rep.Created, "updated", rep.Updated, "rejected", rep.Rejected,
		"dry_run", rep.DryRun, "actor", opt.Actor)
	return rep, nil
}

// cellFeature is a decoded cell as the census feature at input index x (its code, name and
// geometry), for ImportOptions.Rejected.
func cellFeature(c *Cell, x int) *Feature {
	return &Feature{Index: x, Geometry: c.Geometry, Props: map[string]string{"code": c.Code.String(), "name": c.Name}}
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
	return &Problem{Index: index, ID: c.Code.String(), Field: "geometry", Code: CodeComponentsOutsideCell,
		Message: fmt.Sprintf("the new geometry of cell %s leaves its component %s at %s outside it (a component keeps the cell it was located in)",
			c.Code, ref.ID, fmtPoint(ref.Point))}
}

// PutCell creates a cell or replaces the one with the same code. version, when > 0, must be
// the stored cell's current version (ErrVersionConflict otherwise).
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
	return stored[0], nil
}
