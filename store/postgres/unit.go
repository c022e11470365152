package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
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
// setting Updated, and records each change with actor in unit_history and the feed; it returns
// the stored units in input order. An empty ID is an error wrapping registry.ErrInvalidInput,
// an ID given twice one wrapping registry.ErrDuplicate.
func (s *Store) PutUnits(ctx context.Context, units []registry.Unit, actor string) ([]registry.Unit, error) {
	out := slices.Clone(units)
	if out == nil {
		out = []registry.Unit{}
	}
	if err := registry.CheckIDs(len(out), func(i int) string { return out[i].ID }); err != nil {
		return nil, fmt.Errorf("put units: %w", err)
	}
	err := s.write(ctx, func(w *wtx) error { return w.putUnits(ctx, out, actor, w.now) })
	if err != nil {
		return nil, fmt.Errorf("put units: %w", err)
	}
	return out, nil
}

func (w *wtx) putUnits(ctx context.Context, out []registry.Unit, actor string, now time.Time) error {
	n := len(out)
	if n == 0 {
		return nil
	}
	ids := make([]string, n)
	for i := range out {
		ids[i] = out[i].ID
	}
	stored, err := queryUnits(ctx, w.Tx, "SELECT "+unitCols+" FROM units WHERE id = ANY($1)", ids)
	if err != nil {
		return err
	}
	old := make(map[string]*registry.Unit, len(stored))
	for i := range stored {
		old[stored[i].ID] = &stored[i]
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
		before := old[u.ID]
		if before != nil {
			u.Version, ops[i] = before.Version+1, string(registry.OpUpdate)
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
		bi, err := unitImage(before)
		if err != nil {
			return err
		}
		ai, err := unitImage(u)
		if err != nil {
			return err
		}
		queueRevision(&b, "unit_history", u.ID, first+uint64(i), now, actor, ops[i], u.Version, bi, ai)
	}
	if err := w.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	return writeChanges(ctx, w.Tx, registry.FeedUnit, now, actor, int64(first), ops, nil, ids)
}

// DeleteUnit removes the unit with id, recording the delete with actor (its history stays),
// or returns an error wrapping registry.ErrUnitNotFound.
func (s *Store) DeleteUnit(ctx context.Context, id, actor string) error {
	err := s.write(ctx, func(w *wtx) error {
		units, err := queryUnits(ctx, w.Tx, "DELETE FROM units WHERE id = $1 RETURNING "+unitCols, id)
		if err != nil {
			return err
		}
		if len(units) == 0 {
			return registry.ErrUnitNotFound
		}
		before, err := unitImage(&units[0])
		if err != nil {
			return err
		}
		return w.recordDelete(ctx, registry.FeedUnit, "unit_history", id, units[0].Version, actor, before)
	})
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	return nil
}

// recordDelete records the delete of the unit or rule id (its last version, its image before)
// in the feed and in the history table.
func (w *wtx) recordDelete(ctx context.Context, kind registry.FeedKind, table, id string, version int64, actor string, before *string) error {
	seq, err := w.changeSeqs(ctx, 1)
	if err != nil {
		return err
	}
	var b pgx.Batch
	queueRevision(&b, table, id, seq, w.now, actor, string(registry.OpDelete), version, before, nil)
	if err := w.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	return writeChanges(ctx, w.Tx, kind, w.now, actor, int64(seq), []string{string(registry.OpDelete)}, nil, []string{id})
}

// queueRevision queues the history row of one change of a unit or rule.
func queueRevision(b *pgx.Batch, table, id string, seq uint64, now time.Time, actor, op string, version int64, before, after *string) {
	b.Queue(`INSERT INTO `+table+` (id, seq, time, actor, op, version, before, after)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7::jsonb, $8::jsonb)`,
		id, int64(seq), now, actor, op, version, before, after)
}

// unitJSON is a unit as a history row keeps it: the columns of units, the area as hex EWKB
// (every bit of the coordinates survives, as in component_history).
type unitJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Parent     string    `json:"parent"`
	Supervisor string    `json:"supervisor"`
	Districts  []string  `json:"districts"`
	Area       string    `json:"area"`
	Phone      string    `json:"phone"`
	Version    int64     `json:"version"`
	Updated    time.Time `json:"updated"`
}

// unitImage encodes u for a history row; nil for none.
func unitImage(u *registry.Unit) (*string, error) {
	if u == nil {
		return nil, nil
	}
	area, err := multiPolygonEWKB(u.Area)
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", u.ID, err)
	}
	b, err := json.Marshal(unitJSON{ID: u.ID, Name: u.Name, Type: u.Type.String(), Parent: u.Parent,
		Supervisor: u.Supervisor, Districts: u.Districts, Area: hex.EncodeToString(area), Phone: u.Phone,
		Version: u.Version, Updated: u.Updated})
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

func decodeUnitImage(b []byte) (*registry.Unit, error) {
	var j unitJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	u := &registry.Unit{ID: j.ID, Name: j.Name, Parent: j.Parent, Supervisor: j.Supervisor,
		Districts: j.Districts, Phone: j.Phone, Version: j.Version, Updated: j.Updated.UTC()}
	var err error
	if j.Type != "" {
		if u.Type, err = registry.ParseUnitType(j.Type); err != nil {
			return nil, err
		}
	}
	if j.Area != "" {
		raw, err := hex.DecodeString(j.Area)
		if err != nil {
			return nil, err
		}
		if u.Area, err = decodeMultiPolygon(raw); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// UnitHistory returns every change of the unit with id, oldest first, also after it was
// deleted: an empty list for a unit stored before histories were kept (schema version 4), an
// error wrapping registry.ErrUnitNotFound when there is neither unit nor history.
func (s *Store) UnitHistory(ctx context.Context, id string) ([]registry.Revision[registry.Unit], error) {
	var out []registry.Revision[registry.Unit]
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = readRevisions(ctx, tx, "unit_history", "units", id, registry.ErrUnitNotFound, decodeUnitImage)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get history of unit %s: %w", id, err)
	}
	return out, nil
}

// readRevisions reads the history rows of id from table; records (units or rules) tells an
// unknown id (notFound) from a record without history.
func readRevisions[T registry.Unit | registry.Rule](ctx context.Context, tx pgx.Tx, table, records, id string, notFound error,
	decode func([]byte) (*T, error)) ([]registry.Revision[T], error) {
	rows, err := tx.Query(ctx, `SELECT seq, time, coalesce(actor, ''), op, version, before::text, after::text
		FROM `+table+` WHERE id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []registry.Revision[T]{}
	for rows.Next() {
		var e registry.Revision[T]
		var seq int64
		var op string
		var before, after *string
		if err := rows.Scan(&seq, &e.Time, &e.Actor, &op, &e.Version, &before, &after); err != nil {
			return nil, err
		}
		e.Seq, e.Op, e.Time = uint64(seq), registry.ChangeOp(op), e.Time.UTC()
		if before != nil {
			if e.Before, err = decode([]byte(*before)); err != nil {
				return nil, fmt.Errorf("history seq %d: before: %w", seq, err)
			}
		}
		if after != nil {
			if e.After, err = decode([]byte(*after)); err != nil {
				return nil, fmt.Errorf("history seq %d: after: %w", seq, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) > 0 {
		return out, nil
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+records+" WHERE id = $1)", id).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, notFound
	}
	return out, nil
}
