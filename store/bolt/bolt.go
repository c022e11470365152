// Package bolt is the embedded default registry.Store, kept in one go.etcd.io/bbolt file.
// Every method that writes is exactly one bbolt read-write transaction, so it stores all it
// was given or nothing, also when the process is killed mid-way. One process at a time may
// open the file; a second one gets ErrLocked after Options.Timeout.
//
// Layout. Integers in keys are big-endian so that keys sort numerically; "seq" is the
// store-wide change sequence (one per changed record, strictly increasing, never reused).
//
//	meta           "schema"        → uint64: schema version (1)
//	               "seq/cell"      → uint64: last cell Key assigned
//	               "seq/component" → uint64: last component Key assigned
//	               "seq/change"    → uint64: last change seq assigned
//	cells          Key (8)                → cell record
//	cell_codes     code (14/15 bytes)     → Key (8)
//	components     Key (8)                → component record
//	component_ids  identifier (8)         → Key (8); the 16/17-digit number of every ID and
//	                                        legacy ID a component was stored with, kept forever
//	                                        so that identifiers are never reused
//	history        component Key (8) + seq (8) → history entry
//	changes        last seq of a run (8)  → a run of up to 4096 consecutive changes made by
//	                                        one write call (see below)
//	serials        district (6) + class (5, or 4 legacy), ASCII digits → uint32: highest serial
//	                                        seen in any identifier with that prefix
//	units          unit ID                → unit record
//	rules          rule ID                → rule record
//
// Keys come from the per-kind sequences in meta, start at 1, are never reused and stay at or
// below registry.MaxKey (2^53-1).
//
// Records use a hand-written binary encoding, for speed: a record version byte (1) first,
// then the fields; lengths and counts are uvarints, signed integers zig-zag varints, floats
// little-endian IEEE 754 bits, times a varint of seconds since 0001-01-01 UTC and a uvarint of
// nanoseconds (so the zero time is two zero bytes). A component record keeps every string
// length up front and the string bytes at the end, so decoding one costs a single allocation.
//
// A changes run lists the changes with seqs last-count+1 … last, so a feed reader finds
// seq s with Seek(s): version(1) count(uvarint) time actor(string), then per change kind(1:
// cell, component, unit, rule) op(1: create, update, retire, delete) id(string: cell code,
// component ID digits, unit or rule ID). Runs keep a 1,000,000-component import at a few
// hundred puts for its feed instead of a million. Changes (registry.ChangeFeed) reads it in
// one read transaction, looking up each entry's current record by code, identifier or ID.
//
// A history entry holds the op, the version after the change and the component's
// before-image (empty for a create): the after-image of entry i is the before-image of entry
// i+1, and that of the last entry is the current record. A 1,000,000-component import thus
// writes each record once. A change's time and actor are those the store stamped on its
// after-image (Updated, UpdatedBy).
package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"citygrid/registry"

	"github.com/paulmach/orb"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is returned (wrapped) by Open when another process holds the store file.
var ErrLocked = errors.New("store is locked by another process")

// errCorrupt reports a record this build cannot decode.
var errCorrupt = errors.New("corrupt record")

const (
	schemaVersion = 1
	recordVersion = 1 // first byte of every record, history and change entry

	defaultTimeout = time.Second

	initialMmapSize = 1 << 31 // bytes of address space; the file itself grows as needed

	// unixToInternal is the number of seconds from 0001-01-01 to 1970-01-01 (UTC); times are
	// stored relative to year 1 so that the zero time encodes as 0.
	unixToInternal = 62135596800

	ctxEvery = 4096 // check ctx once per this many iterations of a long loop

	changesRun = 4096 // changes per changes-bucket entry at most
)

var (
	bucketMeta         = []byte("meta")
	bucketCells        = []byte("cells")
	bucketCellCodes    = []byte("cell_codes")
	bucketComponents   = []byte("components")
	bucketComponentIDs = []byte("component_ids")
	bucketHistory      = []byte("history")
	bucketChanges      = []byte("changes")
	bucketSerials      = []byte("serials")
	bucketUnits        = []byte("units")
	bucketRules        = []byte("rules")

	allBuckets = [][]byte{bucketMeta, bucketCells, bucketCellCodes, bucketComponents,
		bucketComponentIDs, bucketHistory, bucketChanges, bucketSerials, bucketUnits, bucketRules}

	metaSchema       = []byte("schema")
	metaCellSeq      = []byte("seq/cell")
	metaComponentSeq = []byte("seq/component")
	metaChangeSeq    = []byte("seq/change")
)

// Kinds and ops of a changes entry.
const (
	kindCell      byte = 1
	kindComponent byte = 2
	kindUnit      byte = 3
	kindRule      byte = 4

	opCreate byte = 1
	opUpdate byte = 2
	opRetire byte = 3
	opDelete byte = 4
)

