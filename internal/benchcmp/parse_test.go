package main

import (
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"

	"citygrid/registry"
)

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:8080
  2 threads and 2 connections
RESULT requests=200000 duration_s=10.000000 p50_us=65 p90_us=120 p99_us=480 errors=0 non2xx=10000
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatalf("parseWrk: %v", err)
	}
	want := wrkResult{Requests: 200000, Duration: 10 * time.Second, P50: 65 * time.Microsecond,
		P90: 120 * time.Microsecond, P99: 480 * time.Microsecond, Non2xx: 10000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseWrk mismatch (-want +got):\n%s", diff)
	}
	if r := got.rate(); r != 20000 {
		t.Errorf("rate() = %g, want 20000", r)
	}
	for _, bad := range []string{"no result here", "RESULT requests=0 duration_s=1 p50_us=1 p90_us=1 p99_us=1 errors=0 non2xx=0", "RESULT requests=x"} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q) = nil error, want one", bad)
		}
	}
}

func TestParsePgbenchTPS(t *testing.T) {
	out := "number of failed transactions: 0 (0.000%)\nlatency average = 0.090 ms\ninitial connection time = 3.1 ms\ntps = 22082.123456 (without initial connection time)\n"
	got, err := parsePgbenchTPS(out)
	if err != nil || got != 22082.123456 {
		t.Errorf("parsePgbenchTPS = %g, %v, want 22082.123456, nil", got, err)
	}
	if _, err := parsePgbenchTPS("latency average = 1 ms\n"); err == nil {
		t.Error("parsePgbenchTPS(no tps line) = nil error, want one")
	}
}

func TestReadPgbenchLog(t *testing.T) {
	// Two clients interleaved; the time field (third) is ignored, as pgbench 15 logs 0 for
	// many fast transactions.
	log := `0 0 552 0 1795720230 592900
1 0 661 0 1795720230 592950
0 1 0 0 1795720230 592960
0 2 0 0 1795720231 000010
1 1 70 0 1795720231 000000
`
	path := filepath.Join(t.TempDir(), "pgbench_log.1")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	lat, done, err := readPgbenchLog(path)
	if err != nil {
		t.Fatalf("readPgbenchLog: %v", err)
	}
	wantLat := []time.Duration{60 * time.Microsecond, 407050 * time.Microsecond, 407050 * time.Microsecond}
	if diff := cmp.Diff(wantLat, lat); diff != "" {
		t.Errorf("latencies mismatch (-want +got):\n%s", diff)
	}
	wantDone := []int64{1795720230592900, 1795720230592950, 1795720230592960, 1795720231000010, 1795720231000000}
	if diff := cmp.Diff(wantDone, done); diff != "" {
		t.Errorf("completion times mismatch (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(path, []byte("0 1 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readPgbenchLog(path); err == nil {
		t.Error("readPgbenchLog(short line) = nil error, want one")
	}
}

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks; the command name holds a space and a parenthesis.
	stat := "4242 (citygrid (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v, want 3s, nil", got, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1"); err == nil {
		t.Error("parseStatCPU(short) = nil error, want one")
	}
	self, err := procCPU(os.Getpid())
	if err != nil || self < 0 {
		t.Errorf("procCPU(self) = %v, %v, want a non-negative duration", self, err)
	}
}

func TestBatchCells(t *testing.T) {
	body := `{"results":[{"point":[1,2],"cell":{"code":"500103001001001"},"unit":null},` +
		`{"error":{"code":"outside_grid","detail":"x"}}]}`
	got, err := batchCells([]byte(body), 2)
	if err != nil {
		t.Fatalf("batchCells: %v", err)
	}
	if want := []string{"500103001001001", ""}; !cmp.Equal(want, got) {
		t.Errorf("batchCells = %q, want %q", got, want)
	}
	for name, tc := range map[string]struct {
		body string
		n    int
	}{
		"count":        {body, 3},
		"other error":  {`{"results":[{"error":{"code":"invalid_point"}}]}`, 1},
		"empty result": {`{"results":[{}]}`, 1},
		"not json":     {`{`, 1},
	} {
		if _, err := batchCells([]byte(tc.body), tc.n); err == nil {
			t.Errorf("batchCells(%s) = nil error, want one", name)
		}
	}
}

