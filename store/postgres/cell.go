package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"citygrid/registry"
)

const cellCols = "key, code, name, area_m2, geom, version, updated, status, retired"

func decodeCell(c *registry.Cell, vals [][]byte) error {
	if len(vals) != 9 {
		return fmt.Errorf("cell row of %d columns", len(vals))
	}
	key, err := getInt8(vals[0])
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	*c = registry.Cell{Key: registry.Key(key), Code: registry.GridCode(vals[1]), Name: string(vals[2])}
	if c.Area, err = getFloat8(vals[3]); err != nil {
		return fmt.Errorf("cell %s: area_m2: %w", c.Code, err)
	}
	if c.Geometry, err = decodeMultiPolygon(vals[4]); err != nil {
		return fmt.Errorf("cell %s: %w", c.Code, err)
	}
	if c.Version, err = getInt8(vals[5]); err != nil {
		return fmt.Errorf("cell %s: version: %w", c.Code, err)
	}
	if c.Updated, err = getTime(vals[6]); err != nil {
		return fmt.Errorf("cell %s: updated: %w", c.Code, err)
	}
	switch string(vals[7]) {
	case "active":
	case "retired":
		c.Status = registry.CellRetired
	default:
		return fmt.Errorf("cell %s: status %q", c.Code, vals[7])
	}
	if c.Retired, err = getTime(vals[8]); err != nil {
		return fmt.Errorf("cell %s: retired: %w", c.Code, err)
	}
	return nil
}

// ForEachCell calls fn for every cell in key order, from one snapshot. fn's argument is
// reused between calls; its geometry and strings are not.
func (s *Store) ForEachCell(ctx context.Context, fn func(*registry.Cell) error) error {
	return forEachRow(ctx, s, "cells", "SELECT "+cellCols+" FROM cells ORDER BY key", decodeCell, fn)
}

// Cell returns the cell with code, or an error wrapping registry.ErrCellNotFound.
func (s *Store) Cell(ctx context.Context, code registry.GridCode) (registry.Cell, error) {
	if err := ctx.Err(); err != nil {
		return registry.Cell{}, fmt.Errorf("get cell %s: %w", code, err)
	}
	var c registry.Cell
	err := func() error {
		rows, err := s.pool.Query(ctx, "SELECT "+cellCols+" FROM cells WHERE code = $1", binaryResults, string(code))
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return registry.ErrCellNotFound
		}
		if err := decodeCell(&c, rows.RawValues()); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}()
	if err != nil {
		return registry.Cell{}, fmt.Errorf("get cell %s: %w", code, s.dbErr(ctx, err))
	}
	return c, nil
}

// PutCells creates cells whose code is new and replaces those whose code exists, keeping
// their key, with Version+1. It sets Key, Version and Updated and returns the stored cells in
// input order. A malformed code is an error wrapping registry.ErrInvalidGridCode, a code given
// twice one wrapping registry.ErrDuplicate, an unclosed ring or other geometry PostGIS
// rejects an error; then nothing is stored.
func (s *Store) PutCells(ctx context.Context, cells []registry.Cell, actor string) ([]registry.Cell, error) {
	out := slices.Clone(cells)
	if out == nil {
		out = []registry.Cell{}
	}
	if err := registry.CheckCellCodes(out, nil); err != nil {
		return nil, fmt.Errorf("put cells: %w", err)
	}
	err := s.write(ctx, func(w *wtx) error { return w.putCells(ctx, out, w.now, actor) })
	if err != nil {
		return nil, fmt.Errorf("put cells: %w", err)
	}
	return out, nil
}

// ReviseCells applies a grid revision in one transaction; see registry.Store.
func (s *Store) ReviseCells(ctx context.Context, rev registry.CellRevision, actor string) (registry.RevisionResult, error) {
	if err := registry.CheckCellCodes(rev.Cells, rev.Retire); err != nil {
		return registry.RevisionResult{}, fmt.Errorf("revise cells: %w", err)
	}
	res := registry.RevisionResult{Cells: slices.Clone(rev.Cells), Moved: []registry.Component{}}
	for i := range res.Cells {
		res.Cells[i].Status, res.Cells[i].Retired = registry.CellActive, time.Time{}
	}
	moves := slices.Clone(rev.Moves)
	expect := make([]int64, len(moves))
	for i := range moves {
		expect[i] = moves[i].Version
	}
	var p *putter
	err := s.write(ctx, func(w *wtx) error {
		if err := w.putCells(ctx, res.Cells, w.now, actor); err != nil {
			return err
		}
		var err error
		if res.Retired, err = w.retireCells(ctx, rev.Retire, w.now, actor, rev.Note); err != nil {
			return err
		}
		if len(moves) == 0 {
			return nil
		}
		p = &putter{in: moves, expect: expect, actor: actor, note: rev.Note, workMem: s.opts.MaintenanceWorkMem}
		p.w, p.now = w, w.now
		return p.run(ctx)
	})
	if err != nil {
		if p != nil && p.done != nil {
			<-p.done
		}
		return registry.RevisionResult{}, fmt.Errorf("revise cells of %s: %w", rev.Area, err)
	}
	if p != nil {
		res.Moved = p.result()
	}
	return res, nil
}

