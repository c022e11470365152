package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"citygrid/api"
)

// TestHeadWhereverGet: every GET route answers HEAD with the status and headers GET answers
// with, and over a real connection with no body.
func TestHeadWhereverGet(t *testing.T) {
	eng, _, logs := chainServer(t, api.Config{})
	n := 0
	for _, r := range eng.Routes() {
		if r.Method != http.MethodGet || r.Path == "/test/panic" {
			continue
		}
		n++
		t.Run(r.Path, func(t *testing.T) {
			target := routeTarget(r.Path)
			serve := func(req *http.Request) *httptest.ResponseRecorder {
				if strings.HasSuffix(r.Path, "/stream") {
					return serveShort(eng, req) // it never ends by itself
				}
				return serveWithin(eng, req, 10*time.Second) // a loaded machine must not turn one into a 503
			}
			get := serve(httptest.NewRequest("GET", target, nil))
			req := httptest.NewRequest("HEAD", target, nil)
			req.Header.Set("X-Request-Id", "head-"+strings.NewReplacer("/", "-", ":", "").Replace(r.Path))
			head := serve(req)
			if head.Code != get.Code {
				t.Errorf("HEAD %s = %d, GET = %d; want the same", target, head.Code, get.Code)
			}
			for _, h := range []string{"Content-Type", "ETag", "Allow", "Retry-After"} {
				if head.Header().Get(h) != get.Header().Get(h) {
					t.Errorf("HEAD %s: %s = %q, GET's = %q", target, h, head.Header().Get(h), get.Header().Get(h))
				}
			}
			if line := logs.find("http request", "request_id", req.Header.Get("X-Request-Id")); line == nil || line["method"] != "HEAD" {
				t.Errorf("access log line %v, want method HEAD", line)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d GET routes", n)
	}

	// Over a connection: no body, and the length GET would have.
	srv := httptest.NewServer(eng)
	t.Cleanup(srv.Close)
	for _, path := range []string{"/api/v1/units", "/api/v1/classes", "/healthz", "/api/v1/export/cells", "/api/v1/changes/stream"} {
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatalf("HEAD %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD %s = %d with %d body bytes, want 200 and none", path, resp.StatusCode, len(body))
		}
		if path == "/api/v1/units" {
			g, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			gb, _ := io.ReadAll(g.Body)
			g.Body.Close()
			if resp.ContentLength != int64(len(gb)) {
				t.Errorf("HEAD %s Content-Length = %d, GET's body is %d bytes", path, resp.ContentLength, len(gb))
			}
		}
	}
}

// TestOptionsEverywhere: OPTIONS on every route's path is 204 with an Allow header listing
// the path's methods, HEAD wherever GET is, and OPTIONS; a 405 lists them too.
func TestOptionsEverywhere(t *testing.T) {
	eng, _, _ := chainServer(t, api.Config{})
	methods := map[string][]string{}
	for _, r := range eng.Routes() {
		methods[r.Path] = append(methods[r.Path], r.Method)
	}
	for path, ms := range methods {
		t.Run(path, func(t *testing.T) {
			rec := serveShort(eng, httptest.NewRequest("OPTIONS", routeTarget(path), nil))
			if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
				t.Fatalf("OPTIONS %s = %d %s, want 204 and no body", path, rec.Code, short(rec.Body))
			}
			allow := strings.Split(rec.Header().Get("Allow"), ", ")
			want := append([]string{"OPTIONS"}, ms...)
			for _, m := range ms {
				if m == "GET" {
					want = append(want, "HEAD")
				}
			}
			for _, m := range want {
				if !contains(allow, m) {
					t.Errorf("OPTIONS %s: Allow = %q, lacks %s", path, allow, m)
				}
			}
			if len(allow) != len(want) {
				t.Errorf("OPTIONS %s: Allow = %q, want exactly %q", path, allow, want)
			}
		})
	}
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{"OPTIONS", "/no/such/route", 404, ""},
		{"DELETE", "/api/v1/units", 405, "GET, HEAD, OPTIONS"},
		{"HEAD", "/api/v1/census/units", 405, "POST, OPTIONS"},
	}
	for _, tt := range tests {
		rec := serveShort(eng, httptest.NewRequest(tt.method, tt.target, nil))
		if rec.Code != tt.status || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.target, rec.Code, rec.Header().Get("Allow"), tt.status, tt.allow)
		}
	}
}

