// Package h1 answers the plainest HTTP/1.1 requests of a few hot GET routes on the connection
// itself, and hands every connection over to a net/http Server from its first other request on.
//
// It exists for GET /api/v1/lookup, the dispatch engine's hot path. On a small machine whose
// system calls and wake-ups are expensive, net/http spends on each keep-alive request about
// 10 µs of CPU on work a lookup does not need: a goroutine and a background read per request to
// notice a client that hangs up, a header map, a buffered writer, deadline bookkeeping. A Lane
// reads a request head into one buffer per connection, answers it with one write, and goes back
// to reading: one read and one write system call per request.
//
// Only what is unambiguous is served here: a GET whose request line and headers are
// well formed, HTTP/1.1, for a route's exact path, with a single Host header, no body
// (no Content-Length other than 0, no Transfer-Encoding, no Expect), and no Connection
// header other than keep-alive, no Upgrade. Anything else, and anything this package does not
// understand, goes to net/http with the bytes read so far, and net/http answers it exactly as
// it would have without a Lane (errors included). The connection stays with net/http from then on.
package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// A Handler answers one request to its route. rawQuery is the request target after the
// first '?' (not decoded); it points into the connection's buffer and is valid only during
// the call. The handler appends the body to dst and returns the status code, the
// Content-Type value and the body (dst grown). It must not keep dst or rawQuery.
type Handler func(dst []byte, rawQuery string, remote net.Addr) (status int, contentType string, body []byte)

// Config sets up a Lane.
type Config struct {
	// Routes maps an exact request path (no query) to its handler.
	Routes map[string]Handler
	// Fallback serves everything else; Lane.Serve runs Fallback.Serve on the connections
	// it hands over. Its IdleTimeout and ReadHeaderTimeout also apply to the Lane's
	// connections (a zero ReadHeaderTimeout means IdleTimeout, a zero IdleTimeout 2 minutes).
	Fallback *http.Server
	// OnPanic, when set, is told about a handler's panic; the connection is closed.
	OnPanic func(v any)
}

// bufSize is the request buffer of a connection: a lookup's request head is about 150
// bytes from curl and about 500 from a browser. A head that does not fit goes to net/http.
const bufSize = 4096

// Lane serves a listener: hot routes itself, the rest through Config.Fallback.
type Lane struct {
	routes   []route
	fallback *http.Server
	onPanic  func(any)
	idle     time.Duration
	header   time.Duration

	handoff *chanListener

	closing atomic.Bool
	mu      sync.Mutex
	ln      net.Listener
	conns   map[*conn]struct{}
	active  sync.WaitGroup
	date    atomic.Pointer[dateLine]

	blocking atomic.Int32 // connections in blocking mode (block_linux.go)
	// blockLimit: blocking mode is used only while at most this many connections are busy
	// (GOMAXPROCS when the Lane is made). A connection in blocking mode holds an OS thread
	// and, while it waits in read(2), a P of the Go scheduler until the runtime takes it
	// back; with more busy connections than Ps, the others' goroutines waited for that, and
	// with 8 connections on 2 vCPUs p99 rose to 39 ms (p50 63 µs). Beyond the limit every
	// connection goes through the poller, as net/http does.
	blockLimit int32
	// Busy connections are counted per window of busyWindow: busyCur the distinct
	// connections that got a request in window busyWin, busyPrev those of the window before
	// it. Idle keep-alive connections of a client's pool do not count.
	busyWin           atomic.Int64
	busyCur, busyPrev atomic.Int32
}

// busyWindow is the span over which a connection that got a request counts as busy.
const busyWindow = 20 * time.Millisecond

type route struct {
	path    string
	handler Handler
}

// New makes a Lane; Serve starts it.
func New(cfg Config) *Lane {
	l := &Lane{fallback: cfg.Fallback, onPanic: cfg.OnPanic, conns: map[*conn]struct{}{},
		blockLimit: int32(min(runtime.GOMAXPROCS(0), maxBlocking))}
	for p, h := range cfg.Routes {
		l.routes = append(l.routes, route{p, h})
	}
	l.idle = 2 * time.Minute
	if cfg.Fallback != nil && cfg.Fallback.IdleTimeout > 0 {
		l.idle = cfg.Fallback.IdleTimeout
	}
	l.header = l.idle
	if cfg.Fallback != nil && cfg.Fallback.ReadHeaderTimeout > 0 {
		l.header = cfg.Fallback.ReadHeaderTimeout
	}
	return l
}

