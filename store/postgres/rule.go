package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
)

const ruleCols = "id, ord, class, kind, area, in_unit, unit, reason, version"

func decodeRule(r *registry.Rule, vals [][]byte) error {
	if len(vals) != 9 {
		return fmt.Errorf("rule row of %d columns", len(vals))
	}
	*r = registry.Rule{ID: string(vals[0]), Class: string(vals[2]), Kind: string(vals[3]),
		Area: string(vals[4]), Unit: string(vals[6]), Reason: string(vals[7])}
	ord, err := getInt8(vals[1])
	if err != nil {
		return fmt.Errorf("rule %s: ord: %w", r.ID, err)
	}
	r.Order = int(ord)
	if r.InUnit, err = getBool(vals[5]); err != nil {
		return fmt.Errorf("rule %s: in_unit: %w", r.ID, err)
	}
	if r.Version, err = getInt8(vals[8]); err != nil {
		return fmt.Errorf("rule %s: version: %w", r.ID, err)
	}
	return nil
}

// Rules returns every rule sorted by Order, then ID (byte order).
func (s *Store) Rules(ctx context.Context) ([]registry.Rule, error) {
	var out []registry.Rule
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+ruleCols+" FROM rules ORDER BY ord, id", binaryResults)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r registry.Rule
			if err := decodeRule(&r, rows.RawValues()); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return out, nil
}

// PutRules creates rules whose ID is new (Version 1) and replaces the others (Version+1), and
// removes the stored rules whose IDs are in remove (skipping those not stored), in one
// transaction, recording each change with actor in rule_history and the feed. It returns the
// stored rules in input order. Errors as PutUnits; an ID both in rules and in remove is an
// error wrapping registry.ErrInvalidInput.
func (s *Store) PutRules(ctx context.Context, rules []registry.Rule, remove []string, actor string) ([]registry.Rule, error) {
	out := slices.Clone(rules)
	if out == nil {
		out = []registry.Rule{}
	}
	if err := registry.CheckRuleWrite(out, remove); err != nil {
		return nil, fmt.Errorf("put rules: %w", err)
	}
	err := s.write(ctx, func(w *wtx) error { return w.putRules(ctx, out, remove, actor, w.now) })
	if err != nil {
		return nil, fmt.Errorf("put rules: %w", err)
	}
	return out, nil
}

