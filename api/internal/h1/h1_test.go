package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fastBody is what both the lane's handler and the plain server answer for /fast.
func fastBody(dst []byte, rawQuery string) (int, string, []byte) {
	if rawQuery == "fail" {
		return http.StatusBadRequest, "application/problem+json", append(dst, `{"code":"bad"}`...)
	}
	return http.StatusOK, "application/json; charset=utf-8", append(dst, `{"q":"`+rawQuery+`"}`...)
}

type testServer struct {
	addr      string
	fastCalls atomic.Int64 // answered by the lane
	slowCalls atomic.Int64 // answered by net/http
	lane      *Lane
	served    chan error
}

// mux answers /fast like the lane does and every other path with its method and path.
func (ts *testServer) mux() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.slowCalls.Add(1)
		if r.URL.Path == "/fast" && r.Method == http.MethodGet {
			status, ct, body := fastBody(nil, r.URL.RawQuery)
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Path, body)
	})
}

// startLane serves the lane (with the mux behind it) on a free port.
func startLane(t *testing.T) *testServer {
	t.Helper()
	return startLaneConfigured(t, nil)
}

// startLaneConfigured is startLane with configure run on the Lane before it serves.
func startLaneConfigured(t *testing.T, configure func(*Lane)) *testServer {
	t.Helper()
	ts := &testServer{served: make(chan error, 1)}
	hs := &http.Server{Handler: ts.mux(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	ts.lane = New(Config{Fallback: hs, Routes: map[string]Handler{
		"/fast": func(dst []byte, q string, _ net.Addr) (int, string, []byte) {
			ts.fastCalls.Add(1)
			if q == "panic" {
				panic("handler panic")
			}
			return fastBody(dst, q)
		},
	}, OnPanic: func(any) {}})
	if configure != nil {
		configure(ts.lane)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go func() { ts.served <- ts.lane.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.lane.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	return ts
}

// startPlain serves the mux with net/http alone, the reference the lane must match.
func startPlain(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{}
	hs := &http.Server{Handler: ts.mux(), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ts
}

type answer struct {
	status int
	ctype  string
	body   string
	closed bool // the server closed the connection after it
}

// exchange writes raw to a new connection and reads n responses (to HEAD requests when raw
// starts with HEAD).
func exchange(t *testing.T, addr, raw string, n int) []answer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var req *http.Request
	if strings.HasPrefix(raw, "HEAD ") {
		req = &http.Request{Method: http.MethodHead}
	}
	var out []answer
	for range n {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("reading response %d of %q: %v", len(out)+1, raw, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out = append(out, answer{resp.StatusCode, resp.Header.Get("Content-Type"), string(body), resp.Close})
	}
	return out
}

func TestFastPathKeepAlive(t *testing.T) {
	ts := startLane(t)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 5 {
		resp, err := client.Get(fmt.Sprintf("http://%s/fast?i=%d", ts.addr, i))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf(`{"q":"i=%d"}`, i)
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("GET %d: %d %s, want 200 %s", i, resp.StatusCode, body, want)
		}
		if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q", got)
		}
		if resp.ContentLength != int64(len(want)) {
			t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(want))
		}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
			t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
		}
	}
	if f, s := ts.fastCalls.Load(), ts.slowCalls.Load(); f != 5 || s != 0 {
		t.Errorf("lane answered %d, net/http %d; want 5 and 0", f, s)
	}
}

// TestSameAnswers sends raw request sequences to the lane and to net/http alone: the answers
// must be the same, and the lane must have answered exactly the requests it should.
func TestSameAnswers(t *testing.T) {
	lane, plain := startLane(t), startPlain(t)
	const get = "GET /fast?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name      string
		raw       string
		responses int
		fast      int64 // requests the lane itself must answer
	}{
		{"get", get, 1, 1},
		{"pipelined", get + get + "GET /fast?fail HTTP/1.1\r\nHost: x\r\n\r\n", 3, 3},
		{"browser headers", "GET /fast?b HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\nAccept-Language: zh-CN,zh;q=0.9\r\nConnection: keep-alive\r\nCookie: a=b; c=\"d\"\r\n\r\n", 1, 1},
		{"other path", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0},
		{"other path then fast: net/http keeps the connection", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n" + get, 2, 0},
		{"fast then post", get + "POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get, 3, 1},
		{"head", "HEAD /fast?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0},
		{"HTTP/1.0", "GET /fast?a=1 HTTP/1.0\r\n\r\n", 1, 0},
		{"connection close", "GET /fast?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1, 0},
		{"GET with a body", "GET /fast?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" + get, 2, 0},
		{"chunked", "GET /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 1, 0},
		{"expect", "GET /fast HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", 1, 0},
		{"no host", "GET /fast HTTP/1.1\r\n\r\n", 1, 0},
		{"two hosts", "GET /fast HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 1, 0},
		{"bad host", "GET /fast HTTP/1.1\r\nHost: x/y\r\n\r\n", 1, 0},
		{"bare LF", "GET /fast?a HTTP/1.1\nHost: x\n\n", 1, 0},
		{"folded header", "GET /fast HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 1, 0},
		{"space in name", "GET /fast HTTP/1.1\r\nHost : x\r\n\r\n", 1, 0},
		{"control in value", "GET /fast HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 1, 0},
		{"absolute target", "GET http://x/fast?a HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0},
		{"path with a slash more", "GET /fast/?a HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0},
		{"garbage", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 1, 0},
		{"huge header", "GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 6000) + "\r\n\r\n", 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f0, s0 := lane.fastCalls.Load(), lane.slowCalls.Load()
			got := exchange(t, lane.addr, tc.raw, tc.responses)
			want := exchange(t, plain.addr, tc.raw, tc.responses)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("response %d: lane %+v, net/http %+v", i+1, got[i], want[i])
				}
			}
			if f := lane.fastCalls.Load() - f0; f != tc.fast {
				t.Errorf("the lane answered %d requests itself, want %d (net/http %d)", f, tc.fast, lane.slowCalls.Load()-s0)
			}
		})
	}
}

// TestHeadInPieces: a head that arrives a few bytes at a time is still answered.
func TestHeadInPieces(t *testing.T) {
	ts := startLane(t)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	raw := "GET /fast?p=1 HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, part := range []string{raw[:2], raw[2:9], raw[9:26], raw[26:]} {
		if _, err := io.WriteString(c, part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != `{"q":"p=1"}` || ts.fastCalls.Load() != 1 {
		t.Errorf("got %d %s (lane answered %d)", resp.StatusCode, body, ts.fastCalls.Load())
	}
}

func TestPanicClosesConnection(t *testing.T) {
	ts := startLane(t)
	c := dialWrite(t, ts.addr, "GET /fast?panic HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := c.Read(make([]byte, 10)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after a panic: %d bytes, %v; want EOF", n, err)
	}
	// The server goes on.
	if a := exchange(t, ts.addr, "GET /fast?ok HTTP/1.1\r\nHost: x\r\n\r\n", 1); a[0].status != 200 {
		t.Errorf("after a panic: %+v", a[0])
	}
}

func TestShutdownClosesIdleConnections(t *testing.T) {
	ts := startLane(t)
	c := dialWrite(t, ts.addr, "GET /fast?x HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.lane.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection after Shutdown: %v, want EOF", err)
	}
	select {
	case err := <-ts.served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// FuzzParseHead: every head parseHead lets the lane answer, net/http reads as the same GET:
// same path and query, HTTP/1.1, keep-alive, no body, and a request its server accepts.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET /fast?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/v1/lookup?lon=106.5&lat=29.5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\nGET /",
		"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive\r\nAccept: */*\r\n\r\n",
		"GET /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET /fast HTTP/1.1\nHost: x\n\n",
		"POST /fast HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /fast HTTP/1.1\r\nHost:\r\n\r\n",
		"GET /fast HTTP/1.1\r\nHost: x\r\nX: \xff\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, v := parseHead(b)
		if v != headFast {
			if n != 0 {
				t.Fatalf("verdict %d with length %d", v, n)
			}
			return
		}
		if n <= 0 || n > len(b) || !bytes.HasSuffix(b[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d of %d bytes", n, len(b))
		}
		br := bufio.NewReader(bytes.NewReader(b[:n]))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("parseHead accepted %q, net/http: %v", b[:n], err)
		}
		if br.Buffered() != 0 {
			t.Fatalf("parseHead read a head of %d bytes, net/http left %d of them", n, br.Buffered())
		}
		if req.Method != http.MethodGet || req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Close ||
			req.ContentLength != 0 || len(req.TransferEncoding) != 0 || req.Body != http.NoBody {
			t.Fatalf("parseHead accepted %q: net/http reads method %s, proto %s, close %v, length %d, TE %v",
				b[:n], req.Method, req.Proto, req.Close, req.ContentLength, req.TransferEncoding)
		}
		if req.URL.Path != string(h.path) && req.URL.RawPath != string(h.path) || req.URL.RawQuery != string(h.query) {
			t.Fatalf("parseHead read path %q query %q, net/http %q %q", h.path, h.query, req.URL.EscapedPath(), req.URL.RawQuery)
		}
		// What net/http's server checks beyond ReadRequest.
		if hosts := req.Header["Host"]; len(hosts) > 1 {
			t.Fatalf("parseHead accepted several Host headers: %q", b[:n])
		}
		for k, vs := range req.Header {
			for _, v := range vs {
				if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
					t.Fatalf("parseHead accepted header %s: %q", k, v)
				}
			}
		}
		if req.Header.Get("Expect") != "" || req.Header.Get("Upgrade") != "" {
			t.Fatalf("parseHead accepted %q", b[:n])
		}
	})
}

// startLaneWith serves a lane with /fast answered by h in front of hs on a free port.
func startLaneWith(t *testing.T, hs *http.Server, h Handler) (*Lane, string, chan error) {
	t.Helper()
	l := New(Config{Fallback: hs, Routes: map[string]Handler{"/fast": h}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	return l, ln.Addr().String(), served
}

func okFast(dst []byte, _ string, _ net.Addr) (int, string, []byte) {
	return http.StatusOK, "text/plain", append(dst, "ok"...)
}

// TestHeaderTimeoutHoldsWholeHead: a head sent a byte at a time is held to the header
// timeout as a whole (not per read), as net/http does, and is not answered.
func TestHeaderTimeoutHoldsWholeHead(t *testing.T) {
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute}
	_, addr, _ := startLaneWith(t, hs, okFast)
	for _, first := range []bool{true, false} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if !first { // one request answered: the timeout counts from the next head's first byte
			if _, err := io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
		}
		start := time.Now()
		closed := make(chan time.Duration, 1)
		go func() {
			_, _ = br.ReadByte() // EOF (or a response, which the check below catches)
			closed <- time.Since(start)
		}()
		raw := "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
		for i := 0; i < len(raw); i++ {
			if _, err := c.Write([]byte{raw[i]}); err != nil {
				break
			}
			time.Sleep(60 * time.Millisecond)
		}
		select {
		case d := <-closed:
			if d > 1500*time.Millisecond {
				t.Errorf("first=%v: a head trickled over %v was held %v; the header timeout is 300 ms", first, 60*time.Millisecond*time.Duration(len(raw)), d)
			}
		case <-time.After(4 * time.Second):
			t.Errorf("first=%v: a trickled head held the connection open past 4 s", first)
		}
		c.Close()
	}
}

// TestSilentConnectionHeaderTimeout: a connection that sends nothing is closed after the
// header timeout (counted from accept), not the idle timeout.
func TestSilentConnectionHeaderTimeout(t *testing.T) {
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second}
	_, addr, _ := startLaneWith(t, hs, okFast)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent connection: %v, want EOF", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a silent connection was closed after %v; the header timeout is 200 ms", d)
	}
}

// TestShutdownWithClientNotReading: a client that pipelines requests for large answers and
// reads nothing cannot hold Shutdown past its context.
func TestShutdownWithClientNotReading(t *testing.T) {
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	big := strings.Repeat("x", 1<<20)
	l, addr, _ := startLaneWith(t, hs, func(dst []byte, _ string, _ net.Addr) (int, string, []byte) {
		return http.StatusOK, "text/plain", append(dst, big...)
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(3 * time.Second))
	for range 64 {
		if _, err := io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return within 3 s of a 300 ms context")
	}
}

// TestPartialHeadThenEOF: part of a head, then the client half-closes: net/http's answer
// (400), as without the lane.
func TestPartialHeadThenEOF(t *testing.T) {
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	_, addr, _ := startLaneWith(t, hs, okFast)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
		t.Errorf("partial head then EOF: %q, want net/http's 400", b)
	}
}

// TestServeEndsWithFallback: when the fallback server is shut down first, Serve returns.
func TestServeEndsWithFallback(t *testing.T) {
	hs := &http.Server{Handler: http.NotFoundHandler()}
	_, _, served := startLaneWith(t, hs, okFast)
	time.Sleep(50 * time.Millisecond)
	if err := hs.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("Serve still running 2 s after the fallback server shut down")
	}
}

