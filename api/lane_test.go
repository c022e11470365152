package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"citygrid/api"
	"citygrid/spatial"
)

// startLane serves a new Server over e's index through a Lane on a free port.
func startLane(t *testing.T, e *env, log *slog.Logger) string {
	t.Helper()
	srv := api.NewServer(api.Config{Index: e.idx, Service: e.svc, Log: log, Registry: prometheus.NewRegistry()})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	lane := srv.NewLane(hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- lane.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := lane.Shutdown(ctx); err != nil {
			t.Errorf("lane.Shutdown: %v", err)
		}
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http.Server.Shutdown: %v", err)
		}
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("lane.Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestLaneAnswersAsGin: every lookup, good or bad, gets the same status, Content-Type and
// body from the Lane (one keep-alive connection, raw HTTP/1.1) as from the gin route.
func TestLaneAnswersAsGin(t *testing.T) {
	e := sharedEnv(t)
	addr := startLane(t, e, nil)
	var targets []string
	for n := range 12 {
		p, _ := cellPoint(t, e.idx, n*13)
		targets = append(targets, fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1]))
	}
	hits, _, err := e.idx.Within(cityBound(t, e.idx), spatial.Filter{}, 20, 0)
	if err != nil || len(hits) == 0 {
		t.Fatalf("Within: %d hits, %v", len(hits), err)
	}
	for _, h := range hits {
		targets = append(targets, fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v&class=%s", h.Point[0], h.Point[1], h.Class))
	}
	p, _ := cellPoint(t, e.idx, 5)
	for _, name := range []string{"gcj02", "bd09"} {
		crs, _ := spatial.ParseCRS(name)
		q := spatial.FromWGS84(p, crs)
		targets = append(targets, fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v&crs=%s", q[0], q[1], name))
	}
	lon, lat := fmt.Sprint(p[0]), fmt.Sprint(p[1])
	v := url.Values{"lat": {lat}, "lon": {lon}}
	targets = append(targets,
		"/api/v1/lookup?x=1&"+strings.ReplaceAll(v.Encode(), ".", "%2E"),
		"/api/v1/lookup",
		"/api/v1/lookup?",
		"/api/v1/lookup?lon="+lon,
		"/api/v1/lookup?lon=NaN&lat="+lat,
		"/api/v1/lookup?lon=%zz&lat="+lat,
		"/api/v1/lookup?lon=1e999&lat="+lat,
		"/api/v1/lookup?lon="+lon+"&lat="+lat+"&crs=epsg3857",
		"/api/v1/lookup?lon="+lon+"&lat="+lat+"&class=manhole",
		"/api/v1/lookup?lon="+lon+"&lat="+lat+"&class=%3Cscript%3E",
		"/api/v1/lookup?lon=0&lat=0",
		"/api/v1/lookup/?lon="+lon+"&lat="+lat, // not the route: net/http and gin answer 404
	)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, target := range targets {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: citygrid\r\nUser-Agent: dispatch\r\n\r\n", target); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := e.do(t, "GET", target, "")
		if resp.StatusCode != want.Code || resp.Header.Get("Content-Type") != want.Header().Get("Content-Type") ||
			string(body) != want.Body.String() {
			t.Errorf("GET %s:\nlane %d %s %s\ngin  %d %s %s", target, resp.StatusCode, resp.Header.Get("Content-Type"), body,
				want.Code, want.Header().Get("Content-Type"), want.Body)
		}
		if resp.ContentLength != int64(len(body)) || resp.Header.Get("Date") == "" {
			t.Errorf("GET %s: Content-Length %d for %d bytes, Date %q", target, resp.ContentLength, len(body), resp.Header.Get("Date"))
		}
	}
}

// TestLaneMetricsAndLogs: requests the Lane answers are counted under the lookup route and
// logged like gin's, 4xx at info.
func TestLaneMetricsAndLogs(t *testing.T) {
	e := sharedEnv(t)
	logs := &countLogs{}
	addr := startLane(t, e, slog.New(logs))
	p, _ := cellPoint(t, e.idx, 2)
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	get := func(target string) string {
		t.Helper()
		resp, err := client.Get("http://" + addr + target)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for range 7 {
		get(fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1]))
	}
	for range 3 {
		get("/api/v1/lookup?lon=0&lat=0")
	}
	metrics := get("/metrics")
	for status, want := range map[string]int{"2xx": 7, "4xx": 3} {
		re := regexp.MustCompile(`citygrid_http_request_duration_seconds_count\{route="/api/v1/lookup",status="` + status + `"\} (\d+)`)
		m := re.FindStringSubmatch(metrics)
		if m == nil {
			t.Errorf("no %s count for the lookup route in /metrics", status)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n != want {
			t.Errorf("lookup %s count = %d, want %d", status, n, want)
		}
	}
	// countLogs takes every level: 10 lookups and the /metrics request, one line each.
	if n := logs.count("http request"); n != 11 {
		t.Errorf("%d request log lines, want 11", n)
	}
}

// TestLaneLookupAllocs: answering a lookup on the Lane allocates nothing, 404s aside.
func TestLaneLookupAllocs(t *testing.T) {
	e := sharedEnv(t)
	srv := api.NewServer(api.Config{Index: e.idx, Service: e.svc})
	p, _ := cellPoint(t, e.idx, 4)
	q := fmt.Sprintf("lon=%v&lat=%v", p[0], p[1])
	buf := make([]byte, 0, 4096)
	if status, _, body := srv.LaneLookup(buf, q); status != http.StatusOK {
		t.Fatalf("lookup: %d %s", status, body)
	}
	if n := testing.AllocsPerRun(200, func() { srv.LaneLookup(buf, q) }); n != 0 {
		t.Errorf("%v allocations per lookup, want 0", n)
	}
}
