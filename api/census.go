package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/ogr"
	"citygrid/registry"
	"citygrid/spatial"
)

func (s *Server) registerCensusRoutes(r *gin.RouterGroup) {
	r.POST("/census/:kind", s.wrap(s.handleCensus))
	r.GET("/jobs/:id", s.wrap(s.handleJob))
	r.GET("/export/:kind", s.wrap(s.handleExport))
}

// censusParams are the query parameters of a census upload beyond mode and format.
type censusParams struct {
	dryRun   bool // ?dry_run=true: check and report, store nothing
	rejected bool // ?rejected=geojson: answer the refused features as GeoJSON, with the report
	async    bool // ?async=true or Prefer: respond-async: answer 202 with a job to poll
}

func parseCensusParams(c *gin.Context, kind registry.Census) (censusParams, error) {
	var p censusParams
	bad := func(format string, args ...any) error {
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, format, args...)
	}
	boolParam := func(name string) (bool, error) {
		v, ok := c.GetQuery(name)
		if !ok {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, bad("%s must be true or false, not %q", name, v)
		}
		return b, nil
	}
	var err error
	if p.dryRun, err = boolParam("dry_run"); err != nil {
		return p, err
	}
	if p.async, err = boolParam("async"); err != nil {
		return p, err
	}
	for _, pref := range c.Request.Header.Values("Prefer") {
		for _, tok := range strings.Split(pref, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "respond-async") {
				p.async = true
			}
		}
	}
	if v, ok := c.GetQuery("rejected"); ok {
		switch {
		case v != "geojson":
			return p, bad("rejected must be geojson, not %q", v)
		case kind != registry.CensusCells && kind != registry.CensusComponents:
			return p, bad("rejected=geojson is for cells and components, not %s", kind)
		case p.async:
			return p, bad("rejected=geojson answers the features themselves; it cannot be combined with async")
		}
		p.rejected = true
	}
	return p, nil
}

