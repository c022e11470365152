package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
)

// Changes returns up to limit entries of the change feed with Seq > since, ascending, each
// with the record as it is stored now (nil for a unit or rule deleted since). limit ≤ 0
// returns none.
func (s *Store) Changes(ctx context.Context, since uint64, limit int) ([]registry.FeedEntry, error) {
	if limit <= 0 {
		return []registry.FeedEntry{}, nil
	}
	var out []registry.FeedEntry
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT seq, time, kind, id, op, key FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
			int64(min(since, 1<<63-1)), limit)
		if err != nil {
			return err
		}
		var compKeys []registry.Key
		var cellKeys []int64
		var unitIDs, ruleIDs []string
		for rows.Next() {
			var e registry.FeedEntry
			var kind, op string
			var key *int64
			if err := rows.Scan(&e.Seq, &e.Time, &kind, &e.ID, &op, &key); err != nil {
				rows.Close()
				return err
			}
			e.Time, e.Kind, e.Op = e.Time.UTC(), registry.FeedKind(kind), registry.ChangeOp(op)
			switch e.Kind {
			case registry.FeedComponent:
				if key == nil {
					rows.Close()
					return fmt.Errorf("change %d: component without key", e.Seq)
				}
				e.Component = &registry.Component{Key: registry.Key(*key)}
				compKeys = append(compKeys, registry.Key(*key))
			case registry.FeedCell:
				if key == nil {
					rows.Close()
					return fmt.Errorf("change %d: cell without key", e.Seq)
				}
				e.Cell = &registry.Cell{Key: registry.Key(*key)}
				cellKeys = append(cellKeys, *key)
			case registry.FeedUnit:
				unitIDs = append(unitIDs, e.ID)
			case registry.FeedRule:
				ruleIDs = append(ruleIDs, e.ID)
			}
			out = append(out, e)
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
			e.Component = &cc
		case registry.FeedCell:
			c, ok := cells[e.Cell.Key]
			if !ok {
				return fmt.Errorf("change %d: cell key %d: %w", e.Seq, e.Cell.Key, registry.ErrCellNotFound)
			}
			cc := *c
			e.Cell = &cc
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
	return nil
}

// LastSeq returns the highest change seq committed so far; 0 for an empty store.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM changes").Scan(&seq); err != nil {
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
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM changes").Scan(&last); err != nil {
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
