package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"citygrid/fixtures"
	"citygrid/store/postgres/pgtest"
)

func TestRunExitCodes(t *testing.T) {
	t.Setenv(envPG, "")
	t.Setenv(envDB, "")
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"no command", nil, 2, "", "no command given"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "Usage:", ""},
		{"version", []string{"version"}, 0, "citygrid ", ""},
		{"serve without db", []string{"serve"}, 2, "", "-db"},
		{"serve with pg and db", []string{"serve", "-db", db, "-pg", "postgres://h/d"}, 2, "", "not both"},
		{"migrate without store", []string{"migrate"}, 2, "", "-pg URL"},
		{"migrate with an argument", []string{"migrate", "-db", db, "extra"}, 2, "", "no arguments"},
		{"export without store", []string{"export", "-kind", "cells"}, 2, "", "-pg URL"},
		{"serve with an argument", []string{"serve", "-db", db, "extra"}, 2, "", "no arguments"},
		{"serve bad log format", []string{"serve", "-db", db, "-log-format", "xml"}, 2, "", "-log-format"},
		{"serve -h", []string{"serve", "-h"}, 0, "-snap-radius", ""},
		{"import unknown flag", []string{"import", "-colour"}, 2, "", "flag provided but not defined"},
		{"import without kind", []string{"import", "-db", db, "f.csv"}, 2, "", "-kind"},
		{"import bad kind", []string{"import", "-db", db, "-kind", "trees", "f.csv"}, 2, "", "-kind"},
		{"import without files", []string{"import", "-db", db, "-kind", "cells"}, 2, "", "at least one file"},
		{"import bad mode", []string{"import", "-db", db, "-kind", "cells", "-mode", "lenient", "f"}, 2, "", "-mode"},
		{"import bad format", []string{"import", "-db", db, "-kind", "cells", "-format", "shp", "f"}, 2, "", "-format"},
		{"import missing file", []string{"import", "-db", db, "-kind", "cells", filepath.Join(dir, "none.geojson")}, 1, "", "no such file"},
		{"export bad kind", []string{"export", "-db", db, "-kind", "units"}, 2, "", "-kind"},
		{"export missing store", []string{"export", "-db", filepath.Join(dir, "none.db"), "-kind", "cells"}, 1, "", "no such file"},
		{"fixtures without out", []string{"fixtures"}, 2, "", "-out"},
		{"fixtures too few cells", []string{"fixtures", "-out", dir, "-cells", "10"}, 2, "", "cells must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := exitCode(err); got != tt.wantCode {
				t.Errorf("run(%q) exit = %d, want %d (err %v, stderr %s)", tt.args, got, tt.wantCode, err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}

// TestMainDemo starts the server in-process on 127.0.0.1:0 with a small demo city, then
// again on the same store, which must not import the demo twice.
func TestMainDemo(t *testing.T) {
	testMainDemo(t, storeFlags{DB: filepath.Join(t.TempDir(), "demo.db")})
}

// TestMainDemoPostgres is TestMainDemo on PostgreSQL, where the server also follows the
// change feed.
func TestMainDemoPostgres(t *testing.T) {
	testMainDemo(t, storeFlags{PG: pgtest.NewDB(t)})
}

func testMainDemo(t *testing.T, store storeFlags) {
	demo := fixtures.Config{Seed: 3, Cells: 200, Components: 2000}
	var first map[string]any
	for round := range 2 {
		m := &Main{Config: serveConfig{Addr: "127.0.0.1:0", Store: store, Demo: true}, DemoCity: &demo}
		if err := m.Run(t.Context()); err != nil {
			m.Close()
			t.Fatalf("round %d: Run: %v", round, err)
		}
		base := "http://" + m.Addr()
		var ready map[string]any
		getJSON(t, base+"/readyz", &ready)
		if ready["status"] != "ready" || ready["components"] != float64(2000) || ready["units"] == float64(0) {
			t.Errorf("round %d: /readyz = %v, want ready with the 2000 demo components", round, ready)
		}
		if _, following := ready["applied_seq"]; following != (store.PG != "") {
			t.Errorf("round %d: /readyz = %v; want applied_seq exactly when the store is PostgreSQL", round, ready)
		}
		if round == 0 {
			first = ready
		} else if ready["cells"] != first["cells"] || ready["components"] != first["components"] {
			t.Errorf("second start = %v, want the same store as the first %v", ready, first)
		}
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "go_goroutines") || !strings.Contains(string(body), "citygrid_index_cells") {
			t.Errorf("/metrics lacks the Go runtime or index metrics")
		}
		if err := m.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
		if _, err := http.Get(base + "/healthz"); err == nil {
			t.Errorf("round %d: still serving after Close", round)
		}
	}
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
