package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/registry"
)

// handleExport serves GET /api/v1/export/{cells|components}[?include_removed=true][&crs=]: every
// stored record as one streamed GeoJSON FeatureCollection, in WGS84 or in the datum crs names
// (then a crs member names it: spatial.CRS.GeoJSONName). The export may outlast the
// server's write timeout: each write moves the deadline on, so a client that stops reading is
// cut off; and the export as a whole is bounded by ExportTimeout, so a client reading just
// fast enough cannot hold the store's read transaction open for good. At most MaxExports run
// at once on a node; beyond it 503 busy.
func (s *Server) handleExport(c *gin.Context) error {
	kind := c.Param("kind")
	if kind != "cells" && kind != "components" {
		return &httpError{status: http.StatusNotFound, code: registry.CodeNotFound, detail: "exports are cells and components"}
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	datum := geojson.DatumOf(crs)
	incl := false
	if raw := c.Query("include_removed"); raw != "" && kind == "components" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "include_removed must be true or false")
		}
		incl = v
	}
	release, err := s.exports.admit()
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.exports.timeout)
	defer cancel()
	end, _ := ctx.Deadline()
	w := s.streamWriter(c)
	w.ctx, w.end = ctx, end
	c.Header("Content-Type", geoJSONContentType)
	c.Status(http.StatusOK)
	if kind == "cells" {
		_, err = geojson.ExportCellsIn(ctx, w, s.svc, datum)
	} else {
		_, err = geojson.ExportComponentsIn(ctx, w, s.svc, s.catalog, incl, datum)
	}
	if err != nil && c.Writer.Written() {
		// Cut the connection rather than end the response as if it were whole: the final
		// write of the response (HTTP/1's last chunk) fails, or HTTP/2 resets the stream.
		_ = w.rc.SetWriteDeadline(time.Now())
	}
	return err
}

// exports bounds the export route: how long one may take, and how many run at once.
type exports struct {
	timeout time.Duration
	running slots // one per export running
	busy    error // what an export beyond them answers
}

func newExports(cfg Config) *exports {
	n := cfg.MaxExports
	if n <= 0 {
		n = DefaultMaxExports
	}
	e := &exports{timeout: cfg.ExportTimeout, running: make(slots, n),
		busy: &httpError{status: http.StatusServiceUnavailable, code: registry.CodeBusy,
			detail: fmt.Sprintf("at most %d exports run at once on a node; send it again later", n)}}
	if e.timeout <= 0 {
		e.timeout = DefaultExportTimeout
	}
	return e
}

// admit takes a place among the running exports, or fails with 503 busy.
func (e *exports) admit() (release func(), err error) {
	return e.running.tryTake(e.busy)
}

// streamWriter is c's writer for a response written over a long time: the read deadline is
// cleared (the request is read; the client's going still ends it) and each write first moves
// the write deadline WriteTimeout on (none when WriteTimeout is 0), never past end when set;
// once ctx, when set, has ended, writes fail with its error.
func (s *Server) streamWriter(c *gin.Context) *deadlineWriter {
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	if s.writeTimeout <= 0 {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	return &deadlineWriter{w: c.Writer, rc: rc, d: s.writeTimeout}
}

// deadlineWriter moves the connection's write deadline d on before each write.
type deadlineWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	d   time.Duration   // 0: no deadline per write
	end time.Time       // zero: none
	ctx context.Context // nil: none
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return 0, err
		}
	}
	dl := deadline(w.d)
	if !w.end.IsZero() && (dl.IsZero() || w.end.Before(dl)) {
		dl = w.end
	}
	if !dl.IsZero() {
		_ = w.rc.SetWriteDeadline(dl)
	}
	return w.w.Write(p)
}