// handleCensus serves POST /api/v1/census/{cells|components|units|rules}[?mode=strict|partial|replace][&area=]
// [&format=geojson|ndjson|csv|tsv|shp|gpkg][&encoding=utf-8|gbk|gb18030][&layer=NAME][&crs=][&dry_run=true][&rejected=geojson][&async=true]:
// a census import with the same semantics and report as `citygrid import` (area: the grid code
// prefix a grid revision of cells, mode=replace, replaces). crs (cells, components, and units'
// areas) is the coordinate system of the file's coordinates, converted to WGS84 as they are
// read; a GeoJSON crs member is honoured (registry.ImportOptions.CRS). 200 with the
// report when something was stored (or, with dry_run, would be); 422 import_rejected (or
// empty_census) with the report when nothing was. The format of cells and components comes
// from ?format=, else Content-Type (application/geo+json, application/geo+json-seq or
// application/x-ndjson, text/csv, text/tab-separated-values), else the body's first bytes: a
// zip (a zipped Shapefile) or a GeoPackage goes through ogr2ogr (package ogr), of the layer
// ?layer= names. A CSV/TSV's encoding comes from ?encoding=, else the charset of
// Content-Type, else detection (registry.DecodeText).
//
// With rejected=geojson the answer (200 or 422 as above) is an application/geo+json
// FeatureCollection of the refused features, each with its problems under
// "citygrid_problems", and the report as its foreign member "report". With async=true (or
// Prefer: respond-async) the upload is read, then answered at once with 202, a Location
// /api/v1/jobs/{id} and the job (see handleJob), and imported in the background.
func (s *Server) handleCensus(c *gin.Context) error {
	kind := registry.Census(c.Param("kind"))
	if !kind.Valid() {
		return &httpError{status: http.StatusNotFound, code: registry.CodeNotFound, detail: "census kinds are cells, components, units and rules"}
	}
	mode, err := registry.ParseMode(c.Query("mode"))
	if err != nil {
		return err
	}
	params, err := parseCensusParams(c, kind)
	if err != nil {
		return err
	}
	crs, err := censusCRS(c, kind)
	if err != nil {
		return err
	}
	if kind == registry.CensusCells && mode == registry.ModeReplace {
		if err := registry.CheckRevisionArea(c.Query("area")); err != nil {
			return err
		}
	}
	opt := registry.ImportOptions{Mode: mode, Actor: actor(c), DryRun: params.dryRun,
		CRS: crs, ResolveCRS: spatial.ResolveCRS, Area: c.Query("area")}
	if kind == registry.CensusCells || kind == registry.CensusComponents {
		if opt.Format, err = censusFormat(c); err != nil {
			return err
		}
	}
	release, err := s.census.queue.admit()
	if err != nil {
		return err
	}
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	// The upload is bounded as a whole by its context: reading the body, waiting for its turn
	// and the import. Connection deadlines bound only reading the body (pacedBody) and writing
	// the answer: over HTTP/2 a write deadline passing would reset the stream, and so cancel
	// the import, and over HTTP/1 it would bound nothing until the answer is written.
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.census.timeout)
	defer cancel()
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetWriteDeadline(time.Time{})
	answer := func() { _ = rc.SetWriteDeadline(deadline(s.writeTimeout)) }
	defer answer() // a problem is written once handleCensus returns
	// The whole upload is on disk before the import starts: an import holds the Service's
	// write lock while it reads, and a slow client must not hold every other write up with it.
	body, err := s.census.spool(ctx, rc, c.Request.Body)
	if err != nil {
		// The read deadline stays as it was: net/http must not wait for the rest of a body
		// cut off as too slow before it answers.
		return err
	}
	// The body is read: over HTTP/1 a read deadline passing from now on would cancel the
	// request's context; the upload's context still ends it.
	_ = rc.SetReadDeadline(time.Time{})
	var size int64
	if fi, err := body.f.Stat(); err == nil {
		size = fi.Size()
	}
	if opt.Encoding, err = censusEncoding(c); err != nil {
		return err
	}
	// A zipped Shapefile or a GeoPackage is converted by ogr2ogr (package ogr) once its
	// import's turn has come, and read as GeoJSONSeq.
	body.layer = c.Query("layer")
	if body.isGIS, err = body.gis(); err != nil {
		return err
	}
	if body.isGIS && c.Query("format") == "" {
		opt.Format = "" // a Content-Type naming a text format does not make a zip or GeoPackage one
	}
	switch {
	case body.isGIS && opt.Format == "" && kind != registry.CensusCells && kind != registry.CensusComponents:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "a Shapefile (zip) or GeoPackage holds cells or components, not %s", kind)
	case body.layer != "" && !body.isGIS:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "layer is for a GeoPackage or a zipped Shapefile, and the body is neither")
	case !body.isGIS && isGISFormat(c.Query("format")):
		return registry.Errorf(registry.Invalid, registry.CodeInvalidFormat, "format=%s, but the body is neither a zip (a zipped Shapefile) nor a GeoPackage", c.Query("format"))
	}
	prog := registry.NewProgress(size)
	opt = prog.Options(opt)
	if params.async {
		job := s.census.jobs.add(kind, prog)
		released = true // the job holds its place in the queue until it ends
		go s.runJob(job, body, opt, release)
		c.Header("Location", "/api/v1/jobs/"+job.id)
		answer()
		return writeJSON(c, http.StatusAccepted, "application/json; charset=utf-8", job.view())
	}
	defer body.remove()
	var rejects *rejectSpool
	if params.rejected {
		if rejects, err = s.census.newRejectSpool(crsDatum(crs)); err != nil {
			return err
		}
		defer rejects.remove()
		opt.Rejected = rejects.w.WriteRejected
	}
	var rep registry.Report
	err = s.census.queue.run(ctx, func() error {
		prog.Start()
		defer prog.Finish()
		rep, err = s.importSpooled(ctx, kind, body, opt, prog)
		return err
	})
	status := http.StatusOK
	switch {
	case errors.Is(err, registry.ErrImportRejected) || errors.Is(err, registry.ErrEmptyCensus):
		if rejects == nil {
			return &rejectedError{report: rep, err: err}
		}
		status = http.StatusUnprocessableEntity
	case errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() == nil:
		return s.census.errTimeout()
	case err != nil:
		return err
	}
	answer()
	if rejects != nil {
		return rejects.answer(c, status, &rep)
	}
	return okJSON(c, toReportJSON(&rep))
}

