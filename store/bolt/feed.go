package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"citygrid/registry"

	"go.etcd.io/bbolt"
)

var _ registry.ChangeFeed = (*Store)(nil)

var feedKinds = [...]registry.FeedKind{kindCell: registry.FeedCell, kindComponent: registry.FeedComponent,
	kindUnit: registry.FeedUnit, kindRule: registry.FeedRule}

// Changes returns up to limit entries of the change feed with Seq > since, ascending, each
// with the record as it is stored now (nil for a unit or rule deleted since), all read in one
// transaction. limit ≤ 0 returns none. A change whose cell or component is missing is an
// error wrapping errCorrupt: cells and components are never deleted.
func (s *Store) Changes(ctx context.Context, since uint64, limit int) ([]registry.FeedEntry, error) {
	if limit <= 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list changes since %d: %w", since, err)
		}
		return []registry.FeedEntry{}, nil
	}
	out := []registry.FeedEntry{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		rd := feedReader{tx: tx}
		cur := tx.Bucket(bucketChanges).Cursor()
		// The run holding since+1 is the first whose last seq is at or above it.
		var seek [keyLen]byte
		binary.BigEndian.PutUint64(seek[:], min(since, ^uint64(0)-1)+1)
		for k, v := cur.Seek(seek[:]); k != nil && len(out) < limit; k, v = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) != keyLen {
				return fmt.Errorf("changes key %x: %w", k, errCorrupt)
			}
			last := binary.BigEndian.Uint64(k)
			r := reader{b: v}
			r.version()
			n := r.uvarint()
			when, actor := r.time(), r.str()
			if r.bad || n == 0 || n > last {
				return fmt.Errorf("changes run %d: %w", last, errCorrupt)
			}
			for seq := last - n + 1; seq <= last; seq++ {
				kind, op := r.byte1(), r.byte1()
				id := r.str()
				if r.bad || kind == 0 || int(kind) >= len(feedKinds) || op == 0 || int(op) >= len(opNames) {
					return fmt.Errorf("changes run %d: %w", last, errCorrupt)
				}
				if seq <= since {
					continue
				}
				e := registry.FeedEntry{Seq: seq, Time: when, Kind: feedKinds[kind], ID: id, Op: opNames[op], Actor: actor}
				if err := rd.fill(&e); err != nil {
					return fmt.Errorf("change %d (%s %s): %w", seq, e.Kind, id, err)
				}
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list changes since %d: %w", since, err)
	}
	return out, nil
}

// feedReader looks up the current records of feed entries in one read transaction.
type feedReader struct {
	tx *bbolt.Tx
}

// fill sets the entry's record to the one stored now.
func (rd *feedReader) fill(e *registry.FeedEntry) error {
	switch e.Kind {
	case registry.FeedCell:
		k := rd.tx.Bucket(bucketCellCodes).Get([]byte(e.ID))
		if k == nil {
			return errCorrupt
		}
		v := rd.tx.Bucket(bucketCells).Get(k)
		if v == nil {
			return errCorrupt
		}
		c := new(registry.Cell)
		if err := decodeCell(c, k, v); err != nil {
			return err
		}
		e.Cell = c
	case registry.FeedComponent:
		n, err := strconv.ParseUint(e.ID, 10, 64)
		if err != nil {
			return errCorrupt
		}
		k := rd.tx.Bucket(bucketComponentIDs).Get(be64(n))
		if k == nil {
			return errCorrupt
		}
		v := rd.tx.Bucket(bucketComponents).Get(k)
		if v == nil {
			return errCorrupt
		}
		c := new(registry.Component)
		if err := decodeComponent(c, k, v); err != nil {
			return err
		}
		e.Component = c
	case registry.FeedUnit:
		if v := rd.tx.Bucket(bucketUnits).Get([]byte(e.ID)); v != nil {
			u := new(registry.Unit)
			if err := decodeUnit(u, []byte(e.ID), v); err != nil {
				return err
			}
			e.Unit = u
		}
	case registry.FeedRule:
		if v := rd.tx.Bucket(bucketRules).Get([]byte(e.ID)); v != nil {
			r := new(registry.Rule)
			if err := decodeRule(r, []byte(e.ID), v); err != nil {
				return err
			}
			e.Rule = r
		}
	}
	return nil
}

// LastSeq returns the highest change seq committed so far; 0 for an empty store.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(metaChangeSeq)
		if v == nil {
			return nil
		}
		if len(v) != 8 {
			return fmt.Errorf("meta %s: %w", metaChangeSeq, errCorrupt)
		}
		seq = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last change seq: %w", err)
	}
	return seq, nil
}