// serveWithin serves req with a deadline of d.
func serveWithin(h http.Handler, req *http.Request, d time.Duration) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(req.Context(), d)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestCORS: without origins no CORS header is sent; with them a preflight from an allowed
// origin is answered 204 with the methods, headers and max age, before the body limit and the
// X-Actor check; an answer to an allowed origin exposes ETag, Location, X-Request-Id and
// Retry-After; another origin gets no CORS header.
func TestCORS(t *testing.T) {
	none, _, _ := chainServer(t, api.Config{})
	some, _, _ := chainServer(t, api.Config{CORSOrigins: []string{"https://a.example", "https://b.example"}})
	any, _, _ := chainServer(t, api.Config{CORSOrigins: []string{"*"}})
	preflight := func(origin, method, headers string) *http.Request {
		r := httptest.NewRequest("OPTIONS", "/api/v1/components/50010301037000001", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			r.Header.Set("Access-Control-Request-Headers", headers)
		}
		r.ContentLength = 1 << 40 // over every body limit: a preflight never meets it
		return r
	}
	get := func(origin string) *http.Request {
		r := httptest.NewRequest("GET", "/api/v1/units", nil)
		r.Header.Set("Origin", origin)
		return r
	}
	tests := []struct {
		name    string
		h       http.Handler
		req     *http.Request
		status  int
		headers map[string]string // "" means absent
	}{
		{"off: preflight is a plain OPTIONS", none, preflight("https://a.example", "PATCH", "if-match"), 204,
			map[string]string{"Access-Control-Allow-Origin": "", "Allow": "GET, PATCH, DELETE, HEAD, OPTIONS"}},
		{"off: GET", none, get("https://a.example"), 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": ""}},
		{"preflight PATCH with If-Match and X-Actor", some, preflight("https://a.example", "PATCH", "content-type,if-match,x-actor"), 204,
			map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "PATCH",
				"Access-Control-Allow-Headers": "content-type,if-match,x-actor", "Access-Control-Max-Age": "600"}},
		{"preflight from the second origin", some, preflight("https://b.example", "DELETE", ""), 204,
			map[string]string{"Access-Control-Allow-Origin": "https://b.example", "Access-Control-Allow-Methods": "DELETE"}},
		{"preflight from another origin", some, preflight("https://evil.example", "PATCH", "if-match"), 204,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"preflight with an unknown header", some, preflight("https://a.example", "PATCH", "x-secret"), 204,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Headers": ""}},
		{"GET from an allowed origin", some, get("https://a.example"), 200,
			map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Expose-Headers": "Etag, Location, X-Request-Id, Retry-After, Allow", "Vary": "Origin"}},
		{"GET from another origin", some, get("https://evil.example"), 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": ""}},
		{"any origin", any, get("http://localhost:5173"), 200,
			map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"any origin preflight", any, preflight("http://localhost:5173", "PUT", "content-type"), 204,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "PUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveShort(tt.h, tt.req)
			if rec.Code != tt.status {
				t.Errorf("status = %d %s, want %d", rec.Code, short(rec.Body), tt.status)
			}
			for h, want := range tt.headers {
				if got := strings.Join(rec.Header().Values(h), ", "); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
		})
	}
	// An error answer to an allowed origin carries the CORS headers too, so that the page can
	// read the problem.
	r := httptest.NewRequest("GET", "/api/v1/lookup?lon=0&lat=0", nil)
	r.Header.Set("Origin", "https://a.example")
	rec := serveShort(some, r)
	if rec.Code < 400 || rec.Header().Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("lookup outside the grid = %d with Access-Control-Allow-Origin %q, want an error the page may read",
			rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
}