func TestFeatureIDs(t *testing.T) {
	ids, next, err := featureIDs([]byte(`{"type":"FeatureCollection","features":[{"id":"a"},{"id":7}],"next":"abc"}`))
	if err != nil || !next || !cmp.Equal(ids, []string{"a", "7"}) {
		t.Errorf("featureIDs = %q, %t, %v, want [a 7], true, nil", ids, next, err)
	}
	ids, next, err = featureIDs([]byte(`{"features":[],"next":null}`))
	if err != nil || next || len(ids) != 0 {
		t.Errorf("featureIDs(last empty page) = %q, %t, %v, want [], false, nil", ids, next, err)
	}
}

func TestEWKB(t *testing.T) {
	// SELECT ST_AsEWKB('SRID=4326;POINT(1 2)'::geometry) in little-endian hex.
	if got, want := hex.EncodeToString(ewkbPoint(orb.Point{1, 2})), "0101000020e6100000000000000000f03f0000000000000040"; got != want {
		t.Errorf("ewkbPoint(1 2) = %s, want %s", got, want)
	}
	mp := orb.MultiPolygon{{square(0, 0, 1, 1)}}
	want := "0106000020e610000001000000" + // multipolygon, SRID 4326, 1 polygon
		"010300000001000000" + "05000000" + // polygon, 1 ring, 5 points
		"00000000000000000000000000000000" + "000000000000f03f0000000000000000" +
		"000000000000f03f000000000000f03f" + "0000000000000000000000000000f03f" +
		"00000000000000000000000000000000"
	if got := hex.EncodeToString(ewkbMultiPolygon(mp)); got != want {
		t.Errorf("ewkbMultiPolygon(unit square) =\n%s, want\n%s", got, want)
	}
}