// dialWrite connects to addr with a 5 s deadline, closed when the test ends, and writes raw.
func dialWrite(t *testing.T, addr, raw string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBlockingOnlyWithFewConnections: a busy connection waits for its next request in
// blocking mode only while at most blockLimit connections are busy; with more, every
// connection goes through the poller (blocked threads held the Go scheduler's Ps from the
// others), and once they are few again, blocking mode comes back. An idle keep-alive
// connection does not count. Answers are right throughout.
func TestBlockingOnlyWithFewConnections(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("blocking mode is Linux only")
	}
	ts := startLaneConfigured(t, func(l *Lane) { l.blockLimit = 1 })
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		return c, bufio.NewReader(c)
	}
	get := func(c net.Conn, br *bufio.Reader, i int) {
		t.Helper()
		if _, err := fmt.Fprintf(c, "GET /fast?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf(`{"q":"i=%d"}`, i); resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("GET %d = %d %s, want 200 %s", i, resp.StatusCode, body, want)
		}
	}
	// waitBlocking waits for the count of connections in blocking mode to be want, sending
	// requests on c meanwhile (a connection changes mode around a request).
	waitBlocking := func(want int32, c net.Conn, br *bufio.Reader) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; ts.lane.blocking.Load() != want; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections in blocking mode, want %d", ts.lane.blocking.Load(), want)
			}
			get(c, br, i)
			time.Sleep(5 * time.Millisecond)
		}
	}
	a, ra := dial()
	defer a.Close()
	get(a, ra, 0)
	waitBlocking(1, a, ra) // one busy connection: blocking mode

	// Two busy connections over a limit of one: both through the poller.
	b, rb := dial()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ts.lane.blocking.Load() != 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections in blocking mode with two busy, want 0", ts.lane.blocking.Load())
		}
		get(a, ra, 1000+i)
		get(b, rb, 2000+i)
	}
	for i := range 50 {
		get(a, ra, 3000+i)
		get(b, rb, 4000+i)
		if n := ts.lane.blocking.Load(); n != 0 {
			t.Fatalf("%d connections in blocking mode while two are busy, want 0", n)
		}
	}

	// b stays open but idle: a is the only busy connection, and blocking mode comes back.
	time.Sleep(3 * busyWindow)
	waitBlocking(1, a, ra)
	for i := range 20 {
		get(a, ra, 5000+i)
		time.Sleep(time.Millisecond)
		if n := ts.lane.blocking.Load(); n != 1 {
			t.Fatalf("%d connections in blocking mode with one busy and one idle, want 1", n)
		}
	}
	get(b, rb, 6000) // the idle connection still answers
}