var opNames = [...]registry.ChangeOp{opCreate: registry.OpCreate, opUpdate: registry.OpUpdate,
	opRetire: registry.OpRetire, opDelete: registry.OpDelete}

// Fill percents: keys that only ever grow (sequences) pack pages full; bbolt's default (0.5)
// is for keys inserted at random.
const (
	fillAppend = 1.0
	fillMostly = 0.9 // appended on import, rewritten in place or in the middle on edits
)

const (
	keyLen       = 8  // a Key, a seq or an identifier, big-endian
	historyKeyLn = 16 // component Key + seq
)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for another process to release the file lock before it
	// returns ErrLocked; 0 means one second.
	Timeout time.Duration
	// Now returns the time stamped on writes (Updated, history); nil means time.Now.
	// Tests inject a fixed clock.
	Now func() time.Time
}

// Store is the bbolt registry.Store. It is safe for concurrent use; writes are serialised.
type Store struct {
	db  *bbolt.DB
	now func() time.Time

	closeOnce sync.Once
	closeErr  error
}

var _ registry.Store = (*Store)(nil)

// Open opens the store file at path, creating it and its buckets if needed. It returns an
// error wrapping ErrLocked when another process holds the file for longer than opts.Timeout,
// and an error when the file was written by a newer schema.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType, // faster than the array freelist once the file is large
		// Each time the file outgrows the mapping, bbolt remaps it and first copies every key
		// and value of the open write transaction to the heap: a 1,000,000-component import
		// would do that a dozen times. Reserving address space (not memory) up front avoids it.
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

func initSchema(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(metaSchema)
	if v == nil {
		return meta.Put(metaSchema, be64(schemaVersion))
	}
	if len(v) != 8 {
		return fmt.Errorf("schema version: %w", errCorrupt)
	}
	if got := binary.BigEndian.Uint64(v); got != schemaVersion {
		return fmt.Errorf("schema version %d, this build reads version %d", got, schemaVersion)
	}
	return nil
}

// Close closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// stamp returns the write time: UTC, without a monotonic reading, as reads return it.
func (s *Store) stamp() time.Time { return s.now().UTC() }

// ---------------------------------------------------------------------------------------
// Reads

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