// Serve accepts connections on ln until Shutdown, and runs the fallback server on the
// connections it hands over. It returns http.ErrServerClosed after Shutdown, or the first
// error of either loop. Serve closes ln.
func (l *Lane) Serve(ln net.Listener) error {
	l.mu.Lock()
	if l.closing.Load() {
		l.mu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	if l.ln != nil {
		l.mu.Unlock()
		return errors.New("h1: Serve called twice")
	}
	l.ln = ln
	l.handoff = newChanListener(ln.Addr())
	l.mu.Unlock()

	fbErr := make(chan error, 1)
	go func() {
		fbErr <- l.fallback.Serve(l.handoff)
		_ = ln.Close() // the fallback stopped (its Shutdown, or an error): stop accepting too
	}()
	defer ln.Close()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.closing.Load() {
				return http.ErrServerClosed
			}
			select {
			case err := <-fbErr:
				return err
			default:
			}
			if temporary(err) { // as net/http: out of descriptors or buffers, back off and go on
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			_ = l.handoff.Close()
			<-fbErr
			return err
		}
		backoff = 0
		cn := &conn{Conn: c, lane: l, accepted: time.Now()}
		cn.initBlocker()
		if !l.track(cn) {
			_ = c.Close()
			return http.ErrServerClosed
		}
		go cn.serve()
	}
}

// temporary reports an Accept error to wait out rather than stop at.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// track registers a connection; false once Shutdown has begun.
func (l *Lane) track(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.conns[c] = struct{}{}
	l.active.Add(1)
	return true
}

// untrack forgets a connection (once: at hand-over, or when its goroutine ends).
func (l *Lane) untrack(c *conn) {
	l.mu.Lock()
	_, ok := l.conns[c]
	delete(l.conns, c)
	l.mu.Unlock()
	if ok {
		l.active.Done()
	}
}

// mayBlock reports whether few enough connections are busy for blocking mode: at most
// blockLimit got a request in the current window and in the one before it.
func (l *Lane) mayBlock() bool {
	return l.busyCur.Load() <= l.blockLimit && l.busyPrev.Load() <= l.blockLimit
}

// noteBusy counts c as busy in the window of t, the time its request's head arrived, once
// a window. The counts are approximate where connections move windows at the same moment;
// they only choose between two ways of reading.
func (l *Lane) noteBusy(c *conn, t time.Time) {
	w := t.UnixNano() / int64(busyWindow)
	if c.busyWin == w {
		return
	}
	c.busyWin = w
	for {
		cur := l.busyWin.Load()
		if w <= cur {
			break
		}
		if l.busyWin.CompareAndSwap(cur, w) {
			prev := int32(0)
			if w == cur+1 {
				prev = l.busyCur.Load()
			}
			l.busyPrev.Store(prev)
			l.busyCur.Store(0)
			break
		}
	}
	if w == l.busyWin.Load() {
		l.busyCur.Add(1)
	}
}

// Shutdown stops accepting, closes the Lane's idle connections, lets a request in progress
// finish, and waits for that until ctx ends. Connections already handed to the fallback
// server are its own: call its Shutdown too (it closes the hand-over listener).
func (l *Lane) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.closing.Store(true)
	ln := l.ln
	past := time.Unix(1, 0)
	for c := range l.conns {
		// Wake a connection waiting for its next request, in the poller or in read(2).
		_ = c.SetReadDeadline(past)
		if c.blk != nil {
			c.blk.wake()
		}
	}
	l.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	done := make(chan struct{})
	go func() { l.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		var left []*conn
		for c := range l.conns {
			left = append(left, c)
		}
		l.mu.Unlock()
		for _, c := range left {
			// A write blocked on a client that does not read: shutting down the write side
			// fails it, then the close can complete.
			if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			_ = c.Close()
		}
		return ctx.Err()
	}
}

