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
//	unit_history   uvarint(len(ID)) ID seq(8) → history entry of a unit (unit.go)
//	rule_history   uvarint(len(ID)) ID seq(8) → history entry of a rule
//	cell_history   cell Key (8) + seq (8) → cell revision: version(1) op(1) time actor note,
//	                                        then the cell record after the change; the entry
//	                                        before it holds the before-image. A cell stored
//	                                        before cells kept history gets a seq 0 entry with
//	                                        its state when it first changes
//
// A cell record ends, for a retired cell only, with its status (1) and retired time: an
// active cell's record is the one earlier builds wrote.
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
//
// Files, as in store/postgres: bolt.go (Open, the layout), tx.go (the write transaction and
// the changes it records), cell.go, component.go (reads), component_put.go (PutComponents),
// unit.go, rule.go, feed.go (registry.ChangeFeed) and codec.go (the record encoding).
package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"citygrid/registry"

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
	bucketUnitHistory  = []byte("unit_history")
	bucketRuleHistory  = []byte("rule_history")
	bucketCellHistory  = []byte("cell_history") // cell Key + seq → op, time, actor, note, the cell after

	allBuckets = [][]byte{bucketMeta, bucketCells, bucketCellCodes, bucketComponents,
		bucketComponentIDs, bucketHistory, bucketChanges, bucketSerials, bucketUnits, bucketRules,
		bucketUnitHistory, bucketRuleHistory, bucketCellHistory}

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

	// opNoted flags the op byte of a history entry followed, after its version, by a note
	// (registry.Change.Note). Entries written before notes existed never set it.
	opNoted byte = 0x80
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
