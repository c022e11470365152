package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
)

// runMax is the most changes one change_runs row holds, as in store/bolt: it bounds the
// arrays a reader fetches to find one seq.
const runMax = 4096

// writeChanges records the changes of one write: seqs first, first+1, … with ops[i], keys[i]
// (cells and components; nil for units and rules) and ids[i] (units and rules; nil for cells
// and components, whose code or identifier follows from the key). A run of up to runMax
// changes is one change_runs row, and a run's op and keys are a single op and a first key
// when they can be: a census import of a million components is 245 small rows.
func writeChanges(ctx context.Context, tx pgx.Tx, kind registry.FeedKind, now time.Time, actor string, first int64, ops []string, keys []int64, ids []string) error {
	var b pgx.Batch
	for lo := 0; lo < len(ops); lo += runMax {
		hi := min(lo+runMax, len(ops))
		var op *string
		var runOps []string
		if allSame(ops[lo:hi]) {
			op = &ops[lo]
		} else {
			runOps = ops[lo:hi]
		}
		var keyFirst *int64
		var runKeys []int64
		if keys != nil {
			if consecutive(keys[lo:hi]) {
				keyFirst = &keys[lo]
			} else {
				runKeys = keys[lo:hi]
			}
		}
		var idList []string
		if ids != nil {
			idList = ids[lo:hi]
		}
		b.Queue(`INSERT INTO change_runs (seq_first, seq_last, time, kind, actor, op, ops, key_first, keys, ids)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8, $9, $10)`,
			first+int64(lo), first+int64(hi)-1, now, string(kind), actor, op, runOps, keyFirst, runKeys, idList)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &b).Close()
}

func allSame(xs []string) bool {
	for _, x := range xs[1:] {
		if x != xs[0] {
			return false
		}
	}
	return true
}

func consecutive(keys []int64) bool {
	for i, k := range keys {
		if k != keys[0]+int64(i) {
			return false
		}
	}
	return true
}

// runsQuery selects the runs that hold the first $2 changes with seq > $1: first the heads
// of at most $2 runs, which never reads their arrays, then whole rows up to the run where
// the count reaches $2.
const runsQuery = `WITH head AS (
		SELECT seq_last, sum(seq_last - greatest(seq_first - 1, $1)) OVER (ORDER BY seq_last) AS upto
		FROM (SELECT seq_first, seq_last FROM change_runs WHERE seq_last > $1 ORDER BY seq_last LIMIT $2) r
	)
	SELECT seq_first, seq_last, time, kind, coalesce(actor, ''), op, ops, key_first, keys, ids FROM change_runs
	WHERE seq_last > $1 AND seq_last <= coalesce((SELECT min(seq_last) FROM head WHERE upto >= $2), (SELECT max(seq_last) FROM head))
	ORDER BY seq_last`

