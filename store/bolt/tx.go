package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"citygrid/registry"

	"go.etcd.io/bbolt"
)

func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// wtx is one write transaction with its buckets and the sequences it advances; the sequences
// are written back to meta just before commit.
type wtx struct {
	meta, cells, cellCodes          *bbolt.Bucket
	comps, ids, history, changes    *bbolt.Bucket
	serials, units, rules           *bbolt.Bucket
	unitHistory, ruleHistory        *bbolt.Bucket
	cellHistory                     *bbolt.Bucket
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

			unitHistory: tx.Bucket(bucketUnitHistory),
			ruleHistory: tx.Bucket(bucketRuleHistory),
		}
		w.cellHistory = tx.Bucket(bucketCellHistory)
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