// rejectSpool is where a census upload with ?rejected=geojson writes its refused features as
// they are found, so that they are never all in memory.
type rejectSpool struct {
	f *os.File
	w *geojson.CensusWriter
}

func (u *censusUploads) newRejectSpool(d geojson.Datum) (*rejectSpool, error) {
	f, err := u.createSpool()
	if err != nil {
		return nil, fmt.Errorf("spool rejected features: %w", err)
	}
	return &rejectSpool{f: f, w: geojson.NewCensusWriterIn(f, d)}, nil
}

func (r *rejectSpool) remove() {
	r.f.Close()
	os.Remove(r.f.Name())
}

// collectionHead is how every CensusWriter collection begins.
const collectionHead = `{"type":"FeatureCollection",`

// answer writes the FeatureCollection of the refused features with rep as its foreign
// member "report", streamed from the spool.
func (r *rejectSpool) answer(c *gin.Context, status int, rep *registry.Report) error {
	if err := r.w.Close(); err != nil {
		return fmt.Errorf("spool rejected features: %w", err)
	}
	size, err := r.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("spool rejected features: %w", err)
	}
	head := make([]byte, len(collectionHead))
	if _, err := r.f.ReadAt(head, 0); err != nil || string(head) != collectionHead {
		return fmt.Errorf("spool rejected features: the spool does not start with %s (%v)", collectionHead, err)
	}
	rj, err := json.Marshal(toReportJSON(rep))
	if err != nil {
		return err
	}
	c.Status(status)
	c.Header("Content-Type", "application/geo+json")
	w := c.Writer
	_, _ = w.WriteString(collectionHead + `"report":`)
	_, _ = w.Write(rj)
	_, _ = w.WriteString(",")
	_, err = io.Copy(w, io.NewSectionReader(r.f, int64(len(collectionHead)), size-int64(len(collectionHead))))
	return err
}

// censusUploads is what the census route keeps: its queue, its limits, and where it spools.
type censusUploads struct {
	queue   *censusQueue
	timeout time.Duration // the upload as a whole
	idle    time.Duration // the body pausing
	minRate int64         // bytes/s on average, once grace has passed
	grace   time.Duration

	// createSpool creates an upload's temporary file; tests replace it.
	createSpool func() (*os.File, error)

	jobs *jobTable // the uploads answered with a job (async)
}

func newCensusUploads(cfg Config) *censusUploads {
	or := func(v, def time.Duration) time.Duration {
		if v <= 0 {
			return def
		}
		return v
	}
	u := &censusUploads{
		queue:   newCensusQueue(max(cfg.CensusQueue, 0)),
		timeout: or(cfg.UploadTimeout, DefaultUploadTimeout),
		idle:    or(cfg.UploadIdleTimeout, DefaultUploadIdleTimeout),
		grace:   or(cfg.UploadRateGrace, DefaultUploadRateGrace),
		minRate: cfg.UploadMinRate,
		createSpool: func() (*os.File, error) {
			return os.CreateTemp("", "citygrid-census-*")
		},
		jobs: newJobTable(),
	}
	if u.minRate <= 0 {
		u.minRate = DefaultUploadMinRate
	}
	return u
}

// errTooSlow answers an upload whose body came too slowly.
func (u *censusUploads) errTooSlow() error {
	return &httpError{status: http.StatusRequestTimeout, code: registry.CodeBodyTooSlow,
		detail: fmt.Sprintf("the census upload arrived too slowly: a pause over %v, under %d bytes/s on average after %v, or not all within %v",
			u.idle, u.minRate, u.grace, u.timeout)}
}

// errTimeout answers an upload whose wait and import ran past its time limit.
func (u *censusUploads) errTimeout() error {
	return &httpError{status: http.StatusServiceUnavailable, code: registry.CodeCanceled,
		detail: fmt.Sprintf("the census upload was not imported within %v of its start (reading it, waiting for its turn, importing it)", u.timeout)}
}

// errCensusBusy answers a census upload when the node's queue is full.
var errCensusBusy = &httpError{status: http.StatusServiceUnavailable, code: registry.CodeBusy,
	detail: "census imports run one at a time on a node and the queue is full; send it again later"}

