package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

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
		if err := registry.CheckCellCodes(out, nil); err != nil {
			return err
		}
		return w.putCells(ctx, out, now, actor)
	})
	if err != nil {
		return nil, fmt.Errorf("put cells: %w", err)
	}
	return out, nil
}

// putCells is PutCells in its transaction, for codes checkCodes accepted.
func (w *wtx) putCells(ctx context.Context, out []registry.Cell, now time.Time, actor string) error {
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
		var prior *registry.Cell
		if kb := w.cellCodes.Get([]byte(c.Code)); kb != nil {
			v := w.cells.Get(kb)
			if v == nil {
				return fmt.Errorf("cell %s: code index points at missing key: %w", c.Code, errCorrupt)
			}
			if err := decodeCell(&old, kb, v); err != nil {
				return fmt.Errorf("cell %s: %w", c.Code, err)
			}
			c.Key, c.Version, op = old.Key, old.Version+1, opUpdate
			prior = &old
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
		seq, err := w.change(kindCell, op, now, actor, string(c.Code), registry.ComponentCode{})
		if err != nil {
			return err
		}
		if err := w.putCellHistory(c, prior, seq, op, now, actor, ""); err != nil {
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
}

// putCellHistory records a change of cell c (as stored after it) under seq. When prior (the
// cell before it) is stored without any history, as cells written before cells kept one are,
// its state is recorded first under seq 0, so that the history begins there.
func (w *wtx) putCellHistory(c, prior *registry.Cell, seq uint64, op byte, now time.Time, actor, note string) error {
	if prior != nil {
		pk := be64(uint64(c.Key))
		if k, _ := w.cellHistory.Cursor().Seek(pk); k == nil || !bytes.HasPrefix(k, pk) {
			if err := w.cellHistory.Put(cellHistoryKey(c.Key, 0), appendCellRevision(opCreate, prior.Updated, "", "history begins", prior)); err != nil {
				return err
			}
		}
	}
	return w.cellHistory.Put(cellHistoryKey(c.Key, seq), appendCellRevision(op, now, actor, note, c))
}

func cellHistoryKey(k registry.Key, seq uint64) []byte {
	b := make([]byte, 0, 2*keyLen)
	b = binary.BigEndian.AppendUint64(b, uint64(k))
	return binary.BigEndian.AppendUint64(b, seq)
}

// appendCellRevision: version(1) op(1) Time(time) Actor Note (strings), then the cell after
// the change as appendCell writes it.
func appendCellRevision(op byte, t time.Time, actor, note string, c *registry.Cell) []byte {
	b := append([]byte{recordVersion, op}, appendTime(nil, t)...)
	b = appendString(b, actor)
	b = appendString(b, note)
	return appendCell(b, c)
}

func decodeCellRevision(k, v []byte) (registry.Revision[registry.Cell], error) {
	var rev registry.Revision[registry.Cell]
	if len(k) != 2*keyLen {
		return rev, errCorrupt
	}
	r := reader{b: v}
	r.version()
	op := r.byte1()
	rev.Time = r.time()
	rev.Actor = r.str()
	rev.Note = r.str()
	if r.bad || op == 0 || int(op) >= len(opNames) {
		return rev, errCorrupt
	}
	rev.Op = opNames[op]
	rev.Seq = binary.BigEndian.Uint64(k[keyLen:])
	after := new(registry.Cell)
	if err := decodeCell(after, k[:keyLen], r.b); err != nil {
		return rev, err
	}
	rev.After, rev.Version = after, after.Version
	return rev, nil
}

// CellHistory returns every change of the cell with code, oldest first; see registry.Store.
func (s *Store) CellHistory(ctx context.Context, code registry.GridCode) ([]registry.Revision[registry.Cell], error) {
	var out []registry.Revision[registry.Cell]
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		kb := tx.Bucket(bucketCellCodes).Get([]byte(code))
		if kb == nil {
			return registry.ErrCellNotFound
		}
		pk := slices.Clone(kb)
		cur := tx.Bucket(bucketCellHistory).Cursor()
		var prev *registry.Cell
		for k, v := cur.Seek(pk); k != nil && bytes.HasPrefix(k, pk); k, v = cur.Next() {
			rev, err := decodeCellRevision(k, v)
			if err != nil {
				return fmt.Errorf("history seq %d: %w", binary.BigEndian.Uint64(k[keyLen:]), err)
			}
			rev.Before, prev = prev, rev.After
			out = append(out, rev)
		}
		if len(out) == 0 { // a cell stored before cells kept history, unchanged since
			c := new(registry.Cell)
			v := tx.Bucket(bucketCells).Get(kb)
			if v == nil {
				return fmt.Errorf("code index points at missing key: %w", errCorrupt)
			}
			if err := decodeCell(c, kb, v); err != nil {
				return err
			}
			out = append(out, registry.Revision[registry.Cell]{Time: c.Updated, Op: registry.OpCreate, Version: c.Version,
				Note: "history begins", After: c})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cell history %s: %w", code, err)
	}
	return out, nil
}

// ReviseCells applies a grid revision in one transaction; see registry.Store.
func (s *Store) ReviseCells(ctx context.Context, rev registry.CellRevision, actor string) (registry.RevisionResult, error) {
	if err := registry.CheckCellCodes(rev.Cells, rev.Retire); err != nil {
		return registry.RevisionResult{}, fmt.Errorf("revise cells: %w", err)
	}
	res := registry.RevisionResult{Cells: slices.Clone(rev.Cells), Retired: []registry.Cell{}, Moved: slices.Clone(rev.Moves)}
	if res.Cells == nil {
		res.Cells = []registry.Cell{}
	}
	if res.Moved == nil {
		res.Moved = []registry.Component{}
	}
	for i := range res.Cells {
		res.Cells[i].Status, res.Cells[i].Retired = registry.CellActive, time.Time{}
	}
	expect := make([]int64, len(res.Moved))
	for i := range res.Moved {
		expect[i] = res.Moved[i].Version
	}
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if err := w.putCells(ctx, res.Cells, now, actor); err != nil {
			return err
		}
		for _, code := range rev.Retire {
			kb := w.cellCodes.Get([]byte(code))
			if kb == nil {
				return fmt.Errorf("retire cell %s: %w", code, registry.ErrCellNotFound)
			}
			var c registry.Cell
			v := w.cells.Get(kb)
			if v == nil {
				return fmt.Errorf("cell %s: code index points at missing key: %w", code, errCorrupt)
			}
			if err := decodeCell(&c, kb, v); err != nil {
				return fmt.Errorf("cell %s: %w", code, err)
			}
			if c.Status == registry.CellRetired {
				continue
			}
			prior := c
			c.Status, c.Retired, c.Updated, c.Version = registry.CellRetired, now, now, c.Version+1
			seq, err := w.change(kindCell, opRetire, now, actor, string(code), registry.ComponentCode{})
			if err != nil {
				return err
			}
			if err := w.putCellHistory(&c, &prior, seq, opRetire, now, actor, rev.Note); err != nil {
				return err
			}
			if err := w.cells.Put(slices.Clone(kb), appendCell(nil, &c)); err != nil {
				return err
			}
			res.Retired = append(res.Retired, c)
		}
		if len(res.Moved) == 0 {
			return nil
		}
		return w.putComponents(ctx, res.Moved, expect, actor, rev.Note, now)
	})
	if err != nil {
		return registry.RevisionResult{}, fmt.Errorf("revise cells of %s: %w", rev.Area, err)
	}
	return res, nil
}
