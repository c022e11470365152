package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"citygrid/api"
)

// logRecords is a slog handler that keeps every record's message and string attributes.
type logRecords struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, m)
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// find returns the first record with msg whose attribute key has value val.
func (h *logRecords) find(msg, key, val string) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r["msg"] == msg && r[key] == val {
			return r
		}
	}
	return nil
}

// requestCount is the number of requests the duration histogram counted for route and
// status class ("" for every class).
func requestCount(t *testing.T, g prometheus.Gatherer, route, class string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "citygrid_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && (class == "" || labels["status"] == class) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// chainServer is a server over the shared test city with its own metrics registry and a
// log that keeps every record, plus GET /test/panic, a handler that panics.
func chainServer(t *testing.T, cfg api.Config) (routedHandler, *prometheus.Registry, *logRecords) {
	t.Helper()
	e := sharedEnv(t)
	reg := prometheus.NewRegistry()
	logs := &logRecords{}
	cfg.Index, cfg.Service, cfg.Registry, cfg.Log = e.idx, e.svc, reg, slog.New(logs)
	s := api.NewServer(cfg)
	s.HandlePanicForTest("/test/panic")
	return s.Handler().(routedHandler), reg, logs
}

// routedHandler is the server's Handler: the engine behind it lists the routes.
type routedHandler interface {
	http.Handler
	Routes() gin.RoutesInfo
}

// routeTarget turns a route template into a request path.
func routeTarget(path string) string {
	return regexp.MustCompile(`:[a-z]+`).ReplaceAllStringFunc(path, func(p string) string {
		if p == ":kind" {
			return "units" // a census kind, an export kind (404) and a class kind (400) alike
		}
		return "x"
	})
}

type chainCase struct {
	method, target, route string // route: the metrics label ("unmatched" for 404 and 405)
	status                int    // for the 404 and 405 cases: the status only the chain's end gives
	code                  string // and their problem code
	allow                 string // the 405's Allow header
}

// chainCases is one request for every registered route, one for an unknown path (NoRoute)
// and one for a known path with a wrong method (NoMethod).
func chainCases(t *testing.T, eng routedHandler) []chainCase {
	t.Helper()
	var cases []chainCase
	for _, r := range eng.Routes() {
		cases = append(cases, chainCase{method: r.Method, target: routeTarget(r.Path), route: r.Path})
	}
	if len(cases) < 20 {
		t.Fatalf("only %d routes registered", len(cases))
	}
	return append(cases,
		chainCase{method: "GET", target: "/no/such/route", route: "unmatched", status: 404, code: "not_found"},
		chainCase{method: "PUT", target: "/api/v1/lookup", route: "unmatched", status: 405, code: "method_not_allowed", allow: "GET, POST, HEAD, OPTIONS"},
	)
}

// serveShort serves req, giving up on streaming routes after a moment.
func serveShort(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestEveryRouteRunsTheChain walks every registered route (and the 404 and 405 answers)
// and checks that each request passed through each link of the chain: recovery (a panicking
// handler answers 500), the request id (echoed), the access log (a line with that id), the
// metrics (the route's counter moved) and the body limit (a declared Content-Length over the
// route's limit is 413 body_too_large).
func TestEveryRouteRunsTheChain(t *testing.T) {
	cfg := apiConfigSmallBodies()
	eng, reg, logs := chainServer(t, cfg)
	for i, tc := range chainCases(t, eng) {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			id := fmt.Sprintf("chain-%d", i)
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Header.Set("X-Request-Id", id)
			before := requestCount(t, reg, tc.route, "")
			rec := serveShort(eng, req)
			class := map[int]string{1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}[rec.Code/100]
			if tc.status != 0 {
				if rec.Code != tc.status || problemOf(t, rec).Code != tc.code {
					t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.target, rec.Code, short(rec.Body), tc.status, tc.code)
				}
				if got := rec.Header().Get("Allow"); got != tc.allow {
					t.Errorf("Allow = %q, want %q", got, tc.allow)
				}
			}
			if got := rec.Header().Get("X-Request-Id"); got != id {
				t.Errorf("X-Request-Id = %q, want the client's %q (status %d)", got, id, rec.Code)
			}
			line := logs.find("http request", "request_id", id)
			if line == nil {
				t.Errorf("no access log line with request_id %q", id)
			} else if line["route"] != strings.TrimPrefix(tc.route, "unmatched") || line["method"] != tc.method || line["status"] != strconv.Itoa(rec.Code) {
				t.Errorf("access log line %v, want route %q method %s status %d", line, tc.route, tc.method, rec.Code)
			}
			// The counter of this route must move by this request: the 404 and 405 share the
			// label "unmatched", so a count that is merely non-zero proves nothing for the second.
			if n := requestCount(t, reg, tc.route, ""); n != before+1 {
				t.Errorf("metrics: route %q counted %d requests more, want 1", tc.route, n-before)
			}
			if n := requestCount(t, reg, tc.route, class); n == 0 {
				t.Errorf("metrics: no request counted for route %q status %s", tc.route, class)
			}
			if tc.route == "/test/panic" {
				if rec.Code != 500 || problemOf(t, rec).Code != "internal" {
					t.Errorf("panicking handler = %d %s, want 500 internal", rec.Code, rec.Body)
				}
				if logs.find("panic in handler", "request_id", id) == nil {
					t.Errorf("the panic was not logged with its request id")
				}
			}

			limit := cfg.MaxWriteBody
			if tc.route == "/api/v1/census/:kind" {
				limit = cfg.MaxBody
			}
			req = httptest.NewRequest(tc.method, tc.target, strings.NewReader(strings.Repeat(" ", int(limit)+1)))
			rec = serveShort(eng, req)
			if rec.Code != 413 || problemOf(t, rec).Code != "body_too_large" {
				t.Errorf("with a %d-byte body: %d %s, want 413 body_too_large", limit+1, rec.Code, short(rec.Body))
			}
			if got := rec.Header().Get("X-Request-Id"); !hexID.MatchString(got) {
				t.Errorf("generated X-Request-Id = %q, want 32 hex digits", got)
			}
		})
	}
}

