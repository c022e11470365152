package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"citygrid/registry"

	"go.etcd.io/bbolt"
)

// ForEachCell calls fn for every cell in key order, in one read transaction; fn must not write
// to the store. fn's argument is reused between calls. fn's error is returned as is.
func (s *Store) ForEachCell(ctx context.Context, fn func(*registry.Cell) error) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		var c registry.Cell
		cur := tx.Bucket(bucketCells).Cursor()
		i := 0
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if i++; i%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("list cells: %w", err)
				}
			}
			if err := decodeCell(&c, k, v); err != nil {
				return fmt.Errorf("list cells: key %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if err := fn(&c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Cell returns the cell with code, or an error wrapping registry.ErrCellNotFound.
func (s *Store) Cell(ctx context.Context, code registry.GridCode) (registry.Cell, error) {
	var c registry.Cell
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		k := tx.Bucket(bucketCellCodes).Get([]byte(code))
		if k == nil {
			return registry.ErrCellNotFound
		}
		v := tx.Bucket(bucketCells).Get(k)
		if v == nil {
			return fmt.Errorf("code index points at missing key %d: %w", binary.BigEndian.Uint64(k), errCorrupt)
		}
		return decodeCell(&c, k, v)
	})
	if err != nil {
		return registry.Cell{}, fmt.Errorf("get cell %s: %w", code, err)
	}
	return c, nil
}

// PutCells creates cells whose code is new and replaces those whose code exists, keeping
// their key, with Version+1. It sets Key, Version and Updated and returns the stored cells in
// input order. A malformed code is an error wrapping registry.ErrInvalidGridCode, a code given
// twice one wrapping registry.ErrDuplicate; then nothing is stored.
func (s *Store) PutCells(ctx context.Context, cells []registry.Cell, actor string) ([]registry.Cell, error) {
	if len(cells) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("put cells: %w", err)
		}
		return []registry.Cell{}, nil
	}
	out := slices.Clone(cells)
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		seen := make(map[registry.GridCode]int, len(out))
		for i := range out {
			code := out[i].Code
			if _, err := registry.ParseGridCode(string(code)); err != nil {
				return fmt.Errorf("cell %d %q: %w", i, code, err)
			}
			if j, ok := seen[code]; ok {
				return fmt.Errorf("cell %s at elements %d and %d: %w", code, j, i, registry.ErrDuplicate)
			}
			seen[code] = i
		}
		var old registry.Cell
		type put struct {
			key registry.Key
			i   int
		}
		puts := make([]put, len(out))
		var newCodes []int
		for i := range out {
			if i%ctxEvery == ctxEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			c := &out[i]
			op := opCreate
			if kb := w.cellCodes.Get([]byte(c.Code)); kb != nil {
				v := w.cells.Get(kb)
				if v == nil {
					return fmt.Errorf("cell %s: code index points at missing key: %w", c.Code, errCorrupt)
				}
				if err := decodeCell(&old, kb, v); err != nil {
					return fmt.Errorf("cell %s: %w", c.Code, err)
				}
				c.Key, c.Version, op = old.Key, old.Version+1, opUpdate
			} else {
				key, err := w.nextKey(&w.cellSeq)
				if err != nil {
					return err
				}
				c.Key, c.Version = key, 1
				newCodes = append(newCodes, i)
			}
			c.Updated = now
			puts[i] = put{c.Key, i}
			if _, err := w.change(kindCell, op, now, actor, string(c.Code), registry.ComponentCode{}); err != nil {
				return err
			}
		}
		slices.SortFunc(puts, func(a, b put) int { return cmp.Compare(uint64(a.key), uint64(b.key)) })
		var kb [keyLen]byte
		for _, p := range puts {
			binary.BigEndian.PutUint64(kb[:], uint64(p.key))
			if err := w.cells.Put(kb[:], appendCell(nil, &out[p.i])); err != nil {
				return err
			}
		}
		slices.SortFunc(newCodes, func(a, b int) int { return bytes.Compare([]byte(out[a].Code), []byte(out[b].Code)) })
		for _, i := range newCodes {
			if err := w.cellCodes.Put([]byte(out[i].Code), be64(uint64(out[i].Key))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put cells: %w", err)
	}
	return out, nil
}
