package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"citygrid/api"
)

func TestHealth(t *testing.T) {
	e := sharedEnv(t)
	if rec := e.do(t, "GET", "/healthz", ""); rec.Code != 200 {
		t.Errorf("GET /healthz = %d", rec.Code)
	}
	var ready map[string]any
	decode(t, e.do(t, "GET", "/readyz", ""), 200, &ready)
	if ready["status"] != "ready" || ready["cells"] != float64(e.idx.Stats().Cells) {
		t.Errorf("GET /readyz = %v", ready)
	}

	notLoaded := newEnv(t, envOptions{kinds: []string{}, noLoad: true})
	if rec := notLoaded.do(t, "GET", "/healthz", ""); rec.Code != 200 {
		t.Errorf("GET /healthz before Load = %d, want 200", rec.Code)
	}
	rec := notLoaded.do(t, "GET", "/readyz", "")
	if rec.Code != 503 || problemOf(t, rec).Code != "not_ready" {
		t.Errorf("GET /readyz before Load = %d %s, want 503 not_ready", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("GET /readyz before Load: Retry-After %q, want 1", got)
	}
}

func TestMetrics(t *testing.T) {
	e := sharedEnv(t)
	p, _ := cellPoint(t, e.idx, 0)
	for range 3 {
		e.do(t, "GET", fmt.Sprintf("/api/v1/lookup?lon=%v&lat=%v", p[0], p[1]), "")
	}
	e.do(t, "GET", "/api/v1/lookup?lon=x", "")
	e.do(t, "GET", "/no/such/path/12345", "")
	rec := e.do(t, "GET", "/metrics", "")
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	body := rec.Body.String()
	st := e.idx.Stats()
	for _, want := range []string{
		`citygrid_http_request_duration_seconds_count{route="/api/v1/lookup",status="2xx"}`,
		`citygrid_http_request_duration_seconds_count{route="/api/v1/lookup",status="4xx"}`,
		`citygrid_http_request_duration_seconds_count{route="unmatched",status="4xx"}`,
		fmt.Sprintf("citygrid_index_cells %d\n", st.Cells),
		fmt.Sprintf("citygrid_index_components %d\n", st.Components),
		fmt.Sprintf("citygrid_index_units %d\n", st.Units),
		fmt.Sprintf("citygrid_index_rules %d\n", st.Rules),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Errorf("GET /metrics labels a raw unmatched path")
	}
}

// TestServersAreIndependent: each server registers its metrics in its own registry, and a
// caller's registry receives them.
func TestServersAreIndependent(t *testing.T) {
	e := sharedEnv(t)
	reg := prometheus.NewRegistry()
	for range 2 {
		api.NewServer(api.Config{Index: e.idx, Service: e.svc})
	}
	api.NewServer(api.Config{Index: e.idx, Service: e.svc, Registry: reg})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if !names["citygrid_index_cells"] {
		t.Errorf("the caller's registry has %v, want citygrid_index_cells", names)
	}
}

func TestRouting(t *testing.T) {
	e := sharedEnv(t)
	runErrCases(t, e, []errCase{
		{"unknown path", "GET", "/api/v2/lookup", "", nil, 404, "not_found"},
		{"trailing slash", "GET", "/api/v1/units/", "", nil, 404, "not_found"},
		{"root", "GET", "/", "", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/api/v1/classes", "", nil, 405, "method_not_allowed"},
	})
	rec := e.do(t, "POST", "/api/v1/cells", "")
	if allow := rec.Header().Get("Allow"); rec.Code != 405 || !strings.Contains(allow, "GET") {
		t.Errorf("POST /api/v1/cells = %d Allow %q, want 405 with GET allowed", rec.Code, allow)
	}
}

// TestInternalError: a failing store is a 500 that shows only "internal error" and is logged
// exactly once.
func TestInternalError(t *testing.T) {
	base := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules", "components"}})
	logs := &countLogs{}
	e := *base
	e.h = api.NewServer(api.Config{Index: base.idx, Service: base.svc, Log: slog.New(logs)}).Handler()
	c := someComponent(t, &e, 0)
	if err := base.store.Close(); err != nil {
		t.Fatal(err)
	}
	rec := e.do(t, "GET", "/api/v1/components/"+c.ID.String(), "")
	if rec.Code != 500 {
		t.Fatalf("GET with a closed store = %d %s, want 500", rec.Code, rec.Body)
	}
	p := problemOf(t, rec)
	if p.Code != "internal" || p.Detail != "internal error" {
		t.Errorf("problem = %+v, want code internal, detail \"internal error\"", p)
	}
	if n := logs.count("internal error"); n != 1 {
		t.Errorf("internal error logged %d times, want once", n)
	}
	_ = context.Background
}
