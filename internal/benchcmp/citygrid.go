package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"citygrid/registry"
)

//go:embed lookup.lua
var lookupLua []byte

// buildBinary builds bin/citygrid from the module at root, as `make build` does.
func buildBinary(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, "bin", "citygrid")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/citygrid")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/citygrid: %w\n%s", err, out)
	}
	return bin, nil
}

// importTimes are the wall-clock seconds of one fresh import, per census kind.
type importTimes struct {
	Cells, Units, Rules, Components float64
	StoreBytes                      int64
	ComponentsPeakRSS               int64 // the components import's peak RSS (ru_maxrss), bytes
}

// importStore imports the fixture files into a fresh store file db with the real CLI, one
// `citygrid import` process per kind (cells, units, rules, components), and times each.
func importStore(ctx context.Context, bin, db string, ds *dataset) (importTimes, error) {
	var t importTimes
	for _, suffix := range []string{"", "-lock"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return t, err
		}
	}
	steps := []struct {
		kind, file string
		dst        *float64
		want       int
	}{
		{"cells", "cells.geojson", &t.Cells, len(ds.City.Cells)},
		{"units", "units.json", &t.Units, len(ds.City.Units)},
		{"rules", "rules.json", &t.Rules, len(ds.City.Rules)},
		{"components", "components.csv", &t.Components, len(ds.City.Components)},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, bin, "import", "-db", db, "-kind", s.kind, "-actor", "benchcmp", filepath.Join(ds.Dir, s.file))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		*s.dst = time.Since(start).Seconds()
		if s.kind == "components" && cmd.ProcessState != nil {
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				t.ComponentsPeakRSS = ru.Maxrss << 10 // KiB on Linux
			}
		}
		if err != nil {
			return t, fmt.Errorf("citygrid import -kind %s: %w\n%s", s.kind, err, lastLines(out.String(), 10))
		}
		if want := fmt.Sprintf("created %d,", s.want); !strings.Contains(out.String(), want) {
			return t, fmt.Errorf("citygrid import -kind %s: report lacks %q:\n%s", s.kind, want, lastLines(out.String(), 10))
		}
	}
	if fi, err := os.Stat(db); err == nil {
		t.StoreBytes = fi.Size()
	}
	return t, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// server is a running `citygrid serve`.
type server struct {
	cmd  *exec.Cmd
	URL  string        // http://127.0.0.1:port
	Boot time.Duration // from exec to the first 200 of /readyz
	done chan error
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs `citygrid serve` on db and waits until /readyz answers 200, polling every
// 5 ms. Log level warn: the benchmark's 404s (points outside the grid) would otherwise be
// logged one by one at info.
func startServer(ctx context.Context, bin, db, logPath string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "serve", "-db", db, "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-log-level", "warn")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	for {
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.Boot = time.Since(start)
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("citygrid serve exited before ready: %v\n%s", err, lastLines(string(b), 10))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Since(start) > 5*time.Minute {
			s.stop()
			return nil, errors.New("citygrid serve not ready after 5 minutes")
		}
	}
}

// stop sends SIGTERM and waits for the process (SIGKILL after 30 s).
func (s *server) stop() error {
	if s == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil // terminated by our signal
		}
		return err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		return <-s.done
	}
}

// metric reads one unlabelled sample of /metrics (e.g. process_resident_memory_bytes).
func (s *server) metric(name string) (float64, error) {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// wrkResult is what lookup.lua's done() prints, with the CPU figures of the run.
type wrkResult struct {
	Requests      int
	Duration      time.Duration
	P50, P90, P99 time.Duration
	Errors        int // socket errors
	Non2xx        int
	Window        window // zero when the run was too short or no server was named
}

func (r wrkResult) rate() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// parseWrk finds the RESULT line of lookup.lua in wrk's output.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "RESULT ") {
			continue
		}
		var dur float64
		var p50, p90, p99 int64
		_, err := fmt.Sscanf(line, "RESULT requests=%d duration_s=%g p50_us=%d p90_us=%d p99_us=%d errors=%d non2xx=%d",
			&r.Requests, &dur, &p50, &p90, &p99, &r.Errors, &r.Non2xx)
		if err != nil {
			return r, fmt.Errorf("wrk result %q: %w", line, err)
		}
		r.Duration = time.Duration(dur * float64(time.Second))
		r.P50, r.P90, r.P99 = time.Duration(p50)*time.Microsecond, time.Duration(p90)*time.Microsecond, time.Duration(p99)*time.Microsecond
		if r.Requests <= 0 || r.Duration <= 0 {
			return r, fmt.Errorf("wrk result %q: no requests", line)
		}
		return r, nil
	}
	return r, fmt.Errorf("no RESULT line in wrk output:\n%s", lastLines(out, 10))
}

