package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"citygrid/store/bolt"
)

// TestParseFlagsInterspersed checks that flags may follow positionals and that "--" ends the
// flags.
func TestParseFlagsInterspersed(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantMode string
		wantBool bool
		wantPos  []string
	}{
		{"flags first", []string{"-mode", "partial", "a", "b"}, "partial", false, []string{"a", "b"}},
		{"flag after the file", []string{"a", "-mode", "partial"}, "partial", false, []string{"a"}},
		{"flags between files", []string{"a", "-v", "b", "-mode=partial", "c"}, "partial", true, []string{"a", "b", "c"}},
		{"dashes end the flags", []string{"a", "--", "-mode", "partial"}, "strict", false, []string{"a", "-mode", "partial"}},
		{"dashes after a bool flag", []string{"-v", "--", "-x"}, "strict", true, []string{"-x"}},
		{"dashes as a value", []string{"-mode", "--", "a", "-v"}, "--", true, []string{"a"}},
		{"stdin", []string{"-", "-v"}, "strict", true, []string{"-"}},
		{"no arguments", nil, "strict", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("import", nil)
			mode := fs.String("mode", "strict", "")
			v := fs.Bool("v", false, "")
			pos, err := parseFlags(fs, tt.args)
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if *mode != tt.wantMode || *v != tt.wantBool || !slices.Equal(pos, tt.wantPos) {
				t.Errorf("parseFlags(%q) = mode %q, v %v, positionals %q; want %q, %v, %q",
					tt.args, *mode, *v, pos, tt.wantMode, tt.wantBool, tt.wantPos)
			}
		})
	}
}

// TestHelpAndVersion checks help for every command (synopsis, flags, examples on stdout, exit
// 0) and the version forms.
func TestHelpAndVersion(t *testing.T) {
	t.Setenv(envPG, "")
	t.Setenv(envDB, "")
	type tc struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}
	tests := []tc{
		{"help lists commands", []string{"help"}, 0, []string{"Commands:", "import", "export", "serve", "version"}, ""},
		{"--help", []string{"--help"}, 0, []string{"Commands:"}, ""},
		{"help unknown", []string{"help", "frobnicate"}, 2, nil, `unknown command "frobnicate"`},
		{"help two commands", []string{"help", "import", "export"}, 2, nil, "one command"},
		{"version", []string{"version"}, 0, []string{"citygrid ", "go1."}, ""},
		{"--version", []string{"--version"}, 0, []string{"citygrid ", "go1."}, ""},
		{"-version", []string{"-version"}, 0, []string{"citygrid ", "go1."}, ""},
		{"version -h", []string{"version", "-h"}, 0, []string{"Usage:", "citygrid version"}, ""},
		{"help help", []string{"help", "help"}, 0, []string{"citygrid help [COMMAND]"}, ""},
		{"import --help after a file", []string{"import", "f.csv", "--help"}, 0, []string{"Usage:", "-kind"}, ""},
		{"unknown flag names the help", []string{"export", "-colour"}, 2, nil, `see "citygrid help export"`},
	}
	for _, name := range []string{"serve", "import", "export", "migrate", "fixtures"} {
		want := []string{"Usage:\n  citygrid " + name, "Flags:", "Examples:\n  citygrid " + name}
		tests = append(tests,
			tc{"help " + name, []string{"help", name}, 0, want, ""},
			tc{name + " -h", []string{name, "-h"}, 0, want, ""},
			tc{name + " -help", []string{name, "-help"}, 0, want, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := exitCode(err); got != tt.wantCode {
				t.Errorf("run(%q) exit = %d, want %d (err %v)", tt.args, got, tt.wantCode, err)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), w)
				}
			}
			if tt.wantStderr != "" && !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
			if tt.wantCode == 0 && stderr.Len() > 0 {
				t.Errorf("run(%q) wrote %q on stderr", tt.args, stderr.String())
			}
		})
	}
}

