package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalClasses: a city's extension class is data given with -classes, not a rebuild.
func TestLocalClasses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	db := filepath.Join(dir, "c.db")
	cells := write("cells.ndjson", `{"type":"Feature","properties":{"code":"500103003001001"},"geometry":{"type":"Polygon","coordinates":[[[106.570,29.550],[106.571,29.550],[106.571,29.551],[106.570,29.551],[106.570,29.550]]]}}`+"\n")
	// 01901 is not a national class: a city's own 充电桩配电箱 extension.
	comps := write("comps.csv", "class,name,lon,lat\n01901,充电桩配电箱,106.5705,29.5505\n")
	classes := write("classes.json", `[{"kind":"component","code":"01901","name":"充电桩配电箱","major":"01"}]`)
	bad := write("bad.json", `[{"kind":"component","code":"01001","name":"供水井盖"}]`)

	importArgs := func(extra ...string) []string {
		return append([]string{"import", "-db", db, "-kind", "components"}, append(extra, comps)...)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout or stderr
	}{
		{"cells", []string{"import", "-db", db, "-kind", "cells", cells}, 0, ""},
		{"unknown without -classes", importArgs(), 1, "unknown_class"},
		{"a national code cannot be redefined", importArgs("-classes", bad), 1, "class_exists"},
		{"accepted with -classes", importArgs("-classes", classes), 0, "created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("run(%q) exit = %d, want %d (err %v, stdout %s, stderr %s)", tt.args, got, tt.wantCode, err, stdout.String(), stderr.String())
			}
			all := stdout.String() + stderr.String()
			if err != nil {
				all += err.Error()
			}
			if !strings.Contains(all, tt.wantOut) {
				t.Errorf("run(%q) output = %q, want it to contain %q", tt.args, all, tt.wantOut)
			}
		})
	}
}