func queryRules(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]registry.Rule, error) {
	rows, err := tx.Query(ctx, sql, append([]any{binaryResults}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []registry.Rule
	for rows.Next() {
		var r registry.Rule
		if err := decodeRule(&r, rows.RawValues()); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (w *wtx) putRules(ctx context.Context, out []registry.Rule, remove []string, actor string, now time.Time) error {
	if len(remove) > 0 {
		dropped, err := queryRules(ctx, w.Tx, "DELETE FROM rules WHERE id = ANY($1) RETURNING "+ruleCols, remove)
		if err != nil {
			return err
		}
		slices.SortFunc(dropped, func(a, b registry.Rule) int { return cmp.Compare(a.ID, b.ID) })
		for i := range dropped {
			if err := w.recordDelete(ctx, registry.FeedRule, "rule_history", dropped[i].ID, dropped[i].Version, actor, ruleImage(&dropped[i])); err != nil {
				return err
			}
		}
	}
	n := len(out)
	if n == 0 {
		return nil
	}
	ids := make([]string, n)
	for i := range out {
		ids[i] = out[i].ID
	}
	stored, err := queryRules(ctx, w.Tx, "SELECT "+ruleCols+" FROM rules WHERE id = ANY($1)", ids)
	if err != nil {
		return err
	}
	old := make(map[string]*registry.Rule, len(stored))
	for i := range stored {
		old[stored[i].ID] = &stored[i]
	}
	first, err := w.changeSeqs(ctx, n)
	if err != nil {
		return err
	}
	ops := make([]string, n)
	ords, vers := make([]int64, n), make([]int64, n)
	inUnit := make([]bool, n)
	classes, kinds, areas, units, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	var hist pgx.Batch
	for i := range out {
		r := &out[i]
		r.Version, ops[i] = 1, string(registry.OpCreate)
		before := old[r.ID]
		if before != nil {
			r.Version, ops[i] = before.Version+1, string(registry.OpUpdate)
		}
		ords[i], vers[i], inUnit[i] = int64(r.Order), r.Version, r.InUnit
		classes[i], kinds[i], areas[i], units[i], reasons[i] = r.Class, r.Kind, r.Area, r.Unit, r.Reason
		queueRevision(&hist, "rule_history", r.ID, first+uint64(i), now, actor, ops[i], r.Version, ruleImage(before), ruleImage(r))
	}
	if _, err := w.Exec(ctx, `INSERT INTO rules (id, ord, class, kind, area, in_unit, unit, reason, version)
		SELECT id, ord, NULLIF(class, ''), NULLIF(kind, ''), NULLIF(area, ''), in_unit, NULLIF(unit, ''), NULLIF(reason, ''), version
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::bigint[])
			AS u(id, ord, class, kind, area, in_unit, unit, reason, version)
		ON CONFLICT (id) DO UPDATE SET ord = excluded.ord, class = excluded.class, kind = excluded.kind,
			area = excluded.area, in_unit = excluded.in_unit, unit = excluded.unit, reason = excluded.reason,
			version = excluded.version`,
		ids, ords, classes, kinds, areas, inUnit, units, reasons, vers); err != nil {
		return err
	}
	if err := w.SendBatch(ctx, &hist).Close(); err != nil {
		return err
	}
	return writeChanges(ctx, w.Tx, registry.FeedRule, now, actor, int64(first), ops, nil, ids)
}

// DeleteRule removes the rule with id, recording the delete with actor (its history stays),
// or returns an error wrapping registry.ErrRuleNotFound.
func (s *Store) DeleteRule(ctx context.Context, id, actor string) error {
	err := s.write(ctx, func(w *wtx) error {
		rules, err := queryRules(ctx, w.Tx, "DELETE FROM rules WHERE id = $1 RETURNING "+ruleCols, id)
		if err != nil {
			return err
		}
		if len(rules) == 0 {
			return registry.ErrRuleNotFound
		}
		return w.recordDelete(ctx, registry.FeedRule, "rule_history", id, rules[0].Version, actor, ruleImage(&rules[0]))
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}

// ruleJSON is a rule as a history row keeps it: the columns of rules.
type ruleJSON struct {
	ID      string `json:"id"`
	Order   int    `json:"ord"`
	Class   string `json:"class"`
	Kind    string `json:"kind"`
	Area    string `json:"area"`
	InUnit  bool   `json:"in_unit"`
	Unit    string `json:"unit"`
	Reason  string `json:"reason"`
	Version int64  `json:"version"`
}

// ruleImage encodes r for a history row; nil for none.
func ruleImage(r *registry.Rule) *string {
	if r == nil {
		return nil
	}
	b, err := json.Marshal(ruleJSON{ID: r.ID, Order: r.Order, Class: r.Class, Kind: r.Kind, Area: r.Area,
		InUnit: r.InUnit, Unit: r.Unit, Reason: r.Reason, Version: r.Version})
	if err != nil { // cannot happen: strings, numbers and a bool
		panic(err)
	}
	s := string(b)
	return &s
}

func decodeRuleImage(b []byte) (*registry.Rule, error) {
	var j ruleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	return &registry.Rule{ID: j.ID, Order: j.Order, Class: j.Class, Kind: j.Kind, Area: j.Area,
		InUnit: j.InUnit, Unit: j.Unit, Reason: j.Reason, Version: j.Version}, nil
}

// RuleHistory returns every change of the rule with id, oldest first, also after it was
// deleted: an empty list for a rule stored before histories were kept (schema version 4), an
// error wrapping registry.ErrRuleNotFound when there is neither rule nor history.
func (s *Store) RuleHistory(ctx context.Context, id string) ([]registry.Revision[registry.Rule], error) {
	var out []registry.Revision[registry.Rule]
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = readRevisions(ctx, tx, "rule_history", "rules", id, registry.ErrRuleNotFound, decodeRuleImage)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get history of rule %s: %w", id, err)
	}
	return out, nil
}
