package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"citygrid/api"
	"citygrid/fixtures"
	"citygrid/ogr"
	"citygrid/registry"
	"citygrid/spatial"
)

// serveConfig holds the flags of `citygrid serve`.
type serveConfig struct {
	Addr            string        // -addr, CITYGRID_ADDR
	Store           storeFlags    // -pg (CITYGRID_PG_URL) or -db (CITYGRID_DB)
	Classes         catalogFlag   // -classes, CITYGRID_CLASSES
	FollowPoll      time.Duration // -follow-poll: how often a PostgreSQL node reads the change feed unprompted
	Demo            bool          // -demo
	SnapRadius      float64       // -snap-radius, metres
	ShutdownTimeout time.Duration // -shutdown-timeout
	LogFormat       string        // -log-format, CITYGRID_LOG_FORMAT
	LogLevel        string        // -log-level, CITYGRID_LOG_LEVEL
	GCPercent       int           // -gc-percent; GOGC, when set, wins
	HTTP            httpLimits
	TLSCert         string // -tls-cert: serve HTTPS (and HTTP/2) with this certificate
	TLSKey          string // -tls-key: its private key
	CORSOrigins     string // -cors-origins: comma-separated origins, or *; "" sends no CORS headers
	Cells           cellFlags
}

// httpLimits are the flags that bound what a client can hold of the server.
type httpLimits struct {
	ReadHeaderTimeout time.Duration // -read-header-timeout
	ReadTimeout       time.Duration // -read-timeout
	WriteTimeout      time.Duration // -write-timeout
	IdleTimeout       time.Duration // -idle-timeout
	MaxHeaderBytes    int           // -max-header-bytes
	MaxConns          int           // -max-conns
	CensusQueue       int           // -census-queue; 0: no upload waits
	ExportTimeout     time.Duration // -export-timeout
}

// defaultHTTPLimits are the flags' defaults.
var defaultHTTPLimits = httpLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       time.Minute,
	WriteTimeout:      time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	MaxConns:          4096,
	CensusQueue:       api.DefaultCensusQueue,
	ExportTimeout:     api.DefaultExportTimeout,
}

// orDefault is l with each zero field set to its default (a Main built in a test).
func (l httpLimits) orDefault() httpLimits {
	d := defaultHTTPLimits
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	set(&l.ExportTimeout, d.ExportTimeout)
	return l
}

func (l *httpLimits) register(fs *flag.FlagSet) {
	d := defaultHTTPLimits
	fs.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "how long a client may take to send a request's headers")
	fs.DurationVar(&l.ReadTimeout, "read-timeout", d.ReadTimeout,
		"how long a client may take to send a whole request (a census upload has its own, longer bound)")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", d.WriteTimeout,
		"how long an answer may take to write; the export and the change stream move it on as they write")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", d.IdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&l.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "the largest request line and headers accepted, in bytes")
	fs.IntVar(&l.MaxConns, "max-conns", d.MaxConns,
		"open connections at most; more wait to be accepted (keep it below the process's file limit, ulimit -n)")
	fs.IntVar(&l.CensusQueue, "census-queue", d.CensusQueue,
		"census uploads that may wait while one is imported; more are refused with 503 busy (0: none waits)")
	fs.DurationVar(&l.ExportTimeout, "export-timeout", d.ExportTimeout,
		"how long an export may take as a whole, however fast its client reads; past it the export is cut off")
}

func (c *serveConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", envOr("CITYGRID_ADDR", ":8080"), "listen address HOST:PORT (CITYGRID_ADDR)")
	c.Store.register(fs, "embedded store file, created when missing")
	c.Classes.register(fs)
	fs.DurationVar(&c.FollowPoll, "follow-poll", registry.DefaultFollowPoll,
		"with -pg: how often to read the change feed when no notification came (a missed NOTIFY costs at most this)")
	fs.BoolVar(&c.Demo, "demo", false, "when the store holds no cells, generate and import a demo city first")
	fs.Float64Var(&c.SnapRadius, "snap-radius", spatial.DefaultSnapRadius,
		"metres within which a component's maintainer is responsible for a reported point")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to let requests finish on SIGTERM")
	fs.StringVar(&c.LogFormat, "log-format", envOr("CITYGRID_LOG_FORMAT", "text"), "log format on stderr: text or json (CITYGRID_LOG_FORMAT)")
	fs.IntVar(&c.GCPercent, "gc-percent", 400,
		"garbage collector target (as GOGC) unless GOGC is set: the index is a large, long-lived heap, so a higher value means fewer mark phases and a shorter latency tail, for more memory")
	c.HTTP.register(fs)
	fs.StringVar(&c.TLSCert, "tls-cert", "", "certificate file (PEM): serve HTTPS and HTTP/2 instead of HTTP; needs -tls-key")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key file (PEM) of -tls-cert")
	fs.StringVar(&c.CORSOrigins, "cors-origins", os.Getenv("CITYGRID_CORS_ORIGINS"),
		"origins whose web pages may call the API (CORS), comma-separated (https://map.example.cn,https://*.example.cn), or * for any; default none (CITYGRID_CORS_ORIGINS)")
	c.Cells.register(fs)
	fs.StringVar(&c.LogLevel, "log-level", envOr("CITYGRID_LOG_LEVEL", "info"),
		"debug, info, warn or error; successful requests are logged at debug (CITYGRID_LOG_LEVEL)")
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", stderr)
	cfg.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("serve takes no arguments, got %q", pos)}
	}
	if err := cfg.Store.resolve(fs, "serve"); err != nil {
		return err
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return &usageError{"-tls-cert and -tls-key go together"}
	}
	if _, err := parseOrigins(cfg.CORSOrigins); err != nil {
		return &usageError{"serve: -cors-origins: " + err.Error()}
	}
	log, err := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && cfg.GCPercent != 0 {
		// GOGC 400 by default: the index is a large, long-lived heap, and fewer mark phases
		// shorten the latency tail (figures: docs/benchmarks.md, "Figures behind the code").
		debug.SetGCPercent(cfg.GCPercent)
	}
	m := &Main{Config: cfg, Log: log}
	if err := m.Run(ctx); err != nil {
		return errors.Join(err, m.Close())
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err = <-m.Err():
	}
	return errors.Join(err, m.Close())
}