func TestPutDate(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, "ffffffff"},
		{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "00000004" + "00000000"},
		{time.Date(2000, 1, 2, 15, 0, 0, 0, time.UTC), "00000004" + "00000001"},
		{time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), "00000004" + "ffffffff"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(putDate(nil, tt.in)); got != tt.want {
			t.Errorf("putDate(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCopySource(t *testing.T) {
	rows := []string{"a", "", "ccc"}
	src := newCopySource(len(rows), func(b []byte, i int) []byte {
		b = append(b, 0, 1)
		return putText(b, rows[i])
	})
	var sb strings.Builder
	buf := make([]byte, 3) // small reads exercise the partial copies
	for {
		n, err := src.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	want := string(copyHeader) +
		"\x00\x01\x00\x00\x00\x01a" +
		"\x00\x01\xff\xff\xff\xff" +
		"\x00\x01\x00\x00\x00\x03ccc" +
		"\xff\xff"
	if got := sb.String(); got != want {
		t.Errorf("copy stream = %q, want %q", got, want)
	}
}

func TestStats(t *testing.T) {
	tests := []struct {
		in            runs
		med, min, max float64
	}{
		{runs{3, 1, 2}, 2, 1, 3},
		{runs{4, 1, 3, 2}, 2.5, 1, 4},
		{runs{7}, 7, 7, 7},
	}
	for _, tt := range tests {
		if got := tt.in.median(); got != tt.med {
			t.Errorf("%v.median() = %g, want %g", tt.in, got, tt.med)
		}
		if got := tt.in.min(); got != tt.min {
			t.Errorf("%v.min() = %g, want %g", tt.in, got, tt.min)
		}
		if got := tt.in.max(); got != tt.max {
			t.Errorf("%v.max() = %g, want %g", tt.in, got, tt.max)
		}
	}
	if got := (runs{}).median(); !math.IsNaN(got) {
		t.Errorf("runs{}.median() = %g, want NaN", got)
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Millisecond // 100 ms … 1 ms, unsorted
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{0.5, time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("percentile(1…100 ms, %g) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil, 50) = %v, want 0", got)
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1234567.4, "1,234,567"},
		{999, "999"},
		{1000, "1,000"},
		{-12345, "-12,345"},
		{3.14159, "3.14"},
		{math.NaN(), "–"},
	}
	for _, tt := range tests {
		if got := group(tt.in); got != tt.want {
			t.Errorf("group(%g) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCompareNearest(t *testing.T) {
	pts := map[string]orb.Point{
		"a": {106.5, 29.5}, "b": {106.5001, 29.5}, "c": {106.5, 29.5001}, "d": {106.4999, 29.5}, "e": {106.6, 29.6},
	}
	pointOf := func(id string) (orb.Point, bool) { p, ok := pts[id]; return p, ok }
	q := orb.Point{106.5, 29.5}
	queries := []orb.Point{q, q, q, q}
	a := [][]string{{"a", "b"}, {"a", "b"}, {"a", "b"}, {"a", "b"}}
	b := [][]string{
		{"a", "b"}, // identical
		{"b", "a"}, // same set
		{"a", "d"}, // b and d are equally far (0.0001° of longitude either side)
		{"a", "e"}, // a real difference
	}
	got := compareNearest(a, b, queries, pointOf, 1e-3)
	if got.Equal != 1 || got.SameSet != 1 || got.Ties != 1 || got.Differ != 1 || len(got.Examples) != 1 {
		t.Errorf("compareNearest = %+v, want 1 equal, 1 same set, 1 tie, 1 differing with an example", got)
	}
}

func TestDiffIndices(t *testing.T) {
	ts := []truth{{Code: "A"}, {}, {Code: "B"}}
	if got := diffIndices([]registry.GridCode{"A", "", "C"}, ts); !cmp.Equal(got, []int{2}) {
		t.Errorf("diffIndices = %v, want [2]", got)
	}
	if got := diffIndices(nil, ts); !cmp.Equal(got, []int{0, 1, 2}) {
		t.Errorf("diffIndices(nil) = %v, want [0 1 2]", got)
	}
}

func TestRedact(t *testing.T) {
	if got := redact("postgres://u:secret@h:5432/db"); strings.Contains(got, "secret") {
		t.Errorf("redact = %q, still holds the password", got)
	}
	if got := redact("postgres://u@h/db"); got != "postgres://u@h/db" {
		t.Errorf("redact(no password) = %q, want it unchanged", got)
	}
}

func TestParseProcStat(t *testing.T) {
	// user 100, nice 1, system 50, idle 900, iowait 20, irq 2, softirq 3, steal 4 ticks.
	got, err := parseProcStat("cpu  100 1 50 900 20 2 3 4 0 0")
	if want := 155 * time.Second / clockTicks; err != nil || got != want {
		t.Errorf("parseProcStat = %v, %v, want %v, nil", got, err, want)
	}
	for _, bad := range []string{"cpu0 1 2 3 4 5 6 7 8", "cpu 1 2", "cpu a b c d e f g h"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) = nil error, want one", bad)
		}
	}
	if _, err := machineBusy(); err != nil {
		t.Errorf("machineBusy: %v", err)
	}
}

func TestWindow(t *testing.T) {
	w := window{Wall: 2 * time.Second, Server: time.Second, Client: 500 * time.Millisecond, Machine: 2500 * time.Millisecond}
	if got := w.others(); got != 0.5 {
		t.Errorf("others() = %g cores, want 0.5", got)
	}
	srv, cli := w.perOp(1000)
	if srv != time.Millisecond || cli != 500*time.Microsecond {
		t.Errorf("perOp(1000) = %v, %v, want 1ms, 500µs", srv, cli)
	}
	if srv, cli := (window{}).perOp(1000); srv != 0 || cli != 0 {
		t.Errorf("window{}.perOp = %v, %v, want 0, 0", srv, cli)
	}
	// Sampling noise can make the rest negative; it is reported as 0.
	if got := (window{Wall: time.Second, Server: time.Second, Machine: 900 * time.Millisecond}).others(); got != 0 {
		t.Errorf("others() = %g, want 0", got)
	}
	if got := (window{}).others(); !math.IsNaN(got) {
		t.Errorf("window{}.others() = %g, want NaN", got)
	}
}