// TestImportModeAfterFile checks that a -mode after the file name is obeyed: a partial import
// of a file with one invalid cell stores the valid one (strict would store nothing).
func TestImportModeAfterFile(t *testing.T) {
	t.Setenv(envPG, "")
	t.Setenv(envDB, "")
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	cells := filepath.Join(dir, "cells.geojson")
	const doc = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"500103001001001","name":"a"},"geometry":{"type":"Polygon","coordinates":[[[106.5,29.5],[106.501,29.5],[106.501,29.501],[106.5,29.501],[106.5,29.5]]]}},
{"type":"Feature","properties":{"code":"bad","name":"b"},"geometry":{"type":"Polygon","coordinates":[[[106.6,29.5],[106.601,29.5],[106.601,29.501],[106.6,29.501],[106.6,29.5]]]}}]}`
	if err := os.WriteFile(cells, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"import", "-db", db, "-kind", "cells", cells, "-mode", "partial"}, &stdout, &stderr)
	if got := exitCode(err); got != 1 {
		t.Fatalf("exit = %d, want 1 (one feature rejected); stderr %s", got, stderr.String())
	}
	if !strings.Contains(stdout.String(), "partial mode") || !strings.Contains(stdout.String(), "created 1") {
		t.Errorf("report = %q, want a partial import that created the valid cell", stdout.String())
	}
}

// TestStoreHeldByServer checks that import, export and migrate on a store file another
// process holds say so and name the server's routes.
func TestStoreHeldByServer(t *testing.T) {
	t.Setenv(envPG, "")
	t.Setenv(envDB, "")
	db := filepath.Join(t.TempDir(), "held.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"export", []string{"export", "-db", db, "-kind", "cells"}, []string{"held by another process", "citygrid serve", "GET /api/v1/export/"}},
		{"import", []string{"import", "-db", db, "-kind", "cells", "x.geojson"}, []string{"held by another process", "POST /api/v1/census/"}},
		{"migrate", []string{"migrate", "-db", db}, []string{"held by another process"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := exitCode(err); got != 1 {
				t.Errorf("exit = %d, want 1 (err %v)", got, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr.String(), w)
				}
			}
		})
	}
}

// TestParseOrigins checks -cors-origins.
func TestParseOrigins(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"*", []string{"*"}, false},
		{"https://a.example, https://B.example:8443/", []string{"https://a.example", "https://b.example:8443"}, false},
		{"https://*.example.cn", []string{"https://*.example.cn"}, false},
		{"a.example", nil, true},
		{"ftp://a.example", nil, true},
		{"https://a.example/map", nil, true},
		{"https://a.*.example", nil, true},
		{"https://user@a.example", nil, true},
	}
	for _, tt := range tests {
		got, err := parseOrigins(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseOrigins(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestServeCORS starts a server with -cors-origins and checks a page's preflight and request.
func TestServeCORS(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(t.Context(), []string{"serve", "-db", filepath.Join(t.TempDir(), "x.db"), "-cors-origins", "map.example"}, &stderr, &stderr); exitCode(err) != 2 ||
		!strings.Contains(stderr.String(), "-cors-origins") {
		t.Errorf("serve -cors-origins map.example: %v, %q; want a usage error naming the flag", err, stderr.String())
	}
	m := &Main{Config: serveConfig{Addr: "127.0.0.1:0", Store: storeFlags{DB: filepath.Join(t.TempDir(), "c.db")},
		CORSOrigins: "https://map.example"}}
	if err := m.Run(t.Context()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	req, _ := http.NewRequest("OPTIONS", "http://"+m.Addr()+"/api/v1/units/u1", nil)
	req.Header.Set("Origin", "https://map.example")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	req.Header.Set("Access-Control-Request-Headers", "if-match,x-actor")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://map.example" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "if-match,x-actor" {
		t.Errorf("preflight = %d %v, want 204 allowing the origin and headers", resp.StatusCode, resp.Header)
	}
}

// FuzzParseFlags: whatever the words, parseFlags does not panic, and the positionals it
// returns are words of the input, in order, with every word after a terminating "--".
func FuzzParseFlags(f *testing.F) {
	f.Add("a\x00-mode\x00partial\x00--\x00-v")
	f.Add("-mode\x00--\x00-v\x00b")
	f.Add("--\x00--\x00-")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs := newFlagSet("import", nil)
		fs.String("mode", "strict", "")
		fs.Bool("v", false, "")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return
		}
		i := 0
		for _, p := range pos {
			for i < len(args) && args[i] != p {
				i++
			}
			if i == len(args) {
				t.Fatalf("parseFlags(%q) = %q: %q is not a later word of the input", args, pos, p)
			}
			i++
		}
	})
}
