package api_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"citygrid/api"
)

// TestCensusOverLimitRefusedUnread: an upload whose Content-Length is over MaxBody is
// answered 413 body_too_large from its headers alone, and the connection is closed. (MaxBody
// is above net/http's 256 KiB: below that, net/http reads a declared body's rest before
// closing, whatever the handler did.)
func TestCensusOverLimitRefusedUnread(t *testing.T) {
	const limit = 1 << 20
	e := newEnv(t, envOptions{kinds: []string{}, cfg: api.Config{MaxBody: limit}})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// One byte over the limit declared; not one byte of the body is sent.
	fmt.Fprintf(conn, "POST /api/v1/census/units HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", limit+1)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(body), `"code":"body_too_large"`) {
		t.Fatalf("answer = %d %s, want 413 body_too_large", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Errorf("the 413 does not close the connection (Connection: %q)", resp.Header.Get("Connection"))
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the 413: read %d bytes, %v; want the connection closed (EOF)", n, err)
	}
}

// newlines is an upload body: a CSV header line without the columns a census needs, then
// newline bytes up to n in all, made without holding n bytes. Its import fails at the header,
// so the uploads, not the imports, are what the test measures.
type newlines struct {
	head string
	n    int64
}

var newlineBlock = []byte(strings.Repeat("\n", 64<<10))

func (r *newlines) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if r.head != "" {
		k := copy(p, r.head)
		r.head = r.head[k:]
		r.n -= int64(k)
		return k, nil
	}
	k := copy(p[:min(int64(len(p)), r.n)], newlineBlock)
	r.n -= int64(k)
	return k, nil
}

// TestCensusUploadsSpooled sends 8 uploads of 20 MB at once and samples the heap meanwhile:
// the bodies go to temporary files (removed afterwards), so the heap grows by far less than
// their sum.
func TestCensusUploadsSpooled(t *testing.T) {
	const uploads, size = 8, 20 << 20
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newEnv(t, envOptions{kinds: []string{"cells"}, cfg: api.Config{CensusQueue: uploads}})
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	status := make([]int, uploads)
	for i := range uploads {
		wg.Go(func() {
			req, err := http.NewRequest("POST", srv.URL+"/api/v1/census/components?format=csv", &newlines{"a,b\n", size})
			if err != nil {
				t.Error(err)
				return
			}
			req.ContentLength = size
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status[i] = resp.StatusCode
		})
	}
	wg.Wait()
	close(stop)
	<-sampled

	for i, st := range status {
		if st != 400 {
			t.Errorf("upload %d: status %d, want 400 (its import refuses the CSV header)", i, st)
		}
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap in use: %d MiB before, peak %d MiB (+%d MiB) for %d uploads of %d MiB",
		base>>20, peak.Load()>>20, grew>>20, uploads, size>>20)
	if limit := int64(uploads*size) / 8; grew > limit {
		t.Errorf("the heap grew by %d MiB during the uploads, want under %d MiB (an eighth of their sum)", grew>>20, limit>>20)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range left {
		if strings.HasPrefix(f.Name(), "citygrid-census-") {
			t.Errorf("spool file %s left behind", f.Name())
		}
	}
}

// TestCensusQueueFull: with CensusQueue 0 (or less) no upload waits: with the one import
// place taken, an upload is refused at once with 503 busy and Retry-After, unread; once the
// place frees, uploads pass.
func TestCensusQueueFull(t *testing.T) {
	for _, queue := range []int{0, -1} {
		t.Run(fmt.Sprint("CensusQueue ", queue), func(t *testing.T) {
			e := newEnv(t, envOptions{kinds: []string{}, cfg: api.Config{CensusQueue: queue}})
			pr, pw := io.Pipe()
			first := make(chan int, 1)
			go func() {
				req := httptest.NewRequest("POST", "/api/v1/census/units", pr)
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				first <- rec.Code
			}()
			// The first upload holds its place while its body trickles in.
			if _, err := pw.Write([]byte("[")); err != nil {
				t.Fatal(err)
			}
			rec := e.do(t, "POST", "/api/v1/census/units", "[]")
			if rec.Code != 503 || problemOf(t, rec).Code != "busy" {
				t.Fatalf("second upload while the first is spooling = %d %s, want 503 busy", rec.Code, short(rec.Body))
			}
			if got := rec.Header().Get("Retry-After"); got == "" {
				t.Errorf("503 busy without Retry-After")
			}
			pw.Write([]byte("]"))
			pw.Close()
			if code := <-first; code != 200 && code != 422 {
				t.Errorf("first upload = %d, want it imported", code)
			}
			if rec := e.do(t, "POST", "/api/v1/census/units", "[]"); rec.Code == 503 {
				t.Errorf("upload after the queue emptied = 503 %s", short(rec.Body))
			}
		})
	}
}

// TestCensusSpoolErrors: a body that cannot be read is the client's fault (400
// invalid_input), a spool file that cannot be written is the server's (500 internal, the
// cause logged, no path shown).
func TestCensusSpoolErrors(t *testing.T) {
	base := newEnv(t, envOptions{kinds: []string{}})
	tmp := t.TempDir()
	// A temporary file opened read-only: creating it works, writing it fails with its path
	// in the error, as a full disk would.
	readOnly := func() (*os.File, error) {
		f, err := os.CreateTemp(tmp, "citygrid-census-*")
		if err != nil {
			return nil, err
		}
		f.Close()
		return os.Open(f.Name())
	}
	cases := []struct {
		name       string
		body       io.Reader
		create     func() (*os.File, error) // nil: the server's own
		wantStatus int
		wantCode   string
		wantLogged bool
	}{
		{"body read fails", io.MultiReader(strings.NewReader("[{"), iotest.ErrReader(errors.New("connection reset"))), nil, 400, "invalid_input", false},
		{"spool write fails", strings.NewReader("[]"), readOnly, 500, "internal", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			srv := api.NewServer(api.Config{Index: base.idx, Service: base.svc, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if tc.create != nil {
				srv.SetCreateSpoolForTest(tc.create)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/census/units", tc.body))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d %s, want %d", rec.Code, short(rec.Body), tc.wantStatus)
			}
			p := problemOf(t, rec)
			if p.Code != tc.wantCode {
				t.Errorf("code = %q, want %q", p.Code, tc.wantCode)
			}
			if strings.Contains(p.Detail, tmp) || strings.Contains(p.Detail, os.TempDir()) {
				t.Errorf("detail %q shows a temporary path", p.Detail)
			}
			if logged := strings.Contains(logs.String(), "spool census upload"); logged != tc.wantLogged {
				t.Errorf("cause logged = %v, want %v; logs:\n%s", logged, tc.wantLogged, logs.String())
			}
		})
	}
}

// startServer serves h over HTTP/1 with the given server read and write timeouts; it is
// closed when t ends.
func startServer(t *testing.T, h http.Handler, timeout time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = timeout
	srv.Config.WriteTimeout = timeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// trickle sends POST path with body over a raw connection, one piece every gap, and reads the
// answer. sentAll says whether every piece was sent before the answer came.
func trickle(t *testing.T, addr, path string, pieces []string, gap time.Duration) (resp *http.Response, body string, sentAll bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, n)
	var sent atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, p := range pieces {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
			if _, err := io.WriteString(conn, p); err != nil {
				return
			}
		}
		sent.Store(true)
	}()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), sent.Load()
}

