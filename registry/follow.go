package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Several nodes may serve one store (PostgreSQL). Each loads its index once (LoadIndex), then
// follows the store's change feed (Follow) to apply what the other nodes write. The feed's
// sequence is the truth; a notification from the store is only a wake-up, and a poll catches
// up whatever a missed notification would have announced.

// DefaultFollowPoll is how often Follow reads the feed when nothing wakes it.
const DefaultFollowPoll = time.Second

// followBatch is how many feed entries Follow reads and applies at a time; between batches
// local writes may go ahead.
const followBatch = 1000

// followReadTimeout bounds one read of the feed, which holds up local writes while it runs.
const followReadTimeout = 10 * time.Second

// hub wakes every waiter at once: a waiter takes the current channel, which is closed (and
// replaced) by the next notify. A waiter that takes the channel before it reads the state it
// waits on cannot miss a change.
type hub struct {
	mu sync.Mutex
	ch chan struct{}
}

func (h *hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = make(chan struct{})
	}
	return h.ch
}

func (h *hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// Changed returns a channel that is closed after the next write this Service commits or the
// next batch of feed entries Follow applies. Take it before reading the feed, then wait on it:
// a change that lands in between closes it, so none is missed. Readers of the change feed
// (the API's change stream) wait on it instead of polling the store.
func (s *Service) Changed() <-chan struct{} { return s.hub.wait() }

// commit runs a store write and the index update after it as one step against Follow (see
// applyMu), then wakes the waiters of Changed.
func (s *Service) commit(fn func() error) error {
	s.applyMu.Lock()
	err := fn()
	s.applyMu.Unlock()
	s.hub.notify()
	return err
}

// LoadIndex fills the index through load (spatial.Index.Load), which must read everything from
// the store it is given. When the store implements ChangeFeed, the feed's last seq is read
// first and becomes AppliedSeq: Follow then starts from it and applies again whatever other
// nodes wrote during the load, which is harmless because feed entries carry current records.
// Local writes wait while the index loads. It returns the seq the index was loaded at (0
// without a feed).
func (s *Service) LoadIndex(ctx context.Context, load func(context.Context, Store) error) (uint64, error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	var seq uint64
	if feed, ok := s.store.(ChangeFeed); ok {
		var err error
		if seq, err = feed.LastSeq(ctx); err != nil {
			return 0, fmt.Errorf("load index: %w", err)
		}
	}
	if err := load(ctx, s.store); err != nil {
		return 0, err
	}
	s.applied.Store(seq)
	s.hub.notify()
	return seq, nil
}

// AppliedSeq returns the last change seq the index is known to reflect: the seq LoadIndex
// read, then the last entry Follow applied. Local writes are in the index at once but move it
// only when Follow reads them back from the feed.
func (s *Service) AppliedSeq() uint64 { return s.applied.Load() }

// Following reports whether Follow is running and has made its first read of the feed (so
// a node that starts following has caught up with what was written before it started).
func (s *Service) Following() bool { return s.following.Load() }

// WaitFollowing returns nil once Following is true: at once when it is, else when Follow has
// made its first read of the feed. It returns ctx's error when ctx ends first.
func (s *Service) WaitFollowing(ctx context.Context) error {
	s.followMu.Lock()
	if s.caughtUp == nil {
		s.caughtUp = make(chan struct{})
	}
	ch := s.caughtUp
	s.followMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setFollowing sets Following and wakes the waiters of WaitFollowing when it turns true.
func (s *Service) setFollowing(on bool) {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	if s.following.Load() == on {
		return
	}
	s.following.Store(on)
	if on {
		if s.caughtUp == nil {
			s.caughtUp = make(chan struct{})
		}
		close(s.caughtUp)
	} else {
		s.caughtUp = make(chan struct{}) // closed again by the next Follow's first read
	}
}

// Follow keeps the index in step with feed, which must be the feed of the Service's store,
// from AppliedSeq on (call LoadIndex first). It reads and applies every entry after the last
// one applied whenever wake delivers or closes, and every poll (DefaultFollowPoll when ≤ 0)
// regardless, so a lost wake-up costs at most one poll interval. Cells and components are
// applied in batches with Index.ApplyCells and ApplyComponents; a unit or rule entry reloads
// every unit or rule from the store. Entries of this node's own writes are applied a second
// time, which changes nothing. When the feed cannot be read (the database is restarting),
// Follow logs it once and keeps trying every poll; it returns ctx's error when ctx ends.
func (s *Service) Follow(ctx context.Context, feed ChangeFeed, wake <-chan struct{}, poll time.Duration) error {
	if poll <= 0 {
		poll = DefaultFollowPoll
	}
	if !s.follow.CompareAndSwap(false, true) {
		return errors.New("follow: already following")
	}
	defer s.follow.Store(false)
	defer s.setFollowing(false)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	failing := false
	for {
		err := s.catchUp(ctx, feed)
		if !s.following.Load() {
			s.setFollowing(true)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !failing:
			failing = true
			s.log.WarnContext(ctx, "change feed unavailable; retrying", "err", err, "applied", s.AppliedSeq(), "poll", poll)
		case err == nil && failing:
			failing = false
			s.log.InfoContext(ctx, "change feed available again", "applied", s.AppliedSeq())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-tick.C:
		}
	}
}

// catchUp applies batches until the feed has no entry after AppliedSeq.
func (s *Service) catchUp(ctx context.Context, feed ChangeFeed) error {
	for {
		n, err := s.applyBatch(ctx, feed)
		if err != nil {
			return err
		}
		if n < followBatch {
			return nil
		}
	}
}

// applyBatch reads and applies one batch of entries after AppliedSeq, under applyMu.
func (s *Service) applyBatch(ctx context.Context, feed ChangeFeed) (int, error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, followReadTimeout)
	defer cancel()
	since := s.applied.Load()
	entries, err := feed.Changes(rctx, since, followBatch)
	if err != nil {
		return 0, fmt.Errorf("follow: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	if err := s.applyEntries(rctx, entries); err != nil {
		return 0, fmt.Errorf("follow: entries %d…%d: %w", entries[0].Seq, entries[len(entries)-1].Seq, err)
	}
	s.applied.Store(entries[len(entries)-1].Seq)
	s.hub.notify()
	return len(entries), nil
}

// applyEntries applies entries to the index: the latest record of each cell and component
// once, and the store's units and rules when any entry is about them.
func (s *Service) applyEntries(ctx context.Context, entries []FeedEntry) error {
	var cells []Cell
	var comps []Component
	cellAt := map[Key]int{}
	compAt := map[Key]int{}
	var units, rules bool
	for i := range entries {
		e := &entries[i]
		switch e.Kind {
		case FeedCell:
			if e.Cell == nil {
				continue // cells are never deleted; a store that says otherwise is not followed here
			}
			if j, ok := cellAt[e.Cell.Key]; ok {
				cells[j] = *e.Cell
			} else {
				cellAt[e.Cell.Key] = len(cells)
				cells = append(cells, *e.Cell)
			}
		case FeedComponent:
			if e.Component == nil {
				continue
			}
			if j, ok := compAt[e.Component.Key]; ok {
				comps[j] = *e.Component
			} else {
				compAt[e.Component.Key] = len(comps)
				comps = append(comps, *e.Component)
			}
		case FeedUnit:
			units = true
		case FeedRule:
			rules = true
		}
	}
	// Units before rules: rules are compiled against the units.
	if units {
		if err := s.reloadUnits(ctx); err != nil {
			return err
		}
	}
	if rules {
		if err := s.reloadRules(ctx); err != nil {
			return err
		}
	}
	s.index.ApplyCells(cells)
	s.index.ApplyComponents(comps)
	return nil
}
