package postgres_test

import (
	"context"
	"testing"
	"time"

	"citygrid/fixtures"
	"citygrid/registry"
	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
)

// benchComponents returns the 1,000,000 components of the fixtures' benchmark city (seven
// Chongqing districts, IDs assigned, cells set).
func benchComponents(b *testing.B) []registry.Component {
	b.Helper()
	city, err := fixtures.Generate(fixtures.BenchConfig())
	if err != nil {
		b.Fatalf("fixtures.Generate: %v", err)
	}
	return city.Components
}

// BenchmarkImport1M compares a census import of 1,000,000 components by PutComponents with
// its baseline, measured in the same run: a bare binary COPY of the same rows (same encoder)
// into an empty table without constraints, and CREATE INDEX USING gist on it, in one
// transaction with the same maintenance_work_mem. Run with -benchtime=1x. The store's metric
// x-bare is its time over the baseline's, measured in the same run (absent when the baseline
// is filtered out).
func BenchmarkImport1M(b *testing.B) {
	comps := benchComponents(b)
	n := len(comps)
	ctx := context.Background()
	var bare time.Duration // per import, of the last run of bare_copy_gist

	b.Run("bare_copy_gist", func(b *testing.B) {
		b.StopTimer() // preparing the rows is no part of the baseline
		keyed := make([]registry.Component, n)
		copy(keyed, comps)
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i := range keyed {
			keyed[i].Key, keyed[i].Version, keyed[i].Updated, keyed[i].UpdatedBy = registry.Key(i+1), 1, now, "bench"
		}
		var total time.Duration
		for range b.N {
			url := pgtest.NewDB(b)
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '512MB'"); err != nil {
					return err
				}
				// The store's rows carry created_seq as well; the baseline's do not.
				if _, err := tx.Exec(ctx, "CREATE TABLE bare (LIKE components)"); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "ALTER TABLE bare ALTER created_seq DROP NOT NULL"); err != nil {
					return err
				}
				t0 := time.Now()
				if _, err := postgres.CopyComponents(ctx, tx.Conn().PgConn(), "bare", keyed); err != nil {
					return err
				}
				t1 := time.Now()
				_, err := tx.Exec(ctx, "CREATE INDEX ON bare USING gist (geom)")
				b.ReportMetric(t1.Sub(t0).Seconds(), "copy-s")
				b.ReportMetric(time.Since(t1).Seconds(), "gist-s")
				return err
			})
			b.StopTimer()
			total += time.Since(start)
			conn.Close(ctx)
			if err != nil {
				b.Fatal(err)
			}
		}
		bare = total / time.Duration(b.N)
	})

	b.Run("store", func(b *testing.B) {
		b.StopTimer()
		var total time.Duration
		for range b.N {
			url := pgtest.NewDB(b)
			s := mustOpen(b, url)
			if _, err := s.PutUnits(ctx, nil, "test"); err != nil { // warm the pool
				b.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
				b.Fatal(err)
			}
			conn.Close(ctx)
			b.StartTimer()
			start := time.Now()
			got, err := s.PutComponents(ctx, comps, nil, "census 2024")
			total += time.Since(start)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != n {
				b.Fatalf("PutComponents returned %d components, want %d", len(got), n)
			}
		}
		if bare > 0 {
			b.ReportMetric(float64(total/time.Duration(b.N))/float64(bare), "x-bare")
		}
	})
}

// BenchmarkForEachComponent1M streams 1,000,000 components, as a node does at start-up.
func BenchmarkForEachComponent1M(b *testing.B) {
	comps := benchComponents(b)
	n := len(comps)
	ctx := context.Background()
	url := pgtest.NewDB(b)
	s := mustOpen(b, url)
	if _, err := s.PutComponents(ctx, comps, nil, "census 2024"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		count := 0
		if err := s.ForEachComponent(ctx, func(c *registry.Component) error {
			count++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("ForEachComponent visited %d components, want %d", count, n)
		}
	}
}
