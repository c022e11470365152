package registry_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/paulmach/orb"

	"citygrid/fixtures"
	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
)

// Several nodes on one store are simulated by several Services, each with its own index, on
// one bolt store: its change feed has the same contract as PostgreSQL's.

type node struct {
	idx *spatial.Index
	svc *registry.Service
}

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newNode loads a node's index from st.
func newNode(t *testing.T, st registry.Store, log *slog.Logger) *node {
	t.Helper()
	idx := spatial.New(spatial.Options{})
	svc := registry.NewService(st, idx, registry.DefaultCatalog(), log)
	if _, err := svc.LoadIndex(context.Background(), idx.Load); err != nil {
		t.Fatalf("LoadIndex: %v", err)
	}
	return &node{idx: idx, svc: svc}
}

// follow runs n's Follow until t ends and checks that it returned because of the cancel.
func (n *node) follow(t *testing.T, feed registry.ChangeFeed, wake <-chan struct{}, poll time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.svc.Follow(ctx, feed, wake, poll) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Follow returned %v after the cancel, want context.Canceled", err)
		}
	})
}

// followSynced is follow, returning once the follower has made its first read of the feed
// (Following): writes the test makes from then on reach the node only through a wake-up or
// a poll.
func (n *node) followSynced(t *testing.T, feed registry.ChangeFeed, wake <-chan struct{}, poll time.Duration) {
	t.Helper()
	n.follow(t, feed, wake, poll)
	waitFollowing(t, n, 5*time.Second)
}

// waitFollowing fails t unless n's Follow makes its first read of the feed within d.
func waitFollowing(t testing.TB, n *node, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := n.svc.WaitFollowing(ctx); err != nil {
		t.Fatalf("Follow did not read the feed within %v: %v", d, err)
	}
}

