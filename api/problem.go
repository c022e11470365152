package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"citygrid/registry"
)

// problemTypePrefix makes a problem's "type" URI from its code. The URN is stable and says
// what the problem is without promising a dereferenceable documentation page.
const problemTypePrefix = "urn:citygrid:problem:"

// problemJSON is an RFC 9457 problem document with citygrid's "code" extension member.
type problemJSON struct {
	Type   string      `json:"type"`
	Title  string      `json:"title"`
	Status int         `json:"status"`
	Code   string      `json:"code"`
	Detail string      `json:"detail"`
	Report *reportJSON `json:"report,omitempty"` // import_rejected only
}

// httpError is an error whose status is set by HTTP itself rather than by a registry Kind:
// 405, 428 and the like have no counterpart in the domain.
type httpError struct {
	status int
	code   string
	detail string
}

func (e *httpError) Error() string { return e.code + ": " + e.detail }

// rejectedError carries the report of a census import that stored nothing: err is
// registry.ErrImportRejected or registry.ErrEmptyCensus (nil means the former).
type rejectedError struct {
	report registry.Report
	err    error
}

func (e *rejectedError) Error() string { return e.Unwrap().Error() }

func (e *rejectedError) Unwrap() error {
	if e.err == nil {
		return registry.ErrImportRejected
	}
	return e.err
}

// Problems the HTTP layer finds on its own, before a handler runs.
var (
	// errBodyTooLarge is what a body over its limit becomes, whatever layer noticed it.
	errBodyTooLarge    = &registry.Error{Kind: registry.TooLarge, Code: registry.CodeBodyTooLarge, Message: "the request body exceeds the size limit"}
	errInvalidEncoding = &registry.Error{Kind: registry.Invalid, Code: registry.CodeInvalidEncoding, Message: "the path and the query must be UTF-8 once unescaped"}
	errInvalidActor    = &registry.Error{Kind: registry.Invalid, Code: registry.CodeInvalidActor,
		Message: fmt.Sprintf("X-Actor must be at most %d characters of UTF-8 text without control characters", registry.MaxActorRunes)}
)

// statusOf is the one place that maps an error to an HTTP status, a problem code and a
// detail that is safe to show. Anything it does not recognise is an internal error.
func statusOf(err error) (status int, code, detail string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.code, he.detail
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, registry.CodeBodyTooLarge, errBodyTooLarge.Message
	}
	var re *registry.Error
	if errors.As(err, &re) {
		if re.Code == registry.CodeImportRejected || re.Code == registry.CodeEmptyCensus {
			// The request was well formed; its content was not acceptable.
			return http.StatusUnprocessableEntity, re.Code, re.Message
		}
		switch re.Kind {
		case registry.Invalid:
			return http.StatusBadRequest, re.Code, re.Message
		case registry.NotFound:
			return http.StatusNotFound, re.Code, re.Message
		case registry.Conflict:
			return http.StatusConflict, re.Code, re.Message
		case registry.Forbidden:
			return http.StatusForbidden, re.Code, re.Message
		case registry.TooLarge:
			return http.StatusRequestEntityTooLarge, re.Code, re.Message
		case registry.Unavailable:
			return http.StatusServiceUnavailable, re.Code, re.Message
		case registry.Precondition:
			return http.StatusPreconditionRequired, re.Code, re.Message
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The client went away or the server is shutting down; not a fault of ours.
		return http.StatusServiceUnavailable, registry.CodeCanceled, "the request was canceled"
	}
	return http.StatusInternalServerError, registry.CodeInternal, "internal error"
}

// wrap adapts an error-returning handler; writeProblem is the only code that turns an error
// into a response.
func (s *Server) wrap(h func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.writeProblem(c, err)
		}
	}
}

// writeProblem answers err as application/problem+json. Internal errors are logged here,
// once, and shown to the client only as "internal error".
func (s *Server) writeProblem(c *gin.Context, err error) {
	status, code, detail := statusOf(err)
	ctx := c.Request.Context()
	switch status {
	case http.StatusInternalServerError:
		s.log.ErrorContext(ctx, "internal error", "err", err, "method", c.Request.Method, "path", c.Request.URL.Path,
			"request_id", responseRequestID(c))
	case http.StatusServiceUnavailable:
		if code == registry.CodeStoreUnavailable || code == registry.CodeCommitUnknown {
			// The cause (the database's or the network's message) is for the operator.
			s.log.WarnContext(ctx, "database unavailable", "err", err, "method", c.Request.Method, "path", c.Request.URL.Path,
				"request_id", responseRequestID(c))
		}
		// Only where sending the same request again is right: not after commit_unknown
		// (the write may be stored: a retried POST could store it twice), nor for a store
		// without a feed (feed_unavailable does not pass).
		switch code {
		case registry.CodeStoreUnavailable, registry.CodeNotReady:
			c.Header("Retry-After", "1")
		case registry.CodeBusy:
			c.Header("Retry-After", "5") // an import takes seconds
		}
	}
	if c.Writer.Written() {
		// A streamed response failed half-way: the status is gone, so the log is all we can do.
		if status != http.StatusInternalServerError {
			s.log.WarnContext(ctx, "error after the response started", "err", err, "path", c.Request.URL.Path,
				"request_id", responseRequestID(c))
		}
		c.Abort()
		return
	}
	var report *reportJSON
	var rj *rejectedError
	if errors.As(err, &rj) {
		r := toReportJSON(&rj.report)
		report = &r
	}
	c.Abort()
	renderProblem(c, status, code, detail, report)
}

// renderProblem writes a problem document with the given status.
func renderProblem(c *gin.Context, status int, code, detail string, report *reportJSON) {
	status, body := problemBody(status, code, detail, report)
	c.Data(status, problemContentType, body)
}

const problemContentType = "application/problem+json"

// problemBody encodes a problem document; the status changes only when encoding fails.
func problemBody(status int, code, detail string, report *reportJSON) (int, []byte) {
	body, err := json.Marshal(problemJSON{
		Type:   problemTypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Code:   code,
		Detail: detail,
		Report: report,
	})
	if err != nil { // cannot happen for these field types; keep the client informed anyway
		body = []byte(`{"type":"` + problemTypePrefix + registry.CodeInternal + `","title":"Internal Server Error","status":500,"code":"` + registry.CodeInternal + `","detail":"internal error"}`)
		status = http.StatusInternalServerError
	}
	return status, body
}

func (s *Server) handleNoRoute(c *gin.Context) error {
	return &httpError{status: http.StatusNotFound, code: registry.CodeNotFound, detail: "no such resource: " + c.Request.URL.Path}
}

func (s *Server) handleNoMethod(c *gin.Context) error {
	return &httpError{status: http.StatusMethodNotAllowed, code: registry.CodeMethodNotAllowed,
		detail: "method " + c.Request.Method + " is not allowed here; see the Allow header"}
}
