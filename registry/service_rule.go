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

// importRules reads a rules document. The document is the city's whole ordered rule set:
// stored rules that are not in it are removed in the same transaction.
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
		if ru.Unit != "" && !has(units, ru.Unit) {
			sink.add(Problem{Index: i, ID: ru.ID, Field: "unit", Code: CodeUnknownUnit,
				Message: fmt.Sprintf("unit %q is not a known unit", ru.Unit)})
		}
	}
	// An empty document is refused (ErrEmptyCensus): it never clears the rules.
	if !sink.finish(len(rules)) {
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
	var reloadErr error
	err = s.write(&rep, opt, len(set), func() error {
		if _, err := s.store.PutRules(ctx, set, true); err != nil {
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

// PutRule creates or replaces one rule; its unit must exist, and its id and unit have at most
// MaxIDLength characters (too_long). version, when > 0, must be the
// stored rule's current version (ErrVersionConflict; ErrRuleNotFound when there is no such
// rule); 0 writes unconditionally. The stored rule has Version 1 when it was created.
func (s *Service) PutRule(ctx context.Context, ru Rule, version int64) (Rule, error) {
	if ru.ID == "" || ru.Unit == "" {
		return Rule{}, Errorf(Invalid, CodeInvalidRule, "a rule needs an id and a unit")
	}
	if err := firstProblem(func(add func(string, string, string, ...any)) { checkRuleIDs(&ru, add) }); err != nil {
		return Rule{}, err
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
		return Rule{}, Errorf(Invalid, CodeUnknownUnit, "unit %q does not exist", ru.Unit)
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
