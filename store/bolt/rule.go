package bolt

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"citygrid/registry"

	"go.etcd.io/bbolt"
)

// Rules returns every rule sorted by Order, then ID.
func (s *Store) Rules(ctx context.Context) ([]registry.Rule, error) {
	var out []registry.Rule
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRules).ForEach(func(k, v []byte) error {
			var r registry.Rule
			if err := decodeRule(&r, k, v); err != nil {
				return fmt.Errorf("rule %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	sortRules(out)
	return out, nil
}

func sortRules(rs []registry.Rule) {
	slices.SortFunc(rs, func(a, b registry.Rule) int {
		if c := cmp.Compare(a.Order, b.Order); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// PutRules creates rules whose ID is new (Version 1) and replaces the others (Version+1), and
// removes the stored rules whose IDs are in remove (skipping those not stored), in one
// transaction, recording each change with actor in the rule's history and the feed. It returns
// the stored rules in input order. Errors as PutUnits; an ID both in rules and in remove is an
// error wrapping registry.ErrInvalidInput.
func (s *Store) PutRules(ctx context.Context, rules []registry.Rule, remove []string, actor string) ([]registry.Rule, error) {
	out := slices.Clone(rules)
	if out == nil {
		out = []registry.Rule{}
	}
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if err := registry.CheckRuleWrite(out, remove); err != nil {
			return err
		}
		for _, id := range remove {
			err := w.deleteRecord(w.rules, w.ruleHistory, kindRule, id, now, actor, errSkip, ruleVersion(id))
			if err != nil && err != errSkip {
				return err
			}
		}
		for i := range out {
			r := &out[i]
			op := opCreate
			r.Version = 1
			var before []byte
			if v := w.rules.Get([]byte(r.ID)); v != nil {
				var old registry.Rule
				if err := decodeRule(&old, []byte(r.ID), v); err != nil {
					return fmt.Errorf("rule %s: %w", r.ID, err)
				}
				r.Version, op = old.Version+1, opUpdate
				before = bytes.Clone(v)
			}
			after := appendRule(nil, r)
			if err := w.rules.Put([]byte(r.ID), after); err != nil {
				return err
			}
			seq, err := w.change(kindRule, op, now, actor, r.ID, registry.ComponentCode{})
			if err != nil {
				return err
			}
			if err := putRevision(w.ruleHistory, r.ID, seq, op, r.Version, now, actor, before, after); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put rules: %w", err)
	}
	return out, nil
}

// errSkip marks a rule to remove that is not stored.
var errSkip = errors.New("not stored")

func ruleVersion(id string) func([]byte) (int64, error) {
	return func(v []byte) (int64, error) {
		var r registry.Rule
		err := decodeRule(&r, []byte(id), v)
		return r.Version, err
	}
}

// DeleteRule removes the rule with id, recording the delete with actor (the rule's history
// stays), or returns an error wrapping registry.ErrRuleNotFound.
func (s *Store) DeleteRule(ctx context.Context, id, actor string) error {
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		return w.deleteRecord(w.rules, w.ruleHistory, kindRule, id, now, actor, registry.ErrRuleNotFound, ruleVersion(id))
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}

// RuleHistory returns every change of the rule with id, oldest first, also after it was
// deleted: an empty list for a rule stored before histories were kept, an error wrapping
// registry.ErrRuleNotFound when there is neither rule nor history.
func (s *Store) RuleHistory(ctx context.Context, id string) ([]registry.Revision[registry.Rule], error) {
	var out []registry.Revision[registry.Rule]
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = readRevisions(tx.Bucket(bucketRuleHistory), tx.Bucket(bucketRules), id, registry.ErrRuleNotFound,
			func(v []byte) (*registry.Rule, error) {
				r := new(registry.Rule)
				return r, decodeRule(r, []byte(id), v)
			})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get history of rule %s: %w", id, err)
	}
	return out, nil
}