// Rules returns every rule sorted by Order, then ID.
func (s *Store) Rules(ctx context.Context) ([]registry.Rule, error) {
	var out []registry.Rule
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRules).ForEach(func(k, v []byte) error {
			var r registry.Rule
			if err := decodeRule(&r, k, v); err != nil {
				return fmt.Errorf("rule %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	sortRules(out)
	return out, nil
}

func sortRules(rs []registry.Rule) {
	slices.SortFunc(rs, func(a, b registry.Rule) int {
		if c := cmp.Compare(a.Order, b.Order); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
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
		// from the index's queries, and a census numbers neighbouring components together
		// (in a 500 m box of the bench city 87% of the keys follow the previous one).
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

func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// ---------------------------------------------------------------------------------------
// Writes

// wtx is one write transaction with its buckets and the sequences it advances; the sequences
// are written back to meta just before commit.
type wtx struct {
	meta, cells, cellCodes          *bbolt.Bucket
	comps, ids, history, changes    *bbolt.Bucket
	serials, units, rules           *bbolt.Bucket
	cellSeq, componentSeq, changeSq uint64
	arena                           arena

	// The pending changes run: entries of changes runN seqs up to changeSq, all at runTime
	// by runActor.
	run      []byte
	runN     int
	runTime  time.Time
	runActor string
}

// update runs fn in one read-write transaction. It checks ctx before starting and again
// before committing, so a cancelled call stores nothing.
func (s *Store) update(ctx context.Context, fn func(*wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		w := &wtx{
			meta:      tx.Bucket(bucketMeta),
			cells:     tx.Bucket(bucketCells),
			cellCodes: tx.Bucket(bucketCellCodes),
			comps:     tx.Bucket(bucketComponents),
			ids:       tx.Bucket(bucketComponentIDs),
			history:   tx.Bucket(bucketHistory),
			changes:   tx.Bucket(bucketChanges),
			serials:   tx.Bucket(bucketSerials),
			units:     tx.Bucket(bucketUnits),
			rules:     tx.Bucket(bucketRules),
		}
		w.cells.FillPercent = fillMostly
		w.comps.FillPercent = fillMostly
		w.history.FillPercent = fillMostly
		w.changes.FillPercent = fillAppend
		var err error
		if w.cellSeq, err = w.metaUint(metaCellSeq); err != nil {
			return err
		}
		if w.componentSeq, err = w.metaUint(metaComponentSeq); err != nil {
			return err
		}
		if w.changeSq, err = w.metaUint(metaChangeSeq); err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		if err := w.flushChanges(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, m := range [...]struct {
			k []byte
			v uint64
		}{{metaCellSeq, w.cellSeq}, {metaComponentSeq, w.componentSeq}, {metaChangeSeq, w.changeSq}} {
			if err := w.meta.Put(m.k, be64(m.v)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *wtx) metaUint(k []byte) (uint64, error) {
	v := w.meta.Get(k)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta %s: %w", k, errCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// change takes the next seq for a change of the record named id, or code when it is
// nonzero (a component), and adds it to the pending changes run.
func (w *wtx) change(kind, op byte, now time.Time, actor, id string, code registry.ComponentCode) (uint64, error) {
	if w.runN > 0 && (w.runN == changesRun || !now.Equal(w.runTime) || actor != w.runActor) {
		if err := w.flushChanges(); err != nil {
			return 0, err
		}
	}
	if w.runN == 0 {
		w.run, w.runTime, w.runActor = w.run[:0], now, actor
	}
	w.changeSq++
	w.runN++
	w.run = append(w.run, kind, op)
	if code.IsZero() {
		w.run = appendString(w.run, id)
	} else { // the digits without a string allocation; an ID has at most 20
		at := len(w.run)
		w.run = strconv.AppendUint(append(w.run, 0), code.Uint64(), 10)
		for len(w.run)-at-1 < code.Len() { // cannot happen for parsed codes, whose first digit is not 0
			w.run = slices.Insert(w.run, at+1, '0')
		}
		w.run[at] = byte(len(w.run) - at - 1)
	}
	return w.changeSq, nil
}

// flushChanges puts the pending changes run under its last seq.
func (w *wtx) flushChanges() error {
	if w.runN == 0 {
		return nil
	}
	v := make([]byte, 0, len(w.run)+32+len(w.runActor))
	v = append(v, recordVersion)
	v = binary.AppendUvarint(v, uint64(w.runN))
	v = appendTime(v, w.runTime)
	v = appendString(v, w.runActor)
	v = append(v, w.run...)
	w.runN = 0
	return w.changes.Put(be64(w.changeSq), v)
}

func (w *wtx) nextKey(seq *uint64) (registry.Key, error) {
	if *seq >= uint64(registry.MaxKey) {
		return 0, fmt.Errorf("key space exhausted at %d", *seq)
	}
	*seq++
	return registry.Key(*seq), nil
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

// idRef is one identifier named by a PutComponents batch: element i's ID, or its LegacyID.
type idRef struct {
	n      uint64
	i      int32
	legacy bool
}

// prior is what an update needs of the stored record it replaces.
type prior struct {
	key     registry.Key
	version int64
	status  registry.Status
	raw     []byte // the stored record: the history entry's before-image
}

// PutComponents creates components whose ID (or legacy ID) is new and updates those whose ID
// or legacy ID is stored; see registry.Store. On update, an ID, LegacyID or LegacyClass left
// zero keeps its stored value, and a new ID or legacy ID becomes one more name of the record
// (the old one keeps finding it); a record named by its stored legacy ID keeps its ID. Zero IDs are assigned as District(Cell) + Class + the next
// serial above every identifier ever stored with that prefix. Every stored component gets
// Updated = Options.Now() and UpdatedBy = actor, and one history entry. Errors, after which
// nothing is stored: registry.ErrInvalidInput (len(expect) != len(comps), or a zero ID
// without a cell or 5-digit class), registry.ErrDuplicate (an identifier named twice, or a
// legacy ID stored for another component), registry.ErrVersionConflict, a Conflict with code
// "serials_exhausted" (serial 999999 of the prefix is taken), ctx's error.
func (s *Store) PutComponents(ctx context.Context, comps []registry.Component, expect []int64, actor string) ([]registry.Component, error) {
	if expect != nil && len(expect) != len(comps) {
		return nil, fmt.Errorf("put components: %d expected versions for %d components: %w", len(expect), len(comps), registry.ErrInvalidInput)
	}
	if len(comps) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("put components: %w", err)
		}
		return []registry.Component{}, nil
	}
	// In place, as the interface allows: a census import hands over 1M components, and a
	// copy of them is 300 MB of fresh pages (about 2 s of page faults on a small VM).
	out := comps
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error { return w.putComponents(ctx, out, expect, actor, now) })
	if err != nil {
		return nil, fmt.Errorf("put components: %w", err)
	}
	return out, nil
}

func (w *wtx) putComponents(ctx context.Context, out []registry.Component, expect []int64, actor string, now time.Time) error {
	n := len(out)
	tick := func(i int) error {
		if i%ctxEvery == ctxEvery-1 {
			return ctx.Err()
		}
		return nil
	}

	// 1. Every identifier the batch names, sorted: equal neighbours are duplicates, and the
	// index is probed in key order.
	refs := make([]idRef, 0, n)
	for i := range out {
		id, leg := out[i].ID.Uint64(), out[i].LegacyID.Uint64()
		if id != 0 {
			refs = append(refs, idRef{n: id, i: int32(i)})
		}
		if leg != 0 && leg != id {
			refs = append(refs, idRef{n: leg, i: int32(i), legacy: true})
		}
	}
	cmpRef := func(a, b idRef) int {
		if c := cmp.Compare(a.n, b.n); c != 0 {
			return c
		}
		return int(a.i - b.i)
	}
	if !slices.IsSortedFunc(refs, cmpRef) {
		slices.SortFunc(refs, cmpRef)
	}
	byID := make([]registry.Key, n)     // stored component found by element i's ID
	byLegacy := make([]registry.Key, n) // … by its LegacyID
	var kb [keyLen]byte
	for j, r := range refs {
		if err := tick(j); err != nil {
			return err
		}
		if j > 0 && refs[j-1].n == r.n {
			return fmt.Errorf("component %s at elements %d and %d: %w", refCode(out, r), refs[j-1].i, r.i, registry.ErrDuplicate)
		}
		binary.BigEndian.PutUint64(kb[:], r.n)
		if v := w.ids.Get(kb[:]); v != nil {
			if len(v) != keyLen {
				return fmt.Errorf("id index %d: %w", r.n, errCorrupt)
			}
			if r.legacy {
				byLegacy[r.i] = registry.Key(binary.BigEndian.Uint64(v))
			} else {
				byID[r.i] = registry.Key(binary.BigEndian.Uint64(v))
			}
		}
	}

	// 2. Resolve each element to an update of a stored record or a create; check versions.
	priors := make([]*prior, n)
	needID := make([]bool, n)     // element's final ID must be added to the index
	needLegacy := make([]bool, n) // … and its LegacyID
	var updates []int32
	var scratch registry.Component
	for i := range out {
		if err := tick(i); err != nil {
			return err
		}
		c := &out[i]
		key := byID[i]
		if l := byLegacy[i]; l != 0 {
			if key != 0 && key != l {
				return fmt.Errorf("component %s: legacy id %s belongs to another component: %w", label(c, i), c.LegacyID, registry.ErrDuplicate)
			}
			key = l
		}
		var cur int64
		if key != 0 {
			binary.BigEndian.PutUint64(kb[:], uint64(key))
			v := w.comps.Get(kb[:])
			if v == nil {
				return fmt.Errorf("id index points at missing key %d: %w", key, errCorrupt)
			}
			if err := decodeComponent(&scratch, kb[:], v); err != nil {
				return fmt.Errorf("component key %d: %w", key, err)
			}
			priors[i] = &prior{key: key, version: scratch.Version, status: scratch.Status, raw: v}
			updates = append(updates, int32(i))
			cur = scratch.Version
			needID[i] = !c.ID.IsZero() && byID[i] == 0
			// Named by its legacy ID only (a legacy census again), the record keeps its ID.
			if c.ID.IsZero() || c.ID == scratch.LegacyID && c.ID != scratch.ID && !scratch.ID.IsZero() {
				c.ID = scratch.ID
			}
			needLegacy[i] = !c.LegacyID.IsZero() && c.LegacyID != c.ID && byLegacy[i] == 0
			if c.LegacyID.IsZero() {
				c.LegacyID = scratch.LegacyID
				if c.LegacyClass == "" {
					c.LegacyClass = scratch.LegacyClass
				}
			}
			c.Key = key
		} else {
			needID[i] = true // an assigned ID, or one the lookup did not find
			needLegacy[i] = !c.LegacyID.IsZero() && c.LegacyID != c.ID
		}
		if expect != nil && expect[i] > 0 && expect[i] != cur {
			return fmt.Errorf("component %s: version is %d, expected %d: %w", label(c, i), cur, expect[i], registry.ErrVersionConflict)
		}
	}
	// Two elements may reach the same record through different identifiers.
	slices.SortFunc(updates, func(a, b int32) int { return cmp.Compare(uint64(priors[a].key), uint64(priors[b].key)) })
	for j := 1; j < len(updates); j++ {
		a, b := updates[j-1], updates[j]
		if priors[a].key == priors[b].key {
			return fmt.Errorf("component %s at elements %d and %d: %w", label(&out[b], int(b)), min(a, b), max(a, b), registry.ErrDuplicate)
		}
	}

	// 3. Serials: the highest serial of every prefix the batch touches, then zero IDs get the
	// next ones, in input order.
	serials := make(map[uint64]uint32)
	for i := range out {
		for _, code := range [2]registry.ComponentCode{out[i].ID, out[i].LegacyID} {
			if v := code.Uint64(); v != 0 {
				p := v / 1000000
				serials[p] = max(serials[p], uint32(v%1000000))
			}
		}
	}
	prefixes := make([]uint64, n) // for elements whose ID is assigned
	for i := range out {
		if !out[i].ID.IsZero() {
			continue
		}
		p, err := registry.AssignPrefix(&out[i])
		if err != nil {
			return fmt.Errorf("component %d: %w", i, err)
		}
		prefixes[i] = p
		if _, ok := serials[p]; !ok {
			serials[p] = 0 // so that the stored serial is read below
		}
	}
	stored := make(map[uint64]uint32, len(serials))
	for p := range serials {
		v := w.serials.Get(serialKey(p))
		if v == nil {
			continue
		}
		if len(v) != 4 {
			return fmt.Errorf("serial %d: %w", p, errCorrupt)
		}
		s := binary.BigEndian.Uint32(v)
		stored[p] = s
		serials[p] = max(serials[p], s)
	}
	for i := range out {
		if !out[i].ID.IsZero() {
			continue
		}
		p := prefixes[i]
		for {
			id, err := registry.NextID(p, serials[p])
			if err != nil {
				return fmt.Errorf("component %d: %w", i, err)
			}
			serials[p]++
			binary.BigEndian.PutUint64(kb[:], id.Uint64())
			if w.ids.Get(kb[:]) == nil { // always free, unless serials were lost: IDs stay unique anyway
				out[i].ID = id
				break
			}
		}
	}

	// 4. Stamp keys, versions and seqs in input order; record the changes.
	ops := make([]byte, n)
	seqs := make([]uint64, n)
	for i := range out {
		if err := tick(i); err != nil {
			return err
		}
		c := &out[i]
		if p := priors[i]; p != nil {
			c.Version = p.version + 1
			ops[i] = opUpdate
			if c.Status == registry.StatusRemoved && p.status != registry.StatusRemoved {
				ops[i] = opRetire
			}
		} else {
			key, err := w.nextKey(&w.componentSeq)
			if err != nil {
				return err
			}
			c.Key, c.Version, ops[i] = key, 1, opCreate
		}
		c.Updated, c.UpdatedBy = now, actor
		seq, err := w.change(kindComponent, ops[i], now, actor, "", c.ID)
		if err != nil {
			return err
		}
		seqs[i] = seq
	}

	// 5. Records and history, in key order: updates (sorted above), then creates, whose keys
	// are new and ascending.
	order := updates
	for i := range out {
		if priors[i] == nil {
			order = append(order, int32(i))
		}
	}
	var hk [historyKeyLn]byte
	for j, i := range order {
		if err := tick(j); err != nil {
			return err
		}
		c := &out[i]
		binary.BigEndian.PutUint64(kb[:], uint64(c.Key))
		if err := w.comps.Put(kb[:], w.arena.end(appendComponent(w.arena.begin(), c))); err != nil {
			return err
		}
		b := w.arena.begin()
		b = append(b, recordVersion, ops[i])
		b = binary.AppendVarint(b, c.Version)
		if p := priors[i]; p != nil {
			b = append(b, p.raw...)
		}
		copy(hk[:], kb[:])
		binary.BigEndian.PutUint64(hk[keyLen:], seqs[i])
		if err := w.history.Put(hk[:], w.arena.end(b)); err != nil {
			return err
		}
	}

	// 6. New names in the identifier index, sorted: those the batch named come from refs,
	// already sorted; assigned ones are sorted apart and merged in.
	type name struct {
		n  uint64
		at int32 // element
	}
	var named, assigned []name
	for _, r := range refs {
		if r.legacy && needLegacy[r.i] || !r.legacy && needID[r.i] && out[r.i].ID.Uint64() == r.n {
			named = append(named, name{r.n, r.i})
			if r.legacy {
				needLegacy[r.i] = false
			} else {
				needID[r.i] = false
			}
		}
	}
	for i := range out { // what refs did not hold: assigned IDs, inherited legacy IDs
		if needID[i] {
			assigned = append(assigned, name{out[i].ID.Uint64(), int32(i)})
		}
		if needLegacy[i] {
			assigned = append(assigned, name{out[i].LegacyID.Uint64(), int32(i)})
		}
	}
	cmpName := func(a, b name) int { return cmp.Compare(a.n, b.n) }
	if !slices.IsSortedFunc(assigned, cmpName) {
		slices.SortFunc(assigned, cmpName)
	}
	if len(named)+len(assigned) > 0 {
		first := uint64(math.MaxUint64)
		if len(named) > 0 {
			first = named[0].n
		}
		if len(assigned) > 0 {
			first = min(first, assigned[0].n)
		}
		if last, _ := w.ids.Cursor().Last(); last == nil || binary.BigEndian.Uint64(last) < first {
			w.ids.FillPercent = fillAppend // every name goes after the stored ones
		}
	}
	for a, b, j := 0, 0, 0; a < len(named) || b < len(assigned); j++ {
		if err := tick(j); err != nil {
			return err
		}
		var nm name
		if b == len(assigned) || a < len(named) && named[a].n < assigned[b].n {
			nm, a = named[a], a+1
		} else {
			nm, b = assigned[b], b+1
		}
		binary.BigEndian.PutUint64(kb[:], nm.n)
		v := w.arena.end(binary.BigEndian.AppendUint64(w.arena.begin(), uint64(out[nm.at].Key)))
		if err := w.ids.Put(kb[:], v); err != nil {
			return err
		}
	}

	// 7. Serials that grew.
	ps := make([]uint64, 0, len(serials))
	for p, s := range serials {
		if old, ok := stored[p]; !ok || s > old {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	for _, p := range ps {
		if err := w.serials.Put(serialKey(p), binary.BigEndian.AppendUint32(nil, serials[p])); err != nil {
			return err
		}
	}
	return nil
}

// serialKey is the ASCII district+class prefix: 11 digits, or 10 for a legacy class.
func serialKey(p uint64) []byte { return strconv.AppendUint(nil, p, 10) }

func refCode(out []registry.Component, r idRef) registry.ComponentCode {
	if r.legacy {
		return out[r.i].LegacyID
	}
	return out[r.i].ID
}

// label names a component in an error: its ID, or its position when it has none yet.
func label(c *registry.Component, i int) string {
	if !c.ID.IsZero() {
		return c.ID.String()
	}
	if !c.LegacyID.IsZero() {
		return c.LegacyID.String()
	}
	return "#" + strconv.Itoa(i)
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

// PutRules creates rules whose ID is new (Version 1) and replaces the others (Version+1); with
// replace, every stored rule not in rules is removed in the same transaction. It returns the
// stored rules in input order. Errors as PutUnits.
func (s *Store) PutRules(ctx context.Context, rules []registry.Rule, replace bool) ([]registry.Rule, error) {
	out := slices.Clone(rules)
	if out == nil {
		out = []registry.Rule{}
	}
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if err := registry.CheckIDs(len(out), func(i int) string { return out[i].ID }); err != nil {
			return err
		}
		if replace {
			keep := make(map[string]bool, len(out))
			for i := range out {
				keep[out[i].ID] = true
			}
			var drop [][]byte
			if err := w.rules.ForEach(func(k, _ []byte) error {
				if !keep[string(k)] {
					drop = append(drop, bytes.Clone(k))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range drop {
				if err := w.rules.Delete(k); err != nil {
					return err
				}
				if _, err := w.change(kindRule, opDelete, now, "", string(k), registry.ComponentCode{}); err != nil {
					return err
				}
			}
		}
		var old registry.Rule
		for i := range out {
			r := &out[i]
			op := opCreate
			r.Version = 1
			if v := w.rules.Get([]byte(r.ID)); v != nil {
				if err := decodeRule(&old, []byte(r.ID), v); err != nil {
					return fmt.Errorf("rule %s: %w", r.ID, err)
				}
				r.Version, op = old.Version+1, opUpdate
			}
			if err := w.rules.Put([]byte(r.ID), appendRule(nil, r)); err != nil {
				return err
			}
			if _, err := w.change(kindRule, op, now, "", r.ID, registry.ComponentCode{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put rules: %w", err)
	}
	return out, nil
}

// DeleteRule removes the rule with id, or returns an error wrapping registry.ErrRuleNotFound.
func (s *Store) DeleteRule(ctx context.Context, id string) error {
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error {
		if w.rules.Get([]byte(id)) == nil {
			return registry.ErrRuleNotFound
		}
		if err := w.rules.Delete([]byte(id)); err != nil {
			return err
		}
		_, err := w.change(kindRule, opDelete, now, "", id, registry.ComponentCode{})
		return err
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Encoding

// arena hands out value buffers carved from large chunks: bbolt keeps Put values (not keys)
// by reference until commit, and a million small allocations cost more than the encoding.
type arena struct{ buf []byte }

const (
	arenaChunk = 1 << 20
	arenaSlack = 4 << 10 // a value that outgrows this reallocates on its own, harmlessly
)

// begin returns an empty slice to append one value to.
func (a *arena) begin() []byte {
	if cap(a.buf)-len(a.buf) < arenaSlack {
		a.buf = make([]byte, 0, arenaChunk)
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// end claims b, which was returned by begin and appended to, and returns it capped.
func (a *arena) end(b []byte) []byte {
	if cap(b) == cap(a.buf)-len(a.buf) { // append did not reallocate: b lives in the chunk
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return b[:len(b):len(b)]
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix()+unixToInternal)
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendGeometry(b []byte, mp orb.MultiPolygon) []byte {
	total := 0
	for _, p := range mp {
		for _, r := range p {
			total += len(r)
		}
	}
	b = binary.AppendUvarint(b, uint64(total))
	b = binary.AppendUvarint(b, uint64(len(mp)))
	for _, p := range mp {
		b = binary.AppendUvarint(b, uint64(len(p)))
		for _, r := range p {
			b = binary.AppendUvarint(b, uint64(len(r)))
		}
	}
	for _, p := range mp {
		for _, r := range p {
			for _, pt := range r {
				b = appendFloat(b, pt[0])
				b = appendFloat(b, pt[1])
			}
		}
	}
	return b
}

const (
	flagIDLegacy       = 1 << 0
	flagLegacyIDLegacy = 1 << 1
	componentStrings   = 10
)

// appendComponent encodes c without its Key (the bucket key holds it):
//
//	version(1) flags(1) status(1) Version(varint) ID(uvarint) LegacyID(uvarint)
//	lon lat (float64 LE) CensusDate ChangeDate Updated (time)
//	10 string lengths (uvarint), then the 10 strings' bytes, in the order of componentFields.
func appendComponent(b []byte, c *registry.Component) []byte {
	var flags byte
	if c.ID.Legacy() {
		flags |= flagIDLegacy
	}
	if c.LegacyID.Legacy() {
		flags |= flagLegacyIDLegacy
	}
	b = append(b, recordVersion, flags, byte(c.Status))
	b = binary.AppendVarint(b, c.Version)
	b = binary.AppendUvarint(b, c.ID.Uint64())
	b = binary.AppendUvarint(b, c.LegacyID.Uint64())
	b = appendFloat(b, c.Point[0])
	b = appendFloat(b, c.Point[1])
	b = appendTime(b, c.CensusDate)
	b = appendTime(b, c.ChangeDate)
	b = appendTime(b, c.Updated)
	strs := [componentStrings]string{c.Class, c.LegacyClass, c.Name, c.Supervisor, c.Owner,
		c.Maintainer, string(c.Cell), c.Source, c.Note, c.UpdatedBy}
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
	}
	for _, s := range strs {
		b = append(b, s...)
	}
	return b
}

// reader decodes a record; the first malformed field sets bad and zeroes the rest.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) fail() { r.bad, r.b = true, nil }

func (r *reader) byte1() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length or count whose items take at least size bytes each, so that a corrupt
// count cannot make the decoder allocate more than the record holds.
func (r *reader) count(size int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/size) {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *reader) float() float64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) time() time.Time {
	sec := r.varint()
	ns := r.uvarint()
	if ns >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec-unixToInternal, int64(ns)).UTC()
}

func (r *reader) str() string {
	n := r.count(1)
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) geometry() orb.MultiPolygon {
	total := r.count(16)
	npoly := r.count(1)
	if r.bad || npoly == 0 {
		if total != 0 {
			r.fail()
		}
		return nil
	}
	pts := make([]orb.Point, total)
	mp := make(orb.MultiPolygon, npoly)
	used := 0
	for i := range mp {
		nring := r.count(1)
		mp[i] = make(orb.Polygon, nring)
		for j := range mp[i] {
			np := r.count(1)
			if used+np > total {
				r.fail()
				return nil
			}
			mp[i][j] = orb.Ring(pts[used : used+np : used+np])
			used += np
		}
	}
	if used != total {
		r.fail()
		return nil
	}
	for i := range pts {
		pts[i] = orb.Point{r.float(), r.float()}
	}
	if r.bad {
		return nil
	}
	return mp
}

func (r *reader) version() {
	if v := r.byte1(); v != recordVersion {
		r.fail()
	}
}

// decodeComponent decodes a component record stored under key into c, overwriting every field.
func decodeComponent(c *registry.Component, key, v []byte) error {
	if len(key) != keyLen {
		return errCorrupt
	}
	r := reader{b: v}
	r.version()
	flags := r.byte1()
	status := r.byte1()
	version := r.varint()
	id := r.uvarint()
	legacy := r.uvarint()
	lon, lat := r.float(), r.float()
	census, changed, updated := r.time(), r.time(), r.time()
	var lens [componentStrings]int
	total := 0
	for i := range lens {
		lens[i] = r.count(1)
		total += lens[i]
	}
	if r.bad || total != len(r.b) || flags&^(flagIDLegacy|flagLegacyIDLegacy) != 0 {
		return errCorrupt
	}
	s := string(r.b) // one allocation for every string of the record
	var strs [componentStrings]string
	for i, n := range lens {
		strs[i], s = s[:n], s[n:]
	}
	*c = registry.Component{
		Key:         registry.Key(binary.BigEndian.Uint64(key)),
		ID:          registry.ComponentCodeFromUint64(id, flags&flagIDLegacy != 0),
		LegacyID:    registry.ComponentCodeFromUint64(legacy, flags&flagLegacyIDLegacy != 0),
		Class:       strs[0],
		LegacyClass: strs[1],
		Name:        strs[2],
		Point:       orb.Point{lon, lat},
		Status:      registry.Status(status),
		Supervisor:  strs[3],
		Owner:       strs[4],
		Maintainer:  strs[5],
		Cell:        registry.GridCode(strs[6]),
		CensusDate:  census,
		ChangeDate:  changed,
		Source:      strs[7],
		Note:        strs[8],
		Version:     version,
		Updated:     updated,
		UpdatedBy:   strs[9],
	}
	return nil
}

// decodeHistory decodes a history entry of the component stored under key; After, Time and
// Actor are left for the caller, who knows the next entry.
func decodeHistory(key, hk, hv []byte) (registry.Change, error) {
	if len(hk) != historyKeyLn {
		return registry.Change{}, errCorrupt
	}
	r := reader{b: hv}
	r.version()
	op := r.byte1()
	version := r.varint()
	if r.bad || op == 0 || int(op) >= len(opNames) || op == opDelete {
		return registry.Change{}, errCorrupt
	}
	ch := registry.Change{Seq: binary.BigEndian.Uint64(hk[keyLen:]), Op: opNames[op], Version: version}
	if len(r.b) > 0 {
		var before registry.Component
		if err := decodeComponent(&before, key, r.b); err != nil {
			return registry.Change{}, err
		}
		ch.Before = &before
	} else if op != opCreate {
		return registry.Change{}, errCorrupt
	}
	return ch, nil
}

// appendCell: version(1) Version(varint) Updated(time) Area(float64) Code Name (strings)
// Geometry.
func appendCell(b []byte, c *registry.Cell) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, c.Version)
	b = appendTime(b, c.Updated)
	b = appendFloat(b, c.Area)
	b = appendString(b, string(c.Code))
	b = appendString(b, c.Name)
	return appendGeometry(b, c.Geometry)
}

func decodeCell(c *registry.Cell, key, v []byte) error {
	if len(key) != keyLen {
		return errCorrupt
	}
	r := reader{b: v}
	r.version()
	*c = registry.Cell{Key: registry.Key(binary.BigEndian.Uint64(key))}
	c.Version = r.varint()
	c.Updated = r.time()
	c.Area = r.float()
	c.Code = registry.GridCode(r.str())
	c.Name = r.str()
	c.Geometry = r.geometry()
	if r.bad || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

// appendUnit: version(1) Version(varint) Updated(time) Type(1) Name Parent Supervisor Phone
// (strings) Districts (count, strings) Area (geometry). The ID is the bucket key.
func appendUnit(b []byte, u *registry.Unit) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, u.Version)
	b = appendTime(b, u.Updated)
	b = append(b, byte(u.Type))
	b = appendString(b, u.Name)
	b = appendString(b, u.Parent)
	b = appendString(b, u.Supervisor)
	b = appendString(b, u.Phone)
	b = binary.AppendUvarint(b, uint64(len(u.Districts)))
	for _, d := range u.Districts {
		b = appendString(b, d)
	}
	return appendGeometry(b, u.Area)
}

func decodeUnit(u *registry.Unit, key, v []byte) error {
	r := reader{b: v}
	r.version()
	*u = registry.Unit{ID: string(key)}
	u.Version = r.varint()
	u.Updated = r.time()
	u.Type = registry.UnitType(r.byte1())
	u.Name = r.str()
	u.Parent = r.str()
	u.Supervisor = r.str()
	u.Phone = r.str()
	if n := r.count(1); n > 0 {
		u.Districts = make([]string, n)
		for i := range u.Districts {
			u.Districts[i] = r.str()
		}
	}
	u.Area = r.geometry()
	if r.bad || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

// appendRule: version(1) Version(varint) Order(varint) InUnit(1) Class Kind Area Unit Reason
// (strings). The ID is the bucket key.
func appendRule(b []byte, r *registry.Rule) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, r.Version)
	b = binary.AppendVarint(b, int64(r.Order))
	inUnit := byte(0)
	if r.InUnit {
		inUnit = 1
	}
	b = append(b, inUnit)
	b = appendString(b, r.Class)
	b = appendString(b, r.Kind)
	b = appendString(b, r.Area)
	b = appendString(b, r.Unit)
	return appendString(b, r.Reason)
}

func decodeRule(ru *registry.Rule, key, v []byte) error {
	r := reader{b: v}
	r.version()
	*ru = registry.Rule{ID: string(key)}
	ru.Version = r.varint()
	ru.Order = int(r.varint())
	inUnit := r.byte1()
	ru.InUnit = inUnit == 1
	ru.Class = r.str()
	ru.Kind = r.str()
	ru.Area = r.str()
	ru.Unit = r.str()
	ru.Reason = r.str()
	if r.bad || len(r.b) != 0 || inUnit > 1 {
		return errCorrupt
	}
	return nil
}
