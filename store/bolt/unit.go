package bolt

import (
	"context"
	"fmt"
	"slices"

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
// setting Updated; it returns the stored units in input order. An empty ID is an error
// wrapping registry.ErrInvalidInput, an ID given twice one wrapping registry.ErrDuplicate.
func (s *Store) PutUnits(ctx context.Context, units []registry.Unit) ([]registry.Unit, error) {
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
		var old registry.Unit
		for i := range out {
			u := &out[i]
			op := opCreate
			u.Version = 1
			if v := w.units.Get([]byte(u.ID)); v != nil {
				if err := decodeUnit(&old, []byte(u.ID), v); err != nil {
					return fmt.Errorf("unit %s: %w", u.ID, err)
				}
				u.Version, op = old.Version+1, opUpdate
			}
			u.Updated = now
			if err := w.units.Put([]byte(u.ID), appendUnit(nil, u)); err != nil {
				return err
			}
			if _, err := w.change(kindUnit, op, now, "", u.ID, registry.ComponentCode{}); err != nil {
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

// DeleteUnit removes the unit with id, or returns an error wrapping registry.ErrUnitNotFound.
func (s *Store) DeleteUnit(ctx context.Context, id string) error {
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if w.units.Get([]byte(id)) == nil {
			return registry.ErrUnitNotFound
		}
		if err := w.units.Delete([]byte(id)); err != nil {
			return err
		}
		_, err := w.change(kindUnit, opDelete, now, "", id, registry.ComponentCode{})
		return err
	})
	if err != nil {
		return fmt.Errorf("delete unit %s: %w", id, err)
	}
	return nil
}
