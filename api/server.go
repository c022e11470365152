package api

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"

	"citygrid/registry"
	"citygrid/spatial"
)

// Default limits; a zero Config field means the default.
const (
	DefaultMaxBody      int64   = 64 << 20 // bytes: a census upload
	DefaultMaxWriteBody int64   = 1 << 20  // bytes: one feature, unit, rule, or a lookup batch
	DefaultMaxBBoxDeg2  float64 = 1        // square degrees (about 100 km × 110 km at 30°N)

	DefaultCensusQueue       = 4                // census uploads waiting behind the one imported: serve's -census-queue
	DefaultUploadTimeout     = 10 * time.Minute // 64 MiB at about 1 Mbit/s
	DefaultUploadIdleTimeout = 30 * time.Second // a census upload's body pausing
	DefaultUploadMinRate     = 16 << 10         // bytes/s: a census upload's body on average, once the grace has passed
	DefaultUploadRateGrace   = 10 * time.Second
	DefaultExportTimeout     = 10 * time.Minute // an export as a whole
	DefaultMaxExports        = 2                // exports running at once on a node
)

// Config is what a Server needs. Index and Service are required; Service must have been
// built over the same Index (it keeps the index in step with the store).
type Config struct {
	Index   *spatial.Index
	Service *registry.Service
	Log     *slog.Logger // nil discards

	// MaxBody caps a census upload (POST /api/v1/census/…), in bytes. An upload is spooled
	// to a temporary file (os.TempDir) and imported from there.
	MaxBody int64
	// CensusQueue is how many census uploads may wait while one is imported (imports run
	// one at a time); beyond it an upload is refused with 503 busy. 0 (or less) means none
	// may wait: only the running import holds a place.
	CensusQueue int
	// UploadTimeout bounds a census upload as a whole, through its request's context:
	// reading its body, waiting for its turn and the import. 0 means DefaultUploadTimeout.
	UploadTimeout time.Duration
	// While a census upload's body is read, in place of the server's ReadTimeout: each read
	// must bring bytes within UploadIdleTimeout, and once UploadRateGrace has passed the body
	// must have arrived at UploadMinRate bytes/s on average; else the upload is cut off with
	// 408 body_too_slow. 0 means DefaultUploadIdleTimeout, DefaultUploadMinRate and
	// DefaultUploadRateGrace.
	UploadIdleTimeout time.Duration
	UploadMinRate     int64
	UploadRateGrace   time.Duration
	// ExportTimeout bounds an export (GET /api/v1/export/…) as a whole, however fast its client
	// reads: past it the response is cut off. 0 means DefaultExportTimeout.
	ExportTimeout time.Duration
	// MaxExports is how many exports may run at once on the node; beyond it an export is
	// refused with 503 busy. 0 means DefaultMaxExports.
	MaxExports int
	// WriteTimeout is the http.Server's WriteTimeout: the export and the change stream move
	// their write deadline this far on as they write, so that only a client that stops
	// reading is cut off; between writes the change stream moves it past its next heartbeat
	// (over HTTP/2 a deadline that passes resets the stream). 0: they clear the deadline.
	WriteTimeout time.Duration
	// MaxWriteBody caps every other request body (a feature, a unit, a rule, a lookup batch), in bytes.
	MaxWriteBody int64
	// MaxBBoxDeg2 caps the bbox area, in square degrees, of component and cell listings that
	// are not narrowed by a cell code prefix.
	MaxBBoxDeg2 float64

	// StreamHeartbeat is how often an idle GET /api/v1/changes/stream sends a comment line;
	// 0 means DefaultStreamHeartbeat.
	StreamHeartbeat time.Duration

	// CORSOrigins are the origins whose pages may call the API from a browser (serve's
	// -cors-origins): "*" for any, or scheme://host[:port] each, one "*" wildcard allowed
	// (https://*.example.cn). Empty: no CORS headers, browsers keep other origins out.
	CORSOrigins []string

	// Registry receives the server's metrics. nil means a private registry, so many servers
	// can live in one process. GET /metrics serves Registry when it is also a
	// prometheus.Gatherer (a *prometheus.Registry is), else the private one.
	Registry prometheus.Registerer
}

// Server is citygrid's HTTP API. Create it with NewServer and mount Handler.
type Server struct {
	idx      *spatial.Index
	svc      *registry.Service
	catalog  *registry.Catalog
	log      *slog.Logger
	maxBody  int64
	maxWrite int64
	maxBBox  float64
	wgs84    spatial.CRS

	census       *censusUploads
	exports      *exports
	writeTimeout time.Duration

	heartbeat time.Duration
	closing   chan struct{} // closed by CloseStreams
	closeOnce sync.Once

	engine  *gin.Engine
	root    *root
	cors    *cors.Cors // nil without CORSOrigins
	metrics *metrics
}