// TestRequestIDFromClient: a sane id is echoed, anything else is replaced.
func TestRequestIDFromClient(t *testing.T) {
	eng, _, _ := chainServer(t, api.Config{})
	for _, tt := range []struct {
		name, id string
		echoed   bool
	}{
		{"uuid", "3f0c2a4e-9b1d-4c57-8a3e-1f2d3c4b5a69", true},
		{"one char", "a", true},
		{"all allowed", "A-Z.a_z:0-9", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"space", "a b", false},
		{"slash", "a/b", false},
		{"non-ASCII", "请求", false},
		{"quote", `a"b`, false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			if tt.id != "" {
				req.Header.Set("X-Request-Id", tt.id)
			}
			got := serveShort(eng, req).Header().Get("X-Request-Id")
			if tt.echoed && got != tt.id {
				t.Errorf("X-Request-Id = %q, want %q echoed", got, tt.id)
			}
			if !tt.echoed && !hexID.MatchString(got) {
				t.Errorf("X-Request-Id = %q, want a generated one (32 hex digits)", got)
			}
		})
	}
	a := serveShort(eng, httptest.NewRequest("GET", "/healthz", nil)).Header().Get("X-Request-Id")
	b := serveShort(eng, httptest.NewRequest("GET", "/healthz", nil)).Header().Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

// TestNotReadyWhileLoading: before the index is loaded, every /api/v1 route but the class
// catalogue (reads and writes alike) answers 503 not_ready with Retry-After; /healthz,
// /metrics and the classes are served.
func TestNotReadyWhileLoading(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{}, noLoad: true})
	eng := e.h.(routedHandler)
	served := map[string]bool{"/healthz": true, "/metrics": true, "/api/v1/classes": true, "/api/v1/classes/:kind/:code": true}
	for _, r := range eng.Routes() {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			req := httptest.NewRequest(r.Method, routeTarget(r.Path), strings.NewReader("{}"))
			rec := serveShort(eng, req)
			if r.Path == "/readyz" {
				return // its 503 is its answer (TestHealth)
			}
			if served[r.Path] {
				if rec.Code == 503 {
					t.Errorf("%s %s = 503 while loading, want it served", r.Method, r.Path)
				}
				return
			}
			if rec.Code != 503 || problemOf(t, rec).Code != "not_ready" {
				t.Fatalf("%s %s while loading = %d %s, want 503 not_ready", r.Method, r.Path, rec.Code, short(rec.Body))
			}
			if got := rec.Header().Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
		})
	}
	// A lookup and a cell write with real content: what loading used to answer wrongly.
	p, _ := cellPoint(t, sharedEnv(t).idx, 0)
	runErrCases(t, e, []errCase{
		{name: "lookup", method: "GET", target: fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1]), status: 503, code: "not_ready"},
		{name: "batch", method: "POST", target: "/api/v1/lookup", body: fmt.Sprintf("[[%v,%v]]", p[0], p[1]), status: 503, code: "not_ready"},
		{name: "census", method: "POST", target: "/api/v1/census/units", body: "[]", status: 503, code: "not_ready"},
	})
	if err := e.idx.Load(t.Context(), e.store); err != nil {
		t.Fatal(err)
	}
	if rec := e.do(t, "GET", "/api/v1/units", ""); rec.Code != 200 {
		t.Errorf("GET /api/v1/units after Load = %d, want 200", rec.Code)
	}
}

