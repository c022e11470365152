package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"citygrid/registry"

	"go.etcd.io/bbolt"
)

// Units returns every unit sorted by ID.
func (s *Store) Units(ctx context.Context) ([]registry.Unit, error) {
	var out []registry.Unit
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketUnits).ForEach(func(k, v []byte) error {
			var u registry.Unit
			if err := decodeUnit(&u, k, v); err != nil {
				return fmt.Errorf("unit %s: %w", k, err)
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return out, nil
}

// PutUnits creates units whose ID is new (Version 1) and replaces the others (Version+1),
// setting Updated, and records each change with actor in the unit's history and the feed; it
// returns the stored units in input order. An empty ID is an error wrapping
// registry.ErrInvalidInput, an ID given twice one wrapping registry.ErrDuplicate.
func (s *Store) PutUnits(ctx context.Context, units []registry.Unit, actor string) ([]registry.Unit, error) {
	if len(units) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("put units: %w", err)
		}
		return []registry.Unit{}, nil
	}
	out := slices.Clone(units)
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if err := registry.CheckIDs(len(out), func(i int) string { return out[i].ID }); err != nil {
			return err
		}
		for i := range out {
			u := &out[i]
			op := opCreate
			u.Version = 1
			var before []byte
			if v := w.units.Get([]byte(u.ID)); v != nil {
				var old registry.Unit
				if err := decodeUnit(&old, []byte(u.ID), v); err != nil {
					return fmt.Errorf("unit %s: %w", u.ID, err)
				}
				u.Version, op = old.Version+1, opUpdate
				before = bytes.Clone(v)
			}
			u.Updated = now
			after := appendUnit(nil, u)
			if err := w.units.Put([]byte(u.ID), after); err != nil {
				return err
			}
			seq, err := w.change(kindUnit, op, now, actor, u.ID, registry.ComponentCode{})
			if err != nil {
				return err
			}
			if err := putRevision(w.unitHistory, u.ID, seq, op, u.Version, now, actor, before, after); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put units: %w", err)
	}
	return out, nil
}

// DeleteUnit removes the unit with id, recording the delete with actor (the unit's history
// stays), or returns an error wrapping registry.ErrUnitNotFound.
func (s *Store) DeleteUnit(ctx context.Context, id, actor string) error {
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		return w.deleteRecord(w.units, w.unitHistory, kindUnit, id, now, actor, registry.ErrUnitNotFound,
			func(v []byte) (int64, error) {
				var u registry.Unit
				err := decodeUnit(&u, []byte(id), v)
				return u.Version, err
			})
	})
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	return nil
}

// deleteRecord removes the unit or rule id from b, recording the delete in the feed and in
// the history bucket hist (version: that of the deleted record, read by version).
func (w *wtx) deleteRecord(b, hist *bbolt.Bucket, kind byte, id string, now time.Time, actor string, notFound error,
	version func([]byte) (int64, error)) error {
	v := b.Get([]byte(id))
	if v == nil {
		return notFound
	}
	before := bytes.Clone(v)
	ver, err := version(before)
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if err := b.Delete([]byte(id)); err != nil {
		return err
	}
	seq, err := w.change(kind, opDelete, now, actor, id, registry.ComponentCode{})
	if err != nil {
		return err
	}
	return putRevision(hist, id, seq, opDelete, ver, now, actor, before, nil)
}

// UnitHistory returns every change of the unit with id, oldest first, also after it was
// deleted: an empty list for a unit stored before histories were kept, an error wrapping
// registry.ErrUnitNotFound when there is neither unit nor history.
func (s *Store) UnitHistory(ctx context.Context, id string) ([]registry.Revision[registry.Unit], error) {
	var out []registry.Revision[registry.Unit]
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = readRevisions(tx.Bucket(bucketUnitHistory), tx.Bucket(bucketUnits), id, registry.ErrUnitNotFound,
			func(v []byte) (*registry.Unit, error) {
				u := new(registry.Unit)
				return u, decodeUnit(u, []byte(id), v)
			})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get history of unit %s: %w", id, err)
	}
	return out, nil
}

// Unit and rule history entries live in the buckets unit_history and rule_history under
// uvarint(len(id)) id seq(8): one record's entries are adjacent, in seq order, and no id's
// prefix is another's. The value is
//
//	version(1) op(1) Version(varint) time actor(string) before(uvarint length, record) after(…)
//
// where before and after are the records as the units and rules buckets hold them, length 0
// for none (before on create, after on delete). Units and rules are few and small, so both
// images are kept whole.

func revisionPrefix(id string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(id))), id...)
}

func putRevision(hist *bbolt.Bucket, id string, seq uint64, op byte, version int64, now time.Time, actor string, before, after []byte) error {
	k := binary.BigEndian.AppendUint64(revisionPrefix(id), seq)
	v := []byte{recordVersion, op}
	v = binary.AppendVarint(v, version)
	v = appendTime(v, now)
	v = appendString(v, actor)
	v = binary.AppendUvarint(v, uint64(len(before)))
	v = append(v, before...)
	v = binary.AppendUvarint(v, uint64(len(after)))
	v = append(v, after...)
	return hist.Put(k, v)
}

// readRevisions reads the history of id from hist; records (the units or rules bucket) tells
// an unknown id (notFound) from a record without history.
func readRevisions[T registry.Unit | registry.Rule](hist, records *bbolt.Bucket, id string, notFound error,
	decode func([]byte) (*T, error)) ([]registry.Revision[T], error) {
	out := []registry.Revision[T]{}
	prefix := revisionPrefix(id)
	c := hist.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+keyLen {
			return nil, fmt.Errorf("history key %x: %w", k, errCorrupt)
		}
		r := reader{b: v}
		r.version()
		op := r.byte1()
		e := registry.Revision[T]{Seq: binary.BigEndian.Uint64(k[len(prefix):]), Version: r.varint()}
		e.Time = r.time()
		e.Actor = r.str()
		before, after := r.bytes(), r.bytes()
		if r.bad || len(r.b) != 0 || op == 0 || int(op) >= len(opNames) {
			return nil, fmt.Errorf("history seq %d: %w", e.Seq, errCorrupt)
		}
		e.Op = opNames[op]
		var err error
		if len(before) > 0 {
			if e.Before, err = decode(before); err != nil {
				return nil, fmt.Errorf("history seq %d: %w", e.Seq, err)
			}
		}
		if len(after) > 0 {
			if e.After, err = decode(after); err != nil {
				return nil, fmt.Errorf("history seq %d: %w", e.Seq, err)
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 && records.Get([]byte(id)) == nil {
		return nil, notFound
	}
	return out, nil
}