// censusQueue runs census imports one at a time, with up to a few uploads waiting (their
// bodies spooling to disk meanwhile); beyond that uploads are refused at once.
type censusQueue struct {
	admitted slots         // one per upload admitted: the running one and the waiting
	running  chan struct{} // one token: the import holding it runs
}

func newCensusQueue(waiting int) *censusQueue {
	return &censusQueue{admitted: make(slots, 1+waiting), running: make(chan struct{}, 1)}
}

// admit takes a place in the queue, or fails with errCensusBusy when there is none.
func (q *censusQueue) admit() (release func(), err error) { return q.admitted.tryTake(errCensusBusy) }

// run waits for the import's turn, then runs it. The turn passes on however import ends,
// a panic included: a turn kept would make every later upload wait for good.
func (q *censusQueue) run(ctx context.Context, imp func() error) error {
	select {
	case q.running <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-q.running }()
	return imp()
}

// spooled is a request body copied to a temporary file.
type spooled struct {
	f     *os.File
	isGIS bool   // a zip (a zipped Shapefile) or a GeoPackage, read through ogr2ogr
	layer string // ?layer=: the GeoPackage layer, or the Shapefile of a zip
}

// importSpooled imports a spooled census body: a zipped Shapefile or a GeoPackage is
// converted by ogr2ogr (package ogr) and read as GeoJSONSeq, anything else is read as it is.
func (s *Server) importSpooled(ctx context.Context, kind registry.Census, body *spooled, opt registry.ImportOptions, prog *registry.Progress) (registry.Report, error) {
	if !body.isGIS || opt.Format != "" {
		return s.svc.Import(ctx, kind, prog.Reader(body.f), opt)
	}
	conv, err := ogr.Open(ctx, body.f.Name(), ogr.Options{Layer: body.layer, Encoding: opt.Encoding})
	if err != nil {
		return registry.Report{Kind: string(kind), Mode: opt.Mode}, err
	}
	defer conv.Close()
	opt.Format = registry.FormatNDJSON
	rep, err := s.svc.Import(ctx, kind, conv, opt)
	rep.Warnings = append(conv.Warnings(), rep.Warnings...)
	return rep, err
}