// pieces splits s into n pieces.
func pieces(s string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, s[i*len(s)/n:(i+1)*len(s)/n])
	}
	return out
}

// TestCensusUploadPaced: while its body is read, an upload is held to its own pace in place of
// the server's ReadTimeout (200 ms here): paced well, it outlives that timeout and is imported;
// a pause over the idle timeout, an average under the minimum rate after the grace, or a body
// not all come within the upload timeout is cut off with 408 body_too_slow before it is all
// sent, and frees its place in the queue.
func TestCensusUploadPaced(t *testing.T) {
	units, err := os.ReadFile(fixtureFile("units"))
	if err != nil {
		t.Fatal(err)
	}
	blank := "[" + strings.Repeat(" ", 4000) + "]"
	cases := []struct {
		name       string
		cfg        api.Config
		body       []string
		gap        time.Duration
		wantStatus int
	}{
		{"paced well, past ReadTimeout",
			api.Config{UploadIdleTimeout: 2 * time.Second}, pieces(string(units), 8), 100 * time.Millisecond, 200},
		{"pause over the idle timeout",
			api.Config{UploadIdleTimeout: 150 * time.Millisecond, UploadRateGrace: time.Minute}, pieces(blank, 10), 500 * time.Millisecond, 408},
		{"under the minimum rate after the grace",
			api.Config{UploadIdleTimeout: 2 * time.Second, UploadRateGrace: 200 * time.Millisecond, UploadMinRate: 1 << 20},
			pieces(blank, 40), 50 * time.Millisecond, 408},
		{"over the upload timeout",
			api.Config{UploadTimeout: 300 * time.Millisecond, UploadIdleTimeout: 2 * time.Second, UploadRateGrace: time.Minute},
			pieces(blank, 40), 50 * time.Millisecond, 408},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{kinds: []string{}, cfg: tc.cfg}) // CensusQueue 0: one place
			srv := startServer(t, e.h, 200*time.Millisecond)
			start := time.Now()
			resp, body, sentAll := trickle(t, srv.Listener.Addr().String(), "/api/v1/census/units", tc.body, tc.gap)
			took := time.Since(start)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s after %v, want %d", resp.StatusCode, body, took, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				if took < 400*time.Millisecond {
					t.Errorf("the upload took %v, want it past the server's ReadTimeout of 200ms", took)
				}
				return
			}
			if !strings.Contains(body, `"code":"body_too_slow"`) {
				t.Errorf("body = %s, want body_too_slow", body)
			}
			if sentAll {
				t.Errorf("answered after the whole body was sent (%v), want the upload cut off", took)
			}
			resp2, err := srv.Client().Post(srv.URL+"/api/v1/census/units", "application/json", strings.NewReader(string(units)))
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode != 200 {
				t.Errorf("the next upload = %d, want 200 (the place freed)", resp2.StatusCode)
			}
		})
	}
}