// conn is one accepted connection while the Lane serves it.
type conn struct {
	net.Conn
	lane      *Lane
	accepted  time.Time // the first request's head must be in by accepted + header timeout
	headStart time.Time // when the first bytes of the head being read arrived
	busyWin   int64     // the last busy window this connection was counted in (noteBusy)
	served    bool      // a request was answered: the idle timeout applies between requests
	deadline  time.Time // the read deadline last set
	blk       *blocker  // nil: this connection never uses blocking mode
}

func (c *conn) serve() {
	handedOff := false
	defer func() {
		if v := recover(); v != nil {
			if c.lane.onPanic != nil {
				c.lane.onPanic(v)
			}
			handedOff = false
		}
		if c.blk != nil && c.blk.on {
			c.leaveBlocking()
		}
		if !handedOff {
			_ = c.Close()
		}
		c.lane.untrack(c)
	}()
	buf := make([]byte, bufSize)
	out := make([]byte, 0, 1024)  // the handler's body
	resp := make([]byte, 0, 1024) // the whole response
	start, end := 0, 0            // unread bytes are buf[start:end]
	for {
		if start == end {
			start, end = 0, 0
		}
		h, n, verdict := parseHead(buf[start:end])
		switch verdict {
		case headFast:
			rt := c.lane.lookupRoute(h.path)
			if rt == nil {
				handedOff = c.handOff(buf[start:end])
				return
			}
			status, ctype, body := rt.handler(out[:0], unsafeString(h.query), c.RemoteAddr())
			if cap(body) > cap(out) {
				out = body[:0]
			}
			closing := c.lane.closing.Load()
			resp = c.lane.appendResponse(resp[:0], status, ctype, body, closing)
			if err := c.write(resp); err != nil || closing {
				return
			}
			if !c.headStart.IsZero() { // a head read from the socket, not one already buffered
				c.lane.noteBusy(c, c.headStart)
			}
			c.served, c.headStart = true, time.Time{}
			start += n
			if start == end && c.blk != nil && !c.blk.on {
				c.enterBlocking() // a busy connection: wait for its next request in read(2)
			}
			continue
		case headOther:
			handedOff = c.handOff(buf[start:end])
			return
		}
		// headMore: read more of the request head.
		if start > 0 {
			end = copy(buf, buf[start:end])
			start = 0
		}
		if end == len(buf) { // a head this large is net/http's business (431, or a big cookie)
			handedOff = c.handOff(buf[:end])
			return
		}
		partial := end > 0
		m, err := c.read(buf[end:], partial)
		if m > 0 && !partial {
			c.headStart = time.Now()
		}
		end += m
		if err != nil {
			if partial && (err == io.EOF || err == errPeerClosed) {
				// Part of a head, then the client hung up: net/http answers it (400).
				handedOff = c.handOff(buf[:end])
			}
			return
		}
	}
}

// read reads more of a request head: in blocking mode while the connection is busy, else
// through the poller with the idle or header timeout. A read that returns data through the
// poller puts the connection (back) in blocking mode when a slot is free.
//
// A head that arrives in pieces is read through the poller, whose deadline holds the whole
// head to the header timeout (from its first bytes, or from accept for the first request,
// as net/http does).
func (c *conn) read(p []byte, partial bool) (int, error) {
	if c.lane.closing.Load() {
		return 0, errClosing
	}
	if b := c.blk; b != nil && b.on {
		if !partial && c.lane.mayBlock() {
			n, err := b.readBlocking(p)
			if err != errLinger {
				return n, err
			}
		}
		c.leaveBlocking()
		if b.on {
			return 0, errLinger
		}
	}
	if !c.armDeadline(partial) {
		return 0, errClosing
	}
	return c.Conn.Read(p)
}

// write writes a response: in blocking mode with the socket's send timeout, after which (a
// client that does not read) the rest goes through the poller, as net/http writes.
func (c *conn) write(p []byte) error {
	if b := c.blk; b != nil && b.on {
		rest, err := b.writeBlocking(p)
		if err != errLinger {
			return err
		}
		c.leaveBlocking()
		if b.on {
			return err
		}
		p = rest
	}
	_, err := c.Conn.Write(p)
	return err
}

