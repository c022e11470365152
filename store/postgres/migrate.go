package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded file migrations/NNNN_name.sql; version is NNNN.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// Migrate applies every embedded migration that the database at url lacks, each in its own
// transaction, and records it in schema_migrations. Running it again is a no-op, and
// concurrent runs (two nodes starting at once) wait for each other. Open calls it. Errors
// never contain the password of url.
func Migrate(ctx context.Context, url string) error {
	cfg, display, secret, err := parseConfig(url)
	if err != nil {
		return err
	}
	return migrate(ctx, cfg.ConnConfig, display, secret, 0)
}

// migrate applies the migrations up to version upTo, or all of them when upTo is 0.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, display, secret string, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate %s: %w", display, err)
	}
	if upTo > 0 {
		ms = slices.DeleteFunc(ms, func(m migration) bool { return m.version > upTo })
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return redact(fmt.Errorf("migrate %s: connect: %w", display, err), secret)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, m := range ms {
		if err := apply(ctx, conn, m); err != nil {
			return redact(fmt.Errorf("migrate %s: %s: %w", display, m.name, err), secret)
		}
	}
	return nil
}

// apply runs m unless it is recorded already. The advisory lock is taken before looking, so a
// concurrent Open waits and then finds the migration done.
func apply(ctx context.Context, conn *pgx.Conn, m migration) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockMigrate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name    text NOT NULL,
			applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		// Simple protocol: a migration is several statements.
		if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
		return err
	})
}
