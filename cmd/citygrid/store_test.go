package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
		secret   string // must not survive
	}{
		{"postgres://citygrid:s3cret@db.example:5432/city?sslmode=require", "postgres://citygrid:xxxxx@db.example:5432/city?sslmode=require", "s3cret"},
		{"postgresql://citygrid:p%40ss%2Fw0rd@10.0.0.5/city", "postgresql://citygrid:xxxxx@10.0.0.5/city", "p%40ss"},
		{"postgres://citygrid@db.example/city", "postgres://citygrid@db.example/city", ""},
		{"postgres://db.example/city?user=u&password=hunter2", "postgres://db.example/city?password=xxxxx&user=u", "hunter2"},
		{"host=db.example user=citygrid password=s3cret dbname=city", "host=db.example user=citygrid password=xxxxx dbname=city", "s3cret"},
		{"host=db.example password = 'two words' dbname=city", "host=db.example password=xxxxx dbname=city", "two words"},
		{"postgres://citygrid:s3cret@db.example:notaport/city", "postgres://citygrid:xxxxx@db.example:notaport/city", "s3cret"}, // url.Parse fails
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.secret != "" && strings.Contains(got, tt.secret) {
			t.Errorf("redactURL(%q) = %q still holds %q", tt.in, got, tt.secret)
		}
	}
}

func TestScrubErr(t *testing.T) {
	const u = "postgres://citygrid:s3cret@db.example/city"
	plain := errors.New("connection refused")
	if got := scrubErr(plain, u); got != plain {
		t.Errorf("scrubErr(%v) = %v, want the error unchanged", plain, got)
	}
	for _, err := range []error{
		errors.New("open " + u + ": connection refused"),
		errors.New("password authentication failed (password s3cret)"),
		errors.New("dial: s3cret"),
	} {
		got := scrubErr(err, u).Error()
		if strings.Contains(got, "s3cret") {
			t.Errorf("scrubErr(%q) = %q, still holding the password", err, got)
		}
	}
}

func TestStoreFlagsResolve(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		envPG, envDB string
		wantPG       string
		wantDB       string
		wantErr      string
	}{
		{"db flag", []string{"-db", "a.db"}, "", "", "", "a.db", ""},
		{"pg flag", []string{"-pg", "postgres://h/d"}, "", "", "postgres://h/d", "", ""},
		{"pg env", nil, "postgres://h/d", "", "postgres://h/d", "", ""},
		{"db env", nil, "", "b.db", "", "b.db", ""},
		{"db flag beats pg env", []string{"-db", "a.db"}, "postgres://h/d", "", "", "a.db", ""},
		{"pg flag beats db env", []string{"-pg", "postgres://h/d"}, "", "b.db", "postgres://h/d", "", ""},
		{"both flags", []string{"-db", "a.db", "-pg", "postgres://h/d"}, "", "", "", "", "not both"},
		{"both env", nil, "postgres://h/d", "b.db", "", "", "both"},
		{"neither", nil, "", "", "", "", "is required"},
		{"empty flag", []string{"-pg", ""}, "", "b.db", "", "", "need a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envPG, tt.envPG)
			t.Setenv(envDB, tt.envDB)
			var sf storeFlags
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			sf.register(fs, "file")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := sf.resolve(fs, "x")
			if tt.wantErr != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolve(%q) error = %v, want a usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || sf.PG != tt.wantPG || sf.DB != tt.wantDB {
				t.Errorf("resolve(%q) = pg %q db %q (%v), want pg %q db %q", tt.args, sf.PG, sf.DB, err, tt.wantPG, tt.wantDB)
			}
		})
	}
}

// TestNoPasswordInOutput runs the commands that open a store against a PostgreSQL URL with a
// password and an unreachable port: the errors name the server, never the password. -h with
// the URL in the environment does not print it either.
func TestNoPasswordInOutput(t *testing.T) {
	const secret = "Zq9-s3cret-pw"
	u := "postgres://citygrid:" + secret + "@127.0.0.1:1/city?connect_timeout=5"
	out := filepath.Join(t.TempDir(), "x.geojson")
	for _, args := range [][]string{
		{"migrate", "-pg", u},
		{"serve", "-pg", u, "-addr", "127.0.0.1:0"},
		{"import", "-pg", u, "-kind", "units", "units.json"},
		{"export", "-pg", u, "-kind", "cells", "-o", out},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if code := exitCode(err); code != 1 {
			t.Errorf("%s: exit %d, want 1 (stderr %s)", args[0], code, stderr.String())
		}
		all := stdout.String() + stderr.String()
		if strings.Contains(all, secret) {
			t.Errorf("%s printed the password: %s", args[0], all)
		}
		if !strings.Contains(all, "127.0.0.1") {
			t.Errorf("%s: the error does not name the server: %s", args[0], all)
		}
	}
	t.Setenv(envPG, u)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"serve", "-h"}, &stdout, &stderr); exitCode(err) != 0 {
		t.Fatalf("serve -h: %v", err)
	}
	if all := stdout.String() + stderr.String(); strings.Contains(all, secret) || !strings.Contains(all, "-pg") {
		t.Errorf("serve -h with %s set = %s, want -pg documented and no password", envPG, all)
	}
}

func TestMigrateEmbedded(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	for range 2 { // creates, then finds it up to date
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), []string{"migrate", "-db", db}, &stdout, &stderr); err != nil {
			t.Fatalf("migrate -db: %v (%s)", err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "up to date") {
			t.Errorf("migrate -db output = %q", stdout.String())
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("migrate -db did not create the store: %v", err)
	}
}
