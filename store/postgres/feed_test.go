package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"citygrid/registry"
	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

func TestChanges(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, pgtest.NewDB(t))
	if seq, err := s.LastSeq(ctx); err != nil || seq != 0 {
		t.Fatalf("LastSeq of an empty store = %d, %v; want 0", seq, err)
	}
	if got, err := s.Changes(ctx, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes of an empty store = %v, %v; want none", got, err)
	}

	cell := registry.Cell{Code: "110105001001001", Name: "一", Geometry: orb.MultiPolygon{{{{116, 39}, {116.001, 39}, {116.001, 39.001}, {116, 39}}}}}
	id, _ := registry.NewComponentCode("110105", "01001", 1)
	comp := registry.Component{ID: id, Class: "01001", Name: "井盖", Point: orb.Point{116.0005, 39.0002}, Cell: cell.Code}
	type want struct {
		kind registry.FeedKind
		id   string
		op   registry.ChangeOp
	}
	var wants []want
	step := func(kind registry.FeedKind, id string, op registry.ChangeOp, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("write %s %s: %v", kind, id, err)
		}
		wants = append(wants, want{kind, id, op})
	}
	_, err := s.PutCells(ctx, []registry.Cell{cell}, "a")
	step(registry.FeedCell, string(cell.Code), registry.OpCreate, err)
	_, err = s.PutComponents(ctx, []registry.Component{comp}, nil, "a")
	step(registry.FeedComponent, id.String(), registry.OpCreate, err)
	_, err = s.PutUnits(ctx, []registry.Unit{{ID: "u1", Name: "一"}, {ID: "u2", Name: "二"}}, "test")
	step(registry.FeedUnit, "u1", registry.OpCreate, err)
	step(registry.FeedUnit, "u2", registry.OpCreate, nil)
	_, err = s.PutRules(ctx, []registry.Rule{{ID: "r1", Unit: "u1"}}, nil, "test")
	step(registry.FeedRule, "r1", registry.OpCreate, err)
	comp.Name = "井盖（新）"
	_, err = s.PutComponents(ctx, []registry.Component{comp}, nil, "b")
	step(registry.FeedComponent, id.String(), registry.OpUpdate, err)
	step(registry.FeedUnit, "u1", registry.OpDelete, s.DeleteUnit(ctx, "u1", "test"))
	comp.Status = registry.StatusRemoved
	_, err = s.PutComponents(ctx, []registry.Component{comp}, nil, "c")
	step(registry.FeedComponent, id.String(), registry.OpRetire, err)
	_, err = s.PutRules(ctx, []registry.Rule{{ID: "r2", Unit: "u2"}}, []string{"r1"}, "test")
	step(registry.FeedRule, "r1", registry.OpDelete, err)
	step(registry.FeedRule, "r2", registry.OpCreate, nil)

	all, err := s.Changes(ctx, 0, 100)
	if err != nil {
		t.Fatalf("Changes(0, 100): %v", err)
	}
	if len(all) != len(wants) {
		t.Fatalf("Changes(0, 100) = %d entries, want %d", len(all), len(wants))
	}
	curComp, err := s.Component(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all {
		w := wants[i]
		if e.Kind != w.kind || e.ID != w.id || e.Op != w.op {
			t.Errorf("entry %d = %s %s %s, want %s %s %s", i, e.Kind, e.ID, e.Op, w.kind, w.id, w.op)
		}
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Errorf("entry %d: Seq %d not above %d", i, e.Seq, all[i-1].Seq)
		}
		if e.Time.IsZero() {
			t.Errorf("entry %d: zero Time", i)
		}
		switch {
		case e.Kind == registry.FeedComponent:
			// The record as stored now, also for the entries of earlier versions.
			if e.Component == nil {
				t.Fatalf("entry %d: no component", i)
			}
			diffRecords(t, "component of entry", curComp, *e.Component)
		case e.Kind == registry.FeedCell && e.Cell == nil:
			t.Errorf("entry %d: no cell", i)
		case e.Kind == registry.FeedUnit && e.ID == "u1" && e.Unit != nil:
			t.Errorf("entry %d: deleted unit u1 = %+v, want nil", i, e.Unit)
		case e.Kind == registry.FeedUnit && e.ID == "u2" && (e.Unit == nil || e.Unit.Name != "二"):
			t.Errorf("entry %d: unit u2 = %+v", i, e.Unit)
		case e.Kind == registry.FeedRule && e.ID == "r1" && e.Rule != nil:
			t.Errorf("entry %d: deleted rule r1 = %+v, want nil", i, e.Rule)
		case e.Kind == registry.FeedRule && e.ID == "r2" && (e.Rule == nil || e.Rule.Unit != "u2"):
			t.Errorf("entry %d: rule r2 = %+v", i, e.Rule)
		}
	}
	last, err := s.LastSeq(ctx)
	if err != nil || last != all[len(all)-1].Seq {
		t.Errorf("LastSeq = %d, %v; want %d", last, err, all[len(all)-1].Seq)
	}

	// Paging with since and limit gives the same entries.
	var paged []registry.FeedEntry
	for since := uint64(0); ; {
		page, err := s.Changes(ctx, since, 3)
		if err != nil {
			t.Fatalf("Changes(%d, 3): %v", since, err)
		}
		if len(page) > 3 {
			t.Fatalf("Changes(%d, 3) = %d entries", since, len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		since = page[len(page)-1].Seq
	}
	diffRecords(t, "paged Changes", all, paged)
	if got, err := s.Changes(ctx, last, 10); err != nil || len(got) != 0 {
		t.Errorf("Changes(LastSeq, 10) = %v, %v; want none", got, err)
	}
}

// TestListen checks that notifications arrive, and that after the server terminates the
// listening connection Listen reconnects by itself and keeps delivering.
func TestListen(t *testing.T) {
	url := pgtest.NewDB(t)
	s := mustOpen(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	seqs := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, func(seq uint64) { seqs <- seq }) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Listen returned %v, want context.Canceled", err)
		}
	}()

	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	waitListening(t, admin)

	// expect writes a unit and waits until its seq is delivered.
	expect := func(id string) {
		t.Helper()
		if _, err := s.PutUnits(context.Background(), []registry.Unit{{ID: id}}, "test"); err != nil {
			t.Fatalf("PutUnits: %v", err)
		}
		want, err := s.LastSeq(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(20 * time.Second)
		for {
			select {
			case got := <-seqs:
				if got > want {
					t.Fatalf("notified seq %d, above LastSeq %d", got, want)
				}
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("seq %d of unit %s was not delivered", want, id)
			}
		}
	}
	expect("u1")
	expect("u2")

	for round := 0; round < 2; round++ {
		var n int
		if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'citygrid-listen'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n < 1 {
			t.Fatalf("terminated %d listening connections, want 1", n)
		}
		waitListening(t, admin)
		expect("after-kill-" + string(rune('a'+round)))
	}
}