func lastSeq(t testing.TB, feed registry.ChangeFeed) uint64 {
	t.Helper()
	seq, err := feed.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// waitApplied waits until n has applied the feed up to seq.
func waitApplied(t testing.TB, n *node, seq uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for n.svc.AppliedSeq() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("AppliedSeq = %d after %v, want %d", n.svc.AppliedSeq(), within, seq)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// indexState is everything an index answers from, for the records st holds.
type indexState struct {
	Stats spatial.Stats
	Cells []registry.Cell
	Comps []spatial.Hit
	Units []registry.Unit
	Rules []registry.Rule
}

func stateOf(t testing.TB, idx *spatial.Index, st registry.Store) indexState {
	t.Helper()
	ctx := context.Background()
	s := indexState{Stats: idx.Stats(), Units: idx.Units(), Rules: idx.Rules()}
	if err := st.ForEachCell(ctx, func(c *registry.Cell) error {
		if ic, ok := idx.Cell(c.Code); ok {
			s.Cells = append(s.Cells, *ic)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.ForEachComponent(ctx, func(c *registry.Component) error {
		if h, ok := idx.ComponentByKey(c.Key); ok {
			s.Comps = append(s.Comps, h)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

var stateOpts = cmp.Options{
	cmp.Comparer(func(a, b registry.ComponentCode) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

// inStep checks that n's index answers exactly as an index freshly loaded from st.
func inStep(t testing.TB, what string, n *node, st registry.Store) {
	t.Helper()
	fresh := spatial.New(spatial.Options{})
	if err := fresh.Load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(stateOf(t, fresh, st), stateOf(t, n.idx, st), stateOpts); d != "" {
		t.Errorf("%s: index differs from a fresh load (-fresh +followed):\n%s", what, d)
	}
}

func wakeUp(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

const followUnits = `{"units":[
 {"id":"yz","name":"渝中区数字化城市管理中心","type":"district_centre","districts":["500103"]},
 {"id":"lamps","name":"路灯管理所","type":"public_service_unit","parent":"yz"}]}`

const followRules = `{"rules":[{"id":"r1","order":1,"class":"01","area":"500103003","unit":"lamps","reason":"解放碑"}]}`

func TestFollowKeepsNodesInStep(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a, b := newNode(t, st, nil), newNode(t, st, nil)
	wakeA, wakeB := make(chan struct{}, 1), make(chan struct{}, 1)
	// Only wake-ups drive the followers: the poll is far beyond the test.
	a.followSynced(t, st, wakeA, time.Hour)
	b.followSynced(t, st, wakeB, time.Hour)
	lamp := registry.MustParseComponentCode("50010301037000001")
	resolve := func(n *node) string {
		res, err := n.idx.Resolve(orb.Point{106.5705, 29.5505}, "01037")
		if err != nil {
			return err.Error()
		}
		return res.Kind + ":" + res.RuleID
	}

	steps := []struct {
		name   string
		writer func() *node
		write  func(w *node) error
	}{
		{"cells by A", func() *node { return a }, func(w *node) error {
			_, err := w.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON, Actor: "a"})
			return err
		}},
		{"units by B", func() *node { return b }, func(w *node) error {
			_, err := w.svc.Import(ctx, registry.CensusUnits, strings.NewReader(followUnits), registry.ImportOptions{})
			return err
		}},
		{"rules by A", func() *node { return a }, func(w *node) error {
			_, err := w.svc.Import(ctx, registry.CensusRules, strings.NewReader(followRules), registry.ImportOptions{})
			return err
		}},
		{"components by B", func() *node { return b }, func(w *node) error {
			_, err := w.svc.Import(ctx, registry.CensusComponents, strings.NewReader(csvHeader+
				"50010301037000001,01037,路灯,intact,lamps,106.5705,29.5505\n"+
				",01001,,damaged,water,106.5715,29.5505\n"), registry.ImportOptions{Format: registry.FormatCSV, Actor: "b"})
			return err
		}},
		{"move by A", func() *node { return a }, func(w *node) error {
			_, err := w.svc.UpdateComponent(ctx, lamp, &registry.Feature{Index: -1, Geometry: orb.Point{106.5716, 29.5506}, Props: map[string]string{}}, 1, "a")
			return err
		}},
		{"cell replaced by B", func() *node { return b }, func(w *node) error {
			f := &registry.Feature{Index: -1, Geometry: orb.Polygon{{{106.5712, 29.550}, {106.572, 29.550}, {106.572, 29.551}, {106.5712, 29.551}, {106.5712, 29.550}}},
				Props: map[string]string{"code": "500103003001002", "name": "收窄"}}
			_, err := w.svc.PutCell(ctx, f, 1, "b")
			return err
		}},
		{"retire by B", func() *node { return b }, func(w *node) error {
			_, err := w.svc.RetireComponent(ctx, lamp, 2, "b", "拆除")
			return err
		}},
		{"unit changed by A", func() *node { return a }, func(w *node) error {
			_, err := w.svc.PutUnit(ctx, registry.Unit{ID: "lamps", Name: "路灯所", Type: registry.UnitPublicService, Parent: "yz", Phone: "023-1"}, 0)
			return err
		}},
		{"rule deleted by A", func() *node { return a }, func(w *node) error {
			return w.svc.DeleteRule(ctx, "r1")
		}},
		{"unit deleted by B", func() *node { return b }, func(w *node) error {
			return w.svc.DeleteUnit(ctx, "lamps")
		}},
	}
	for _, s := range steps {
		w := s.writer()
		other, wake := b, wakeB
		if w == b {
			other, wake = a, wakeA
		}
		before := stateOf(t, other.idx, st)
		if err := s.write(w); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		// The writer answers at once; the other node only once it has followed.
		inStep(t, s.name+": writer", w, st)
		if d := cmp.Diff(before, stateOf(t, other.idx, st), stateOpts); d != "" {
			t.Fatalf("%s: the other node changed before it was woken:\n%s", s.name, d)
		}
		seq := lastSeq(t, st)
		wakeUp(wake)
		waitApplied(t, other, seq, 5*time.Second)
		inStep(t, s.name+": follower", other, st)
		if ra, rb := resolve(a), resolve(b); ra != rb {
			t.Errorf("%s: Resolve on A = %s, on B = %s", s.name, ra, rb)
		}
		// The writer reads its own write back from the feed too: harmless. (Only the writer
		// is woken: a stray wake of the other node could let it see the next step's write.)
		if w == a {
			wakeUp(wakeA)
		} else {
			wakeUp(wakeB)
		}
		waitApplied(t, w, seq, 5*time.Second)
		inStep(t, s.name+": writer after its own feed", w, st)
	}
}

func TestFollowPollsWithoutWake(t *testing.T) {
	st := openStore(t)
	a, b := newNode(t, st, nil), newNode(t, st, nil)
	b.follow(t, st, nil, 10*time.Millisecond) // a nil wake channel never delivers
	if _, err := a.svc.Import(context.Background(), registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, b, lastSeq(t, st), 5*time.Second)
	inStep(t, "after a poll", b, st)
}

// TestLoadIndexThenFollow writes between the LastSeq LoadIndex reads and the load itself,
// and after the load: Follow applies both.
func TestLoadIndexThenFollow(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a := newNode(t, st, nil)
	if _, err := a.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON}); err != nil {
		t.Fatal(err)
	}
	atStart := lastSeq(t, st)
	idx := spatial.New(spatial.Options{})
	b := &node{idx: idx, svc: registry.NewService(st, idx, registry.DefaultCatalog(), nil)}
	seq, err := b.svc.LoadIndex(ctx, func(ctx context.Context, s registry.Store) error {
		if _, err := a.svc.Import(ctx, registry.CensusUnits, strings.NewReader(followUnits), registry.ImportOptions{}); err != nil {
			return err
		}
		if err := idx.Load(ctx, s); err != nil {
			return err
		}
		_, err := a.svc.Import(ctx, registry.CensusRules, strings.NewReader(followRules), registry.ImportOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("LoadIndex: %v", err)
	}
	if seq != atStart || b.svc.AppliedSeq() != atStart {
		t.Errorf("LoadIndex = %d, AppliedSeq = %d; want both %d, the seq before the load", seq, b.svc.AppliedSeq(), atStart)
	}
	if n := len(idx.Rules()); n != 0 {
		t.Fatalf("the index has %d rules before following, want 0 (written after the load)", n)
	}
	b.follow(t, st, nil, 10*time.Millisecond)
	waitApplied(t, b, lastSeq(t, st), 5*time.Second)
	inStep(t, "after following", b, st)
	if n := len(idx.Rules()); n != 1 {
		t.Errorf("the index has %d rules after following, want 1", n)
	}
}

// gatedFeed holds up the first Changes call that returns entries, after it has read them,
// until release is closed.
type gatedFeed struct {
	registry.ChangeFeed
	once    sync.Once
	read    chan struct{}
	release chan struct{}
}

func (g *gatedFeed) Changes(ctx context.Context, since uint64, limit int) ([]registry.FeedEntry, error) {
	es, err := g.ChangeFeed.Changes(ctx, since, limit)
	if err == nil && len(es) > 0 {
		g.once.Do(func() {
			close(g.read)
			<-g.release
		})
	}
	return es, err
}

// TestFollowNeverUndoesALocalWrite: a feed entry read before a local write must not be
// applied after it, or the node would show an older record than it just wrote.
func TestFollowNeverUndoesALocalWrite(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a, b := newNode(t, st, nil), newNode(t, st, nil)
	if _, err := a.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON}); err != nil {
		t.Fatal(err) // the same cells again, so that B can validate its own write below
	}
	lamp := registry.MustParseComponentCode("50010301037000001")
	if _, err := a.svc.Import(ctx, registry.CensusComponents, strings.NewReader(csvHeader+"50010301037000001,01037,路灯,intact,lamps,106.5705,29.5505\n"),
		registry.ImportOptions{Format: registry.FormatCSV}); err != nil {
		t.Fatal(err)
	}
	feed := &gatedFeed{ChangeFeed: st, read: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(feed.release) }) }
	b.follow(t, feed, nil, 10*time.Millisecond)
	t.Cleanup(release) // runs before the follower's cleanup, which waits for it to stop
	// Wait until B's follower holds the component as A created it (version 1).
	<-feed.read

	mine := orb.Point{106.5716, 29.5506}
	done := make(chan error, 1)
	go func() {
		_, err := b.svc.UpdateComponent(ctx, lamp, &registry.Feature{Index: -1, Geometry: mine, Props: map[string]string{}}, 1, "b")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("B's write finished while its follower was applying a batch (err %v); it must wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("UpdateComponent: %v", err)
	}
	c, err := st.Component(ctx, lamp)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := b.idx.ComponentByKey(c.Key); !ok || h.Point != mine {
		t.Fatalf("B's index holds the lamp at %v (found %v), want %v: its own write was undone", h.Point, ok, mine)
	}
	waitApplied(t, b, lastSeq(t, st), 5*time.Second)
	inStep(t, "after catching up", b, st)
}

// flakyFeed fails its first n calls of each method, as a restarting database does.
type flakyFeed struct {
	registry.ChangeFeed
	fails atomic.Int64
}

var errDown = errors.New("the database system is shutting down")

func (f *flakyFeed) Changes(ctx context.Context, since uint64, limit int) ([]registry.FeedEntry, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, errDown
	}
	return f.ChangeFeed.Changes(ctx, since, limit)
}

func TestFollowRetriesAFailingFeed(t *testing.T) {
	st := openStore(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, b := newNode(t, st, nil), newNode(t, st, log)
	if _, err := a.svc.Import(context.Background(), registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON}); err != nil {
		t.Fatal(err)
	}
	feed := &flakyFeed{ChangeFeed: st}
	feed.fails.Store(5)
	b.follow(t, feed, nil, 5*time.Millisecond)
	waitApplied(t, b, lastSeq(t, st), 5*time.Second)
	inStep(t, "after the feed came back", b, st)
	if feed.fails.Load() >= 0 {
		t.Fatalf("the feed failed %d fewer times than planned", feed.fails.Load()+1)
	}
	out := logs.String()
	if n := strings.Count(out, "change feed unavailable"); n != 1 {
		t.Errorf("logged the outage %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, errDown.Error()) || strings.Count(out, "change feed available again") != 1 {
		t.Errorf("logs lack the cause or the recovery:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestChanged(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a, b := newNode(t, st, nil), newNode(t, st, nil)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := a.svc.Changed()
	if closed(ch) {
		t.Fatal("Changed() is closed before any write")
	}
	if _, err := a.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON}); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Error("Changed() taken before a local write is still open after it")
	}
	if closed(a.svc.Changed()) {
		t.Error("Changed() taken after the write is already closed")
	}
	// A follower's applied batch closes it too.
	chB := b.svc.Changed()
	b.follow(t, st, nil, 5*time.Millisecond)
	select {
	case <-chB:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed() of the follower still open 5 s after A's write")
	}
	// Changed closes as soon as the batch is applied; Following turns true only once the
	// first catch-up has found nothing more to read, a moment later.
	waitFollowing(t, b, 5*time.Second)
	if b.svc.AppliedSeq() != lastSeq(t, st) || !b.svc.Following() {
		t.Errorf("follower AppliedSeq = %d, Following = %v; want %d, true", b.svc.AppliedSeq(), b.svc.Following(), lastSeq(t, st))
	}
}

func TestFollowTwice(t *testing.T) {
	st := openStore(t)
	n := newNode(t, st, nil)
	if n.svc.Following() {
		t.Fatal("Following() before Follow")
	}
	n.follow(t, st, nil, time.Hour)
	waitFollowing(t, n, 5*time.Second)
	if err := n.svc.Follow(context.Background(), st, nil, time.Hour); err == nil {
		t.Error("a second Follow at the same time returned nil, want an error")
	}
}

func TestWaitFollowing(t *testing.T) {
	st := openStore(t)
	n := newNode(t, st, nil)
	notYet := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := n.svc.WaitFollowing(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitFollowing %s = %v, want context.DeadlineExceeded", what, err)
		}
	}
	notYet("before Follow")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.svc.Follow(ctx, st, nil, time.Hour) }()
	waitFollowing(t, n, 5*time.Second)
	if !n.svc.Following() {
		t.Error("Following() = false after WaitFollowing returned nil")
	}
	waitFollowing(t, n, time.Millisecond) // at once, while following

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v after the cancel, want context.Canceled", err)
	}
	if n.svc.Following() {
		t.Error("Following() = true after Follow returned")
	}
	notYet("after Follow returned")

	// A second Follow signals its own first read.
	n.follow(t, st, nil, time.Hour)
	waitFollowing(t, n, 5*time.Second)
}

// BenchmarkFollowCatchUp measures how long a node takes to apply, from the change feed, a
// census import of 100,000 components another node made, against the baseline of loading the
// whole index again from the same store, in the same run.
func BenchmarkFollowCatchUp(b *testing.B) {
	city, err := fixtures.Generate(fixtures.Config{Seed: 1, Cells: 400, Components: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := city.WriteFiles(dir); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := bolt.Open(filepath.Join(b.TempDir(), "c.db"), bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		a, follower := newBenchNode(b, st), newBenchNode(b, st)
		for _, f := range []struct {
			kind, name string
		}{{"cells", fixtures.CellsFile}, {"units", fixtures.UnitsFile}, {"rules", fixtures.RulesFile}, {"components", fixtures.ComponentsFile}} {
			r, err := os.Open(filepath.Join(dir, f.name))
			if err != nil {
				b.Fatal(err)
			}
			opt := registry.ImportOptions{Format: registry.FormatCSV}
			switch f.kind {
			case "cells":
				opt.Format = registry.FormatGeoJSON
				_, err = a.svc.Import(ctx, registry.CensusCells, r, opt)
			case "units":
				_, err = a.svc.Import(ctx, registry.CensusUnits, r, opt)
			case "rules":
				_, err = a.svc.Import(ctx, registry.CensusRules, r, opt)
			default:
				_, err = a.svc.Import(ctx, registry.CensusComponents, r, opt)
			}
			r.Close()
			if err != nil {
				b.Fatalf("import %s: %v", f.kind, err)
			}
		}
		last := lastSeq(b, st)
		b.StartTimer()
		start := time.Now()
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- follower.svc.Follow(fctx, st, nil, time.Hour) }()
		waitApplied(b, follower, last, time.Minute)
		follow := time.Since(start)
		cancel()
		<-done
		start = time.Now()
		if err := spatial.New(spatial.Options{}).Load(ctx, st); err != nil {
			b.Fatal(err)
		}
		reload := time.Since(start)
		b.StopTimer()
		if i == 0 {
			inStep(b, "after catching up", follower, st)
		}
		b.ReportMetric(float64(follow.Milliseconds()), "follow-ms")
		b.ReportMetric(float64(reload.Milliseconds()), "reload-ms(baseline)")
		b.ReportMetric(float64(last), "entries")
		st.Close()
	}
}

func newBenchNode(b *testing.B, st registry.Store) *node {
	b.Helper()
	idx := spatial.New(spatial.Options{})
	svc := registry.NewService(st, idx, registry.DefaultCatalog(), nil)
	if _, err := svc.LoadIndex(context.Background(), idx.Load); err != nil {
		b.Fatal(err)
	}
	return &node{idx: idx, svc: svc}
}
