package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"
)

// TestExclusive: sections of Exclusive on one database, from two stores (as two nodes), never
// overlap, and a section can use its store even when the pool holds a single connection
// (the lock's connection is not the pool's).
func TestExclusive(t *testing.T) {
	url := pgtest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stores := []*postgres.Store{
		mustOpenWith(t, url, postgres.Options{MaxConns: 1}),
		mustOpenWith(t, url, postgres.Options{MaxConns: 1}),
	}
	var inside, overlaps, sections atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		s := stores[i%2]
		wg.Go(func() {
			err := s.Exclusive(ctx, func() error {
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				defer inside.Add(-1)
				if _, err := s.Units(ctx); err != nil { // the pool's one connection
					return err
				}
				time.Sleep(20 * time.Millisecond)
				sections.Add(1)
				return nil
			})
			if err != nil {
				t.Errorf("Exclusive: %v", err)
			}
		})
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d Exclusive sections overlapped another", n)
	}
	if n := sections.Load(); n != 6 {
		t.Errorf("%d sections ran, want 6", n)
	}
}