// waitListening waits until a connection of Listen has run a statement. Whether or not that
// was LISTEN yet, the seq of a write made now reaches fn: Listen reports LastSeq after it
// listens.
func waitListening(t *testing.T, admin *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'citygrid-listen' AND query <> ''`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("Listen did not (re)connect within 20s")
}

// TestConcurrentWriters writes from two stores (two nodes) at once: the feed's seqs must rise
// with the time stamps, as they do when writes commit one at a time in seq order.
func TestConcurrentWriters(t *testing.T) {
	url := pgtest.NewDB(t)
	nodes := []*postgres.Store{mustOpen(t, url), mustOpen(t, url)}
	var wg sync.WaitGroup
	for n, s := range nodes {
		for g := 0; g < 4; g++ {
			wg.Go(func() {
				for i := 0; i < 10; i++ {
					id := fmt.Sprintf("n%d-g%d-%d", n, g, i)
					if _, err := s.PutUnits(context.Background(), []registry.Unit{{ID: id}, {ID: id + "b"}}, "test"); err != nil {
						t.Errorf("PutUnits: %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
	all, err := nodes[0].Changes(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2*4*10*2 {
		t.Fatalf("Changes = %d entries, want %d", len(all), 2*4*10*2)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq || all[i].Time.Before(all[i-1].Time) {
			t.Errorf("entry %d: seq %d time %v after seq %d time %v", i, all[i].Seq, all[i].Time, all[i-1].Seq, all[i-1].Time)
		}
	}
}

// TestChangeRuns checks the feed of writes larger than a run (4,096 changes): an import whose
// keys are consecutive, then a write that mixes ops and keys and renames a component. Entries
// keep the identifier of their time, pages cross runs, and the view changes agrees.
func TestChangeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10,000-component import")
	}
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := mustOpen(t, url)
	cell := registry.Cell{Code: "110105001001001", Geometry: orb.MultiPolygon{{{{116, 39}, {116.1, 39}, {116.1, 39.1}, {116, 39}}}}}
	if _, err := s.PutCells(ctx, []registry.Cell{cell}, "census"); err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	census := make([]registry.Component, n)
	for i := range census {
		census[i] = registry.Component{Class: "01001", Cell: cell.Code, Name: fmt.Sprint(i), Point: orb.Point{116 + float64(i)*1e-6, 39.05}}
		census[i].ID, _ = registry.NewComponentCode("110105", "01001", n-i) // descending: keys and IDs disagree
	}
	// A new ID given with the legacy ID renames a component.
	census[9000].LegacyID, _ = registry.NewComponentCode("110105", "0101", 1)
	census[9000].LegacyClass = "0101"
	stored, err := s.PutComponents(ctx, census, nil, "census")
	if err != nil {
		t.Fatal(err)
	}
	renamed := stored[9000]
	oldID := renamed.ID
	renamed.ID, _ = registry.NewComponentCode("110105", "01001", 900_000)
	retired := stored[5]
	retired.Status = registry.StatusRemoved
	fresh := registry.Component{Class: "01001", Cell: cell.Code, Name: "new", Point: orb.Point{116.05, 39.05}}
	edit, err := s.PutComponents(ctx, []registry.Component{renamed, fresh, retired}, nil, "editor")
	if err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT format('%s-%s %s %s %s %s', seq_first, seq_last, coalesce(op, '-'),
		coalesce(ops::text, '-'), coalesce(key_first::text, '-'), coalesce(keys::text, '-'))
		FROM change_runs WHERE kind = 'component' ORDER BY seq_last`)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	k := func(c registry.Component) string { return fmt.Sprint(c.Key) }
	diffRecords(t, "change_runs", []string{
		"2-4097 create - 1 -", "4098-8193 create - 4097 -", "8194-10001 create - 8193 -",
		"10002-10004 - {update,create,retire} - {" + k(edit[0]) + "," + k(edit[1]) + "," + k(edit[2]) + "}",
	}, runs)

	all, err := s.Changes(ctx, 0, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1+n+3 {
		t.Fatalf("Changes(0, %d) = %d entries, want %d", 2*n, len(all), 1+n+3)
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d: Seq %d, want %d", i, e.Seq, i+1)
		}
	}
	for _, tc := range []struct {
		at     int
		id     registry.ComponentCode
		op     registry.ChangeOp
		key    registry.Key
		record registry.Component
	}{
		{1, stored[0].ID, registry.OpCreate, stored[0].Key, stored[0]},
		{1 + 9000, oldID, registry.OpCreate, stored[9000].Key, edit[0]}, // the ID it had then
		{1 + n - 1, stored[n-1].ID, registry.OpCreate, stored[n-1].Key, stored[n-1]},
		{1 + n, renamed.ID, registry.OpUpdate, stored[9000].Key, edit[0]},
		{1 + n + 1, edit[1].ID, registry.OpCreate, edit[1].Key, edit[1]},
		{1 + n + 2, retired.ID, registry.OpRetire, stored[5].Key, edit[2]},
	} {
		e := all[tc.at]
		if e.Kind != registry.FeedComponent || e.ID != tc.id.String() || e.Op != tc.op || e.Component == nil || e.Component.Key != tc.key {
			t.Errorf("entry %d = %s %s %s %+v, want component %s %s key %d", tc.at, e.Kind, e.ID, e.Op, e.Component, tc.id, tc.op, tc.key)
			continue
		}
		diffRecords(t, fmt.Sprintf("entry %d record", tc.at), tc.record, *e.Component)
	}

	// Pages that start and end inside runs and cross their ends.
	for _, pg := range []struct {
		since uint64
		limit int
	}{{0, 1}, {1, 4096}, {4090, 10}, {4097, 1}, {5000, 5000}, {10000, 3}, {10003, 5}, {10004, 5}} {
		got, err := s.Changes(ctx, pg.since, pg.limit)
		if err != nil {
			t.Fatalf("Changes(%d, %d): %v", pg.since, pg.limit, err)
		}
		want := all[min(int(pg.since), len(all)):min(int(pg.since)+pg.limit, len(all))]
		diffRecords(t, fmt.Sprintf("Changes(%d, %d)", pg.since, pg.limit), want, got)
	}

	// The view lists the same changes.
	view := changeRows(t, conn)
	if len(view) != len(all) {
		t.Fatalf("view changes has %d rows, want %d", len(view), len(all))
	}
	for i, e := range all {
		v := view[i]
		var key int64
		switch {
		case e.Component != nil:
			key = int64(e.Component.Key)
		case e.Cell != nil:
			key = int64(e.Cell.Key)
		}
		if v.Seq != int64(e.Seq) || !v.Time.Equal(e.Time) || v.Kind != string(e.Kind) || v.ID != e.ID || v.Op != string(e.Op) || v.Key == nil || *v.Key != key {
			t.Errorf("view row %d = %+v, want %d %v %s %s %s key %d", i, v, e.Seq, e.Time, e.Kind, e.ID, e.Op, key)
		}
	}
}
