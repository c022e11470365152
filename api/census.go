package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/registry"
)

func (s *Server) registerCensusRoutes(r *gin.RouterGroup) {
	r.POST("/census/:kind", s.wrap(s.handleCensus))
	r.GET("/export/:kind", s.wrap(s.handleExport))
}

// handleCensus serves POST /api/v1/census/{cells|components|units|rules}[?mode=strict|partial][&format=geojson|ndjson|csv]:
// a census import with the same semantics and report as `citygrid import`. 200 with the
// report when something was stored; 422 import_rejected with the report when nothing was.
// The format of cells and components comes from ?format=, else Content-Type
// (application/geo+json, application/geo+json-seq or application/x-ndjson, text/csv),
// else the body's first bytes.
func (s *Server) handleCensus(c *gin.Context) error {
	kind := registry.Census(c.Param("kind"))
	if !kind.Valid() {
		return &httpError{status: http.StatusNotFound, code: registry.CodeNotFound, detail: "census kinds are cells, components, units and rules"}
	}
	mode, err := registry.ParseMode(c.Query("mode"))
	if err != nil {
		return err
	}
	release, err := s.census.admit()
	if err != nil {
		return err
	}
	defer release()
	// The upload and the import may outlast the server's read and write timeouts; the
	// upload stays bounded by UploadTimeout.
	setDeadlines(c, s.uploadTimeout, s.uploadTimeout)
	// The whole upload is on disk before the import starts: an import holds the Service's
	// write lock while it reads, and a slow client must not hold every other write up with it.
	body, err := spool(c.Request.Body)
	if err != nil {
		return err
	}
	defer body.remove()
	setDeadlines(c, 0, s.uploadTimeout) // the body is read; the client's going still ends the request
	opt := registry.ImportOptions{Mode: mode, Actor: actor(c)}
	if kind == registry.CensusCells || kind == registry.CensusComponents {
		if opt.Format, err = censusFormat(c); err != nil {
			return err
		}
	}
	ctx := c.Request.Context()
	done, err := s.census.run(ctx)
	if err != nil {
		return err
	}
	rep, err := s.svc.Import(ctx, kind, body.f, opt)
	done()
	if errors.Is(err, registry.ErrImportRejected) {
		return &rejectedError{report: rep}
	}
	if err != nil {
		return err
	}
	setDeadlines(c, 0, s.writeTimeout)
	return okJSON(c, toReportJSON(&rep))
}

// errCensusBusy answers a census upload when the node's queue is full.
var errCensusBusy = &httpError{status: http.StatusServiceUnavailable, code: registry.CodeBusy,
	detail: "census imports run one at a time on a node and the queue is full; send it again later"}

// censusQueue runs census imports one at a time, with up to a few uploads waiting (their
// bodies spooling to disk meanwhile); beyond that uploads are refused at once.
type censusQueue struct {
	admitted chan struct{} // one token per upload admitted: the running one and the waiting
	running  chan struct{} // one token: the import holding it runs
}

func newCensusQueue(waiting int) *censusQueue {
	return &censusQueue{admitted: make(chan struct{}, 1+waiting), running: make(chan struct{}, 1)}
}

// admit takes a place in the queue, or fails with errCensusBusy when there is none.
func (q *censusQueue) admit() (release func(), err error) {
	select {
	case q.admitted <- struct{}{}:
		return func() { <-q.admitted }, nil
	default:
		return nil, errCensusBusy
	}
}

// run waits for the import's turn; done ends it.
func (q *censusQueue) run(ctx context.Context) (done func(), err error) {
	select {
	case q.running <- struct{}{}:
		return func() { <-q.running }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// spooled is a request body copied to a temporary file.
type spooled struct {
	f *os.File
}

// spool copies body to a temporary file and rewinds it. Errors map as readBody's do: over
// the limit 413, a broken upload 400.
func spool(body io.Reader) (*spooled, error) {
	f, err := os.CreateTemp("", "citygrid-census-*")
	if err != nil {
		return nil, fmt.Errorf("spool census upload: %w", err)
	}
	sp := &spooled{f: f}
	if _, err := io.Copy(f, body); err != nil {
		sp.remove()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the request body could not be read: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		sp.remove()
		return nil, fmt.Errorf("spool census upload: %w", err)
	}
	return sp, nil
}

// remove closes and deletes the file.
func (sp *spooled) remove() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}

// setDeadlines moves the connection's read and write deadlines to read and write from now;
// 0 clears one. Where the writer cannot (a test's recorder), there is no deadline to move.
func setDeadlines(c *gin.Context, read, write time.Duration) {
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(deadline(read))
	_ = rc.SetWriteDeadline(deadline(write))
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// censusFormat picks the census format a request names in ?format= or its Content-Type; ""
// leaves it to Service.Import, which detects it from the body's first bytes.
func censusFormat(c *gin.Context) (registry.Format, error) {
	switch f := registry.Format(c.Query("format")); f {
	case registry.FormatGeoJSON, registry.FormatNDJSON, registry.FormatCSV:
		return f, nil
	case "":
	default:
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidFormat, "format must be geojson, ndjson or csv, not %q", string(f))
	}
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err == nil {
			switch mt {
			case "application/geo+json", "application/json":
				return registry.FormatGeoJSON, nil
			case "application/geo+json-seq", "application/x-ndjson", "application/x-geojson-seq", "application/jsonl":
				return registry.FormatNDJSON, nil
			case "text/csv":
				return registry.FormatCSV, nil
			}
		}
	}
	return "", nil
}

// handleExport serves GET /api/v1/export/{cells|components}[?include_removed=true]: every
// stored record as one streamed GeoJSON FeatureCollection. The export may outlast the
// server's write timeout: each write moves the deadline on, so only a client that stops
// reading is cut off.
func (s *Server) handleExport(c *gin.Context) error {
	ctx := c.Request.Context()
	w := s.streamWriter(c)
	switch c.Param("kind") {
	case "cells":
		c.Header("Content-Type", geoJSONContentType)
		c.Status(http.StatusOK)
		_, err := geojson.ExportCells(ctx, w, s.svc)
		return err
	case "components":
		incl := false
		if raw := c.Query("include_removed"); raw != "" {
			v, err := strconv.ParseBool(raw)
			if err != nil {
				return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "include_removed must be true or false")
			}
			incl = v
		}
		c.Header("Content-Type", geoJSONContentType)
		c.Status(http.StatusOK)
		_, err := geojson.ExportComponents(ctx, w, s.svc, incl)
		return err
	}
	return &httpError{status: http.StatusNotFound, code: registry.CodeNotFound, detail: "exports are cells and components"}
}

// streamWriter is c's writer for a response written over a long time: the read deadline is
// cleared (the request is read; the client's going still ends it) and each write first moves
// the write deadline WriteTimeout on.
func (s *Server) streamWriter(c *gin.Context) io.Writer {
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	if s.writeTimeout <= 0 {
		_ = rc.SetWriteDeadline(time.Time{})
		return c.Writer
	}
	return &deadlineWriter{w: c.Writer, rc: rc, d: s.writeTimeout}
}

// deadlineWriter moves the connection's write deadline d on before each write.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.w.Write(p)
}
