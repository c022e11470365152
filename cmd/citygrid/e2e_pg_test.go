package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"citygrid/fixtures"
	"citygrid/store/postgres/pgtest"
)

// The multi-node end-to-end tests run two `citygrid serve -pg` processes on one PostgreSQL
// database and check that a write through one is answered by the other.

// e2eCity is the city the multi-node tests import: small, so the tests stay well under a minute.
var e2eCity = fixtures.Config{Seed: 11, Cells: 200, Components: 1000}

// importCity writes e2eCity's census files to dir and imports them with `citygrid import`
// into the store named by store (e.g. "-pg", URL); it returns the city.
func importCity(t testing.TB, dir string, store ...string) *fixtures.City {
	t.Helper()
	fx := filepath.Join(dir, "fx")
	mustRun(t, "fixtures", "-out", fx, "-cells", strconv.Itoa(e2eCity.Cells), "-components", strconv.Itoa(e2eCity.Components),
		"-seed", strconv.FormatInt(e2eCity.Seed, 10))
	for _, kind := range importOrder {
		args := append(append([]string{"import"}, store...), "-kind", kind, filepath.Join(fx, demoFiles[kind]))
		r := mustRun(t, args...)
		if !strings.Contains(r.stdout, "rejected 0") || !strings.Contains(r.stdout, ": stored") {
			t.Fatalf("import %s: %s", kind, r.stdout)
		}
	}
	city, err := fixtures.Generate(e2eCity)
	if err != nil {
		t.Fatal(err)
	}
	return city
}

// probe is a point inside exactly one cell of the city.
type probe struct {
	p    orb.Point
	cell string
}

// probes returns n points of the city, each inside exactly one cell and no two in one cell.
func probes(t testing.TB, city *fixtures.City, n int) []probe {
	t.Helper()
	var out []probe
	seen := map[string]bool{}
	for _, p := range fixtures.QueryPoints(city, 20*n, 5) {
		var in []string
		for _, c := range city.Cells {
			if planar.MultiPolygonContains(c.Geometry, p) {
				in = append(in, string(c.Code))
			}
		}
		if len(in) == 1 && !seen[in[0]] {
			seen[in[0]] = true
			out = append(out, probe{p, in[0]})
			if len(out) == n {
				return out
			}
		}
	}
	t.Fatalf("found only %d of %d probe points", len(out), n)
	return nil
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// node is one running `citygrid serve` process.
type node struct {
	name   string
	base   string // http://host:port
	cmd    *exec.Cmd
	done   chan error    // receives Wait's result once
	exited chan struct{} // closed when the process has exited
	logs   *syncBuffer
}

// startNode starts `citygrid serve -pg pgURL` on addr and waits until it is ready. The
// process is killed when t ends, if it still runs.
func startNode(t *testing.T, name, pgURL, addr string) *node {
	t.Helper()
	n := spawnNode(t, name, pgURL, addr)
	waitReady(t, n.base, n.done)
	return n
}

// spawnNode starts citygrid serve -pg pgURL -addr addr with extra flags, without waiting for
// it to be ready; it is killed when t ends.
func spawnNode(t *testing.T, name, pgURL, addr string, extra ...string) *node {
	t.Helper()
	n := &node{name: name, base: "http://" + addr, done: make(chan error, 1), exited: make(chan struct{}), logs: &syncBuffer{}}
	n.cmd = exec.Command(binPath, append([]string{"serve", "-pg", pgURL, "-addr", addr}, extra...)...)
	n.cmd.Env = append(os.Environ(), "CITYGRID_DB=", "CITYGRID_PG_URL=", "CITYGRID_ADDR=")
	n.cmd.Stderr = n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.done <- n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("node %s logs:\n%s", name, n.logs.String())
		}
	})
	return n
}

