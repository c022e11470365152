package bolt

import (
	"bytes"
	"cmp"
	"context"
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

// PutRules creates rules whose ID is new (Version 1) and replaces the others (Version+1); with
// replace, every stored rule not in rules is removed in the same transaction. It returns the
// stored rules in input order. Errors as PutUnits.
func (s *Store) PutRules(ctx context.Context, rules []registry.Rule, replace bool) ([]registry.Rule, error) {
	out := slices.Clone(rules)
	if out == nil {
		out = []registry.Rule{}
	}
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if err := registry.CheckIDs(len(out), func(i int) string { return out[i].ID }); err != nil {
			return err
		}
		if replace {
			keep := make(map[string]bool, len(out))
			for i := range out {
				keep[out[i].ID] = true
			}
			var drop [][]byte
			if err := w.rules.ForEach(func(k, _ []byte) error {
				if !keep[string(k)] {
					drop = append(drop, bytes.Clone(k))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range drop {
				if err := w.rules.Delete(k); err != nil {
					return err
				}
				if _, err := w.change(kindRule, opDelete, now, "", string(k), registry.ComponentCode{}); err != nil {
					return err
				}
			}
		}
		var old registry.Rule
		for i := range out {
			r := &out[i]
			op := opCreate
			r.Version = 1
			if v := w.rules.Get([]byte(r.ID)); v != nil {
				if err := decodeRule(&old, []byte(r.ID), v); err != nil {
					return fmt.Errorf("rule %s: %w", r.ID, err)
				}
				r.Version, op = old.Version+1, opUpdate
			}
			if err := w.rules.Put([]byte(r.ID), appendRule(nil, r)); err != nil {
				return err
			}
			if _, err := w.change(kindRule, op, now, "", r.ID, registry.ComponentCode{}); err != nil {
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

// DeleteRule removes the rule with id, or returns an error wrapping registry.ErrRuleNotFound.
func (s *Store) DeleteRule(ctx context.Context, id string) error {
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if w.rules.Get([]byte(id)) == nil {
			return registry.ErrRuleNotFound
		}
		if err := w.rules.Delete([]byte(id)); err != nil {
			return err
		}
		_, err := w.change(kindRule, opDelete, now, "", id, registry.ComponentCode{})
		return err
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}
