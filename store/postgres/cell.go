package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"citygrid/registry"
)

const cellCols = "key, code, name, area_m2, geom, version, updated"

func decodeCell(c *registry.Cell, vals [][]byte) error {
	if len(vals) != 7 {
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
	seen := make(map[registry.GridCode]int, len(out))
	for i := range out {
		code := out[i].Code
		if _, err := registry.ParseGridCode(string(code)); err != nil {
			return nil, fmt.Errorf("put cells: cell %d %q: %w", i, code, err)
		}
		if j, ok := seen[code]; ok {
			return nil, fmt.Errorf("put cells: cell %s at elements %d and %d: %w", code, j, i, registry.ErrDuplicate)
		}
		seen[code] = i
	}
	err := s.write(ctx, func(w *wtx) error { return w.putCells(ctx, out, w.now, actor) })
	if err != nil {
		return nil, fmt.Errorf("put cells: %w", err)
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
	names, ops := make([]string, n), make([]string, n)
	areas := make([]float64, n)
	geoms := make([][]byte, n)
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
		names[i], areas[i] = c.Name, c.Area
		if geoms[i], err = multiPolygonEWKB(c.Geometry); err != nil {
			return fmt.Errorf("cell %s: %w", c.Code, err)
		}
	}
	if _, err := w.Exec(ctx, `INSERT INTO cells (code, key, name, area_m2, geom, version, updated)
		SELECT code, key, NULLIF(name, ''), area, ST_GeomFromEWKB(geom), version, $7
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::bytea[], $6::bigint[])
			AS u(code, key, name, area, geom, version)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, area_m2 = excluded.area_m2,
			geom = excluded.geom, version = excluded.version, updated = excluded.updated`,
		codes, keys, names, areas, geoms, versions, now); err != nil {
		return err
	}
	return writeChanges(ctx, w.Tx, registry.FeedCell, now, actor, int64(first), ops, keys, nil)
}
