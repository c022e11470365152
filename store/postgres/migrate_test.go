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

// schema returns a description of every table, view, index and function of the public
// schema (PostGIS's own left out), to compare before and after a migration run.
func schema(t testing.TB, url string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT 'column ' || table_name || '.' || column_name || ' ' || udt_name FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name NOT IN ('spatial_ref_sys', 'geometry_columns', 'geography_columns')
		UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL SELECT 'migration ' || version || ' ' || name FROM schema_migrations
		ORDER BY 1`)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	return out
}

func TestMigrateIdempotent(t *testing.T) {
	url := pgtest.NewDB(t) // migrated once
	before := schema(t, url)
	if len(before) == 0 {
		t.Fatal("schema is empty after Migrate")
	}
	for i := 0; i < 2; i++ {
		if err := postgres.Migrate(context.Background(), url); err != nil {
			t.Fatalf("Migrate again (%d): %v", i+1, err)
		}
	}
	after := schema(t, url)
	if diff := cmpStrings(before, after); diff != "" {
		t.Errorf("schema changed by running Migrate again:\n%s", diff)
	}
	var n int
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := postgres.MigrationCount(); n != want || want < 2 {
		t.Errorf("schema_migrations has %d rows, want %d (one per embedded migration, at least 2)", n, want)
	}
	// A store opens on it and works.
	s := mustOpen(t, url)
	if _, err := s.LastSeq(context.Background()); err != nil {
		t.Errorf("LastSeq on a re-migrated database: %v", err)
	}
}

// TestConcurrentOpen opens four stores at once on a database never migrated, as nodes of a
// cluster starting together do: the advisory lock must make the others wait.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.NewEmptyDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), url, postgres.Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	ref := pgtest.NewDB(t)
	if diff := cmpStrings(schema(t, ref), schema(t, url)); diff != "" {
		t.Errorf("schema after concurrent Opens differs from a single Migrate:\n%s", diff)
	}
}

// v1Data is a store written by a version 1 build, in the layout of migrations/0001_init.sql:
// a history row per create, a changes row per change. A is renamed from 11010501001000001 to
// …009; B is retired and brought back; one write changes B and then A (keys out of order);
// seq 10 belongs to a write that rolled back.
const v1Data = `
INSERT INTO cells (code, key, name, geom, version, updated) VALUES ('110105001001001', 1, 'one',
	ST_Multi(ST_GeomFromText('POLYGON((116 39, 116.01 39, 116.01 39.01, 116 39))', 4490)), 2, '2024-05-01 08:00:05.000005+00');
INSERT INTO components (key, id, class, name, status, cell_code, geom, version, updated, updated_by) VALUES
	(1, '11010501001000001', '01001', 'a', 'intact', '110105001001001', ST_SetSRID(ST_MakePoint(116.001, 39.001), 4490), 1, '2024-05-01 08:00:01.000001+00', 'census'),
	(2, '11010501002000001', '01002', 'b', 'intact', '110105001001001', ST_SetSRID(ST_MakePoint(116.002, 39.002), 4490), 1, '2024-05-01 08:00:01.000001+00', 'census');
INSERT INTO component_history (component_key, seq, time, actor, op, version) VALUES
	(1, 2, '2024-05-01 08:00:01.000001+00', 'census', 'create', 1),
	(2, 3, '2024-05-01 08:00:01.000001+00', 'census', 'create', 1);
INSERT INTO component_history SELECT key, 5, '2024-05-01 08:00:03.000003+00', 'alice', 'update', 2, component_image(c) FROM components c WHERE key = 1;
UPDATE components SET id = '11010501001000009', name = 'a2', version = 2, updated = '2024-05-01 08:00:03.000003+00', updated_by = 'alice' WHERE key = 1;
INSERT INTO component_aliases VALUES ('11010501001000001', 1);
INSERT INTO component_history SELECT key, 11, '2024-05-01 08:00:06.000006+00', 'bob', 'retire', 2, component_image(c) FROM components c WHERE key = 2;
UPDATE components SET status = 'removed', version = 2, updated = '2024-05-01 08:00:06.000006+00', updated_by = 'bob' WHERE key = 2;
INSERT INTO component_history SELECT key, 14, '2024-05-01 08:00:08.000008+00', 'carol', 'update', 3, component_image(c) FROM components c WHERE key = 2;
INSERT INTO component_history SELECT key, 15, '2024-05-01 08:00:08.000008+00', 'carol', 'update', 3, component_image(c) FROM components c WHERE key = 1;
UPDATE components SET status = 'intact', name = 'b3', version = 3, updated = '2024-05-01 08:00:08.000008+00', updated_by = 'carol' WHERE key = 2;
UPDATE components SET name = 'a3', version = 3, updated = '2024-05-01 08:00:08.000008+00', updated_by = 'carol' WHERE key = 1;
INSERT INTO units (id, name, version, updated) VALUES ('u2', 'two', 2, '2024-05-01 08:00:07.000007+00'), ('u3', 'three', 1, '2024-05-01 08:00:07.000007+00');
INSERT INTO rules (id, ord, unit, version) VALUES ('r1', 1, 'u2', 1);
INSERT INTO changes (seq, time, kind, id, op, key) VALUES
	(1, '2024-05-01 08:00:00.000000+00', 'cell', '110105001001001', 'create', 1),
	(2, '2024-05-01 08:00:01.000001+00', 'component', '11010501001000001', 'create', 1),
	(3, '2024-05-01 08:00:01.000001+00', 'component', '11010501002000001', 'create', 2),
	(4, '2024-05-01 08:00:02.000002+00', 'unit', 'u1', 'create', NULL),
	(5, '2024-05-01 08:00:03.000003+00', 'component', '11010501001000009', 'update', 1),
	(6, '2024-05-01 08:00:04.000004+00', 'unit', 'u1', 'delete', NULL),
	(7, '2024-05-01 08:00:04.000004+00', 'rule', 'r1', 'create', NULL),
	(8, '2024-05-01 08:00:04.000004+00', 'unit', 'u2', 'create', NULL),
	(9, '2024-05-01 08:00:05.000005+00', 'cell', '110105001001001', 'update', 1),
	(11, '2024-05-01 08:00:06.000006+00', 'component', '11010501002000001', 'retire', 2),
	(12, '2024-05-01 08:00:07.000007+00', 'unit', 'u2', 'update', NULL),
	(13, '2024-05-01 08:00:07.000007+00', 'unit', 'u3', 'create', NULL),
	(14, '2024-05-01 08:00:08.000008+00', 'component', '11010501002000001', 'update', 2),
	(15, '2024-05-01 08:00:08.000008+00', 'component', '11010501001000009', 'update', 1);
SELECT setval('change_seq', 15), setval('component_key_seq', 2), setval('cell_key_seq', 1);
`

// changeRow is a row of the version 1 changes table, or of the view that replaces it.
type changeRow struct {
	Seq  int64
	Time time.Time
	Kind string
	ID   string
	Op   string
	Key  *int64
}

func changeRows(t testing.TB, conn *pgx.Conn) []changeRow {
	t.Helper()
	// Not a cached statement: the table becomes a view in between.
	rows, err := conn.Query(context.Background(), "SELECT seq, time, kind, id, op, key FROM changes ORDER BY seq", pgx.QueryExecModeExec)
	if err != nil {
		t.Fatalf("read changes: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[changeRow])
	if err != nil {
		t.Fatalf("read changes: %v", err)
	}
	return out
}

// TestMigrateFromVersion1 migrates a store written in the version 1 layout: the feed and the
// histories read the same as before, the runs are as compact as the data allows, and writes
// continue the sequences.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewEmptyDB(t)
	if err := postgres.MigrateTo(ctx, url, 1); err != nil {
		t.Fatalf("MigrateTo(1): %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, v1Data, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("write version 1 data: %v", err)
	}
	before := changeRows(t, conn)

	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	diffRecords(t, "view changes after the migration", before, changeRows(t, conn))

	rows, err := conn.Query(ctx, `SELECT format('%s-%s %s %s %s %s %s %s', seq_first, seq_last, kind,
		coalesce(op, '-'), coalesce(ops::text, '-'), coalesce(key_first::text, '-'), coalesce(keys::text, '-'), coalesce(ids::text, '-'))
		FROM change_runs ORDER BY seq_last`)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	diffRecords(t, "change_runs", []string{
		"1-1 cell create - 1 - -",
		"2-3 component create - 1 - -",
		"4-4 unit create - - - {u1}",
		"5-5 component update - 1 - -",
		"6-6 unit delete - - - {u1}",
		"7-7 rule create - - - {r1}",
		"8-8 unit create - - - {u2}",
		"9-9 cell update - 1 - -",
		"11-11 component retire - 2 - -",
		"12-13 unit - {update,create} - - {u2,u3}",
		"14-15 component update - - {2,1} -",
	}, runs)
	var creates int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM component_history WHERE op = 'create'").Scan(&creates); err != nil {
		t.Fatal(err)
	}
	if creates != 0 {
		t.Errorf("component_history keeps %d create rows, want 0", creates)
	}

	s := mustOpen(t, url)
	feed, err := s.Changes(ctx, 0, 100)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if len(feed) != len(before) {
		t.Fatalf("Changes(0, 100) = %d entries, want %d", len(feed), len(before))
	}
	for i, e := range feed {
		w := before[i]
		if int64(e.Seq) != w.Seq || !e.Time.Equal(w.Time) || string(e.Kind) != w.Kind || e.ID != w.ID || string(e.Op) != w.Op {
			t.Errorf("entry %d = %d %v %s %s %s, want %d %v %s %s %s", i, e.Seq, e.Time, e.Kind, e.ID, e.Op, w.Seq, w.Time, w.Kind, w.ID, w.Op)
		}
		switch {
		case e.Kind == registry.FeedComponent && (e.Component == nil || int64(e.Component.Key) != *w.Key || e.Component.Version != 3):
			t.Errorf("entry %d: component %+v, want key %d at version 3", i, e.Component, *w.Key)
		case e.Kind == registry.FeedCell && (e.Cell == nil || e.Cell.Version != 2):
			t.Errorf("entry %d: cell %+v, want version 2", i, e.Cell)
		case e.Kind == registry.FeedUnit && (e.Unit == nil) != (e.ID == "u1"):
			t.Errorf("entry %d: unit %s = %+v, want nil only for deleted u1", i, e.ID, e.Unit)
		case e.Kind == registry.FeedRule && e.Rule == nil:
			t.Errorf("entry %d: rule %s = nil", i, e.ID)
		}
	}

	// The cell's history begins with its state at the migration (version 3's seq 0 row); the
	// cell is active.
	ch, err := s.CellHistory(ctx, "110105001001001")
	if err != nil || len(ch) != 1 || ch[0].Seq != 0 || ch[0].Op != registry.OpCreate || ch[0].Before != nil ||
		ch[0].After == nil || ch[0].After.Version != 2 || ch[0].After.Name != "one" || ch[0].After.Status != registry.CellActive {
		t.Errorf("history of the version 1 cell = %+v, %v; want one entry, its state at version 2", ch, err)
	}

	// Pages of any size, across runs and the gap at seq 10, are slices of the whole.
	for _, limit := range []int{1, 2, 3} {
		var paged []registry.FeedEntry
		for since := uint64(0); len(paged) <= len(feed); {
			page, err := s.Changes(ctx, since, limit)
			if err != nil {
				t.Fatalf("Changes(%d, %d): %v", since, limit, err)
			}
			if len(page) == 0 {
				break
			}
			if len(page) > limit {
				t.Fatalf("Changes(%d, %d) = %d entries", since, limit, len(page))
			}
			paged, since = append(paged, page...), page[len(page)-1].Seq
		}
		diffRecords(t, fmt.Sprintf("paged by %d", limit), feed, paged)
	}

	a := registry.MustParseComponentCode("11010501001000009")
	type step struct {
		seq     uint64
		op      registry.ChangeOp
		actor   string
		version int64
		name    string // of After
		id      string // of After
	}
	for _, tc := range []struct {
		name string
		id   registry.ComponentCode
		want []step
	}{
		{"renamed, by its ID", a, []step{
			{2, registry.OpCreate, "census", 1, "a", "11010501001000001"},
			{5, registry.OpUpdate, "alice", 2, "a2", "11010501001000009"},
			{15, registry.OpUpdate, "carol", 3, "a3", "11010501001000009"},
		}},
		{"retired and back", registry.MustParseComponentCode("11010501002000001"), []step{
			{3, registry.OpCreate, "census", 1, "b", "11010501002000001"},
			{11, registry.OpRetire, "bob", 2, "b", "11010501002000001"},
			{14, registry.OpUpdate, "carol", 3, "b3", "11010501002000001"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hist, err := s.History(ctx, tc.id)
			if err != nil {
				t.Fatalf("History(%s): %v", tc.id, err)
			}
			if len(hist) != len(tc.want) {
				t.Fatalf("History(%s) = %d changes, want %d", tc.id, len(hist), len(tc.want))
			}
			for i, ch := range hist {
				w := tc.want[i]
				var got step
				got.seq, got.op, got.actor, got.version = ch.Seq, ch.Op, ch.Actor, ch.Version
				if ch.After != nil {
					got.name, got.id = ch.After.Name, ch.After.ID.String()
				}
				if got != w {
					t.Errorf("change %d = %+v, want %+v", i, got, w)
				}
				if ch.After == nil || !ch.Time.Equal(ch.After.Updated) || ch.After.UpdatedBy != ch.Actor {
					t.Errorf("change %d: Time %v and Actor %q are not those of its After %+v", i, ch.Time, ch.Actor, ch.After)
				}
				if (i == 0) != (ch.Before == nil) {
					t.Errorf("change %d: Before = %+v", i, ch.Before)
				}
			}
		})
	}

	// Writes continue the sequences; the create needs no history row.
	id := registry.MustParseComponentCode("11010501001000010")
	if _, err := s.PutComponents(ctx, []registry.Component{{ID: id, Class: "01001", Name: "new", Cell: "110105001001001"}}, nil, "dave"); err != nil {
		t.Fatalf("PutComponents after the migration: %v", err)
	}
	tail, err := s.Changes(ctx, 15, 10)
	if err != nil || len(tail) != 1 || tail[0].Seq != 16 || tail[0].ID != id.String() || tail[0].Component == nil || tail[0].Component.Key != 3 {
		t.Errorf("Changes(15, 10) = %+v, %v; want the create of %s, seq 16, key 3", tail, err, id)
	}
	hist, err := s.History(ctx, id)
	if err != nil || len(hist) != 1 || hist[0].Seq != 16 || hist[0].Op != registry.OpCreate || hist[0].Actor != "dave" {
		t.Errorf("History(%s) = %+v, %v; want the create, seq 16, by dave", id, hist, err)
	}
}

// viewColumns lists the columns of the GIS views, in order, with their types, and the geometry
// columns PostGIS reports for them (which QGIS reads to offer layers).
func viewColumns(t testing.TB, url string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT format('%s %2s %s %s', table_name, ordinal_position, column_name, data_type) FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name IN ('v_cells', 'v_components', 'v_units')
		UNION ALL
		SELECT 'layer ' || f_table_name || '.' || f_geometry_column || ' ' || type || ' ' || srid FROM geometry_columns
			WHERE f_table_name IN ('v_cells', 'v_components', 'v_units')
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGISViews checks that the layers for QGIS look to a GIS client as they did in version 1
// (identifiers still text, though stored as bigint) and show what the store holds.
func TestGISViews(t *testing.T) {
	ctx := context.Background()
	v1 := pgtest.NewEmptyDB(t)
	if err := postgres.MigrateTo(ctx, v1, 1); err != nil {
		t.Fatal(err)
	}
	url := pgtest.NewDB(t)
	want := viewColumns(t, v1)
	if len(want) < 20 {
		t.Fatalf("version 1 views have %d columns: %v", len(want), want)
	}
	diffRecords(t, "GIS view columns, version 1 vs now", want, viewColumns(t, url))

	s := mustOpen(t, url)
	id := registry.MustParseComponentCode("11010501001000001")
	legacy := registry.MustParseComponentCode("1101050101000001")
	census := time.Date(2024, 4, 30, 17, 0, 0, 0, time.UTC) // 1 May in Asia/Shanghai
	if _, err := s.PutComponents(ctx, []registry.Component{
		{ID: id, LegacyID: legacy, LegacyClass: "0101", Class: "01001", Point: orb.Point{116.5, 39.5}, CensusDate: census},
		{ID: registry.MustParseComponentCode("1101050102000002"), Class: "0102", Point: orb.Point{116.6, 39.6}},
	}, nil, "census"); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT format('%s %s %s %s %s', key, id, coalesce(legacy_id, '-'), coalesce(census_date::text, '-'), ST_AsText(geom))
		FROM v_components ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	diffRecords(t, "v_components", []string{
		"1 11010501001000001 1101050101000001 2024-05-01 POINT(116.5 39.5)",
		"2 1101050102000002 - - POINT(116.6 39.6)",
	}, got)
}