// runWrk runs wrk with lookup.lua: 2 threads, conns connections, for d. With points "" it
// GETs path instead of the lookups. server, when not 0, is the pid whose CPU is sampled.
func runWrk(ctx context.Context, script, url, points, path string, conns int, d time.Duration, server int) (wrkResult, error) {
	return runWrkEnv(ctx, script, url, conns, d, server, "POINTS="+points, "WRK_PATH="+path)
}

// runWrkEnv runs wrk with script and the extra environment env; the script's done() prints
// the RESULT line parseWrk reads.
func runWrkEnv(ctx context.Context, script, url string, conns int, d time.Duration, server int, env ...string) (wrkResult, error) {
	threads := min(2, conns)
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second))), "--timeout", "5s", "-s", script, url)
	cmd.Env = append(append(os.Environ(), "WRK_THREADS="+strconv.Itoa(threads)), env...)
	servers := func() ([]int, error) {
		if server == 0 {
			return nil, nil
		}
		return []int{server}, nil
	}
	out, w, err := runSampled(ctx, cmd, d, servers)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, lastLines(string(out), 10))
	}
	r, err := parseWrk(string(out))
	r.Window = w
	if err == nil && r.Errors > 0 {
		err = fmt.Errorf("wrk: %d socket errors", r.Errors)
	}
	return r, err
}

// ensureWrk installs the Debian package wrk when the command is missing.
func ensureWrk(ctx context.Context, logf func(string, ...any)) error {
	if _, err := exec.LookPath("wrk"); err == nil {
		return nil
	}
	logf("wrk missing: apt-get install -y wrk")
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "wrk")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install wrk: %w\n%s", err, lastLines(string(out), 10))
	}
	return nil
}

// newClient is a keep-alive HTTP client for one sequential caller.
func newClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 4, DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
}

// fetch does one request and returns the body; a status other than 200 is an error unless
// okStatus lists it.
func fetch(c *http.Client, req *http.Request, buf *bytes.Buffer, okStatus ...int) ([]byte, int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK && !containsInt(okStatus, resp.StatusCode) {
		return buf.Bytes(), resp.StatusCode, fmt.Errorf("%s %s: status %d: %.200s", req.Method, req.URL, resp.StatusCode, buf.Bytes())
	}
	return buf.Bytes(), resp.StatusCode, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// batchAnswer is the part of POST /api/v1/lookup's answer the correctness check reads.
type batchAnswer struct {
	Results []struct {
		Cell *struct {
			Code string `json:"code"`
		} `json:"cell"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	} `json:"results"`
}

// batchCells decodes a batch answer to one cell code per point ("" for outside_grid).
func batchCells(body []byte, n int) ([]string, error) {
	var a batchAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decode lookup batch: %w", err)
	}
	if len(a.Results) != n {
		return nil, fmt.Errorf("lookup batch: %d results, want %d", len(a.Results), n)
	}
	out := make([]string, n)
	for i, r := range a.Results {
		switch {
		case r.Cell != nil:
			out[i] = r.Cell.Code
		case r.Error != nil && r.Error.Code == registry.CodeOutsideGrid:
		case r.Error != nil:
			return nil, fmt.Errorf("lookup batch result %d: error %s", i, r.Error.Code)
		default:
			return nil, fmt.Errorf("lookup batch result %d: neither cell nor error", i)
		}
	}
	return out, nil
}

// featureIDs decodes the feature ids and the next cursor of a GeoJSON FeatureCollection page.
func featureIDs(body []byte) (ids []string, next bool, err error) {
	var fc struct {
		Features []struct {
			ID json.RawMessage `json:"id"`
		} `json:"features"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		return nil, false, fmt.Errorf("decode feature collection: %w", err)
	}
	for _, f := range fc.Features {
		var s string
		if json.Unmarshal(f.ID, &s) != nil {
			s = string(f.ID)
		}
		ids = append(ids, s)
	}
	return ids, fc.Next != nil, nil
}

// wrk runs runWrk against the server, sampling the server's CPU.
func (s *server) wrk(ctx context.Context, script, points, path string, conns int, d time.Duration) (wrkResult, error) {
	return runWrk(ctx, script, s.URL, points, path, conns, d, s.cmd.Process.Pid)
}
