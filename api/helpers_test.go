package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/api"
	"citygrid/fixtures"
	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
)

// fixtureDir holds the census files of the test city, generated once by TestMain.
var fixtureDir string

// testCity is small enough to import in a fraction of a second, large enough for paging.
func testCity() fixtures.Config {
	cfg := fixtures.DefaultConfig()
	cfg.Cells = 200
	cfg.Components = 3000
	return cfg
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "citygrid-api-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	city, err := fixtures.Generate(testCity())
	if err == nil {
		err = city.WriteFiles(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate the test city:", err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	if shared.env != nil {
		shared.env.store.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixtureFile returns the path of a census file of the test city.
func fixtureFile(kind string) string {
	name := map[string]string{"cells": fixtures.CellsFile, "components": fixtures.ComponentsFile,
		"units": fixtures.UnitsFile, "rules": fixtures.RulesFile}[kind]
	return filepath.Join(fixtureDir, name)
}

// env is a server over a real bolt store and index, filled through the Service.
type env struct {
	h     http.Handler
	idx   *spatial.Index
	svc   *registry.Service
	store *bolt.Store
}

type envOptions struct {
	kinds  []string // census kinds to import, in order; nil means all four
	cfg    api.Config
	noLoad bool // leave the index unloaded (not ready)
}

var allKinds = []string{"cells", "units", "rules", "components"}

// newEnv builds an env in a temp dir; it is closed when t ends.
func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := openEnv(t, t.TempDir(), o)
	t.Cleanup(func() { e.store.Close() })
	return e
}

func openEnv(t testing.TB, dir string, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(dir, "citygrid.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	idx := spatial.New(spatial.Options{})
	if !o.noLoad {
		if err := idx.Load(ctx, st); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
	svc := registry.NewService(st, idx, registry.DefaultCatalog(), nil)
	kinds := o.kinds
	if kinds == nil {
		kinds = allKinds
	}
	for _, kind := range kinds {
		rep, err := importFile(ctx, svc, kind, fixtureFile(kind), registry.ModeStrict)
		if err != nil {
			t.Fatalf("import %s: %v (%+v)", kind, err, rep.Problems)
		}
	}
	cfg := o.cfg
	cfg.Index, cfg.Service = idx, svc
	return &env{h: api.NewServer(cfg).Handler(), idx: idx, svc: svc, store: st}
}

func importFile(ctx context.Context, svc *registry.Service, kind, path string, mode registry.Mode) (registry.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return registry.Report{}, err
	}
	defer f.Close()
	opt := registry.ImportOptions{Mode: mode, Actor: "test", Name: path}
	return svc.Import(ctx, registry.Census(kind), f, opt)
}

var shared struct {
	once sync.Once
	env  *env
}

// sharedEnv is one read-only env for all tests that do not write.
func sharedEnv(t testing.TB) *env {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp(fixtureDir, "shared-")
		if err != nil {
			t.Fatal(err)
		}
		shared.env = openEnv(t, dir, envOptions{})
	})
	if shared.env == nil {
		t.Fatal("the shared env failed to build")
	}
	return shared.env
}

// do sends one request; headers come as name, value pairs.
func (e *env) do(t testing.TB, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// problem is the decoded problem document of an error response.
type problem struct {
	Type   string          `json:"type"`
	Title  string          `json:"title"`
	Status int             `json:"status"`
	Code   string          `json:"code"`
	Detail string          `json:"detail"`
	Report json.RawMessage `json:"report"`
}

// problemOf decodes rec as a problem document and checks its envelope.
func problemOf(t testing.TB, rec *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, rec.Body)
	}
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if p.Status != rec.Code {
		t.Errorf("problem status = %d, want the response status %d", p.Status, rec.Code)
	}
	if p.Type != "urn:citygrid:problem:"+p.Code || p.Title != http.StatusText(rec.Code) || p.Detail == "" {
		t.Errorf("problem = %+v, want type urn:citygrid:problem:<code>, title %q and a detail", p, http.StatusText(rec.Code))
	}
	return p
}

// errCase is one request expected to fail with a status and problem code.
type errCase struct {
	name, method, target, body string
	headers                    []string
	status                     int
	code                       string
}

func runErrCases(t *testing.T, e *env, cases []errCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, tt.method, tt.target, tt.body, tt.headers...)
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d, want %d (body %s)", tt.method, tt.target, rec.Code, tt.status, short(rec.Body))
			}
			if p := problemOf(t, rec); p.Code != tt.code {
				t.Errorf("%s %s code = %q, want %q (detail %q)", tt.method, tt.target, p.Code, tt.code, p.Detail)
			}
		})
	}
}

// decode unmarshals rec's body into v, checking the status first.
func decode(t testing.TB, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", rec.Code, status, short(rec.Body))
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
}

// cellPoint returns a point inside the n-th cell of the index (key order) and that cell.
func cellPoint(t testing.TB, idx *spatial.Index, n int) (orb.Point, *registry.Cell) {
	t.Helper()
	cells, _, err := idx.CellsWithin(orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}, n+1, 0)
	if err != nil || len(cells) <= n {
		t.Fatalf("CellsWithin: %d cells, %v", len(cells), err)
	}
	cell := cells[n]
	b := cell.Geometry.Bound()
	// Probe a grid over the cell's bound for a point the index places in this cell.
	for i := 1; i < 8; i++ {
		for j := 1; j < 8; j++ {
			p := orb.Point{b.Min[0] + (b.Max[0]-b.Min[0])*float64(i)/8, b.Min[1] + (b.Max[1]-b.Min[1])*float64(j)/8}
			if got, err := idx.CellAt(p); err == nil && got.Code == cell.Code {
				return p, cell
			}
		}
	}
	t.Fatalf("no point found inside cell %s", cell.Code)
	return orb.Point{}, nil
}

// cityBound is the bound of every indexed cell.
func cityBound(t testing.TB, idx *spatial.Index) orb.Bound {
	t.Helper()
	cells, _, err := idx.CellsWithin(orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}, 10000, 0)
	if err != nil || len(cells) == 0 {
		t.Fatalf("CellsWithin: %d cells, %v", len(cells), err)
	}
	b := cells[0].Geometry.Bound()
	for _, c := range cells[1:] {
		b = b.Union(c.Geometry.Bound())
	}
	return b
}

func bboxParam(b orb.Bound) string {
	return fmt.Sprintf("%g,%g,%g,%g", b.Min[0], b.Min[1], b.Max[0], b.Max[1])
}

// countLogs is a slog handler that counts records by message.
type countLogs struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *countLogs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[r.Message]++
	return nil
}
func (h *countLogs) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countLogs) WithGroup(string) slog.Handler      { return h }

func (h *countLogs) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// jsonBody marshals v for a request body.
func jsonBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apiConfigSmallBodies caps write bodies at 4 KiB and census uploads at 16 KiB, so the 413
// paths are cheap to reach.
func apiConfigSmallBodies() api.Config {
	return api.Config{MaxWriteBody: 4 << 10, MaxBody: 16 << 10}
}

// short cuts a response body for a failure message.
func short(b fmt.Stringer) string {
	s := b.String()
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}