// spool copies body to a temporary file and rewinds it; ctx's deadline bounds the reading,
// and rc's read deadline paces it (pacedBody). A body that could not be read is the client's
// problem: over the limit 413, too slow 408 body_too_slow, else 400 invalid_input. A file
// that could not be written is the server's: 500, its cause (and the file's path) logged,
// not shown.
func (u *censusUploads) spool(ctx context.Context, rc *http.ResponseController, body io.Reader) (*spooled, error) {
	f, err := u.createSpool()
	if err != nil {
		return nil, fmt.Errorf("spool census upload: %w", err)
	}
	sp := &spooled{f: f}
	start := time.Now()
	end, ok := ctx.Deadline()
	if !ok {
		end = start.Add(u.timeout)
	}
	src := &pacedBody{r: body, rc: rc, u: u, start: start, end: end}
	dst := &spoolWriter{w: f}
	if _, err := io.Copy(dst, src); err != nil {
		sp.remove()
		var mbe *http.MaxBytesError
		switch {
		case dst.err != nil:
			return nil, fmt.Errorf("spool census upload: %w", dst.err)
		case errors.Is(err, errSlow):
			return nil, u.errTooSlow()
		case errors.As(err, &mbe):
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

// spoolWriter keeps the error of writing the spool file apart from those of reading the body.
type spoolWriter struct {
	w   io.Writer
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// errSlow is what pacedBody fails with when the body came too slowly.
var errSlow = errors.New("census upload: the body came too slowly")

// pacedBody reads an upload's body with a read deadline set before each read, in place of the
// server's ReadTimeout: the next bytes are due within the idle timeout; once the grace has
// passed, the body must have come at the minimum rate on average; all of it is due by end.
type pacedBody struct {
	r     io.Reader
	rc    *http.ResponseController
	u     *censusUploads
	start time.Time
	end   time.Time
	n     int64 // bytes read so far
}

// due is when the next bytes must have come.
func (b *pacedBody) due(now time.Time) time.Time {
	d := now.Add(b.u.idle)
	// At the minimum rate, the bytes read so far cover the time up to start+n/minRate.
	covered := time.Duration(float64(b.n) / float64(b.u.minRate) * float64(time.Second))
	if r := b.start.Add(max(b.u.grace, covered)); r.Before(d) {
		d = r
	}
	if b.end.Before(d) {
		d = b.end
	}
	return d
}

func (b *pacedBody) Read(p []byte) (int, error) {
	due := b.due(time.Now())
	_ = b.rc.SetReadDeadline(due) // where the writer cannot (a test's recorder), the check below still holds
	n, err := b.r.Read(p)
	b.n += int64(n)
	now := time.Now()
	switch {
	case err == nil || err == io.EOF:
		if now.After(due) { // late, where no deadline could be set
			return n, errSlow
		}
	case errors.Is(err, os.ErrDeadlineExceeded) || !now.Before(due):
		return n, errSlow
	}
	return n, err
}

// gis reports whether the spooled body is a zip (a zipped Shapefile) or a GeoPackage, by its
// first bytes, and rewinds it.
func (sp *spooled) gis() (bool, error) {
	head := make([]byte, 16)
	n, _ := io.ReadFull(sp.f, head)
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("spool census upload: %w", err)
	}
	_, ok := ogr.Detect("", head[:n])
	return ok, nil
}

// remove closes and deletes the file.
func (sp *spooled) remove() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}

// deadline is d from now; for d <= 0 none (the zero time clears a deadline).
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// isGISFormat reports whether a census ?format= names a file ogr2ogr converts.
func isGISFormat(f string) bool { return f == "shp" || f == "gpkg" || f == "zip" }

// censusEncoding is the text encoding a census request names in ?encoding= or the charset of
// its Content-Type; "" (detect) when neither does.
func censusEncoding(c *gin.Context) (registry.Encoding, error) {
	if v, ok := c.GetQuery("encoding"); ok {
		return registry.ParseEncoding(v)
	}
	if ct := c.GetHeader("Content-Type"); ct != "" {
		if _, params, err := mime.ParseMediaType(ct); err == nil && params["charset"] != "" {
			return registry.ParseEncoding(params["charset"])
		}
	}
	return registry.EncodingAuto, nil
}

// censusFormat picks the census format a request names in ?format= or its Content-Type; ""
// leaves it to Service.Import, which detects it from the body's first bytes.
func censusFormat(c *gin.Context) (registry.Format, error) {
	switch f := registry.Format(c.Query("format")); f {
	case registry.FormatGeoJSON, registry.FormatNDJSON, registry.FormatCSV, registry.FormatTSV:
		return f, nil
	case "":
	case "shp", "gpkg", "zip":
		// The body's first bytes tell a zip or a GeoPackage (handleCensus).
		return "", nil
	default:
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidFormat, "format must be geojson, ndjson, csv, tsv, shp (a zip) or gpkg, not %q", string(f))
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
			case "text/tab-separated-values":
				return registry.FormatTSV, nil
			}
		}
	}
	return "", nil
}

// censusCRS reads ?crs= of a census upload: its canonical name, "" when not given. A rules
// document has no coordinates to convert: it refuses crs.
func censusCRS(c *gin.Context, kind registry.Census) (string, error) {
	raw, given := c.GetQuery("crs")
	if !given {
		return "", nil
	}
	if kind == registry.CensusRules {
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidCRS,
			"crs is taken by census imports of cells, components and units; a rules document has no coordinates to convert")
	}
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	crs, err := spatial.ParseCRS(raw)
	if err != nil {
		return "", registry.ErrInvalidCRS
	}
	return crs.String(), nil
}

// crsDatum is the datum a census read in crs (a canonical name, "" for none) is written back
// in, such as its rejected features: the zero Datum (WGS84, no crs member) for none or WGS84.
func crsDatum(name string) geojson.Datum {
	if name == "" {
		return geojson.Datum{}
	}
	crs, err := spatial.ParseCRS(name)
	if err != nil {
		return geojson.Datum{}
	}
	return geojson.DatumOf(crs)
}