// TestOverLimitBodyConnection: a declared Content-Length over the limit is 413 on both
// protocols; only an HTTP/1 connection is closed. Over HTTP/2, Connection: close would make
// the server send GOAWAY and end the client's other streams.
func TestOverLimitBodyConnection(t *testing.T) {
	cfg := apiConfigSmallBodies()
	eng, _, _ := chainServer(t, cfg)
	for _, tt := range []struct {
		name       string
		major      int
		connection string
	}{
		{"HTTP/1.1", 1, "close"},
		{"HTTP/2.0", 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/v1/lookup", strings.NewReader(strings.Repeat(" ", int(cfg.MaxWriteBody)+1)))
			req.Proto, req.ProtoMajor, req.ProtoMinor = tt.name, tt.major, tt.major%2
			rec := serveShort(eng, req)
			if rec.Code != 413 || problemOf(t, rec).Code != "body_too_large" {
				t.Fatalf("over-limit body = %d %s, want 413 body_too_large", rec.Code, short(rec.Body))
			}
			if got := rec.Header().Get("Connection"); got != tt.connection {
				t.Errorf("Connection = %q, want %q", got, tt.connection)
			}
		})
	}
}

// TestUndeclaredBodyOverLimit: a body sent without a Content-Length (chunked) is cut at the
// route's limit as the handler reads it: 413 body_too_large from every handler that reads a
// body whole.
func TestUndeclaredBodyOverLimit(t *testing.T) {
	cfg := apiConfigSmallBodies()
	eng, _, _ := chainServer(t, cfg)
	body := `{"type":"Feature","properties":{"note":"` + strings.Repeat("x", int(cfg.MaxWriteBody)) + `"}}`
	for _, tt := range []struct{ method, target string }{
		{"POST", "/api/v1/lookup"},
		{"POST", "/api/v1/components"},
		{"PATCH", "/api/v1/components/50010300301037000"},
		{"PUT", "/api/v1/cells/500103003001001"},
		{"PUT", "/api/v1/units/u1"},
		{"PUT", "/api/v1/rules/r1"},
	} {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(body))
			req.ContentLength = -1
			req.Header.Set("If-Match", `"1"`)
			rec := serveShort(eng, req)
			if rec.Code != 413 || problemOf(t, rec).Code != "body_too_large" {
				t.Errorf("%d-byte body without Content-Length = %d %s, want 413 body_too_large", len(body), rec.Code, short(rec.Body))
			}
		})
	}
}

// TestChainOrder: the chain is installed outermost first as documented, recovery outermost,
// so a panicking handler still gets a request id (a generated one here), an access log line
// with the 500 it is answered with, and a metric.
func TestChainOrder(t *testing.T) {
	eng, reg, logs := chainServer(t, api.Config{})
	for _, tc := range []struct {
		cors []string
		want []string
	}{
		{nil, []string{"recoverPanic", "requestID", "accessLog", "observe", "methods", "limits"}},
		{[]string{"*"}, []string{"recoverPanic", "requestID", "accessLog", "observe", "corsHeaders", "methods", "limits"}},
	} {
		e := sharedEnv(t)
		s := api.NewServer(api.Config{Index: e.idx, Service: e.svc, CORSOrigins: tc.cors})
		var names []string
		for _, h := range s.ChainForTest() {
			name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
			name = strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
			names = append(names, name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("CORS origins %q: engine middleware %v, want %v", tc.cors, names, tc.want)
		}
	}

	before := requestCount(t, reg, "/test/panic", "5xx")
	rec := serveShort(eng, httptest.NewRequest("GET", "/test/panic", nil))
	if rec.Code != 500 || problemOf(t, rec).Code != "internal" {
		t.Fatalf("panicking handler = %d %s, want 500 internal", rec.Code, short(rec.Body))
	}
	id := rec.Header().Get("X-Request-Id")
	if !hexID.MatchString(id) {
		t.Errorf("X-Request-Id of the panic's answer = %q, want a generated one", id)
	}
	if line := logs.find("http request", "request_id", id); line == nil || line["status"] != "500" {
		t.Errorf("access log line for the panic: %v, want one with status 500", line)
	}
	if logs.find("panic in handler", "request_id", id) == nil {
		t.Errorf("the panic was not logged with its request id")
	}
	if n := requestCount(t, reg, "/test/panic", "5xx"); n != before+1 {
		t.Errorf("metrics: /test/panic 5xx moved by %d, want 1", n-before)
	}
}
