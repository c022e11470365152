package registry

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// importUnits reads a units document and stores its units (created or replaced by id; stored
// units it does not name stay), recording opt.Actor in their history. References (parent,
// supervisor) must name a unit in the document or in the store. Entries equal to the stored
// unit change nothing (Report.Unchanged); a document without entries is refused
// (empty_census).
func (s *Service) importUnits(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: string(CensusUnits), Mode: modeOr(opt.Mode)}
	sink := newSink(&rep, s.MaxProblems)
	units, probs, err := DecodeUnits(r)
	if err != nil {
		return rep, fmt.Errorf("import units: %w", err)
	}
	sink.addAll(probs)
	if err := unitsToWGS84(units, opt, &rep); err != nil {
		return rep, fmt.Errorf("import units: %w", err)
	}

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
	byID := make(map[string]*Unit, len(stored))
	for i := range stored {
		byID[stored[i].ID] = &stored[i]
	}
	// Entries equal to the stored unit change nothing: no version, no feed entry, no history.
	var changed []Unit
	for i, u := range units {
		if sink.rejected[i] {
			continue
		}
		if old := byID[u.ID]; old != nil && SameUnit(old, &u) {
			rep.Unchanged++
			continue
		}
		changed = append(changed, u)
	}
	for _, u := range changed {
		if byID[u.ID] != nil {
			rep.Updated++
		} else {
			rep.Created++
		}
	}
	var reloadErr error
	err = s.write(&rep, opt, len(changed), func() error {
		if _, err := s.store.PutUnits(ctx, changed, actorOr(opt.Actor)); err != nil {
			return err
		}
		reloadErr = s.reloadUnits(ctx)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import units: %w", err)
	}
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
			add("type", CodeInvalidSupervisor, "unit %q supervises unit %q, so it must stay an admin_department, not become a %s", u.ID, v, u.Type)
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
			return &Problem{Field: ref.field, Code: CodeInvalidReference, Message: fmt.Sprintf("unit %q names itself as its %s", u.ID, ref.field)}
		case byID[ref.id] == nil:
			return &Problem{Field: ref.field, Code: CodeUnknownUnit, Message: fmt.Sprintf("%s %q is not a known unit", ref.field, ref.id)}
		}
	}
	if u.Supervisor != "" {
		if sup := byID[u.Supervisor]; sup.Type != UnitAdminDepartment {
			return &Problem{Field: "supervisor", Code: CodeInvalidSupervisor,
				Message: fmt.Sprintf("supervisor %q is a %s, want an admin_department", u.Supervisor, sup.Type)}
		}
	}
	// Follow the parents; coming back to u is a cycle. The walk is bounded by the number of
	// units, so a cycle that does not pass through u (none can be stored) cannot loop forever.
	for p, steps := u.Parent, 0; p != "" && steps <= len(byID); steps++ {
		if p == u.ID {
			return &Problem{Field: "parent", Code: CodeParentCycle, Message: fmt.Sprintf("the parents of unit %q lead back to it", u.ID)}
		}
		next := byID[p]
		if next == nil {
			break
		}
		p = next.Parent
	}
	return nil
}

// Preconditions of PutUnit, PutRule, DeleteUnit and DeleteRule, as a client states them with
// If-Match: a version > 0 is the version the stored record must have (else
// ErrVersionConflict), AnyVersion ("*") any version of a stored record (ErrUnitNotFound or
// ErrRuleNotFound when there is none), and NoVersion (no If-Match) that there is no stored
// record yet: a write that would replace or remove one is ErrPreconditionRequired.
const (
	NoVersion  int64 = -1
	AnyVersion int64 = 0
)

// checkVersion applies a precondition to the stored record's version cur (found: whether it
// exists); create says whether the write may create the record.
func checkVersion(what, id string, found bool, cur, version int64, create bool, notFound error) error {
	switch {
	case !found && create && version == NoVersion:
		return nil
	case !found:
		return fmt.Errorf("%s %s: %w", what, id, notFound)
	case version == NoVersion:
		return fmt.Errorf("%s %s (version %d): %w", what, id, cur, ErrPreconditionRequired)
	case version > 0 && cur != version:
		return fmt.Errorf("%s %s (version %d, current %d): %w", what, id, version, cur, ErrVersionConflict)
	}
	return nil
}

