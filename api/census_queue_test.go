package api

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCensusQueueRunReleases: the import's turn passes on however the import ends: with nil,
// with an error, or with a panic (recovered further up, by the middleware).
func TestCensusQueueRunReleases(t *testing.T) {
	errImport := errors.New("import failed")
	cases := []struct {
		name string
		imp  func() error
	}{
		{"success", func() error { return nil }},
		{"error", func() error { return errImport }},
		{"panic", func() error { panic("import panicked") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newCensusQueue(0)
			runRecovered(t, q, tc.imp)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			ran := false
			if err := q.run(ctx, func() error { ran = true; return nil }); err != nil || !ran {
				t.Fatalf("the next import: ran %v, err %v; want it run (the turn released)", ran, err)
			}
		})
	}
}

// runRecovered runs imp through q, recovering a panic as the middleware would.
func runRecovered(t *testing.T, q *censusQueue, imp func() error) {
	t.Helper()
	defer func() { _ = recover() }()
	_ = q.run(t.Context(), imp)
}

// TestCensusQueueRunWaitCanceled: an import waiting for its turn gives up when its context
// ends, and does not run.
func TestCensusQueueRunWaitCanceled(t *testing.T) {
	q := newCensusQueue(1)
	hold := make(chan struct{})
	started := make(chan struct{})
	go q.run(t.Context(), func() error { close(started); <-hold; return nil })
	<-started
	defer close(hold)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	ran := false
	err := q.run(ctx, func() error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("waiting past its context: ran %v, err %v; want not run, DeadlineExceeded", ran, err)
	}
}
