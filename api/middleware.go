package api

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"citygrid/registry"
)

// The policy chain. NewServer installs these on the one gin engine, outermost first, so that
// every request (every route, and the 404 and 405 answers) passes through all of them:
//
//  1. recoverPanic: a panic anywhere below becomes a logged 500 problem
//  2. requestID: X-Request-Id on every response
//  3. accessLog: one log line per request
//  4. observe: the request duration histogram
//  5. cors (only with Config.CORSOrigins): CORS headers, and the answer to a preflight,
//     which must not meet the limits below
//  6. methods: OPTIONS answered (204, Allow), HEAD and OPTIONS added to a 405's Allow, a
//     HEAD request (routed as GET, see root) named HEAD again
//  7. limits: body size, the X-Actor header, UTF-8 in the path and the query
//
// The routes under /api/v1, except the class catalogue, add requireReady (503 not_ready
// while the index loads). Authentication and rate limits join the chain after limits.
func (s *Server) chain() []gin.HandlerFunc {
	chain := []gin.HandlerFunc{s.recoverPanic, s.requestID, s.accessLog, s.observe}
	if s.cors != nil {
		chain = append(chain, s.corsHeaders)
	}
	return append(chain, s.methods, s.limits)
}

// recoverPanic turns a handler panic into a logged 500 problem instead of a dropped connection.
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler { // the handler asked net/http to drop the connection
			panic(v)
		}
		s.log.ErrorContext(c.Request.Context(), "panic in handler", slog.Any("panic", v),
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path),
			slog.String("request_id", responseRequestID(c)),
			slog.String("stack", string(debug.Stack())))
		c.Abort()
		if !c.Writer.Written() {
			renderProblem(c, http.StatusInternalServerError, registry.CodeInternal, "internal error", nil)
		}
	}()
	c.Next()
}

// requestIDHeader carries a request's id, in the request (the client's or a proxy's) and in
// every response.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a client's request id; a longer or stranger one is replaced.
const maxRequestIDLen = 128

