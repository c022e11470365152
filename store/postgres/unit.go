package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
)

const unitCols = "id, name, type, parent, supervisor, districts, area, phone, version, updated"

func decodeUnit(u *registry.Unit, vals [][]byte) error {
	if len(vals) != 10 {
		return fmt.Errorf("unit row of %d columns", len(vals))
	}
	*u = registry.Unit{ID: string(vals[0]), Name: string(vals[1]), Parent: string(vals[3]),
		Supervisor: string(vals[4]), Phone: string(vals[7])}
	var err error
	if vals[2] != nil {
		if u.Type, err = registry.ParseUnitType(string(vals[2])); err != nil {
			return fmt.Errorf("unit %s: %w", u.ID, err)
		}
	}
	if u.Districts, err = getTextArray(vals[5]); err != nil {
		return fmt.Errorf("unit %s: districts: %w", u.ID, err)
	}
	if u.Area, err = decodeMultiPolygon(vals[6]); err != nil {
		return fmt.Errorf("unit %s: %w", u.ID, err)
	}
	if u.Version, err = getInt8(vals[8]); err != nil {
		return fmt.Errorf("unit %s: version: %w", u.ID, err)
	}
	if u.Updated, err = getTime(vals[9]); err != nil {
		return fmt.Errorf("unit %s: updated: %w", u.ID, err)
	}
	return nil
}

// Units returns every unit sorted by ID (byte order).
func (s *Store) Units(ctx context.Context) ([]registry.Unit, error) {
	var out []registry.Unit
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryUnits(ctx, tx, "SELECT "+unitCols+" FROM units ORDER BY id")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return out, nil
}

func queryUnits(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]registry.Unit, error) {
	rows, err := tx.Query(ctx, sql, append([]any{binaryResults}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []registry.Unit
	for rows.Next() {
		var u registry.Unit
		if err := decodeUnit(&u, rows.RawValues()); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// PutUnits creates units whose ID is new (Version 1) and replaces the others (Version+1),
// setting Updated; it returns the stored units in input order. An empty ID is an error
// wrapping registry.ErrInvalidInput, an ID given twice one wrapping registry.ErrDuplicate.
func (s *Store) PutUnits(ctx context.Context, units []registry.Unit) ([]registry.Unit, error) {
	out := slices.Clone(units)
	if out == nil {
		out = []registry.Unit{}
	}
	if err := registry.CheckIDs(len(out), func(i int) string { return out[i].ID }); err != nil {
		return nil, fmt.Errorf("put units: %w", err)
	}
	err := s.write(ctx, func(w *wtx) error { return w.putUnits(ctx, out, w.now) })
	if err != nil {
		return nil, fmt.Errorf("put units: %w", err)
	}
	return out, nil
}

func (w *wtx) putUnits(ctx context.Context, out []registry.Unit, now time.Time) error {
	n := len(out)
	if n == 0 {
		return nil
	}
	ids := make([]string, n)
	for i := range out {
		ids[i] = out[i].ID
	}
	versions, err := storedVersions(ctx, w.Tx, "SELECT id, version FROM units WHERE id = ANY($1)", ids)
	if err != nil {
		return err
	}
	first, err := w.changeSeqs(ctx, n)
	if err != nil {
		return err
	}
	ops := make([]string, n)
	var b pgx.Batch
	for i := range out {
		u := &out[i]
		u.Version, ops[i] = 1, string(registry.OpCreate)
		if v, ok := versions[u.ID]; ok {
			u.Version, ops[i] = v+1, string(registry.OpUpdate)
		}
		u.Updated = now
		area, err := multiPolygonEWKB(u.Area)
		if err != nil {
			return fmt.Errorf("unit %s: %w", u.ID, err)
		}
		var districts []string
		if len(u.Districts) > 0 {
			districts = u.Districts
		}
		b.Queue(`INSERT INTO units (id, name, type, parent, supervisor, districts, area, phone, version, updated)
			VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), $6, ST_GeomFromEWKB($7), NULLIF($8, ''), $9, $10)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, parent = excluded.parent,
				supervisor = excluded.supervisor, districts = excluded.districts, area = excluded.area,
				phone = excluded.phone, version = excluded.version, updated = excluded.updated`,
			u.ID, u.Name, u.Type.String(), u.Parent, u.Supervisor, districts, area, u.Phone, u.Version, now)
	}
	if err := w.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	return writeChanges(ctx, w.Tx, registry.FeedUnit, now, "", int64(first), ops, nil, ids)
}

// DeleteUnit removes the unit with id, or returns an error wrapping registry.ErrUnitNotFound.
func (s *Store) DeleteUnit(ctx context.Context, id string) error {
	err := s.write(ctx, func(w *wtx) error {
		return w.delete(ctx, "DELETE FROM units WHERE id = $1", registry.FeedUnit, id, w.now, registry.ErrUnitNotFound)
	})
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	return nil
}

func (w *wtx) delete(ctx context.Context, sql string, kind registry.FeedKind, id string, now time.Time, notFound error) error {
	tag, err := w.Exec(ctx, sql, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	seq, err := w.changeSeqs(ctx, 1)
	if err != nil {
		return err
	}
	return writeChanges(ctx, w.Tx, kind, now, "", int64(seq), []string{string(registry.OpDelete)}, nil, []string{id})
}

// storedVersions returns id → version of the stored records that sql (with $1 = ids) finds.
func storedVersions(ctx context.Context, tx pgx.Tx, sql string, ids []string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, sql, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}
