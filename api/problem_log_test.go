package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"citygrid/registry"
)

// attrLog keeps every record's message and attributes as text.
type attrLog struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (h *attrLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrLog) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, m)
	return nil
}
func (h *attrLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *attrLog) WithGroup(string) slog.Handler      { return h }

// TestProblemLogsCarryRequestID: every line writeProblem logs carries the request's id, as
// the access log line does.
func TestProblemLogsCarryRequestID(t *testing.T) {
	gin.SetMode(gin.ReleaseMode) // as NewServer sets it
	for _, tt := range []struct {
		name    string
		started bool // the response was under way when the error came
		err     error
		msg     string
	}{
		{"internal", false, fmt.Errorf("boom"), "internal error"},
		{"database unavailable", false, fmt.Errorf("put unit: %w", registry.ErrStoreUnavailable), "database unavailable"},
		{"after the response started", true, registry.ErrInvalidCursor, "error after the response started"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &attrLog{}
			s := &Server{log: slog.New(logs)}
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/api/v1/units", nil)
			c.Writer.Header()[requestIDHeader] = []string{"req-" + tt.name}
			if tt.started {
				c.Writer.WriteString("[")
			}
			s.writeProblem(c, tt.err)
			logs.mu.Lock()
			defer logs.mu.Unlock()
			for _, r := range logs.recs {
				if r["msg"] == tt.msg {
					if r["request_id"] != "req-"+tt.name {
						t.Errorf("%q logged with request_id %q, want %q", tt.msg, r["request_id"], "req-"+tt.name)
					}
					return
				}
			}
			t.Errorf("no %q line in %v", tt.msg, logs.recs)
		})
	}
}
