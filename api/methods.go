package api

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"
)

// root is the server's http.Handler: the gin engine, with HEAD answered wherever GET is.
// gin routes HEAD only to HEAD routes, so a HEAD request is routed as GET (the methods
// middleware names it HEAD again for the log and the handlers); net/http sends the headers
// and the Content-Length a GET would have, without the body. A handler that streams (the
// export, the change stream) is stopped once the headers are out (see headWriter): the rest
// would be thrown away.
type root struct{ e *gin.Engine }

// headKey marks, in a request's context, a HEAD request routed as GET.
type headKey struct{}

func (h *root) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodHead {
		h.e.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	g := r.WithContext(context.WithValue(ctx, headKey{}, true))
	g.Method = http.MethodGet
	h.e.ServeHTTP(&headWriter{ResponseWriter: w, cancel: cancel}, g)
}

// Routes lists the engine's routes (method, path template, handler). HEAD and OPTIONS are
// answered on every path without routes of their own.
func (h *root) Routes() gin.RoutesInfo { return h.e.Routes() }

// headWriter is the ResponseWriter of a HEAD request: a flush, or a body past
// headBodyEnough, has sent the headers, so it ends the handler's work by cancelling its
// context (the export of a million components would otherwise run to the end for nothing).
type headWriter struct {
	http.ResponseWriter
	cancel  context.CancelFunc
	written int
}

// headBodyEnough is the body size past which net/http has sent a HEAD answer's headers (it
// buffers a few KiB before it sends them, to give a short body its Content-Length).
const headBodyEnough = 64 << 10

func (w *headWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if w.written += n; w.written > headBodyEnough {
		w.Flush() // the headers out before the handler, cancelled, may drop the connection
	}
	return n, err
}

func (w *headWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	w.cancel()
}

// Unwrap lets http.ResponseController reach net/http's writer (write deadlines).
func (w *headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is not offered to a HEAD request.
func (w *headWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}

// CloseNotify is gin's context.Stream's way to see the client leave.
func (w *headWriter) CloseNotify() <-chan bool {
	//lint:ignore SA1019 gin's context.Stream asks the writer for CloseNotify
	if cn, ok := w.ResponseWriter.(http.CloseNotifier); ok {
		return cn.CloseNotify()
	}
	return make(chan bool)
}

// methods answers OPTIONS on every known path (204 with Allow), lists HEAD and OPTIONS in the
// Allow header of a 405 wherever they are answered, and names a HEAD request routed as GET
// HEAD again. gin sets Allow, listing the methods with routes, before it runs the chain for
// a path that has no route for the request's method.
func (s *Server) methods(c *gin.Context) {
	if c.Request.Context().Value(headKey{}) != nil {
		c.Request.Method = http.MethodHead
	}
	h := c.Writer.Header()
	if allow := h.Get("Allow"); allow != "" {
		h.Set("Allow", withImplicitMethods(allow))
		if c.Request.Method == http.MethodOptions {
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
	}
	c.Next()
}

// withImplicitMethods adds HEAD (where GET is) and OPTIONS to an Allow list.
func withImplicitMethods(allow string) string {
	ms := strings.Split(allow, ", ")
	has := func(m string) bool {
		for _, x := range ms {
			if x == m {
				return true
			}
		}
		return false
	}
	if has(http.MethodGet) && !has(http.MethodHead) {
		ms = append(ms, http.MethodHead)
	}
	if !has(http.MethodOptions) {
		ms = append(ms, http.MethodOptions)
	}
	return strings.Join(ms, ", ")
}

// CORS: what a page on an allowed origin may send and read.
var (
	corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete}
	corsAllowHeaders  = []string{"Content-Type", "If-Match", "If-None-Match", "X-Actor", requestIDHeader}
	corsExposeHeaders = []string{"ETag", "Location", requestIDHeader, "Retry-After", "Allow"}
)

// corsMaxAge is how long, in seconds, a browser may keep a preflight's answer.
const corsMaxAge = 600

// newCORS returns the CORS policy for origins ("*" allows any; an origin may hold one "*"
// wildcard, https://*.example.cn), nil when origins is empty: no CORS headers at all.
func newCORS(origins []string) *cors.Cors {
	if len(origins) == 0 {
		return nil
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: corsMethods,
		AllowedHeaders: corsAllowHeaders,
		ExposedHeaders: corsExposeHeaders,
		MaxAge:         corsMaxAge,
	})
}

// corsHeaders applies the CORS policy (only in the chain with Config.CORSOrigins): the CORS
// headers of an answer to an allowed origin, and the answer to a preflight (OPTIONS with
// Access-Control-Request-Method): 204, here, before the body limits and the X-Actor check,
// which a preflight (no body, no X-Actor) must not meet.
func (s *Server) corsHeaders(c *gin.Context) {
	r := c.Request
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	s.cors.HandlerFunc(c.Writer, r)
	if preflight {
		c.Abort()
		return
	}
	c.Next()
}
