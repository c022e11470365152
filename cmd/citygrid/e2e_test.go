package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paulmach/orb/planar"

	"citygrid/fixtures"
)

// The end-to-end tests build the real binary and drive it as a user would.

var binPath string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "citygrid-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "citygrid")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// citygrid runs the binary to completion.
func citygrid(t testing.TB, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "CITYGRID_DB=", "CITYGRID_PG_URL=", "CITYGRID_ADDR=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("citygrid %v: %v", args, err)
	}
	return r
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t testing.TB, args ...string) result {
	t.Helper()
	r := citygrid(t, args...)
	if r.code != 0 {
		t.Fatalf("citygrid %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// export returns the GeoJSON export of kind.
func export(t testing.TB, db, kind string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), kind+".geojson")
	mustRun(t, "export", "-db", db, "-kind", kind, "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func featureCount(t testing.TB, b []byte) int {
	t.Helper()
	var fc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil || fc.Type != "FeatureCollection" {
		t.Fatalf("export is not a FeatureCollection: %v", err)
	}
	return len(fc.Features)
}

// newCity writes a generated city to dir and imports cells, units, rules and components
// into a new store; it returns the store path.
func newCity(t testing.TB, dir string, cells, comps int) string {
	t.Helper()
	fx := filepath.Join(dir, "fx")
	mustRun(t, "fixtures", "-out", fx, "-cells", strconv.Itoa(cells), "-components", strconv.Itoa(comps), "-seed", "7")
	db := filepath.Join(dir, "citygrid.db")
	for _, kind := range importOrder {
		r := mustRun(t, "import", "-db", db, "-kind", kind, filepath.Join(fx, demoFiles[kind]))
		if !strings.Contains(r.stdout, "rejected 0") || !strings.Contains(r.stdout, ": stored") {
			t.Fatalf("import %s: %s", kind, r.stdout)
		}
	}
	return db
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestE2E(t *testing.T) {
	dir := t.TempDir()
	db := newCity(t, dir, 200, 3000)
	cellsBefore, compsBefore := export(t, db, "cells"), export(t, db, "components")
	if n := featureCount(t, compsBefore); n == 0 || n > 3000 {
		t.Fatalf("export holds %d components, want 1..3000", n)
	}

	// A strict import with one bad feature stores nothing and exits 1. The features are
	// fixture rows without their identifiers, so valid ones would be created; the fourth
	// gets a class that does not exist.
	f, err := os.Open(filepath.Join(dir, "fx", "components.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) < 7 {
		t.Fatalf("components.csv: %d rows, %v", len(rows), err)
	}
	classCol := slices.Index(rows[0], "class")
	if classCol < 0 || rows[0][0] != "id" {
		t.Fatalf("components.csv header %q: want id first and a class column", rows[0])
	}
	var bad bytes.Buffer
	w := csv.NewWriter(&bad)
	w.Write(rows[0])
	for i := 1; i <= 6; i++ {
		row := slices.Clone(rows[i])
		row[0] = ""
		if i == 4 {
			row[classCol] = "99999"
		}
		w.Write(row)
	}
	w.Flush()
	badPath := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(badPath, bad.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := citygrid(t, "import", "-db", db, "-kind", "components", badPath)
	if r.code != 1 || !strings.Contains(r.stdout, "unknown_class") || !strings.Contains(r.stdout, "nothing stored") {
		t.Fatalf("strict import of bad.csv: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !bytes.Equal(export(t, db, "components"), compsBefore) || !bytes.Equal(export(t, db, "cells"), cellsBefore) {
		t.Fatal("the store changed after a rejected strict import")
	}
	// The same file in partial mode stores the five good rows, and still exits 1.
	r = citygrid(t, "import", "-db", db, "-kind", "components", "-mode", "partial", badPath)
	if r.code != 1 || !strings.Contains(r.stdout, "created 5") {
		t.Fatalf("partial import of bad.csv: exit %d\nstdout: %s", r.code, r.stdout)
	}

	// Serve, ask, stop.
	addr := freeAddr(t)
	srv := exec.Command(binPath, "serve", "-db", db, "-addr", addr)
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			<-done
		}
	})
	waitReady(t, "http://"+addr, done)

	city, err := fixtures.Generate(fixtures.Config{Seed: 7, Cells: 200, Components: 3000})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range fixtures.QueryPoints(city, 5, 1) {
		var want []string
		for _, c := range city.Cells {
			if planar.MultiPolygonContains(c.Geometry, p) {
				want = append(want, string(c.Code))
			}
		}
		if len(want) != 1 {
			continue // on a shared edge; the tie-break is the index's business
		}
		resp, err := http.Get(fmt.Sprintf("http://%s/api/v1/lookup?lon=%v&lat=%v", addr, p[0], p[1]))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Cell struct{ Code string } `json:"cell"`
			Unit *struct{ ID string }  `json:"unit"`
			Rule struct{ Kind string } `json:"rule"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || got.Cell.Code != want[0] || got.Unit == nil || got.Rule.Kind == "" {
			t.Errorf("lookup %v = %d %+v (%v), want cell %s with a unit", p, resp.StatusCode, got, err, want[0])
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("only %d of 5 query points lie inside exactly one cell", checked)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop within 20 s of SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "index loaded") || !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("serve logs lack the load and shutdown lines:\n%s", logs.String())
	}
}

// waitReady polls /readyz until 200, failing if the server exits first or takes 30 s.
func waitReady(t testing.TB, base string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("serve exited before it was ready: %v", err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("serve was not ready within 30 s")
}

// TestE2EKillDuringImport SIGKILLs an import of 200,000 components, once while it reads the
// file and once while bbolt writes its transaction (the store file has started to grow),
// and checks that the store is exactly what it was before.
func TestE2EKillDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and imports 200,000 components")
	}
	dir := t.TempDir()
	base := newCity(t, dir, 200, 3000)
	bigDir := filepath.Join(dir, "big")
	mustRun(t, "fixtures", "-out", bigDir, "-cells", "200", "-components", "200000", "-seed", "7")
	cellsBefore, compsBefore := export(t, base, "cells"), export(t, base, "components")

	for _, tc := range []struct {
		name string
		// kill reports, polled every millisecond, whether to kill now.
		kill func(start time.Time, grown bool) bool
	}{
		{"while reading", func(start time.Time, grown bool) bool { return time.Since(start) > 300*time.Millisecond }},
		{"while committing", func(_ time.Time, grown bool) bool { return grown }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "citygrid.db")
			copyFile(t, base, db)
			size0 := fileSize(t, db)
			cmd := exec.Command(binPath, "import", "-db", db, "-kind", "components", filepath.Join(bigDir, "components.csv"))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			start := time.Now()
			killed := false
		poll:
			for {
				select {
				case <-done:
					break poll
				case <-time.After(time.Millisecond):
				}
				if tc.kill(start, fileSize(t, db) > size0) {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					<-done
					killed = true
					t.Logf("killed after %v; store file %d → %d bytes", time.Since(start).Round(time.Millisecond), size0, fileSize(t, db))
					break
				}
			}
			if !killed {
				t.Fatalf("the import finished (%v) before it could be killed; make it larger\n%s", cmd.ProcessState, out.String())
			}
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("import ended with %v, want killed by SIGKILL", cmd.ProcessState)
			}
			if !bytes.Equal(export(t, db, "components"), compsBefore) || !bytes.Equal(export(t, db, "cells"), cellsBefore) {
				t.Fatal("the store changed after the import was killed")
			}
		})
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
