package postgres_test

import (
	"context"
	"testing"

	"citygrid/registry"
	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"
	"citygrid/store/storetest"

	"github.com/jackc/pgx/v5"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		url := pgtest.NewDB(t)
		return storetest.Harness{
			Open:        func(t *testing.T) registry.Store { s := mustOpen(t, url); return s },
			DropSerials: func(t *testing.T) { dropSerials(t, url) },
		}
	})
}

// TestStoreCopyPath runs the suite again with every PutComponents batch loaded by COPY.
func TestStoreCopyPath(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		url := pgtest.NewDB(t)
		return storetest.Harness{
			Open: func(t *testing.T) registry.Store {
				return mustOpenWith(t, url, postgres.Options{CopyThreshold: -1})
			},
			DropSerials: func(t *testing.T) { dropSerials(t, url) },
		}
	})
}

// mustOpen opens the store at url with default options and closes it when t ends.
func mustOpen(t testing.TB, url string) *postgres.Store {
	t.Helper()
	return mustOpenWith(t, url, postgres.Options{})
}

func mustOpenWith(t testing.TB, url string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dropSerials deletes every row of table serials in the database at url.
func dropSerials(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DELETE FROM serials"); err != nil {
		t.Fatalf("drop serials: %v", err)
	}
}
