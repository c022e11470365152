package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"citygrid/api"
	"citygrid/fixtures"
	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/postgres"
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
	fs.StringVar(&c.LogLevel, "log-level", envOr("CITYGRID_LOG_LEVEL", "info"),
		"debug, info, warn or error; successful requests are logged at debug (CITYGRID_LOG_LEVEL)")
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", stderr)
	cfg.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	if err := cfg.Store.resolve(fs, "serve"); err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && cfg.GCPercent != 0 {
		// Measured with make bench (wrk -c2, 1 M components): p99 of GET /lookup 0.45–0.72 ms at
		// the default 100, 0.29–0.49 ms at 400; a mark phase of the 150 MB index takes 10–19 ms.
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

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	server := api.NewServer(api.Config{Index: idx, Service: svc, Log: m.Log, Registry: reg})

	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.ln = ln
	m.srv = &http.Server{
		Handler:           server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for requests to end, and change streams end only when told to.
	m.srv.RegisterOnShutdown(server.CloseStreams)
	m.serveErr = make(chan error, 1)
	go func() {
		if err := m.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.serveErr <- fmt.Errorf("serve: %w", err)
		}
	}()
	m.Log.Info("listening", "addr", ln.Addr().String(), "store", m.Config.Store.String())

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
		if pg, ok := st.(*postgres.Store); ok {
			// Nodes starting together on an empty database: one imports, the others wait
			// and find the cells there.
			err = pg.Exclusive(ctx, seed)
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
	if pg, ok := st.(*postgres.Store); ok {
		m.follow(pg, svc)
	}
	return nil
}

// follow keeps the index in step with what other nodes write to the database: Listen's
// notifications wake the follower, and it reads the feed every FollowPoll regardless, so a
// notification lost while the connection was down costs at most one poll. Both reconnect by
// themselves (and log it) when the database restarts.
func (m *Main) follow(pg *postgres.Store, svc *registry.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopFollow = cancel
	wake := make(chan struct{}, 1)
	m.followers.Add(2)
	go func() {
		defer m.followers.Done()
		err := pg.Listen(ctx, func(uint64) {
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
		err := svc.Follow(ctx, pg, wake, m.Config.FollowPoll)
		if ctx.Err() == nil {
			m.Log.Error("change feed follower stopped", "err", err)
		}
	}()
	// Run returns a node that follows: /readyz shows applied_seq from the first request on.
	for deadline := time.Now().Add(5 * time.Second); !svc.Following() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
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
		rep, err := importPath(ctx, svc, kind, path, registry.ImportOptions{Mode: registry.ModeStrict, Actor: "demo"}, nil)
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