// actorOr returns actor, or "anonymous" for none: every change names who made it.
func actorOr(actor string) string {
	if actor == "" {
		return "anonymous"
	}
	return actor
}

// PutUnit creates or replaces one unit on behalf of actor. version is the precondition
// (NoVersion, AnyVersion or the stored version: see NoVersion). Its parent and supervisor
// must exist (unknown_unit), its parents must not lead back to it (parent_cycle), its
// supervisor must be an admin_department, and a unit that supervises another must stay one
// (invalid_supervisor). Its id, parent and supervisor have at most MaxIDLength characters
// (too_long). The stored unit has Version 1 when it was created; a unit equal to the stored
// one is not written and comes back with its version unchanged.
func (s *Service) PutUnit(ctx context.Context, u Unit, version int64, actor string) (Unit, error) {
	if u.ID == "" || u.Name == "" || u.Type == 0 {
		return Unit{}, Errorf(Invalid, CodeInvalidUnit, "a unit needs an id, a name and a type")
	}
	if err := firstProblem(func(add func(string, string, string, ...any)) { checkUnitIDs(&u, add) }); err != nil {
		return Unit{}, err
	}
	if err := CheckActor(actor); err != nil {
		return Unit{}, fmt.Errorf("put unit %s: %w", u.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	units, err := s.store.Units(ctx)
	if err != nil {
		return Unit{}, fmt.Errorf("put unit %s: %w", u.ID, err)
	}
	i := slices.IndexFunc(units, func(o Unit) bool { return o.ID == u.ID })
	var cur int64
	if i >= 0 {
		cur = units[i].Version
	}
	if err := checkVersion("put unit", u.ID, i >= 0, cur, version, true, ErrUnitNotFound); err != nil {
		return Unit{}, err
	}
	if ps := unitGraphProblems(units, []Unit{u}, []int{-1}); len(ps) > 0 {
		return Unit{}, ps[0].Err()
	}
	if i >= 0 && SameUnit(&units[i], &u) {
		return units[i], nil
	}
	var stored []Unit
	var reloadErr error
	err = s.commit(func() error {
		var err error
		if stored, err = s.store.PutUnits(ctx, []Unit{u}, actorOr(actor)); err != nil {
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

// DeleteUnit removes a unit on behalf of actor, under the precondition version (see
// NoVersion: a delete needs AnyVersion or the stored version). A unit that a rule or another
// unit refers to stays (Conflict "unit_in_use"). Its history stays too.
func (s *Service) DeleteUnit(ctx context.Context, id string, version int64, actor string) error {
	if err := CheckActor(actor); err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	units, err := s.store.Units(ctx)
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	i := slices.IndexFunc(units, func(o Unit) bool { return o.ID == id })
	var cur int64
	if i >= 0 {
		cur = units[i].Version
	}
	if err := checkVersion("delete unit", id, i >= 0, cur, version, false, ErrUnitNotFound); err != nil {
		return err
	}
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	for _, r := range rules {
		if r.Unit == id {
			return Errorf(Conflict, CodeUnitInUse, "unit %s is used by rule %s", id, r.ID)
		}
	}
	for _, u := range units {
		if u.ID != id && (u.Parent == id || u.Supervisor == id) {
			return Errorf(Conflict, CodeUnitInUse, "unit %s is referenced by unit %s", id, u.ID)
		}
	}
	var reloadErr error
	err = s.commit(func() error {
		if err := s.store.DeleteUnit(ctx, id, actorOr(actor)); err != nil {
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

// UnitHistory returns every change of the unit with id, oldest first, also once it is
// deleted; ErrUnitNotFound when there was never such a unit.
func (s *Service) UnitHistory(ctx context.Context, id string) ([]Revision[Unit], error) {
	return s.store.UnitHistory(ctx, id)
}