// retireCells retires the active cells with the given codes (an already retired one is left
// as it is) and returns them as stored now. A code that is not stored is an error wrapping
// registry.ErrCellNotFound.
func (w *wtx) retireCells(ctx context.Context, codes []registry.GridCode, now time.Time, actor, note string) ([]registry.Cell, error) {
	out := []registry.Cell{}
	if len(codes) == 0 {
		return out, nil
	}
	strs := make([]string, len(codes))
	for i, c := range codes {
		strs[i] = string(c)
	}
	rows, err := w.Query(ctx, "SELECT "+cellCols+" FROM cells WHERE code = ANY($1) ORDER BY key FOR UPDATE", binaryResults, strs)
	if err != nil {
		return nil, err
	}
	found := map[registry.GridCode]bool{}
	for rows.Next() {
		var c registry.Cell
		if err := decodeCell(&c, rows.RawValues()); err != nil {
			rows.Close()
			return nil, err
		}
		found[c.Code] = true
		if c.Status != registry.CellRetired {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, c := range codes {
		if !found[c] {
			return nil, fmt.Errorf("retire cell %s: %w", c, registry.ErrCellNotFound)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	first, err := w.changeSeqs(ctx, len(out))
	if err != nil {
		return nil, err
	}
	keys, ops := make([]int64, len(out)), make([]string, len(out))
	for i := range out {
		c := &out[i]
		c.Status, c.Retired, c.Updated, c.Version = registry.CellRetired, now, now, c.Version+1
		keys[i], ops[i] = int64(c.Key), string(registry.OpRetire)
	}
	if _, err := w.Exec(ctx, `UPDATE cells SET status = 'retired', retired = $2, updated = $2, version = version + 1
		WHERE key = ANY($1)`, keys, now); err != nil {
		return nil, err
	}
	if err := writeChanges(ctx, w.Tx, registry.FeedCell, now, actor, int64(first), ops, keys, nil); err != nil {
		return nil, err
	}
	return out, w.cellHistory(ctx, out, int64(first), ops, now, actor, note)
}

// cellHistory writes one cell_history row per cell, cell i taking seq first+i and op ops[i].
func (w *wtx) cellHistory(ctx context.Context, cells []registry.Cell, first int64, ops []string, now time.Time, actor, note string) error {
	n := len(cells)
	keys, seqs, versions := make([]int64, n), make([]int64, n), make([]int64, n)
	names, statuses := make([]string, n), make([]string, n)
	areas := make([]float64, n)
	geoms := make([][]byte, n)
	retired := make([]*time.Time, n)
	for i := range cells {
		c := &cells[i]
		keys[i], seqs[i], versions[i] = int64(c.Key), first+int64(i), c.Version
		names[i], statuses[i], areas[i] = c.Name, c.Status.String(), c.Area
		if !c.Retired.IsZero() {
			t := c.Retired
			retired[i] = &t
		}
		var err error
		if geoms[i], err = multiPolygonEWKB(c.Geometry); err != nil {
			return fmt.Errorf("cell %s: %w", c.Code, err)
		}
	}
	_, err := w.Exec(ctx, `INSERT INTO cell_history (cell_key, seq, time, actor, op, note, name, area_m2, geom, status, retired, version, updated)
		SELECT key, seq, $10, NULLIF($11, ''), op, NULLIF($12, ''), NULLIF(name, ''), area, ST_GeomFromEWKB(geom), status, retired, version, $10
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::float8[], $6::bytea[], $7::text[], $8::timestamptz[], $9::bigint[])
			AS u(key, seq, op, name, area, geom, status, retired, version)`,
		keys, seqs, ops, names, areas, geoms, statuses, retired, versions, now, actor, note)
	return err
}

// CellHistory returns every change of the cell with code, oldest first; see registry.Store.
func (s *Store) CellHistory(ctx context.Context, code registry.GridCode) ([]registry.Revision[registry.Cell], error) {
	var out []registry.Revision[registry.Cell]
	err := s.read(ctx, func(tx pgx.Tx) error {
		var key int64
		if err := tx.QueryRow(ctx, "SELECT key FROM cells WHERE code = $1", string(code)).Scan(&key); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return registry.ErrCellNotFound
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, time, actor, op, note, `+cellCols+` FROM (
				SELECT h.seq, h.time, h.actor, h.op, h.note, h.cell_key AS key, c.code, h.name, h.area_m2, h.geom,
					h.version, h.updated, h.status, h.retired
				FROM cell_history h JOIN cells c ON c.key = h.cell_key WHERE h.cell_key = $1) AS h
			ORDER BY seq`, binaryResults, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		var prev *registry.Cell
		for rows.Next() {
			vals := rows.RawValues()
			var r registry.Revision[registry.Cell]
			seq, err := getInt8(vals[0])
			if err != nil {
				return fmt.Errorf("seq: %w", err)
			}
			r.Seq = uint64(seq)
			if r.Time, err = getTime(vals[1]); err != nil {
				return fmt.Errorf("time: %w", err)
			}
			r.Actor, r.Op, r.Note = string(vals[2]), registry.ChangeOp(vals[3]), string(vals[4])
			after := new(registry.Cell)
			if err := decodeCell(after, vals[5:]); err != nil {
				return fmt.Errorf("history seq %d: %w", seq, err)
			}
			r.Version, r.Before, r.After = after.Version, prev, after
			prev = after
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("cell history %s: %w", code, s.dbErr(ctx, err))
	}
	return out, nil
}

func (w *wtx) putCells(ctx context.Context, out []registry.Cell, now time.Time, actor string) error {
	if len(out) == 0 {
		return nil
	}
	n := len(out)
	codes := make([]string, n)
	for i := range out {
		codes[i] = string(out[i].Code)
	}
	type stored struct {
		key     int64
		version int64
	}
	old := make(map[string]stored)
	rows, err := w.Query(ctx, "SELECT code, key, version FROM cells WHERE code = ANY($1)", codes)
	if err != nil {
		return err
	}
	for rows.Next() {
		var code string
		var st stored
		if err := rows.Scan(&code, &st.key, &st.version); err != nil {
			rows.Close()
			return err
		}
		old[code] = st
	}
	if err := rows.Err(); err != nil {
		return err
	}
	creates := n - len(old)
	var nextKey int64
	if creates > 0 {
		if nextKey, err = reserve(ctx, w.Tx, "cell_key_seq", creates); err != nil {
			return err
		}
	}
	first, err := w.changeSeqs(ctx, n)
	if err != nil {
		return err
	}
	keys, versions := make([]int64, n), make([]int64, n)
	names, ops, statuses := make([]string, n), make([]string, n), make([]string, n)
	areas := make([]float64, n)
	geoms := make([][]byte, n)
	retired := make([]*time.Time, n)
	for i := range out {
		c := &out[i]
		if st, ok := old[codes[i]]; ok {
			c.Key, c.Version, ops[i] = registry.Key(st.key), st.version+1, string(registry.OpUpdate)
		} else {
			c.Key, c.Version, ops[i] = registry.Key(nextKey), 1, string(registry.OpCreate)
			nextKey++
		}
		c.Updated = now
		keys[i], versions[i] = int64(c.Key), c.Version
		names[i], areas[i], statuses[i] = c.Name, c.Area, c.Status.String()
		if !c.Retired.IsZero() {
			t := c.Retired
			retired[i] = &t
		}
		if geoms[i], err = multiPolygonEWKB(c.Geometry); err != nil {
			return fmt.Errorf("cell %s: %w", c.Code, err)
		}
	}
	if _, err := w.Exec(ctx, `INSERT INTO cells (code, key, name, area_m2, geom, version, updated, status, retired)
		SELECT code, key, NULLIF(name, ''), area, ST_GeomFromEWKB(geom), version, $7, status, retired
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::bytea[], $6::bigint[], $8::text[], $9::timestamptz[])
			AS u(code, key, name, area, geom, version, status, retired)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, area_m2 = excluded.area_m2,
			geom = excluded.geom, version = excluded.version, updated = excluded.updated,
			status = excluded.status, retired = excluded.retired`,
		codes, keys, names, areas, geoms, versions, now, statuses, retired); err != nil {
		return err
	}
	if err := writeChanges(ctx, w.Tx, registry.FeedCell, now, actor, int64(first), ops, keys, nil); err != nil {
		return err
	}
	return w.cellHistory(ctx, out, int64(first), ops, now, actor, "")
}
