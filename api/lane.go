package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"citygrid/api/internal/h1"
)

// lookupPath is the route Lane answers itself.
const lookupPath = "/api/v1/lookup"

// Lane serves the API on a listener. It answers plain keep-alive GET /api/v1/lookup requests
// on the connection itself (package api/internal/h1: one read and one write system call a
// request, no per-request goroutine or header map) and hands every other request, and the
// connection from then on, to an http.Server serving Handler. The answers, metrics and logs
// are the same either way.
type Lane struct {
	lane *h1.Lane
}

// NewLane makes a Lane in front of hs, whose Handler must be s.Handler(). hs's IdleTimeout
// and ReadHeaderTimeout apply to the Lane's connections too.
func (s *Server) NewLane(hs *http.Server) *Lane {
	return &Lane{h1.New(h1.Config{
		Fallback: hs,
		Routes:   map[string]h1.Handler{lookupPath: s.laneLookup},
		OnPanic: func(v any) {
			s.log.Error("panic in the lookup lane", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		},
	})}
}

// Serve accepts connections on ln until Shutdown and runs hs.Serve on those handed over. It
// returns http.ErrServerClosed after Shutdown.
func (l *Lane) Serve(ln net.Listener) error { return l.lane.Serve(ln) }

// Shutdown stops accepting, closes idle connections and waits for requests in progress
// until ctx ends. Shut hs down too: the connections handed to it are its own.
func (l *Lane) Shutdown(ctx context.Context) error { return l.lane.Shutdown(ctx) }

// laneLookup is GET /api/v1/lookup for the Lane: lookupAnswer, with the error handling,
// metrics and log line that wrap, writeProblem, recoverPanic and observe give it under gin.
func (s *Server) laneLookup(dst []byte, rawQuery string, remote net.Addr) (status int, ctype string, body []byte) {
	start := time.Now()
	ctx := context.Background()
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "panic in handler", slog.Any("panic", v),
				slog.String("method", http.MethodGet), slog.String("path", lookupPath),
				slog.String("stack", string(debug.Stack())))
			status, body = problemBody(http.StatusInternalServerError, "internal", "internal error", nil)
			ctype = problemContentType
		}
		d := time.Since(start)
		s.metrics.observe(lookupPath, status, d)
		s.logRequest(ctx, http.MethodGet, lookupPath, lookupPath, status, d, len(body), func() string { return remoteIP(remote) })
	}()
	b, err := s.lookupAnswer(dst, rawQuery)
	if err == nil {
		return http.StatusOK, jsonContentType[0], b
	}
	status, code, detail := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(ctx, "internal error", "err", err, "method", http.MethodGet, "path", lookupPath)
	}
	status, body = problemBody(status, code, detail, nil)
	return status, problemContentType, body
}

// remoteIP is the peer's address without the port, as gin's ClientIP gives it when no proxy
// is trusted.
func remoteIP(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