// enterBlocking puts the connection in blocking mode if few enough connections are busy
// (mayBlock) and fewer than maxBlocking are in it.
func (c *conn) enterBlocking() {
	if !c.lane.mayBlock() {
		return
	}
	if c.lane.blocking.Add(1) > maxBlocking {
		c.lane.blocking.Add(-1)
		return
	}
	// The poller's deadline would fail the raw read at once; the socket's receive timeout
	// (linger) bounds a blocking read instead.
	if c.SetReadDeadline(time.Time{}) != nil || c.blk.setBlocking(true) != nil {
		c.lane.blocking.Add(-1)
		return
	}
	c.deadline = time.Time{}
	if c.lane.closing.Load() { // Shutdown's wake-up may have come before the deadline reset
		c.leaveBlocking()
	}
}

// leaveBlocking puts the connection back in non-blocking mode, the poller's.
func (c *conn) leaveBlocking() {
	if c.blk.setBlocking(false) == nil {
		c.lane.blocking.Add(-1)
	}
}

var (
	errClosing    = errors.New("h1: shutting down")
	errPeerClosed = errors.New("h1: the client closed the connection")
)

// armDeadline sets the read deadline for the next read through the poller: the header
// timeout for a head (from its first bytes; for the first request, from accept), the idle
// timeout between requests. The idle deadline is reset only when it would move by more than
// a quarter of the timeout, to keep timer updates off most requests. It reports false once
// the Lane is shutting down.
func (c *conn) armDeadline(partial bool) bool {
	var want time.Time
	switch {
	case !c.served:
		want = c.accepted.Add(c.lane.header)
	case partial:
		want = c.headStart.Add(c.lane.header)
	default:
		want = time.Now().Add(c.lane.idle)
		if want.Sub(c.deadline) <= c.lane.idle/4 {
			want = c.deadline
		}
	}
	if !want.Equal(c.deadline) {
		if c.SetReadDeadline(want) != nil {
			return false
		}
		c.deadline = want
	}
	return !c.lane.closing.Load()
}

// handOff gives the connection, with the bytes already read, to the fallback server.
func (c *conn) handOff(pending []byte) bool {
	if c.blk != nil && c.blk.on {
		c.leaveBlocking()
		if c.blk.on {
			return false
		}
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	pc := &prefixConn{Conn: c.Conn}
	if len(pending) > 0 {
		pc.pending = append([]byte(nil), pending...)
	}
	c.lane.untrack(c) // from here on, the Lane's Shutdown must not touch it
	return c.lane.handoff.push(pc)
}

func (l *Lane) lookupRoute(path []byte) *route {
	for i := range l.routes {
		if l.routes[i].path == string(path) {
			return &l.routes[i]
		}
	}
	return nil
}

// unsafeString views b as a string without copying it: the query handed to a Handler,
// which must not keep it (the next request overwrites the buffer).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// appendResponse appends a complete response: status line, the headers net/http would
// send for the same handler (Content-Type, Date, Content-Length, and Connection: close
// when the connection closes after it), and the body.
func (l *Lane) appendResponse(b []byte, status int, ctype string, body []byte, closing bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, ctype...)
	b = append(b, "\r\nDate: "...)
	b = append(b, l.dateNow()...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if closing {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// dateLine is the Date header value of one second.
type dateLine struct {
	unix int64
	text string
}

func (l *Lane) dateNow() string {
	now := time.Now()
	sec := now.Unix()
	if d := l.date.Load(); d != nil && d.unix == sec {
		return d.text
	}
	d := &dateLine{unix: sec, text: now.UTC().Format(http.TimeFormat)}
	l.date.Store(d)
	return d.text
}

// prefixConn is a connection whose first reads return bytes read before the hand-over.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// CloseWrite lets net/http half-close a TCP connection after an error response, as it does
// with the *net.TCPConn it would otherwise have.
func (p *prefixConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// chanListener is the fallback server's listener: Accept returns handed-over connections.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to Accept; false (c closed) when the listener is closed.
func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		_ = c.Close()
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
