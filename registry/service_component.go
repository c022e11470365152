package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/paulmach/orb"
)

// importComponents reads components from r, computes each one's cell from its point, and
// stores them: new identifiers are created (missing ones assigned from the cell's district,
// the class and the next free serial), existing identifiers updated, each change recorded in
// the history under opt.Actor. Strict mode stores nothing if any feature is invalid.
func (s *Service) importComponents(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: string(CensusComponents), Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	sink.rejects = opt.Rejected
	in := interner{}
	// Held for the whole import: the cells each component is located in must not change
	// between validation and the write. Readers never take this lock.
	s.mu.Lock()
	defer s.mu.Unlock()

	// Decoded components go into fixed-size blocks, not one growing slice: a growing slice
	// of a million components is copied again and again, and every fresh page it touches is
	// a page fault (docs/benchmarks.md, "Figures behind the code").
	var blocks [][]Component
	var idxOf []int
	seen := map[ComponentCode]int{}
	named := unitNames{}
	total := 0
	var padded paddedClasses // class_code_padded warnings
	err := readCensus(r, opt, &rep, func(f *Feature) error {
		total++
		if opt.Progress != nil && total%progressEvery == 0 {
			opt.Progress(total)
		}
		if total%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		padded.add(&rep, PadClassCode(f, s.catalog))
		c, probs := DecodeComponent(f, s.catalog) // a reader's f.Err too, named by the feature's id
		if len(probs) > 0 {
			return sink.reject(f, probs...)
		}
		if p := s.locate(&c, f.Index); p != nil {
			return sink.reject(f, *p)
		}
		for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
			if id.IsZero() {
				continue
			}
			if first, dup := seen[id]; dup {
				return sink.reject(f, Problem{Index: f.Index, ID: id.String(), Field: "id", Code: CodeDuplicateID,
					Message: fmt.Sprintf("identifier %s already appears at feature %d", id, first)})
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
		named.add(&c, f.Index)
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
	padded.finish(&rep)
	if opt.Progress != nil {
		opt.Progress(total)
	}
	if err := s.warnUnknownUnits(ctx, &rep, named); err != nil {
		return rep, fmt.Errorf("import components: %w", err)
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

	// Components equal to their stored records are left as they are: no new version, no
	// history or feed entry. at holds the feature index of each element of valid.
	at := make([]int, 0, len(valid))
	for _, fi := range idxOf {
		if !sink.rejected[fi] {
			at = append(at, fi)
		}
	}
	if len(at) != len(valid) {
		return rep, fmt.Errorf("import components: %d valid components for %d features", len(valid), len(at))
	}
	// Problems found this late are handed to opt.Rejected with the component rebuilt as a
	// census feature (componentFeature).
	late := map[int]Component{}
	flushLate := func() error {
		return sink.flushLate(func(x int) *Feature {
			c := late[x]
			f := componentFeature(&c)
			f.Index = x
			return f
		})
	}
	nprobs := len(sink.rejected)
	valid, at, err = s.dropUnchanged(ctx, valid, at, &rep, sink, late)
	if err == nil {
		err = flushLate()
	}
	if err != nil {
		return rep, fmt.Errorf("import components: %w", err)
	}
	if len(sink.rejected) > nprobs && !sink.finish(total) { // retired components a census would bring back
		return rep, rejectedErr(&rep)
	}
	for {
		err = s.write(&rep, opt, len(valid), func() error {
			stored, err := s.store.PutComponents(ctx, valid, nil, opt.Actor)
			if err != nil {
				return err
			}
			s.index.ApplyComponents(stored)
			return nil
		})
		var ue *UnassignedError
		if !errors.As(err, &ue) {
			break
		}
		// Features no identifier is left for are problems of the report; in partial mode the
		// others are stored (a failed PutComponents stored nothing, so it is simply repeated).
		if valid, at, err = s.unassigned(sink, valid, at, ue, late); err == nil {
			err = flushLate()
		}
		if err != nil {
			return rep, fmt.Errorf("import components: %w", err)
		}
		rep.Created -= len(ue.Elements) // counted as new by dropUnchanged: they have no identifier
		if !sink.finish(total) {
			return rep, rejectedErr(&rep)
		}
	}
	if err != nil {
		return rep, fmt.Errorf("import components: %w", err)
	}
	s.log.InfoContext(ctx, "components imported", "created", rep.Created, "updated", rep.Updated, "unchanged", rep.Unchanged,
		"rejected", rep.Rejected, "dry_run", rep.DryRun, "actor", opt.Actor)
	return rep, nil
}

// dropUnchanged counts the valid components of an import as created, updated or unchanged
// (from the stored records their identifiers name) and returns those that must be written:
// the created and the updated, in order, in place of comps, with their feature indices (at
// holds those of comps). A component whose stored record is retired and which the census
// gives another status is a component_retired problem of sink (in late, by feature index, for
// the rejected features), and is not written.
func (s *Service) dropUnchanged(ctx context.Context, comps []Component, at []int, rep *Report, sink *problemSink, late map[int]Component) ([]Component, []int, error) {
	out, outAt := comps[:0], at[:0]
	batch, _ := s.store.(ComponentsByIDReader)
	var ids []ComponentCode
	for from := 0; from < len(comps); from += storedBatch {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		part := comps[from:min(from+storedBatch, len(comps))]
		var byID, byLegacy []Component
		var okID, okLegacy []bool
		if batch != nil {
			var err error
			ids = ids[:0]
			for i := range part {
				ids = append(ids, part[i].ID)
			}
			if byID, okID, err = batch.ComponentsByID(ctx, ids); err != nil {
				return nil, nil, err
			}
			ids = ids[:0]
			for i := range part {
				ids = append(ids, part[i].LegacyID)
			}
			if byLegacy, okLegacy, err = batch.ComponentsByID(ctx, ids); err != nil {
				return nil, nil, err
			}
		}
		for i := range part {
			c := &part[i]
			var cur Component
			var found bool
			switch {
			case batch == nil:
				var err error
				if cur, found, err = s.storedComponent(ctx, c); err != nil {
					return nil, nil, err
				}
			case okID[i]:
				cur, found = byID[i], true
			case okLegacy[i]:
				cur, found = byLegacy[i], true
			}
			switch {
			case !found:
				rep.Created++
			case cur.Status == StatusRemoved && c.Status != StatusRemoved:
				// A census does not bring a retired component back: a restore does.
				late[at[from+i]] = *c
				sink.addLate(Problem{Index: at[from+i], ID: c.ID.String(), Field: "status", Code: CodeComponentRetired,
					Message: fmt.Sprintf("component %s is retired: restore it (POST /api/v1/components/%s/restore) before a census changes it", cur.ID, cur.ID)})
				continue
			case SameStoredComponent(&cur, c):
				rep.Unchanged++
				continue
			default:
				rep.Updated++
			}
			out = append(out, *c)
			outAt = append(outAt, at[from+i])
		}
	}
	return out, outAt, nil
}

// storedBatch is how many components dropUnchanged looks up at once.
const storedBatch = 8192

// ComponentsByIDReader is what a Store may implement to look many identifiers up at once
// (store/postgres does: one query instead of one per identifier). ComponentsByID returns, for
// each of ids, the stored component it names as Store.Component would, and whether there is
// one (false for a zero identifier).
type ComponentsByIDReader interface {
	ComponentsByID(ctx context.Context, ids []ComponentCode) ([]Component, []bool, error)
}

// storedComponent returns the stored record that c's identifier (or else its legacy
// identifier) names; found is false when there is none, or c has no identifier yet.
func (s *Service) storedComponent(ctx context.Context, c *Component) (cur Component, found bool, err error) {
	for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
		if id.IsZero() {
			continue
		}
		cur, err = s.store.Component(ctx, id)
		switch {
		case err == nil:
			return cur, true, nil
		case !errors.Is(err, ErrComponentNotFound):
			return Component{}, false, err
		}
	}
	return Component{}, false, nil
}

// SameStoredComponent reports whether importing c again would leave the stored record cur as
// it is: every field a census sets is equal, once the identifiers c leaves to the store are
// filled in as Store.PutComponents fills them (a zero LegacyID and LegacyClass keep the
// stored ones; a record named by its legacy identifier keeps its ID). Key, Version, Updated
// and UpdatedBy, which belong to the store, are ignored; dates compare as instants.
func SameStoredComponent(cur, c *Component) bool {
	x := *c
	if x.ID.IsZero() || x.ID == cur.LegacyID && !cur.ID.IsZero() {
		x.ID = cur.ID
	}
	if x.LegacyID.IsZero() {
		x.LegacyID = cur.LegacyID
		if x.LegacyClass == "" {
			x.LegacyClass = cur.LegacyClass
		}
	}
	x.Key, x.Version, x.Updated, x.UpdatedBy = cur.Key, cur.Version, cur.Updated, cur.UpdatedBy
	if x.CensusDate.Equal(cur.CensusDate) {
		x.CensusDate = cur.CensusDate
	}
	if x.ChangeDate.Equal(cur.ChangeDate) {
		x.ChangeDate = cur.ChangeDate
	}
	return x == *cur
}

// unassigned adds a serials_exhausted problem for each element of valid that ue names (at
// holds the feature index of each element of valid; late keeps the component by that index,
// for the rejected features) and returns valid and at without them.
func (s *Service) unassigned(sink *problemSink, valid []Component, at []int, ue *UnassignedError, late map[int]Component) ([]Component, []int, error) {
	drop := make(map[int]bool, len(ue.Elements))
	for _, e := range ue.Elements {
		if e < 0 || e >= len(valid) {
			return nil, nil, fmt.Errorf("element %d of %d: %w", e, len(valid), ue)
		}
		c := &valid[e]
		drop[e] = true
		late[at[e]] = *c
		sink.addLate(Problem{Index: at[e], Field: "id", Code: CodeSerialsExhausted,
			Message: fmt.Sprintf("no identifier is left to assign: every serial of district %s class %s is taken; give the component an id", c.Cell.District(), c.Class)})
	}
	kept, keptAt := valid[:0], at[:0]
	for i := range valid {
		if !drop[i] {
			kept, keptAt = append(kept, valid[i]), append(keptAt, at[i])
		}
	}
	return kept, keptAt, nil
}

// unitNames counts the distinct maintainers and owners of an import's components: field
// ("maintainer" or "owner") and value → the first feature naming it and how many do.
type unitNames map[[2]string]*unitNamed

type unitNamed struct {
	index, count int
	id           string
}

func (u unitNames) add(c *Component, index int) {
	for _, fv := range [...][2]string{{"maintainer", c.Maintainer}, {"owner", c.Owner}} {
		if fv[1] == "" {
			continue
		}
		if n := u[fv]; n != nil {
			n.count++
			continue
		}
		u[fv] = &unitNamed{index: index, count: 1, id: c.ID.String()}
	}
}

// warnUnknownUnits adds an unknown_unit_name warning for each maintainer or owner that names no
// stored unit, neither by its id nor by its name: one per distinct value, at the first feature
// naming it, with how many do. Such a maintainer is never responsible for a problem (the
// lookup says so in its reason), so a typo would otherwise go unnoticed.
func (s *Service) warnUnknownUnits(ctx context.Context, rep *Report, named unitNames) error {
	if len(named) == 0 {
		return nil
	}
	units, err := s.store.Units(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]bool, 2*len(units))
	for _, u := range units {
		known[u.ID], known[u.Name] = true, true
	}
	type warning struct {
		field, value string
		n            *unitNamed
	}
	var ws []warning
	for fv, n := range named {
		if !known[fv[1]] {
			ws = append(ws, warning{fv[0], fv[1], n})
		}
	}
	slices.SortFunc(ws, func(a, b warning) int {
		return cmp.Or(cmp.Compare(a.n.index, b.n.index), strings.Compare(a.field, b.field))
	})
	for _, w := range ws {
		more := ""
		if w.n.count > 1 {
			more = fmt.Sprintf(" (%d components name it; this is the first)", w.n.count)
		}
		rep.Warn(w.n.index, w.n.id, w.field, CodeUnknownUnitName,
			"%s %q names no unit (neither a unit id nor a unit name)%s; import the unit or correct the name, else it is never responsible for a problem", w.field, w.value, more)
	}
	return nil
}

// importBlock is how many decoded components importComponents keeps per block.
const importBlock = 8192

// locate sets c.Cell from c.Point and checks that an identifier's district matches the
// cell's. It returns the problem, or nil.
func (s *Service) locate(c *Component, index int) *Problem {
	cell, err := s.index.CellAt(c.Point)
	if err != nil {
		code := ErrorCode(err)
		if code == CodeInternal {
			code = CodeOutsideGrid
		}
		p := &Problem{Index: index, ID: c.ID.String(), Field: "geometry", Code: code,
			Message: fmt.Sprintf("component at %s lies outside every grid cell", fmtPoint(c.Point))}
		if cell, err := s.index.CellAt(orb.Point{c.Point[1], c.Point[0]}); err == nil {
			p.Hint = fmt.Sprintf("the coordinates look swapped: as lon %s, lat %s the point lies in cell %s; write longitude first",
				fmtCoord(c.Point[1]), fmtCoord(c.Point[0]), cell.Code)
		} else {
			p.Hint = CoordHint(c.Point[0], c.Point[1])
		}
		return p
	}
	c.Cell = cell.Code
	for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
		if !id.IsZero() && id.Admin() != cell.Code.District() {
			return &Problem{Index: index, ID: id.String(), Field: "id", Code: CodeDistrictMismatch,
				Message: fmt.Sprintf("identifier %s is of district %s but the component lies in cell %s of district %s",
					id, id.Admin(), cell.Code, cell.Code.District())}
		}
	}
	return nil
}
