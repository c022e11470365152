package postgres

import (
	"context"
	"fmt"

	"citygrid/registry"
)

// ComponentsByID implements registry.ComponentsByIDReader: the stored components that ids
// name (by identifier, legacy identifier or alias), in one query per call instead of one per
// identifier, so that a census import can tell unchanged components from changed ones
// without a million round trips.
func (s *Store) ComponentsByID(ctx context.Context, ids []registry.ComponentCode) ([]registry.Component, []bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("get components by id: %w", err)
	}
	out := make([]registry.Component, len(ids))
	found := make([]bool, len(ids))
	codes := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !id.IsZero() {
			codes = append(codes, int64(id.Uint64()))
		}
	}
	if len(codes) == 0 {
		return out, found, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT n.code, `+componentColsC+` FROM component_names n
		JOIN components c ON c.key = n.key WHERE n.code = ANY($1)`, binaryResults, codes)
	if err != nil {
		return nil, nil, fmt.Errorf("get components by id: %w", s.dbErr(ctx, err))
	}
	defer rows.Close()
	byCode := make(map[uint64]*registry.Component, len(codes))
	var d componentDecoder
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) == 0 {
			return nil, nil, fmt.Errorf("get components by id: an empty row")
		}
		code, err := getInt8(raw[0])
		if err != nil {
			return nil, nil, fmt.Errorf("get components by id: code: %w", err)
		}
		c := new(registry.Component)
		if err := d.decode(c, raw[1:]); err != nil {
			return nil, nil, fmt.Errorf("get components by id: %w", err)
		}
		byCode[uint64(code)] = c
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("get components by id: %w", s.dbErr(ctx, err))
	}
	for i, id := range ids {
		if c, ok := byCode[id.Uint64()]; ok && !id.IsZero() {
			out[i], found[i] = *c, true
		}
	}
	return out, found, nil
}