// Main is one running server: Run opens the store, starts listening (readyz answers 503),
// imports the demo city when asked, loads the index and returns; Close stops it. Tests run
// it on 127.0.0.1:0 and read the address from Addr.
type Main struct {
	Config serveConfig
	Log    *slog.Logger // nil discards
	// DemoCity is the city -demo generates; the zero value means fixtures.DefaultConfig().
	DemoCity *fixtures.Config

	store    registry.Store
	ln       net.Listener
	srv      *http.Server
	serveErr chan error

	// The change feed follower and its wake-up (PostgreSQL only), stopped by Close.
	stopFollow context.CancelFunc
	followers  sync.WaitGroup
}

// Run starts the server and returns once the index is loaded (or on the first error, after
// which the caller still calls Close).
func (m *Main) Run(ctx context.Context) error {
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	cat, err := m.Config.Classes.load()
	if err != nil {
		return err
	}
	st, err := m.Config.Store.open(ctx, m.Log)
	if err != nil {
		return err
	}
	m.store = st
	idx := spatial.New(spatial.Options{SnapRadius: m.Config.SnapRadius})
	svc := registry.NewService(st, idx, cat, m.Log)
	if err := m.Config.Cells.apply("serve", svc); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	lim := m.Config.HTTP.orDefault()
	var tlsConfig *tls.Config
	if m.Config.TLSCert != "" || m.Config.TLSKey != "" {
		pair, err := tls.LoadX509KeyPair(m.Config.TLSCert, m.Config.TLSKey)
		if err != nil {
			return fmt.Errorf("load -tls-cert and -tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	origins, err := parseOrigins(m.Config.CORSOrigins)
	if err != nil {
		return fmt.Errorf("-cors-origins: %w", err)
	}
	server := api.NewServer(api.Config{Index: idx, Service: svc, Log: m.Log, Registry: reg,
		WriteTimeout: lim.WriteTimeout, CensusQueue: lim.CensusQueue, ExportTimeout: lim.ExportTimeout,
		CORSOrigins: origins})

	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.ln = ln
	// Beyond the cap, connections wait in the kernel's accept queue: the server's file
	// handles stay bounded, and the read timeouts free the places of slow clients. The
	// gauge citygrid_http_open_connections and a warning in the log show the cap reached.
	ln = limitConns(ln, lim.MaxConns, m.Log, reg)
	m.srv = &http.Server{
		Handler:           server.Handler(),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for requests to end, and change streams end only when told to.
	m.srv.RegisterOnShutdown(server.CloseStreams)
	m.serveErr = make(chan error, 1)
	go func() {
		var err error
		if tlsConfig != nil {
			err = m.srv.ServeTLS(ln, "", "") // HTTP/2 too, by ALPN
		} else {
			err = m.srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			m.serveErr <- fmt.Errorf("serve: %w", err)
		}
	}()
	m.Log.Info("listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil, "store", m.Config.Store.String(),
		"max_conns", lim.MaxConns, "read_timeout", lim.ReadTimeout, "write_timeout", lim.WriteTimeout)

	if m.Config.Demo {
		seed := func() error {
			empty, err := noCells(ctx, st)
			if err != nil || !empty {
				return err
			}
			if err := m.importDemo(ctx, svc); err != nil {
				return fmt.Errorf("demo city: %w", err)
			}
			return nil
		}
		if ex, ok := st.(exclusiveStore); ok {
			// Nodes starting together on an empty database: one imports, the others wait
			// and find the cells there.
			err = ex.Exclusive(ctx, seed)
		} else {
			err = seed()
		}
		if err != nil {
			return err
		}
	}
	start := time.Now()
	seq, err := svc.LoadIndex(ctx, idx.Load)
	if err != nil {
		return err
	}
	s := idx.Stats()
	m.Log.Info("index loaded", "duration", time.Since(start).Round(time.Millisecond),
		"cells", s.Cells, "components", s.Components, "units", s.Units, "rules", s.Rules, "seq", seq)
	if sh, ok := st.(sharedStore); ok {
		m.follow(ctx, sh, svc)
	}
	return nil
}

// exclusiveStore is a store several nodes share that can run start-up work on one node at a
// time (postgres.Store).
type exclusiveStore interface {
	Exclusive(ctx context.Context, fn func() error) error
}

// sharedStore is a store other nodes write to: it keeps a change feed and announces every
// write as it commits (postgres.Store).
type sharedStore interface {
	registry.ChangeFeed
	Listen(ctx context.Context, fn func(seq uint64)) error
}

// follow keeps the index in step with what other nodes write to the database: Listen's
// notifications wake the follower, and it reads the feed every FollowPoll regardless, so a
// notification lost while the connection was down costs at most one poll. Both reconnect by
// themselves (and log it) when the database restarts.
func (m *Main) follow(runCtx context.Context, st sharedStore, svc *registry.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopFollow = cancel
	wake := make(chan struct{}, 1)
	m.followers.Add(2)
	go func() {
		defer m.followers.Done()
		err := st.Listen(ctx, func(uint64) {
			select {
			case wake <- struct{}{}:
			default: // a wake-up is pending already
			}
		})
		if ctx.Err() == nil {
			m.Log.Error("change notifications stopped", "err", err)
		}
	}()
	go func() {
		defer m.followers.Done()
		err := svc.Follow(ctx, st, wake, m.Config.FollowPoll)
		if ctx.Err() == nil {
			m.Log.Error("change feed follower stopped", "err", err)
		}
	}()
	// Run returns a node that follows: /readyz shows applied_seq from the first request on.
	// A database that does not answer within 5 s does not hold the start up: Follow keeps
	// trying, and says so in the log.
	wctx, stop := context.WithTimeout(runCtx, 5*time.Second)
	defer stop()
	_ = svc.WaitFollowing(wctx)
	m.Log.Info("following the change feed", "from", svc.AppliedSeq(), "poll", m.Config.FollowPoll)
}

// Addr is the address the server listens on, "" before Run.
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Err delivers an error when the server stops serving on its own (not by Close).
func (m *Main) Err() <-chan error { return m.serveErr }

// Close lets in-flight requests finish (up to Config.ShutdownTimeout) and ends change
// streams, stops following the change feed, then closes the store.
func (m *Main) Close() error {
	var errs []error
	if m.srv != nil {
		timeout := m.Config.ShutdownTimeout
		if timeout <= 0 {
			timeout = 15 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := m.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	} else if m.ln != nil {
		errs = append(errs, m.ln.Close())
	}
	if m.stopFollow != nil {
		m.stopFollow()
		m.followers.Wait()
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

var errStop = errors.New("stop")

// noCells reports whether the store holds no grid cell.
func noCells(ctx context.Context, st registry.Store) (bool, error) {
	err := st.ForEachCell(ctx, func(*registry.Cell) error { return errStop })
	if errors.Is(err, errStop) {
		return false, nil
	}
	return err == nil, err
}

// importDemo generates the demo city and imports it through the Service, exactly as
// `citygrid import` would: cells, units, rules, then components.
func (m *Main) importDemo(ctx context.Context, svc *registry.Service) error {
	cfg := fixtures.DefaultConfig()
	if m.DemoCity != nil {
		cfg = *m.DemoCity
	}
	start := time.Now()
	city, err := fixtures.Generate(cfg)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "citygrid-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := city.WriteFiles(dir); err != nil {
		return err
	}
	for _, kind := range importOrder {
		path := filepath.Join(dir, demoFiles[kind])
		rep, err := importPath(ctx, svc, registry.Census(kind), path, registry.ImportOptions{Mode: registry.ModeStrict, Actor: "demo"}, ogr.Options{}, nil)
		if err != nil {
			if len(rep.Problems) > 0 {
				p := rep.Problems[0]
				return fmt.Errorf("import %s: %w (first problem: feature %d %s %s: %s)", kind, err, p.Index, p.Field, p.Code, p.Message)
			}
			return fmt.Errorf("import %s: %w", kind, err)
		}
		m.Log.Info("demo imported", "kind", kind, "created", rep.Created, "updated", rep.Updated)
	}
	m.Log.Info("demo city ready", "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// importOrder is the order in which census kinds depend on each other: components are
// located in cells; rules name units.
var importOrder = []string{"cells", "units", "rules", "components"}

// demoFiles are the names fixtures.City.WriteFiles uses.
var demoFiles = map[string]string{
	"cells":      fixtures.CellsFile,
	"units":      fixtures.UnitsFile,
	"rules":      fixtures.RulesFile,
	"components": fixtures.ComponentsFile,
}

// parseOrigins splits -cors-origins: "*", or comma-separated origins scheme://host[:port]
// (http or https, no path, query or user; the host may start with one "*." wildcard). "" is
// none.
func parseOrigins(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(strings.Replace(o, "://*.", "://wildcard.", 1))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
			strings.Contains(u.Host, "*") {
			return nil, fmt.Errorf("%q is not an origin: want *, or scheme://host[:port] such as https://map.example.cn", o)
		}
		out = append(out, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	return out, nil
}
