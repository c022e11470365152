// Package pgtest gives tests a fresh, migrated PostgreSQL database of their own.
//
// The server is the one at $CITYGRID_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres,
// a role that may create databases); scripts/pg-ensure.sh starts one for `make test`. When it
// cannot be reached or lacks PostGIS, tests skip with a loud message, except under CI=true,
// where they fail: CI must never pass without having run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"citygrid/store/postgres"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server used when CITYGRID_TEST_PG is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres"

// AdminURL returns the URL of the test server: $CITYGRID_TEST_PG or DefaultURL.
func AdminURL() string {
	if u := os.Getenv("CITYGRID_TEST_PG"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDB creates database citygrid_test_<random> on the test server, creates PostGIS in it,
// applies the store's migrations and returns its URL. The database is dropped WITH (FORCE)
// when t ends.
func NewDB(t testing.TB) string {
	t.Helper()
	url := NewEmptyDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

// NewEmptyDB is NewDB without the migrations: a database with PostGIS and nothing else.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, fmt.Sprintf("cannot connect to the test server %s: %v", show(admin), err))
	}
	defer conn.Close(context.Background())
	var postgis bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')").Scan(&postgis); err != nil {
		t.Fatalf("pgtest: look for PostGIS: %v", err)
	}
	if !postgis {
		unavailable(t, fmt.Sprintf("the test server %s has no PostGIS (apt-get install postgresql-15-postgis-3)", show(admin)))
	}

	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := "citygrid_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", name, err)
	}
	_, err = db.Exec(ctx, "CREATE EXTENSION postgis")
	db.Close(ctx)
	if err != nil {
		t.Fatalf("pgtest: create extension postgis in %s: %v", name, err)
	}
	return dbURL
}

// unavailable skips t, or fails it under CI=true.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("pgtest: %s; PostgreSQL tests are required under CI=true (run scripts/pg-ensure.sh)", msg)
	}
	t.Skipf("\n*** SKIPPING PostgreSQL TESTS: %s.\n*** Run scripts/pg-ensure.sh, or set CITYGRID_TEST_PG.", msg)
}

// withDatabase returns the connection string s pointing at database name instead.
func withDatabase(s, name string) (string, error) {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", show(s), err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// key=value form: a later dbname overrides an earlier one.
	return s + " dbname=" + name, nil
}

// show returns s without a password, for messages.
func show(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return dsnPassword.ReplaceAllString(s, "password=xxxxx")
}

var dsnPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)