// NewServer builds the router. It panics when Index or Service is nil or when the metrics
// cannot be registered (a programming error: the same Registerer used twice).
func NewServer(cfg Config) *Server {
	if cfg.Index == nil || cfg.Service == nil {
		panic("api: NewServer needs an Index and a Service")
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		idx:      cfg.Index,
		svc:      cfg.Service,
		catalog:  cfg.Service.Catalog(),
		log:      cfg.Log,
		maxBody:  cfg.MaxBody,
		maxWrite: cfg.MaxWriteBody,
		maxBBox:  cfg.MaxBBoxDeg2,

		census:       newCensusUploads(cfg),
		exports:      newExports(cfg),
		writeTimeout: cfg.WriteTimeout,

		heartbeat: cfg.StreamHeartbeat,
		closing:   make(chan struct{}),
		cors:      newCORS(cfg.CORSOrigins),
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultStreamHeartbeat
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.maxWrite <= 0 {
		s.maxWrite = DefaultMaxWriteBody
	}
	if s.maxBBox <= 0 {
		s.maxBBox = DefaultMaxBBoxDeg2
	}
	wgs, err := spatial.ParseCRS("wgs84")
	if err != nil {
		panic("api: spatial.ParseCRS(wgs84): " + err.Error())
	}
	s.wgs84 = wgs

	var gatherer prometheus.Gatherer
	reg := cfg.Registry
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	} else {
		gatherer = prometheus.NewRegistry() // serves nothing; the caller exposes Registry itself
	}
	s.metrics = newMetrics(reg, s.idx)

	e := gin.New()
	e.RedirectTrailingSlash = false // an API answers the path it was given, not a redirect
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(nil); err != nil { // ClientIP is the peer; no header spoofing
		panic("api: " + err.Error())
	}
	e.Use(s.chain()...)
	v1 := e.Group("/api/v1", s.refuseCRS)
	s.registerClassRoutes(v1) // the catalogue is not the index: served while it loads
	gated := v1.Group("", s.requireReady)
	s.registerLookupRoutes(gated)
	s.registerComponentRoutes(gated)
	s.registerCellRoutes(gated)
	s.registerUnitRoutes(gated)
	s.registerCensusRoutes(gated)
	s.registerChangeRoutes(gated)
	s.registerHealthRoutes(e, gatherer)
	e.NoRoute(s.wrap(s.handleNoRoute))
	e.NoMethod(s.wrap(s.handleNoMethod))
	for _, r := range e.Routes() {
		s.metrics.addRoute(r.Path)
	}
	s.engine = e
	s.root = &root{e: e}
	return s
}

// Handler returns the router: every route under /api/v1 plus /healthz, /readyz and /metrics,
// HEAD wherever GET is, and OPTIONS everywhere (with CORSOrigins, CORS preflights too).
func (s *Server) Handler() http.Handler { return s.root }

// CloseStreams ends every open change stream (GET /api/v1/changes/stream), now and for
// streams opened later. http.Server.Shutdown waits for requests to finish and does not cancel
// them, so register it with http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() { s.closeOnce.Do(func() { close(s.closing) }) }

// metrics holds the request histogram and resolves (route, status class) to an observer
// without a map allocation or lock on the hot path.
type metrics struct {
	duration  *prometheus.HistogramVec
	routes    map[string]*routeObservers // filled by NewServer before serving; read-only after
	unmatched *routeObservers
}

type routeObservers struct {
	route string
	mu    sync.Mutex
	obs   [6]atomic.Pointer[observerBox] // index: status class 1..5, 0 for anything else
}

type observerBox struct{ prometheus.Observer }

func newMetrics(reg prometheus.Registerer, idx *spatial.Index) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "citygrid_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and status class.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "status"}),
		routes:    map[string]*routeObservers{},
		unmatched: &routeObservers{route: "unmatched"},
	}
	gauge := func(name, help string, f func(spatial.Stats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(idx.Stats())) })
	}
	reg.MustRegister(
		m.duration,
		gauge("citygrid_index_cells", "Grid cells in the spatial index.", func(s spatial.Stats) int { return s.Cells }),
		gauge("citygrid_index_components", "Components in the spatial index.", func(s spatial.Stats) int { return s.Components }),
		gauge("citygrid_index_units", "Units known to the index.", func(s spatial.Stats) int { return s.Units }),
		gauge("citygrid_index_rules", "Responsibility rules known to the index.", func(s spatial.Stats) int { return s.Rules }),
	)
	return m
}

func (m *metrics) addRoute(route string) {
	if _, ok := m.routes[route]; !ok {
		m.routes[route] = &routeObservers{route: route}
	}
}

var statusClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *metrics) observe(route string, status int, d time.Duration) {
	ro := m.routes[route]
	if ro == nil { // "" for 404s: never label by raw path, it would explode the series count
		ro = m.unmatched
	}
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	box := ro.obs[class].Load()
	if box == nil {
		ro.mu.Lock()
		if box = ro.obs[class].Load(); box == nil {
			box = &observerBox{m.duration.WithLabelValues(ro.route, statusClasses[class])}
			ro.obs[class].Store(box)
		}
		ro.mu.Unlock()
	}
	box.Observe(d.Seconds())
}
