package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"citygrid/registry"

	"go.etcd.io/bbolt"
)

// ForEachComponent calls fn for every component in key order, in one read transaction; fn
// must not write to the store. fn's argument is reused between calls, the strings it holds are
// not. fn's error is returned as is.
func (s *Store) ForEachComponent(ctx context.Context, fn func(*registry.Component) error) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		var c registry.Component
		cur := tx.Bucket(bucketComponents).Cursor()
		i := 0
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if i++; i%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("list components: %w", err)
				}
			}
			if err := decodeComponent(&c, k, v); err != nil {
				return fmt.Errorf("list components: key %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if err := fn(&c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Component returns the component whose ID or legacy ID is id, or an error wrapping
// registry.ErrComponentNotFound.
func (s *Store) Component(ctx context.Context, id registry.ComponentCode) (registry.Component, error) {
	var c registry.Component
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		k, v, err := componentByID(tx, id)
		if err != nil {
			return err
		}
		return decodeComponent(&c, k, v)
	})
	if err != nil {
		return registry.Component{}, fmt.Errorf("get component %s: %w", id, err)
	}
	return c, nil
}

func componentByID(tx *bbolt.Tx, id registry.ComponentCode) (k, v []byte, err error) {
	if id.IsZero() {
		return nil, nil, registry.ErrComponentNotFound
	}
	k = tx.Bucket(bucketComponentIDs).Get(be64(id.Uint64()))
	if k == nil {
		return nil, nil, registry.ErrComponentNotFound
	}
	v = tx.Bucket(bucketComponents).Get(k)
	if v == nil {
		return nil, nil, fmt.Errorf("id index points at missing key %d: %w", binary.BigEndian.Uint64(k), errCorrupt)
	}
	return k, v, nil
}

// ComponentsByKey returns the components with keys, in the same order, or an error wrapping
// registry.ErrComponentNotFound naming the first missing key.
func (s *Store) ComponentsByKey(ctx context.Context, keys []registry.Key) ([]registry.Component, error) {
	out := make([]registry.Component, len(keys))
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		// One cursor: a key a few places after the cursor's is reached with Next, which
		// stays on the leaf page, instead of a search from the root. Keys come in key order
		// from the index's queries, and a census numbers neighbouring components together,
		// so most keys of a box follow the previous one (docs/benchmarks.md, "Figures behind the code").
		cur := tx.Bucket(bucketComponents).Cursor()
		var ck, cv []byte
		var kb [keyLen]byte
		for i, key := range keys {
			if i%ctxEvery == ctxEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			binary.BigEndian.PutUint64(kb[:], uint64(key))
			for n := 0; ck != nil && n < walkMax && bytes.Compare(ck, kb[:]) < 0; n++ {
				ck, cv = cur.Next()
			}
			if ck == nil || !bytes.Equal(ck, kb[:]) {
				ck, cv = cur.Seek(kb[:])
			}
			if ck == nil || !bytes.Equal(ck, kb[:]) || cv == nil {
				return fmt.Errorf("key %d: %w", key, registry.ErrComponentNotFound)
			}
			if err := decodeComponent(&out[i], kb[:], cv); err != nil {
				return fmt.Errorf("key %d: %w", key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get components by key: %w", err)
	}
	return out, nil
}

// walkMax is how many cursor steps ComponentsByKey takes towards the next key before it
// searches from the root instead.
const walkMax = 8

// History returns every change of the component whose ID or legacy ID is id, oldest first,
// or an error wrapping registry.ErrComponentNotFound.
func (s *Store) History(ctx context.Context, id registry.ComponentCode) ([]registry.Change, error) {
	var out []registry.Change
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		k, v, err := componentByID(tx, id)
		if err != nil {
			return err
		}
		var cur registry.Component
		if err := decodeComponent(&cur, k, v); err != nil {
			return err
		}
		c := tx.Bucket(bucketHistory).Cursor()
		for hk, hv := c.Seek(k); hk != nil && bytes.HasPrefix(hk, k); hk, hv = c.Next() {
			ch, err := decodeHistory(k, hk, hv)
			if err != nil {
				return fmt.Errorf("history seq %d: %w", binary.BigEndian.Uint64(hk[keyLen:]), err)
			}
			out = append(out, ch)
		}
		// The after-image of each change is the before-image of the next, and the current
		// record for the last one.
		for i := range out {
			var after registry.Component
			if i+1 < len(out) {
				if out[i+1].Before == nil {
					return fmt.Errorf("history seq %d has no before-image: %w", out[i+1].Seq, errCorrupt)
				}
				after = *out[i+1].Before
			} else {
				after = cur
			}
			out[i].After = &after
			out[i].Time = after.Updated
			out[i].Actor = after.UpdatedBy
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get history of %s: %w", id, err)
	}
	return out, nil
}