// kill SIGKILLs the node and waits for it to exit.
func (n *node) kill(t testing.TB) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n.exited
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// send makes one request and returns the status and body, or an error (no test failure,
// so callers may retry).
func send(method, url, body string, headers ...string) (int, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// mustSend makes one request and fails the test unless it answers want.
func mustSend(t testing.TB, want int, method, url, body string, headers ...string) []byte {
	t.Helper()
	status, b, err := send(method, url, body, headers...)
	if err != nil || status != want {
		t.Fatalf("%s %s = %d %s (%v), want %d", method, url, status, b, err, want)
	}
	return b
}

type lookupAnswer struct {
	Cell struct{ Code string } `json:"cell"`
	Unit *struct{ ID string }  `json:"unit"`
	Rule struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"rule"`
}

// lookup asks a node who is responsible at p.
func (n *node) lookup(p orb.Point) (lookupAnswer, error) {
	var a lookupAnswer
	status, b, err := send("GET", fmt.Sprintf("%s/api/v1/lookup?lon=%v&lat=%v", n.base, p[0], p[1]), "")
	if err != nil {
		return a, err
	}
	if status != 200 {
		return a, fmt.Errorf("lookup: %d %s", status, b)
	}
	return a, json.Unmarshal(b, &a)
}

// answersRule reports whether the node's lookup at p names rule and unit.
func (n *node) answersRule(p orb.Point, rule, unit string) (bool, lookupAnswer, error) {
	a, err := n.lookup(p)
	return err == nil && a.Rule.ID == rule && a.Unit != nil && a.Unit.ID == unit, a, err
}

// waitRule polls the node's lookup at p every 20 ms until it names rule and unit, and fails
// the test after within. It returns how long that took.
func waitRule(t testing.TB, n *node, p orb.Point, rule, unit string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, a, err := n.answersRule(p, rule, unit)
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("node %s: lookup %v = %+v (%v) after %v, want rule %s → unit %s", n.name, p, a, err, within, rule, unit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// putRule makes rule id, first of all rules, send every report in cell to unit, through node
// n, creating the unit too; both must be new (201 Created).
func putRule(t testing.TB, n *node, id, unit, cell string) {
	t.Helper()
	mustSend(t, 201, "PUT", n.base+"/api/v1/units/"+unit,
		fmt.Sprintf(`{"id":%q,"name":"e2e %s","type":"public_service_unit","districts":[%q]}`, unit, unit, cell[:6]))
	mustSend(t, 201, "PUT", n.base+"/api/v1/rules/"+id,
		fmt.Sprintf(`{"id":%q,"order":-1000,"class":"*","area":%q,"unit":%q,"reason":"e2e"}`, id, cell, unit))
}

// someComponent returns the identifier and class of a component listed by node n.
func someComponent(t testing.TB, n *node, city *fixtures.City) (id, class string) {
	t.Helper()
	b := mustSend(t, 200, "GET", fmt.Sprintf("%s/api/v1/components?bbox=%v,%v,%v,%v&limit=1",
		n.base, city.Bound.Min[0], city.Bound.Min[1], city.Bound.Max[0], city.Bound.Max[1]), "")
	var fc struct {
		Features []struct {
			Properties struct{ ID, Class string } `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil || len(fc.Features) == 0 {
		t.Fatalf("component listing %s: %v", b, err)
	}
	return fc.Features[0].Properties.ID, fc.Features[0].Properties.Class
}

// nearestIs reports whether the node's nearest component of class at p is id, within a metre.
func (n *node) nearestIs(p orb.Point, id, class string) (bool, string) {
	status, b, err := send("GET", fmt.Sprintf("%s/api/v1/nearest?lon=%v&lat=%v&k=1&class=%s", n.base, p[0], p[1], class), "")
	if err != nil || status != 200 {
		return false, fmt.Sprintf("%d %s %v", status, b, err)
	}
	var fc struct {
		Features []struct {
			Properties struct {
				ID       string  `json:"id"`
				Distance float64 `json:"distance"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil || len(fc.Features) == 0 {
		return false, string(b)
	}
	f := fc.Features[0].Properties
	return f.ID == id && f.Distance < 1, string(b)
}

// TestE2EDemoTwoNodes starts two nodes with -demo at once on an empty database: one imports
// the demo city, the other waits for it and imports nothing, and both serve the same city.
func TestE2EDemoTwoNodes(t *testing.T) {
	pgURL := pgtest.NewDB(t) // skips without PostgreSQL, fails under CI=true
	a := spawnNode(t, "A", pgURL, freeAddr(t), "-demo")
	b := spawnNode(t, "B", pgURL, freeAddr(t), "-demo")
	waitReady(t, a.base, a.done)
	waitReady(t, b.base, b.done)
	imports := strings.Count(a.logs.String(), "demo city ready") + strings.Count(b.logs.String(), "demo city ready")
	if imports != 1 {
		t.Errorf("the demo city was imported %d times by two nodes starting together, want once", imports)
	}
	var counts [2]string
	for i, n := range []*node{a, b} {
		status, body, err := send("GET", n.base+"/readyz", "")
		if err != nil || status != 200 {
			t.Fatalf("node %s /readyz = %d %s (%v)", n.name, status, body, err)
		}
		var r struct{ Cells, Components int }
		if err := json.Unmarshal(body, &r); err != nil || r.Cells == 0 || r.Components == 0 {
			t.Fatalf("node %s /readyz = %s (%v), want the demo city's counts", n.name, body, err)
		}
		counts[i] = fmt.Sprint(r.Cells, r.Components)
	}
	if counts[0] != counts[1] {
		t.Errorf("the nodes hold different cities: %s and %s cells/components", counts[0], counts[1])
	}
}

func TestE2EMultiNode(t *testing.T) {
	pgURL := pgtest.NewDB(t) // skips without PostgreSQL, fails under CI=true
	dir := t.TempDir()
	for range 2 { // idempotent
		if r := mustRun(t, "migrate", "-pg", pgURL); !strings.Contains(r.stdout, "up to date") {
			t.Fatalf("migrate: %s", r.stdout)
		}
	}
	city := importCity(t, dir, "-pg", pgURL)
	a := startNode(t, "A", pgURL, freeAddr(t))
	b := startNode(t, "B", pgURL, freeAddr(t))
	pr := probes(t, city, 4)

	// (a) A write through A is answered by B within a second.
	before, err := b.lookup(pr[0].p)
	if err != nil || before.Rule.ID == "e2e-rule-a" {
		t.Fatalf("B's lookup before the write = %+v, %v", before, err)
	}
	putRule(t, a, "e2e-rule-a", "e2e-unit-a", pr[0].cell)
	lag := waitRule(t, b, pr[0].p, "e2e-rule-a", "e2e-unit-a", time.Second)
	t.Logf("(a) write through A answered by B after %v", lag)

	// (b) Writes while B is down are all in B's answers once it is back.
	b.kill(t)
	putRule(t, a, "e2e-rule-b", "e2e-unit-b", pr[1].cell)
	compID, class := someComponent(t, a, city)
	moveTo := pr[2].p
	mustSend(t, 200, "PATCH", a.base+"/api/v1/components/"+compID,
		fmt.Sprintf(`{"type":"Feature","properties":{"note":"moved by e2e"},"geometry":{"type":"Point","coordinates":[%v,%v]}}`, moveTo[0], moveTo[1]),
		"If-Match", "*")
	b = startNode(t, "B (restarted)", pgURL, freeAddr(t))
	if ok, got, err := b.answersRule(pr[1].p, "e2e-rule-b", "e2e-unit-b"); !ok {
		t.Errorf("restarted B: lookup %v = %+v (%v), want rule e2e-rule-b written while it was down", pr[1].p, got, err)
	}
	if ok, got := b.nearestIs(moveTo, compID, class); !ok {
		t.Errorf("restarted B: nearest %s at %v = %s, want %s moved there while B was down", class, moveTo, got, compID)
	}
	// … and it follows again.
	putRule(t, a, "e2e-rule-c", "e2e-unit-c", pr[3].cell)
	lag = waitRule(t, b, pr[3].p, "e2e-rule-c", "e2e-unit-c", time.Second)
	t.Logf("(b) after B's restart, write through A answered by B after %v", lag)

	// Both nodes agree on the whole feed.
	var ra, rb map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		ra, rb = readyz(t, a), readyz(t, b)
		if ra["applied_seq"] != nil && ra["applied_seq"] == rb["applied_seq"] || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ra["applied_seq"] == nil || ra["applied_seq"] != rb["applied_seq"] || ra["components"] != rb["components"] || ra["rules"] != rb["rules"] {
		t.Errorf("/readyz: A %v, B %v; want the same applied_seq and counts", ra, rb)
	}
}

func readyz(t testing.TB, n *node) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustSend(t, 200, "GET", n.base+"/readyz", ""), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// pgUnavailable skips t, or fails it under CI=true, as pgtest does.
func pgUnavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; this test is required under CI=true", msg)
	}
	t.Skipf("\n*** SKIPPING: %s.", msg)
}

const pgBin = "/usr/lib/postgresql/15/bin"

// cluster is a throw-away PostgreSQL server of the test's own, which it may restart.
type cluster struct {
	opts      string // the server options it was started with
	dir, data string
	url       string // of database citygrid, with the password
	password  string
}

// pgctl runs pg_ctl as the postgres user with the server log in dir/log. Its output goes to a
// file, not a pipe: the server it starts inherits the descriptors and would hold a pipe open.
func (c *cluster) pgctl(t testing.TB, args ...string) {
	t.Helper()
	out, err := os.CreateTemp(c.dir, "pg_ctl-*.out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", c.data,
		"-l", filepath.Join(c.dir, "log")}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_ctl %s: %v\n%s\n%s", strings.Join(args, " "), err, readFile(out.Name()), readFile(filepath.Join(c.dir, "log")))
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// startCluster initdbs a cluster in a temporary directory owned by the postgres OS user,
// with password (SCRAM) authentication over TCP, starts it on a free port and creates
// database citygrid with PostGIS. It is stopped and removed when t ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		pgUnavailable(t, "starting a PostgreSQL cluster of its own needs root (to run initdb as the postgres user)")
	}
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			pgUnavailable(t, fmt.Sprintf("PostgreSQL 15 binaries missing (%v); apt-get install postgresql-15 postgresql-15-postgis-3", err))
		}
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		pgUnavailable(t, "runuser is missing")
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		pgUnavailable(t, "no postgres OS user: "+err.Error())
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)

	// Not t.TempDir: its parents are private to root, and the postgres user must reach it.
	dir, err := os.MkdirTemp("", "citygrid-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{dir: dir, data: filepath.Join(dir, "data"), password: "e2e-Pw-" + strconv.Itoa(os.Getpid())}
	started := false
	t.Cleanup(func() {
		if started {
			exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", c.data, "-m", "immediate", "-w", "stop").Run()
		}
		os.RemoveAll(dir)
	})
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(c.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, pw} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "initdb"), "-D", c.data, "-U", "postgres",
		"--pwfile="+pw, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	c.opts = opts
	c.pgctl(t, "-o", opts, "-w", "-t", "30", "start")
	started = true

	admin := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", c.password, port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test cluster: %v", err)
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE citygrid")
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.url = fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/citygrid?sslmode=disable", c.password, port)
	conn, err = pgx.Connect(ctx, c.url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE EXTENSION postgis")
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("create extension postgis: %v", err)
	}
	return c
}

// TestE2EPostgresRestart runs two nodes on a cluster of the test's own, restarts the cluster
// and checks that the nodes reconnect by themselves and B follows a write made through A after
// the restart. The cluster requires a password, which must never appear in any output.
func TestE2EPostgresRestart(t *testing.T) {
	c := startCluster(t)
	dir := t.TempDir()
	var outputs []string
	for range 2 {
		r := mustRun(t, "migrate", "-pg", c.url)
		outputs = append(outputs, r.stdout, r.stderr)
	}
	city := importCity(t, dir, "-pg", c.url)
	a := startNode(t, "A", c.url, freeAddr(t))
	b := startNode(t, "B", c.url, freeAddr(t))
	pr := probes(t, city, 3)
	putRule(t, a, "e2e-before", "e2e-unit-before", pr[0].cell)
	waitRule(t, b, pr[0].p, "e2e-before", "e2e-unit-before", time.Second)

	start := time.Now()
	c.pgctl(t, "-m", "fast", "-w", "-t", "30", "restart")
	t.Logf("PostgreSQL restarted in %v", time.Since(start).Round(time.Millisecond))

	// The pools' idle connections died with the server: the first statement on one fails,
	// and the store retries on a new connection. So the first requests after the restart
	// succeed; while the database is really down a request gets 503 store_unavailable with
	// Retry-After, never a 500.
	if status, body, err := send("GET", b.base+"/api/v1/changes?since=0&limit=1", ""); err != nil || status != 200 {
		t.Errorf("GET /api/v1/changes through B right after the restart = %d %s (%v), want 200", status, bytes.TrimSpace(body), err)
	}
	unit := fmt.Sprintf(`{"id":"e2e-unit-after","name":"e2e after","type":"public_service_unit","districts":[%q]}`, pr[1].cell[:6])
	rule := fmt.Sprintf(`{"id":"e2e-after","order":-1000,"class":"*","area":%q,"unit":"e2e-unit-after","reason":"e2e"}`, pr[1].cell)
	var failures []string
	deadline := time.Now().Add(20 * time.Second)
	for _, w := range []struct{ path, body string }{{"/api/v1/units/e2e-unit-after", unit}, {"/api/v1/rules/e2e-after", rule}} {
		for {
			status, body, err := send("PUT", a.base+w.path, w.body)
			// 201 creates; 428 (a replace needs If-Match) finds what an attempt whose answer was
			// lost already wrote.
			if err == nil && (status == 201 || status == 428) {
				break
			}
			failures = append(failures, fmt.Sprintf("%d %s %v", status, bytes.TrimSpace(body), err))
			if status == 500 {
				t.Errorf("PUT %s through A after the restart: %d %s, want success or 503 store_unavailable", w.path, status, bytes.TrimSpace(body))
			}
			if time.Now().After(deadline) {
				t.Fatalf("PUT %s through A kept failing after the restart: %q", w.path, failures)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	written := time.Now()
	t.Logf("write through A succeeded %v after the restart began, after %d failed attempts", written.Sub(start).Round(time.Millisecond), len(failures))
	if len(failures) > 0 {
		t.Errorf("writes through A failed after the database was back: %q", failures)
	}
	lag := waitRule(t, b, pr[1].p, "e2e-after", "e2e-unit-after", 5*time.Second)
	t.Logf("(c) B answered the write through A %v after it was made", lag)

	// With the database down, a write is 503 store_unavailable with Retry-After (the cause
	// logged), and it stores nothing: once the database is back, the unit is not there.
	c.pgctl(t, "-m", "fast", "-w", "-t", "30", "stop")
	req, _ := http.NewRequest("PUT", a.base+"/api/v1/units/e2e-unit-down", strings.NewReader(
		fmt.Sprintf(`{"id":"e2e-unit-down","name":"e2e down","type":"public_service_unit","districts":[%q]}`, pr[1].cell[:6])))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	downBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !bytes.Contains(downBody, []byte(`"code":"store_unavailable"`)) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("PUT a unit through A with the database down = %d %s (Retry-After %q), want 503 store_unavailable with Retry-After",
			resp.StatusCode, bytes.TrimSpace(downBody), resp.Header.Get("Retry-After"))
	}
	c.pgctl(t, "-o", c.opts, "-w", "-t", "30", "start")
	if status, body, err := send("GET", a.base+"/api/v1/units/e2e-unit-down", ""); err != nil || status != 404 {
		t.Errorf("GET the unit PUT while the database was down = %d %s (%v), want 404", status, bytes.TrimSpace(body), err)
	}
	if !strings.Contains(a.logs.String(), "database unavailable") {
		t.Errorf("A's logs do not give the cause of the 503:\n%s", a.logs.String())
	}

	// Both nodes are still whole: B's own writes work too, and A follows them.
	putRule(t, b, "e2e-from-b", "e2e-unit-from-b", pr[2].cell)
	waitRule(t, a, pr[2].p, "e2e-from-b", "e2e-unit-from-b", time.Second)

	logsB := b.logs.String()
	if !strings.Contains(logsB, "reconnect") {
		t.Errorf("B's logs do not mention reconnecting after the restart:\n%s", logsB)
	}
	for _, out := range append(outputs, a.logs.String(), logsB, strings.Join(failures, "\n")) {
		if strings.Contains(out, c.password) {
			t.Fatalf("the database password appears in an output:\n%s", out)
		}
	}
}
