package postgres_test

import (
	"context"
	"sync"
	"testing"

	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
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
	if n != 1 {
		t.Errorf("schema_migrations has %d rows, want 1 (one per embedded migration)", n)
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
