package postgres

import (
	"context"
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

// PutRules creates rules whose ID is new (Version 1) and replaces the others (Version+1); with
// replace, every stored rule not in rules is removed in the same transaction. It returns the
// stored rules in input order. Errors as PutUnits.
func (s *Store) PutRules(ctx context.Context, rules []registry.Rule, replace bool) ([]registry.Rule, error) {
	out := slices.Clone(rules)
	if out == nil {
		out = []registry.Rule{}
	}
	if err := registry.CheckIDs(len(out), func(i int) string { return out[i].ID }); err != nil {
		return nil, fmt.Errorf("put rules: %w", err)
	}
	err := s.write(ctx, func(w *wtx) error { return w.putRules(ctx, out, replace, w.now) })
	if err != nil {
		return nil, fmt.Errorf("put rules: %w", err)
	}
	return out, nil
}

func (w *wtx) putRules(ctx context.Context, out []registry.Rule, replace bool, now time.Time) error {
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	if replace {
		rows, err := w.Query(ctx, "DELETE FROM rules WHERE NOT (id = ANY($1)) RETURNING id", ids)
		if err != nil {
			return err
		}
		dropped, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		slices.Sort(dropped)
		if len(dropped) > 0 {
			first, err := w.changeSeqs(ctx, len(dropped))
			if err != nil {
				return err
			}
			ops := make([]string, len(dropped))
			for i := range dropped {
				ops[i] = string(registry.OpDelete)
			}
			if err := writeChanges(ctx, w.Tx, registry.FeedRule, now, "", int64(first), ops, nil, dropped); err != nil {
				return err
			}
		}
	}
	n := len(out)
	if n == 0 {
		return nil
	}
	versions, err := storedVersions(ctx, w.Tx, "SELECT id, version FROM rules WHERE id = ANY($1)", ids)
	if err != nil {
		return err
	}
	first, err := w.changeSeqs(ctx, n)
	if err != nil {
		return err
	}
	ops := make([]string, n)
	ords, vers := make([]int64, n), make([]int64, n)
	inUnit := make([]bool, n)
	classes, kinds, areas, units, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i := range out {
		r := &out[i]
		r.Version, ops[i] = 1, string(registry.OpCreate)
		if v, ok := versions[r.ID]; ok {
			r.Version, ops[i] = v+1, string(registry.OpUpdate)
		}
		ords[i], vers[i], inUnit[i] = int64(r.Order), r.Version, r.InUnit
		classes[i], kinds[i], areas[i], units[i], reasons[i] = r.Class, r.Kind, r.Area, r.Unit, r.Reason
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
	return writeChanges(ctx, w.Tx, registry.FeedRule, now, "", int64(first), ops, nil, ids)
}

// DeleteRule removes the rule with id, or returns an error wrapping registry.ErrRuleNotFound.
func (s *Store) DeleteRule(ctx context.Context, id string) error {
	err := s.write(ctx, func(w *wtx) error {
		return w.delete(ctx, "DELETE FROM rules WHERE id = $1", registry.FeedRule, id, w.now, registry.ErrRuleNotFound)
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}
