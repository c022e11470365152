package bolt

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"citygrid/registry"
	"citygrid/store/storetest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/paulmach/orb"
	"go.etcd.io/bbolt"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		path := filepath.Join(t.TempDir(), "c.db")
		return storetest.Harness{Open: func(t *testing.T) registry.Store {
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil { // a no-op when the suite closed it already
					t.Errorf("Close: %v", err)
				}
			})
			return s
		}, DropSerials: func(t *testing.T) { dropSerials(t, path) }}
	})
}

// dropSerials empties the serials bucket of the store file at path, which must be closed.
func dropSerials(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketSerials); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketSerials)
		return err
	})
	if err != nil {
		t.Fatalf("drop serials: %v", err)
	}
}

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b registry.ComponentCode) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

// newTestStore opens a store in a temporary directory, closed when t ends.
func newTestStore(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// testComponents is n components in 6 districts of Beijing and 40 classes, with census-style
// explicit IDs, shuffled (a census file is not sorted by identifier).
func testComponents(n int) []registry.Component {
	districts := []string{"110101", "110102", "110105", "110106", "110107", "110108"}
	owners := []string{"北京市自来水集团有限责任公司", "北京市排水集团", "北京市城市照明管理中心", "中国联通北京分公司"}
	rng := rand.New(rand.NewPCG(1, 2))
	serial := map[string]int{}
	census := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	out := make([]registry.Component, n)
	for i := range out {
		d := districts[i%len(districts)]
		class := fmt.Sprintf("%02d%03d", 1+i%6, 1+(i/6)%7)
		serial[d+class]++
		id, err := registry.NewComponentCode(d, class, serial[d+class])
		if err != nil {
			panic(err)
		}
		cell := registry.GridCode(fmt.Sprintf("%s%03d%03d%03d", d, 1+i%20, 1+i%30, 1+i%500))
		out[i] = registry.Component{
			ID:         id,
			Class:      class,
			Name:       "上水井盖",
			Point:      orb.Point{116.2 + rng.Float64()*0.5, 39.7 + rng.Float64()*0.4},
			Status:     registry.StatusIntact,
			Supervisor: "bjcg-" + d,
			Owner:      owners[i%len(owners)],
			Maintainer: "unit-" + d + "-" + strconv.Itoa(i%9),
			Cell:       cell,
			CensusDate: census.AddDate(0, 0, i%365),
			Source:     "实测",
		}
		if i%10 == 0 {
			out[i].Note = "位于人行道"
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestOpenLocked(t *testing.T) {
	_, path := newTestStore(t, Options{})
	start := time.Now()
	s2, err := Open(path, Options{Timeout: 50 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatalf("second Open(%s) succeeded, want ErrLocked", path)
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "store is locked by another process") {
		t.Errorf("second Open error = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v, want about the 50ms timeout", d)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	s, path := newTestStore(t, Options{})
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchema, be64(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "schema version 2") {
		if err == nil {
			s2.Close()
		}
		t.Errorf("Open(schema %d) error = %v, want a schema version error", schemaVersion+1, err)
	}
}

func TestCloseTwice(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestPutCellsInvalidCode(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	for _, code := range []registry.GridCode{"", "1101050010010", "11010500X001001", "011050010010010"} {
		c := registry.Cell{Code: code}
		_, err := s.PutCells(context.Background(), []registry.Cell{c}, "t")
		if !errors.Is(err, registry.ErrInvalidGridCode) {
			t.Errorf("PutCells(code %q) error = %v, want ErrInvalidGridCode", code, err)
		}
	}
}

// TestSerialsAfterTheLast: serial 999999 stored, the next assigned identifier wraps around to
// the lowest free serial instead of failing with serials_exhausted (issue 9).
func TestSerialsAfterTheLast(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	last := testComponents(1)[0]
	last.ID = registry.MustParseComponentCode("11010501001999999")
	last.Class, last.Cell = "01001", "110105001001001"
	if _, err := s.PutComponents(ctx, []registry.Component{last}, nil, "census"); err != nil {
		t.Fatal(err)
	}
	next := last
	next.ID = registry.ComponentCode{}
	got, err := s.PutComponents(ctx, []registry.Component{next}, nil, "census")
	if err != nil {
		t.Fatalf("PutComponents(zero ID after serial 999999): %v", err)
	}
	if want := registry.MustParseComponentCode("11010501001000001"); got[0].ID != want {
		t.Errorf("assigned ID after serial 999999 = %s, want %s", got[0].ID, want)
	}
	// Another class of the same district still has serials.
	next.Class = "01002"
	got, err = s.PutComponents(ctx, []registry.Component{next}, nil, "census")
	if err != nil {
		t.Fatal(err)
	}
	if want := registry.MustParseComponentCode("11010501002000001"); got[0].ID != want {
		t.Errorf("assigned ID = %s, want %s", got[0].ID, want)
	}
}

// TestIDUpgrade stores a legacy component whose class had no 2026 counterpart under its 16-digit
// ID, then imports it again with a 17-digit ID (a local class mapping added later): the same
// record is updated, and both identifiers find it.
func TestIDUpgrade(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	legacy := registry.MustParseComponentCode("1101050199000007")
	c := testComponents(1)[0]
	c.ID, c.LegacyID, c.Class, c.LegacyClass = legacy, legacy, "", "0199"
	first, err := s.PutComponents(ctx, []registry.Component{c}, nil, "legacy census")
	if err != nil {
		t.Fatal(err)
	}
	upgraded := registry.MustParseComponentCode("11010519001000007")
	c.ID, c.Class = upgraded, "19001"
	got, err := s.PutComponents(ctx, []registry.Component{c}, []int64{1}, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Key != first[0].Key || got[0].Version != 2 || got[0].ID != upgraded || got[0].LegacyID != legacy {
		t.Errorf("upgrade = key %d version %d ID %s legacy %s, want key %d version 2 ID %s legacy %s",
			got[0].Key, got[0].Version, got[0].ID, got[0].LegacyID, first[0].Key, upgraded, legacy)
	}
	for _, id := range []registry.ComponentCode{legacy, upgraded} {
		back, err := s.Component(ctx, id)
		if err != nil {
			t.Fatalf("Component(%s): %v", id, err)
		}
		if d := cmp.Diff(got[0], back, cmpOpts); d != "" {
			t.Errorf("Component(%s) mismatch (-want +got):\n%s", id, d)
		}
	}
	if n := countKeys(t, s, bucketComponents); n != 1 {
		t.Errorf("%d components stored, want 1", n)
	}
}

// TestChangesFeed reads the changes bucket raw: one change per changed record, seqs 1, 2, …
// with no gap, each with its kind, op, time, id and actor, in runs of one call.
func TestChangesFeed(t *testing.T) {
	now := time.Date(2026, 7, 1, 9, 0, 0, 123456789, time.UTC)
	s, _ := newTestStore(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	comp := testComponents(2)
	cell := registry.Cell{Code: "110105001001001", Name: "c"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.PutComponents(ctx, comp, nil, "census")
	must(err)
	_, err = s.PutCells(ctx, []registry.Cell{cell}, "grid")
	must(err)
	comp[1].Status = registry.StatusRemoved
	_, err = s.PutComponents(ctx, comp[1:], nil, "inspector")
	must(err)
	_, err = s.PutUnits(ctx, []registry.Unit{{ID: "u1"}}, "test")
	must(err)
	_, err = s.PutRules(ctx, []registry.Rule{{ID: "r1"}, {ID: "r2"}}, nil, "test")
	must(err)
	_, err = s.PutRules(ctx, []registry.Rule{{ID: "r2"}}, []string{"r1"}, "test")
	must(err)
	must(s.DeleteUnit(ctx, "u1", "test"))
	// A failed write takes no seq.
	if _, err := s.PutComponents(ctx, comp[:1], []int64{9}, "x"); !errors.Is(err, registry.ErrVersionConflict) {
		t.Fatalf("PutComponents(stale) error = %v", err)
	}

	want := []changeEntry{
		{1, kindComponent, opCreate, now, comp[0].ID.String(), "census"},
		{2, kindComponent, opCreate, now, comp[1].ID.String(), "census"},
		{3, kindCell, opCreate, now, "110105001001001", "grid"},
		{4, kindComponent, opRetire, now, comp[1].ID.String(), "inspector"},
		{5, kindUnit, opCreate, now, "u1", "test"},
		{6, kindRule, opCreate, now, "r1", "test"},
		{7, kindRule, opCreate, now, "r2", "test"},
		{8, kindRule, opDelete, now, "r1", "test"},
		{9, kindRule, opUpdate, now, "r2", "test"},
		{10, kindUnit, opDelete, now, "u1", "test"},
	}
	got, lasts := readChanges(t, s)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", d)
	}
	// One run per call.
	if d := cmp.Diff([]uint64{2, 3, 4, 5, 7, 9, 10}, lasts); d != "" {
		t.Errorf("changes runs end at (-want +got):\n%s", d)
	}

	// A long call is split into runs of changesRun.
	big := testComponents(changesRun + 10)
	for i := range big {
		big[i].ID = registry.ComponentCode{}
	}
	big, err = s.PutComponents(ctx, big, nil, "big")
	if err != nil {
		t.Fatal(err)
	}
	got, lasts = readChanges(t, s)
	if d := cmp.Diff([]uint64{2, 3, 4, 5, 7, 9, 10, 10 + changesRun, 10 + uint64(len(big))}, lasts); d != "" {
		t.Errorf("after a long call, changes runs end at (-want +got):\n%s", d)
	}
	for i, c := range big {
		e := got[10+i]
		if e.Seq != uint64(11+i) || e.ID != c.ID.String() || e.Op != opCreate || e.Actor != "big" {
			t.Fatalf("change %d = %+v, want seq %d create of %s by big", 10+i, e, 11+i, c.ID)
		}
	}
}

// TestChangesAcrossRuns reads the feed through Changes where one call's changes span several
// runs of the changes bucket: pages that start in the middle of a run and end in the next,
// with records as stored now.
func TestChangesAcrossRuns(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	big := testComponents(changesRun + 10)
	big, err := s.PutComponents(ctx, big, nil, "census")
	if err != nil {
		t.Fatal(err)
	}
	moved := big[changesRun]
	moved.Name = "moved"
	if _, err := s.PutComponents(ctx, []registry.Component{moved}, nil, "surveyor"); err != nil {
		t.Fatal(err)
	}
	n := uint64(len(big)) + 1
	if last, err := s.LastSeq(ctx); err != nil || last != n {
		t.Fatalf("LastSeq = %d, %v; want %d", last, err, n)
	}
	for _, tc := range []struct {
		since uint64
		limit int
	}{
		{0, 3},
		{changesRun - 2, 5},  // the end of the first run and the start of the second
		{changesRun, 100},    // exactly at a run's end
		{changesRun + 5, 10}, // into the next call's run
		{n - 1, 10},
		{n, 10},
		{n + 100, 10},
	} {
		got, err := s.Changes(ctx, tc.since, tc.limit)
		if err != nil {
			t.Fatalf("Changes(%d, %d): %v", tc.since, tc.limit, err)
		}
		want := min(int(n-min(tc.since, n)), tc.limit)
		if len(got) != want {
			t.Fatalf("Changes(%d, %d) returned %d entries, want %d", tc.since, tc.limit, len(got), want)
		}
		for i, e := range got {
			seq := tc.since + 1 + uint64(i)
			var c registry.Component
			op := registry.OpCreate
			if seq <= uint64(len(big)) {
				c = big[seq-1]
			} else {
				c, op = moved, registry.OpUpdate
			}
			if e.Seq != seq || e.Kind != registry.FeedComponent || e.ID != c.ID.String() || e.Op != op || e.Component == nil {
				t.Fatalf("Changes(%d, %d)[%d] = %+v, want seq %d %s of component %s", tc.since, tc.limit, i, e, seq, op, c.ID)
			}
			if c.ID == moved.ID && (e.Component.Name != "moved" || e.Component.Version != 2) {
				t.Errorf("Changes(%d, %d)[%d] record = %q v%d, want the current record \"moved\" v2", tc.since, tc.limit, i, e.Component.Name, e.Component.Version)
			}
		}
	}
	if _, err := s.Changes(ctx, ^uint64(0), 10); err != nil {
		t.Errorf("Changes(MaxUint64, 10): %v", err)
	}
}

type changeEntry struct {
	Seq       uint64
	Kind, Op  byte
	Time      time.Time
	ID, Actor string
}

// readChanges decodes the changes bucket: every change, and the last seq of every run.
func readChanges(t testing.TB, s *Store) ([]changeEntry, []uint64) {
	t.Helper()
	var got []changeEntry
	var lasts []uint64
	if err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketChanges).ForEach(func(k, v []byte) error {
			last := binary.BigEndian.Uint64(k)
			lasts = append(lasts, last)
			r := reader{b: v}
			r.version()
			n := r.uvarint()
			when, actor := r.time(), r.str()
			for j := uint64(0); j < n; j++ {
				got = append(got, changeEntry{Seq: last - n + 1 + j, Kind: r.byte1(), Op: r.byte1(), Time: when, ID: r.str(), Actor: actor})
			}
			if r.bad || len(r.b) != 0 {
				return fmt.Errorf("changes run %d: %w", last, errCorrupt)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return got, lasts
}

// cancelAfter is a context whose Err turns Canceled after n calls: a cancel that lands in
// the middle of a write, deterministically.
type cancelAfter struct {
	context.Context
	n atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestCancelMidImport(t *testing.T) {
	comps := testComponents(30_000)
	// Count the ctx checks of a whole import, to cancel at chosen points of the next ones.
	scratch, _ := newTestStore(t, Options{})
	counter := &cancelAfter{Context: context.Background()}
	counter.n.Store(math.MaxInt64)
	if _, err := scratch.PutComponents(counter, comps, nil, "census"); err != nil {
		t.Fatal(err)
	}
	checks := math.MaxInt64 - counter.n.Load()
	if checks < 10 {
		t.Fatalf("an import of %d components checks ctx %d times, want it checked in its loops", len(comps), checks)
	}

	s, _ := newTestStore(t, Options{})
	// Cancelled at the start, in the lookups, in the puts, and at the last check before commit.
	for _, after := range []int64{0, 1, checks / 3, 2 * checks / 3, checks - 1} {
		ctx := &cancelAfter{Context: context.Background()}
		ctx.n.Store(after)
		if _, err := s.PutComponents(ctx, comps, nil, "census"); !errors.Is(err, context.Canceled) {
			t.Fatalf("PutComponents(cancelled after %d of %d checks) error = %v, want context.Canceled", after, checks, err)
		}
	}
	for _, b := range allBuckets {
		if n := countKeys(t, s, b); n != 0 && string(b) != "meta" {
			t.Errorf("after cancelled imports, bucket %s holds %d keys, want 0", b, n)
		}
	}
	// Sequences did not move either.
	got, err := s.PutComponents(context.Background(), comps[:1], nil, "census")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Key != 1 {
		t.Errorf("first key after cancelled imports = %d, want 1", got[0].Key)
	}
	h, err := s.History(context.Background(), got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if h[0].Seq != 1 {
		t.Errorf("first seq after cancelled imports = %d, want 1", h[0].Seq)
	}
}

func countKeys(t testing.TB, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

const (
	crashEnvPath = "CITYGRID_BOLT_CRASH_PATH"
	crashBatch   = 200_000
)

// TestCrashDuringImport kills a process with SIGKILL while it imports into the store, then
// checks that the store holds exactly what it held before, and that bbolt finds it consistent.
func TestCrashDuringImport(t *testing.T) {
	if path := os.Getenv(crashEnvPath); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary with a large import; skipped with -short")
	}
	s, path := newTestStore(t, Options{})
	ctx := context.Background()
	seed := testComponents(1000)
	if _, err := s.PutComponents(ctx, seed, nil, "seed"); err != nil {
		t.Fatal(err)
	}
	seed[3].Status = registry.StatusDamaged
	if _, err := s.PutComponents(ctx, seed[3:4], nil, "seed edit"); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, s, seed[3].ID)
	s.Close()

	for _, delay := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringImport$")
			cmd.Env = append(os.Environ(), crashEnvPath+"="+path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			for lines.Scan() && lines.Text() != "importing" {
			}
			time.Sleep(delay)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill: %v", err)
			}
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			cmd.Wait()
			if slices.Contains(rest, "done") {
				t.Fatalf("the child finished its import before the kill after %v; raise crashBatch", delay)
			}

			s, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("reopen after kill: %v", err)
			}
			defer s.Close()
			if err := s.db.View(func(tx *bbolt.Tx) error {
				for err := range tx.Check() {
					return err
				}
				return nil
			}); err != nil {
				t.Fatalf("bbolt check after kill: %v", err)
			}
			if d := cmp.Diff(want, snapshot(t, s, seed[3].ID), cmpOpts); d != "" {
				t.Errorf("store after kill mismatch (-before +after):\n%s", d)
			}
		})
	}
}

// crashChild imports crashBatch components into the store at path, telling the parent on
// stdout when it starts and when it is done. The parent kills it in between.
func crashChild(path string) {
	comps := testComponents(crashBatch + 1000)[1000:] // others than the parent's seed
	for i := range comps {
		comps[i].ID = registry.ComponentCode{} // assigned: the serials move too
	}
	s, err := Open(path, Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("importing")
	if _, err := s.PutComponents(context.Background(), comps, nil, "crash"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("done")
	os.Exit(0)
}

// state is everything a store holds, as the registry.Store methods and the raw buckets see it.
type state struct {
	Components []registry.Component
	History    []registry.Change
	Buckets    map[string]int // keys per bucket
	Meta       map[string]uint64
	Serials    map[string]uint32
}

func snapshot(t testing.TB, s *Store, id registry.ComponentCode) state {
	t.Helper()
	ctx := context.Background()
	st := state{Buckets: map[string]int{}, Meta: map[string]uint64{}, Serials: map[string]uint32{}}
	if err := s.ForEachComponent(ctx, func(c *registry.Component) error {
		st.Components = append(st.Components, *c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st.History = h
	if err := s.db.View(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			st.Buckets[string(b)] = tx.Bucket(b).Stats().KeyN
		}
		tx.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
			st.Meta[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
		return tx.Bucket(bucketSerials).ForEach(func(k, v []byte) error {
			st.Serials[string(k)] = binary.BigEndian.Uint32(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCodecRoundTrip encodes and decodes records with edge values.
func TestCodecRoundTrip(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	comps := []registry.Component{
		{},
		{ID: registry.MustParseComponentCode("99999999999999999"), LegacyID: registry.MustParseComponentCode("1000000000000000"),
			Class: "99999", LegacyClass: "9999", Name: strings.Repeat("井", 300), Point: orb.Point{-180, math.Copysign(0, -1)},
			Status: registry.StatusRemoved, Cell: "11010500100100Z", CensusDate: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
			ChangeDate: time.Date(1899, 12, 31, 23, 59, 59, 999999999, loc), Version: math.MaxInt64,
			Updated: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), UpdatedBy: "导入 ✓", Note: "\x00\xff"},
		{ID: registry.MustParseComponentCode("1101050101000001"), Version: -1, Point: orb.Point{math.MaxFloat64, math.SmallestNonzeroFloat64}},
	}
	for i, c := range comps {
		c.Key = registry.Key(i + 1)
		var got registry.Component
		if err := decodeComponent(&got, be64(uint64(c.Key)), appendComponent(nil, &c)); err != nil {
			t.Fatalf("decodeComponent(appendComponent(%d)): %v", i, err)
		}
		if d := cmp.Diff(c, got, cmpOpts); d != "" {
			t.Errorf("component %d round trip (-want +got):\n%s", i, d)
		}
		if got.ID.Legacy() != c.ID.Legacy() || got.LegacyID.Legacy() != c.LegacyID.Legacy() {
			t.Errorf("component %d: legacy flags = %v %v, want %v %v", i, got.ID.Legacy(), got.LegacyID.Legacy(), c.ID.Legacy(), c.LegacyID.Legacy())
		}
	}

	cells := []registry.Cell{
		{Key: 1},
		{Key: registry.MaxKey, Code: "110105001001001", Name: "网格", Area: 1e4, Version: 3, Updated: time.Unix(1, 5),
			Geometry: orb.MultiPolygon{
				{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, {{0.1, 0.1}, {0.2, 0.1}, {0.1, 0.1}}},
				{{{5, 5}, {6, 5}, {6, 6}, {5, 5}}},
			}},
	}
	for i, c := range cells {
		var got registry.Cell
		if err := decodeCell(&got, be64(uint64(c.Key)), appendCell(nil, &c)); err != nil {
			t.Fatalf("decodeCell(appendCell(%d)): %v", i, err)
		}
		if d := cmp.Diff(c, got, cmpOpts); d != "" {
			t.Errorf("cell %d round trip (-want +got):\n%s", i, d)
		}
	}

	u := registry.Unit{ID: "u", Name: "n", Type: registry.UnitDistrictGovernment, Parent: "p", Supervisor: "s",
		Districts: []string{"110105", ""}, Area: orb.MultiPolygon{{{{1, 2}, {3, 4}, {1, 2}}}}, Phone: "110", Version: 9,
		Updated: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	var gu registry.Unit
	if err := decodeUnit(&gu, []byte(u.ID), appendUnit(nil, &u)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(u, gu); d != "" {
		t.Errorf("unit round trip (-want +got):\n%s", d)
	}
	r := registry.Rule{ID: "r", Order: -3, Class: "01*", Kind: "event", Area: "110105", InUnit: true, Unit: "u", Reason: "因为", Version: 2}
	var gr registry.Rule
	if err := decodeRule(&gr, []byte(r.ID), appendRule(nil, &r)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, gr); d != "" {
		t.Errorf("rule round trip (-want +got):\n%s", d)
	}
}

// TestCodecAttributes: a component with attributes round-trips, and a record written before
// attributes existed (this golden one, from a build of that time) still decodes, without them.
func TestCodecAttributes(t *testing.T) {
	old, err := hex.DecodeString("01000104c1eaaea3a983eb58000000000000a05a400000000000803d4000000000cab2c98edc03000500060000010f0000033031303337e8b7afe781af75353030313033303033303031303031636c69")
	if err != nil {
		t.Fatal(err)
	}
	want := registry.Component{Key: 1, ID: registry.MustParseComponentCode("50010301037000001"), Class: "01037", Name: "路灯",
		Point: orb.Point{106.5, 29.5}, Status: registry.StatusIntact, Maintainer: "u", Cell: "500103003001001", Version: 2,
		Updated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedBy: "cli"}
	var got registry.Component
	if err := decodeComponent(&got, be64(1), old); err != nil {
		t.Fatalf("decode a record of an earlier build: %v", err)
	}
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("earlier record (-want +got):\n%s", d)
	}
	if enc := appendComponent(nil, &want); !slices.Equal(enc, old) {
		t.Errorf("a component without attributes encodes as %x, want the earlier layout %x", enc, old)
	}
	want.Attributes = `{"fid":17,"材质":"铸铁"}`
	if err := decodeComponent(&got, be64(1), appendComponent(nil, &want)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("with attributes (-want +got):\n%s", d)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := testComponents(1)[0]
	good := appendComponent(nil, &c)
	tests := []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"newer record version", append([]byte{recordVersion + 1}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(slices.Clone(good), 0)},
		{"unknown flag", append([]byte{recordVersion, 0x80}, good[2:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got registry.Component
			if err := decodeComponent(&got, be64(1), tt.v); !errors.Is(err, errCorrupt) {
				t.Errorf("decodeComponent(%s) error = %v, want errCorrupt", tt.name, err)
			}
		})
	}
}

// bitwisePoints compares points bit for bit, so that a NaN decoded from fuzz input equals
// itself (orb.Point.Equal, which cmp would use, says it does not).
var bitwisePoints = cmp.Options{
	cmp.Comparer(samePoint),
	cmp.Comparer(func(a, b orb.MultiPolygon) bool { // MultiPolygon has an Equal method too; nil equals empty
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if len(a[i]) != len(b[i]) {
				return false
			}
			for j := range a[i] {
				if !slices.EqualFunc(a[i][j], b[i][j], samePoint) {
					return false
				}
			}
		}
		return true
	}),
}

func samePoint(a, b orb.Point) bool {
	return math.Float64bits(a[0]) == math.Float64bits(b[0]) && math.Float64bits(a[1]) == math.Float64bits(b[1])
}

func FuzzDecodeComponent(f *testing.F) {
	for _, c := range testComponents(3) {
		f.Add(appendComponent(nil, &c))
	}
	f.Add([]byte{recordVersion, 0, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		var c registry.Component
		if err := decodeComponent(&c, be64(7), v); err != nil {
			return
		}
		var again registry.Component
		if err := decodeComponent(&again, be64(7), appendComponent(nil, &c)); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if d := cmp.Diff(c, again, cmpOpts, bitwisePoints); d != "" {
			t.Errorf("round trip (-first +second):\n%s", d)
		}
	})
}

func FuzzDecodeCell(f *testing.F) {
	f.Add(appendCell(nil, &registry.Cell{Code: "110105001001001", Geometry: orb.MultiPolygon{{{{0, 0}, {1, 0}, {0, 0}}}}}))
	f.Add(appendCell(nil, &registry.Cell{}))
	f.Fuzz(func(t *testing.T, v []byte) {
		var c registry.Cell
		if err := decodeCell(&c, be64(7), v); err != nil {
			return
		}
		var again registry.Cell
		if err := decodeCell(&again, be64(7), appendCell(nil, &c)); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if d := cmp.Diff(c, again, cmpopts.EquateNaNs(), bitwisePoints); d != "" {
			t.Errorf("round trip (-first +second):\n%s", d)
		}
	})
}

// ---------------------------------------------------------------------------------------
// Benchmarks. Figures for 1,000,000 components; run with -benchtime=1x.
//
// Baselines, measured in the same run: the naive design that stores each component as
// encoding/json under its key in one bucket, in one transaction, with sorted keys and the same
// bbolt options, and reads it back with json.Unmarshal (no ID index, no history, no change
// feed, no serials: it does less than the store).

const benchN = 1_000_000

// jsonComponent is registry.Component as the JSON baseline stores it (ComponentCode has no
// UnmarshalText).
type jsonComponent struct {
	Key                                 registry.Key
	ID, LegacyID                        string
	Class, LegacyClass, Name            string
	Point                               orb.Point
	Status                              registry.Status
	Supervisor, Owner, Maintainer, Cell string
	CensusDate, ChangeDate              time.Time
	Source, Note                        string
	Version                             int64
	Updated                             time.Time
	UpdatedBy                           string
}

func toJSON(c *registry.Component) jsonComponent {
	return jsonComponent{c.Key, c.ID.String(), c.LegacyID.String(), c.Class, c.LegacyClass, c.Name, c.Point,
		c.Status, c.Supervisor, c.Owner, c.Maintainer, string(c.Cell), c.CensusDate, c.ChangeDate, c.Source,
		c.Note, c.Version, c.Updated, c.UpdatedBy}
}

func fromJSON(j *jsonComponent) (registry.Component, error) {
	c := registry.Component{Key: j.Key, Class: j.Class, LegacyClass: j.LegacyClass, Name: j.Name, Point: j.Point,
		Status: j.Status, Supervisor: j.Supervisor, Owner: j.Owner, Maintainer: j.Maintainer,
		Cell: registry.GridCode(j.Cell), CensusDate: j.CensusDate, ChangeDate: j.ChangeDate, Source: j.Source,
		Note: j.Note, Version: j.Version, Updated: j.Updated, UpdatedBy: j.UpdatedBy}
	var err error
	if j.ID != "" {
		if c.ID, err = registry.ParseComponentCode(j.ID); err != nil {
			return c, err
		}
	}
	if j.LegacyID != "" {
		c.LegacyID, err = registry.ParseComponentCode(j.LegacyID)
	}
	return c, err
}

func BenchmarkPutComponents(b *testing.B) {
	comps := testComponents(benchN)
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _ := newTestStore(b, Options{})
		b.StartTimer()
		c0 := cpuTime()
		got, err := s.PutComponents(context.Background(), comps, nil, "census")
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != benchN {
			b.Fatalf("stored %d", len(got))
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	reportRate(b, cpu)
}

// reportRate reports components per second of wall time and the CPU seconds per op (this
// process, GC included).
func reportRate(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(benchN)*float64(b.N)/b.Elapsed().Seconds(), "components/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkPutComponentsReimport imports the same census again: 1,000,000 updates, each with a
// history entry holding its before-image.
func BenchmarkPutComponentsReimport(b *testing.B) {
	comps := testComponents(benchN)
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _ := newTestStore(b, Options{})
		if _, err := s.PutComponents(context.Background(), comps, nil, "census"); err != nil {
			b.Fatal(err)
		}
		for j := range comps {
			comps[j].Note = "复查"
		}
		b.StartTimer()
		c0 := cpuTime()
		got, err := s.PutComponents(context.Background(), comps, nil, "census again")
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if got[0].Version != 2 {
			b.Fatalf("Version = %d, want 2", got[0].Version)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	reportRate(b, cpu)
}

func BenchmarkPutComponentsBaselineJSON(b *testing.B) {
	comps := testComponents(benchN)
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "j.db")
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, InitialMmapSize: initialMmapSize})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuTime()
		err = db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucket([]byte("components"))
			if err != nil {
				return err
			}
			bk.FillPercent = 1
			for j := range comps {
				c := toJSON(&comps[j])
				c.Key, c.Version, c.Updated, c.UpdatedBy = registry.Key(j+1), 1, time.Now(), "census"
				v, err := json.Marshal(&c)
				if err != nil {
					return err
				}
				if err := bk.Put(be64(uint64(c.Key)), v); err != nil {
					return err
				}
			}
			return nil
		})
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	reportRate(b, cpu)
}

func BenchmarkForEachComponent(b *testing.B) {
	s, path := newTestStore(b, Options{})
	if _, err := s.PutComponents(context.Background(), testComponents(benchN), nil, "census"); err != nil {
		b.Fatal(err)
	}
	s.Close()
	c0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(path, Options{}) // start-up: open and read everything back
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		kept := make([]registry.Component, 0, benchN) // the index keeps what it reads
		if err := s.ForEachComponent(context.Background(), func(c *registry.Component) error {
			n++
			kept = append(kept, *c)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != benchN || len(kept) != benchN {
			b.Fatalf("read %d", n)
		}
		s.Close()
	}
	reportRate(b, cpuTime()-c0)
}

func BenchmarkForEachComponentBaselineJSON(b *testing.B) {
	path := filepath.Join(b.TempDir(), "j.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, InitialMmapSize: initialMmapSize})
	if err != nil {
		b.Fatal(err)
	}
	comps := testComponents(benchN)
	if err := db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("components"))
		if err != nil {
			return err
		}
		bk.FillPercent = 1
		for j := range comps {
			c := toJSON(&comps[j])
			c.Key, c.Version, c.Updated, c.UpdatedBy = registry.Key(j+1), 1, time.Now(), "census"
			v, err := json.Marshal(&c)
			if err != nil {
				return err
			}
			if err := bk.Put(be64(uint64(j+1)), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	db.Close()
	comps = nil
	c0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, InitialMmapSize: initialMmapSize})
		if err != nil {
			b.Fatal(err)
		}
		kept := make([]registry.Component, 0, benchN)
		if err := db.View(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("components")).ForEach(func(k, v []byte) error {
				var j jsonComponent
				if err := json.Unmarshal(v, &j); err != nil {
					return err
				}
				c, err := fromJSON(&j)
				if err != nil {
					return err
				}
				kept = append(kept, c)
				return nil
			})
		}); err != nil {
			b.Fatal(err)
		}
		if len(kept) != benchN {
			b.Fatalf("read %d", len(kept))
		}
		db.Close()
	}
	reportRate(b, cpuTime()-c0)
}
