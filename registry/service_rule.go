package registry

import (
	"context"
	"fmt"
	"io"
	"slices"
)

func (s *Service) reloadRules(ctx context.Context) error {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("reload rules: %w", err)
	}
	s.index.SetRules(rules)
	return nil
}

// importRules reads a rules document and upserts its rules by id: with mode strict or partial
// stored rules the document does not name stay; with mode replace the document is the city's
// whole rule set, and stored rules it does not name are removed in the same transaction
// (replace is as strict as strict: one refused entry and nothing changes). A rule's unit must
// exist (unknown_unit), and so must its area in the grid (unknown_area, see checkRuleArea). An
// empty document is refused in every mode (empty_census): it never removes the rules. Entries
// equal to their stored rule change nothing (Report.Unchanged).
func (s *Service) importRules(ctx context.Context, r io.Reader, opt ImportOptions) (Report, error) {
	rep := Report{Kind: string(CensusRules), Mode: modeOr(opt.Mode)}
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
		if sink.rejected[i] {
			continue
		}
		if p := s.ruleRefProblem(&ru, units); p != nil {
			p.Index, p.ID = i, ru.ID
			sink.add(*p)
		}
	}
	// An empty document is refused (ErrEmptyCensus): it never clears the rules.
	if !sink.finish(len(rules)) {
		return rep, rejectedErr(&rep)
	}
	old, err := s.store.Rules(ctx)
	if err != nil {
		return rep, fmt.Errorf("import rules: %w", err)
	}
	byID := make(map[string]*Rule, len(old))
	for i := range old {
		byID[old[i].ID] = &old[i]
	}
	named := make(map[string]bool, len(rules)) // every id of the document, refused entries too
	var changed []Rule
	for i, ru := range rules {
		named[ru.ID] = true
		if sink.rejected[i] {
			continue
		}
		if o := byID[ru.ID]; o != nil && SameRule(o, &ru) {
			rep.Unchanged++
			continue
		}
		changed = append(changed, ru)
	}
	var remove []string
	if rep.Mode == ModeReplace {
		for _, o := range old {
			if !named[o.ID] {
				remove = append(remove, o.ID)
			}
		}
	}
	for _, ru := range changed {
		if byID[ru.ID] != nil {
			rep.Updated++
		} else {
			rep.Created++
		}
	}
	rep.Deleted = len(remove)
	var reloadErr error
	err = s.write(&rep, opt, len(changed)+len(remove), func() error {
		if _, err := s.store.PutRules(ctx, changed, remove, actorOr(opt.Actor)); err != nil {
			return err
		}
		reloadErr = s.reloadRules(ctx)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("import rules: %w", err)
	}
	return rep, reloadErr
}

// ruleRefProblem checks what a rule names against the registry: its unit must be one of
// units (unknown_unit) and its area must exist in the grid (unknown_area). An area exists
// when an indexed cell's code is the area or starts with it, that is when the rule can match
// a cell at all: a district, street or community code exists as long as one cell of it is
// stored, a cell code when that cell is (a 14-digit code also when 15-character cells start
// with it, which the rule matches). The problem's Index and ID are left for the caller.
func (s *Service) ruleRefProblem(ru *Rule, units []Unit) *Problem {
	if ru.Unit != "" && !has(units, ru.Unit) {
		return &Problem{Field: "unit", Code: CodeUnknownUnit, Message: fmt.Sprintf("unit %q is not a known unit", ru.Unit)}
	}
	if ru.Area != "" && !s.index.HasCells(ru.Area) {
		return &Problem{Field: "area", Code: CodeUnknownArea,
			Message: fmt.Sprintf("area %q names no stored grid cell: no cell code is or starts with it (import the grid first)", ru.Area)}
	}
	return nil
}

// PutRule creates or replaces one rule on behalf of actor. version is the precondition
// (NoVersion, AnyVersion or the stored version: see NoVersion). Its unit must exist
// (unknown_unit), its area in the grid (unknown_area), and its id and unit have at most
// MaxIDLength characters (too_long). The stored rule has Version 1 when it was created; a
// rule equal to the stored one is not written and comes back with its version unchanged.
func (s *Service) PutRule(ctx context.Context, ru Rule, version int64, actor string) (Rule, error) {
	if ru.ID == "" || ru.Unit == "" {
		return Rule{}, Errorf(Invalid, CodeInvalidRule, "a rule needs an id and a unit")
	}
	if err := firstProblem(func(add func(string, string, string, ...any)) { checkRuleIDs(&ru, add) }); err != nil {
		return Rule{}, err
	}
	if err := CheckActor(actor); err != nil {
		return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, err)
	}
	i := slices.IndexFunc(rules, func(o Rule) bool { return o.ID == ru.ID })
	var cur int64
	if i >= 0 {
		cur = rules[i].Version
	}
	if err := checkVersion("put rule", ru.ID, i >= 0, cur, version, true, ErrRuleNotFound); err != nil {
		return Rule{}, err
	}
	units, err := s.store.Units(ctx)
	if err != nil {
		return Rule{}, fmt.Errorf("put rule %s: %w", ru.ID, err)
	}
	if p := s.ruleRefProblem(&ru, units); p != nil {
		p.Index, p.ID = -1, ru.ID
		return Rule{}, p.Err()
	}
	if i >= 0 && SameRule(&rules[i], &ru) {
		return rules[i], nil
	}
	var stored []Rule
	var reloadErr error
	err = s.commit(func() error {
		var err error
		if stored, err = s.store.PutRules(ctx, []Rule{ru}, nil, actorOr(actor)); err != nil {
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

// DeleteRule removes one rule on behalf of actor, under the precondition version (see
// NoVersion: a delete needs AnyVersion or the stored version); ErrRuleNotFound. Its history
// stays.
func (s *Service) DeleteRule(ctx context.Context, id string, version int64, actor string) error {
	if err := CheckActor(actor); err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	i := slices.IndexFunc(rules, func(o Rule) bool { return o.ID == id })
	var cur int64
	if i >= 0 {
		cur = rules[i].Version
	}
	if err := checkVersion("delete rule", id, i >= 0, cur, version, false, ErrRuleNotFound); err != nil {
		return err
	}
	var reloadErr error
	err = s.commit(func() error {
		if err := s.store.DeleteRule(ctx, id, actorOr(actor)); err != nil {
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

// RuleHistory returns every change of the rule with id, oldest first, also once it is
// deleted; ErrRuleNotFound when there was never such a rule.
func (s *Service) RuleHistory(ctx context.Context, id string) ([]Revision[Rule], error) {
	return s.store.RuleHistory(ctx, id)
}