// requestID echoes the client's X-Request-Id when it is sane (1–128 characters of
// A-Z a-z 0-9 . _ : -), else sets a new one: 32 random hex digits.
func (s *Server) requestID(c *gin.Context) {
	id := c.Request.Header.Get(requestIDHeader)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	c.Writer.Header()[requestIDHeader] = []string{id}
	c.Next()
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 128 random bits in hex. They need to be unique, not secret: the
// runtime's per-thread ChaCha8 source is enough and costs no system call.
func newRequestID() string {
	var raw [16]byte
	for i := 0; i < len(raw); i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}

// responseRequestID is the id requestID gave the request: every log line about a request
// carries it as request_id.
func responseRequestID(c *gin.Context) string {
	if v := c.Writer.Header()[requestIDHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// accessLog logs each request once it is answered, a panicking one too (as the 500 that
// recoverPanic writes for it).
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	done := false
	defer func() {
		s.logRequest(c.Request.Context(), c, finalStatus(c, done), time.Since(start))
	}()
	c.Next()
	done = true
}

// observe records each request's latency by route template and status class.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	done := false
	defer func() {
		s.metrics.observe(c.FullPath(), finalStatus(c, done), time.Since(start))
	}()
	c.Next()
	done = true
}

// finalStatus is the status a request is answered with. A handler that panicked (done is
// false) before writing anything gets the 500 recoverPanic writes.
func finalStatus(c *gin.Context, done bool) int {
	if !done && !c.Writer.Written() {
		return http.StatusInternalServerError
	}
	return c.Writer.Status()
}

// logRequest logs one request at the level its status calls for: successes at debug level
// (the lookup route is called thousands of times a second), client errors and 503s (a
// readiness probe while the index loads) at info, other server errors at error level. A
// successful write (isWrite) is logged at info as "write", with its actor: this is the one
// place every write of the API is logged, whatever route made it.
func (s *Server) logRequest(ctx context.Context, c *gin.Context, status int, d time.Duration) {
	level := slog.LevelDebug
	msg := "http request"
	write := status < 400 && isWrite(c)
	switch {
	case status >= 500 && status != http.StatusServiceUnavailable:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	case write:
		level, msg = slog.LevelInfo, "write"
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.String("route", c.FullPath()),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.String("remote", c.ClientIP()),
		slog.String("request_id", responseRequestID(c)),
	}
	if write {
		attrs = append(attrs, slog.String("actor", actor(c)))
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

// isWrite reports whether a request is one that changes stored records: a POST, PUT, PATCH or
// DELETE of a route, except the lookup batch (a POST that only reads) and a census dry run.
func isWrite(c *gin.Context) bool {
	switch c.Request.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	switch c.FullPath() {
	case "", lookupRoute:
		return false
	}
	dry, _ := strconv.ParseBool(c.Query("dry_run")) // as parseCensusParams reads it
	return !dry
}

// lookupRoute is the one POST route that writes nothing.
const lookupRoute = "/api/v1/lookup"

// censusRoute is the one route whose body may be MaxBody long; every other body is capped at
// MaxWriteBody.
const censusRoute = "/api/v1/census/:kind"

// limits caps the request body at the route's limit (refusing a declared Content-Length
// over it before reading any of it, and closing an HTTP/1 connection), and refuses an X-Actor
// header that is too long or not text and a path or query value that is not UTF-8.
func (s *Server) limits(c *gin.Context) {
	limit := s.maxWrite
	if c.FullPath() == censusRoute {
		limit = s.maxBody
	}
	if c.Request.ContentLength > limit {
		// The body stays unread: over HTTP/1 closing the connection is cheaper than draining
		// it. Over HTTP/2 the server resets only this stream; Connection: close would make it
		// send GOAWAY, ending the client's other streams too.
		if c.Request.ProtoMajor == 1 {
			c.Header("Connection", "close")
		}
		s.writeProblem(c, errBodyTooLarge)
		return
	}
	if b := c.Request.Body; b != nil && b != http.NoBody {
		c.Request.Body = http.MaxBytesReader(unwrapWriter(c.Writer), b, limit)
	}
	if err := checkText(c.Request); err != nil {
		s.writeProblem(c, err)
		return
	}
	c.Next()
}

// unwrapWriter is net/http's own ResponseWriter under gin's: MaxBytesReader given that one
// has net/http close the connection after a body runs over its limit.
func unwrapWriter(w gin.ResponseWriter) http.ResponseWriter {
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		return u.Unwrap()
	}
	return w
}

// checkText applies the free-text limits that hold on every route: X-Actor, and UTF-8 in the
// path and in the query's names and values.
func checkText(r *http.Request) error {
	if a, ok := r.Header["X-Actor"]; ok && len(a) > 0 {
		if registry.CheckActor(a[0]) != nil {
			return errInvalidActor // the same rule, in the header's words
		}
	}
	if !utf8.ValidString(r.URL.Path) {
		return errInvalidEncoding
	}
	if !validQueryUTF8(r.URL.RawQuery) {
		return errInvalidEncoding
	}
	return nil
}

// validQueryUTF8 reports whether every name and value of a raw query is UTF-8 once
// unescaped. A malformed escape is left to the handler that reads the value, as before.
func validQueryUTF8(raw string) bool {
	ascii := true
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' || raw[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return true
	}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if !strings.ContainsRune(part, '%') {
			if !utf8.ValidString(part) {
				return false
			}
			continue
		}
		if u, err := url.QueryUnescape(part); err == nil && !utf8.ValidString(u) {
			return false
		}
	}
	return true
}

// requireReady answers 503 not_ready (with Retry-After) while the index is loading. It sits
// on every /api/v1 route but the class catalogue: the routes answered from the index would
// answer wrongly (404 outside_grid, empty pages), writes would be checked against a partial
// index (a copy of a stored cell's shape accepted), and a route added later is held back by
// default. /healthz, /readyz and /metrics are outside /api/v1.
func (s *Server) requireReady(c *gin.Context) {
	if !s.idx.Ready() {
		s.writeProblem(c, errNotReady)
		return
	}
	c.Next()
}