// Changes returns up to limit entries of the change feed with Seq > since, ascending, each
// with the record as it is stored now (nil for a unit or rule deleted since). A component
// entry's ID is the identifier the component had after the change, a cell entry's its code.
// limit ≤ 0 returns none.
func (s *Store) Changes(ctx context.Context, since uint64, limit int) ([]registry.FeedEntry, error) {
	if limit <= 0 {
		return []registry.FeedEntry{}, nil
	}
	var out []registry.FeedEntry
	err := s.read(ctx, func(tx pgx.Tx) error {
		after := int64(min(since, 1<<63-1))
		rows, err := tx.Query(ctx, runsQuery, after, limit)
		if err != nil {
			return err
		}
		var compKeys []registry.Key
		var cellKeys []int64
		var unitIDs, ruleIDs []string
		for rows.Next() {
			var first, last int64
			var when time.Time
			var kind, actor string
			var opAll *string
			var ops, ids []string
			var keys []int64
			var k0 *int64
			if err := rows.Scan(&first, &last, &when, &kind, &actor, &opAll, &ops, &k0, &keys, &ids); err != nil {
				rows.Close()
				return err
			}
			n := last - first + 1
			if opAll == nil && int64(len(ops)) != n || ids != nil && int64(len(ids)) != n || k0 == nil && keys != nil && int64(len(keys)) != n {
				rows.Close()
				return fmt.Errorf("change run %d-%d: arrays do not match the seqs", first, last)
			}
			for i := max(after-first+1, 0); i < n && len(out) < limit; i++ {
				e := registry.FeedEntry{Seq: uint64(first + i), Time: when.UTC(), Kind: registry.FeedKind(kind), Actor: actor}
				if opAll != nil {
					e.Op = registry.ChangeOp(*opAll)
				} else {
					e.Op = registry.ChangeOp(ops[i])
				}
				if ids != nil {
					e.ID = ids[i]
				}
				var key int64
				switch {
				case k0 != nil:
					key = *k0 + i
				case keys != nil:
					key = keys[i]
				}
				switch e.Kind {
				case registry.FeedComponent:
					if key == 0 {
						rows.Close()
						return fmt.Errorf("change %d: component without key", e.Seq)
					}
					e.Component = &registry.Component{Key: registry.Key(key)}
					compKeys = append(compKeys, registry.Key(key))
				case registry.FeedCell:
					if key == 0 {
						rows.Close()
						return fmt.Errorf("change %d: cell without key", e.Seq)
					}
					e.Cell = &registry.Cell{Key: registry.Key(key)}
					cellKeys = append(cellKeys, key)
				case registry.FeedUnit:
					unitIDs = append(unitIDs, e.ID)
				case registry.FeedRule:
					ruleIDs = append(ruleIDs, e.ID)
				}
				out = append(out, e)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return fillFeed(ctx, tx, out, compKeys, cellKeys, unitIDs, ruleIDs)
	})
	if err != nil {
		return nil, fmt.Errorf("list changes since %d: %w", since, err)
	}
	if out == nil {
		out = []registry.FeedEntry{}
	}
	return out, nil
}

// fillFeed replaces the placeholders of Changes with the stored records.
func fillFeed(ctx context.Context, tx pgx.Tx, out []registry.FeedEntry, compKeys []registry.Key, cellKeys []int64, unitIDs, ruleIDs []string) error {
	comps := make(map[registry.Key]*registry.Component)
	if len(compKeys) > 0 {
		list := make([]registry.Component, len(compKeys))
		if err := componentsByKey(ctx, tx, compKeys, list); err != nil {
			return err
		}
		for i := range list {
			comps[list[i].Key] = &list[i]
		}
	}
	cells := make(map[registry.Key]*registry.Cell)
	if len(cellKeys) > 0 {
		rows, err := tx.Query(ctx, "SELECT "+cellCols+" FROM cells WHERE key = ANY($1)", binaryResults, sortedKeys(cellKeys))
		if err != nil {
			return err
		}
		for rows.Next() {
			c := new(registry.Cell)
			if err := decodeCell(c, rows.RawValues()); err != nil {
				rows.Close()
				return err
			}
			cells[c.Key] = c
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	units := make(map[string]*registry.Unit)
	if len(unitIDs) > 0 {
		list, err := queryUnits(ctx, tx, "SELECT "+unitCols+" FROM units WHERE id = ANY($1)", unitIDs)
		if err != nil {
			return err
		}
		for i := range list {
			units[list[i].ID] = &list[i]
		}
	}
	rules := make(map[string]*registry.Rule)
	if len(ruleIDs) > 0 {
		rows, err := tx.Query(ctx, "SELECT "+ruleCols+" FROM rules WHERE id = ANY($1)", binaryResults, ruleIDs)
		if err != nil {
			return err
		}
		for rows.Next() {
			r := new(registry.Rule)
			if err := decodeRule(r, rows.RawValues()); err != nil {
				rows.Close()
				return err
			}
			rules[r.ID] = r
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	// Entries share records: a follower that applies them in order must not see one entry's
	// record change under another.
	for i := range out {
		e := &out[i]
		switch e.Kind {
		case registry.FeedComponent:
			c, ok := comps[e.Component.Key]
			if !ok {
				return fmt.Errorf("change %d: component key %d: %w", e.Seq, e.Component.Key, registry.ErrComponentNotFound)
			}
			cc := *c
			e.Component, e.ID = &cc, cc.ID.String()
		case registry.FeedCell:
			c, ok := cells[e.Cell.Key]
			if !ok {
				return fmt.Errorf("change %d: cell key %d: %w", e.Seq, e.Cell.Key, registry.ErrCellNotFound)
			}
			cc := *c
			e.Cell, e.ID = &cc, string(cc.Code)
		case registry.FeedUnit:
			if u, ok := units[e.ID]; ok {
				uu := *u
				e.Unit = &uu
			}
		case registry.FeedRule:
			if r, ok := rules[e.ID]; ok {
				rr := *r
				e.Rule = &rr
			}
		}
	}
	return formerIDs(ctx, tx, out)
}

// formerIDs gives each component entry the identifier its component had after the change,
// where that is not the current one: the identifier of the before-image of the component's
// next history entry. A component still at version 1 has no history entry.
func formerIDs(ctx context.Context, tx pgx.Tx, out []registry.FeedEntry) error {
	var idx []int
	var keys, seqs []int64
	for i := range out {
		if e := &out[i]; e.Kind == registry.FeedComponent && e.Component.Version > 1 {
			idx = append(idx, i)
			keys, seqs = append(keys, int64(e.Component.Key)), append(seqs, int64(e.Seq))
		}
	}
	if len(idx) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT u.ord, h.id
		FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS u(key, seq, ord)
		CROSS JOIN LATERAL (SELECT before->>'id' AS id FROM component_history h
			WHERE h.component_key = u.key AND h.seq > u.seq ORDER BY h.seq LIMIT 1) h`, keys, seqs)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ord int64
		var id string
		if err := rows.Scan(&ord, &id); err != nil {
			return err
		}
		if ord < 1 || ord > int64(len(idx)) {
			return fmt.Errorf("former id of entry %d of %d", ord, len(idx))
		}
		out[idx[ord-1]].ID = id
	}
	return rows.Err()
}

// LastSeq returns the highest change seq committed so far; 0 for an empty store.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(seq_last), 0) FROM change_runs").Scan(&seq); err != nil {
		return 0, fmt.Errorf("last change seq: %w", s.dbErr(ctx, err))
	}
	return uint64(seq), nil
}

// Backoff of Listen between reconnects: doubling from listenBackoffMin up to listenBackoffMax,
// back to the minimum once a connection has been established.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// Listen calls fn with the last change seq of every write committed to the store, by any
// node, from a LISTEN on channel citygrid_changes over a connection of its own. Each time it
// (re)connects it also calls fn with LastSeq, since writes committed while it was not
// listening sent their notifications to no one: fn may see a seq twice, and a seq means "the
// feed has reached at least this far". When the connection or the server goes away, Listen
// reconnects by itself with backoff; it returns ctx's error, and only when ctx ends. fn runs
// on Listen's goroutine, one call at a time.
func (s *Store) Listen(ctx context.Context, fn func(seq uint64)) error {
	backoff := listenBackoffMin
	for {
		err := s.listen(ctx, fn, &backoff)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("listen: lost the connection; reconnecting", "err", scrub(err.Error(), s.secret), "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, listenBackoffMax)
	}
}

// listen is one connection of Listen; it returns the error that ended it.
func (s *Store) listen(ctx context.Context, fn func(uint64), backoff *time.Duration) error {
	cfg := s.cfg.ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "citygrid-listen"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	*backoff = listenBackoffMin
	var last int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(seq_last), 0) FROM change_runs").Scan(&last); err != nil {
		return err
	}
	if last > 0 {
		fn(uint64(last))
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		seq, err := strconv.ParseUint(n.Payload, 10, 64)
		if err != nil {
			s.log.Warn("listen: notification without a seq", "payload", n.Payload)
			continue
		}
		fn(seq)
	}
}
