package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/paulmach/orb"

	"citygrid/spatial"
)

// bench is one benchmark run: its configuration, what it set up and every figure.
type bench struct {
	cfg     config
	log     io.Writer
	root    string // the module
	dir     string // cfg.Dir, absolute
	bin     string
	db      string // the embedded store file
	ds      *dataset
	pg      *postgis
	m       machine
	started time.Time
	ended   time.Time
	loadEnd string // /proc/loadavg at the end

	imports     []importTimes
	pgLoad      []loadTimes
	boot        runs // seconds from exec to /readyz 200
	rss, heap   float64
	loadInProc  runs // seconds of spatial.Index.Load from the store, in process
	heapPerComp runs // bytes

	lookup, lookupPG, floor, floorPG measure
	lookupMany, lookupManyPG         measure // the same at cfg.Many connections
	noop                             measure // the no-op responder (noop.go): the ceiling
	answerSize                       int     // bytes of a lookup answer, the no-op responder's body
	non2xxShare                      float64 // share of wrk lookups answered 404 (outside the grid)
	batch, batchPG                   measure // the full answer vs the cell code
	batchCell, batchCellPG           measure // the same answer: ?fields=cell vs the cell's columns
	cellAt, resolve, cellAtPG        measure
	bboxHTTP, bboxIn, bboxPG         measure
	nearHTTP, nearIn, nearPG, nearPl measure

	boxes   []orb.Bound
	queries []orb.Point // nearest queries (points inside the grid)
	corr    correctness
	idx     *spatial.Index
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "benchcmp %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// goDur is the length of one Go-client loop.
func (b *bench) goDur() time.Duration { return max(time.Second, b.cfg.Duration/2) }

func (b *bench) run(ctx context.Context) (err error) {
	b.started = time.Now()
	if b.root, err = os.Getwd(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(b.root, "go.mod")); err != nil {
		return errors.New("run benchcmp from the module root (where go.mod is)")
	}
	if b.dir, err = filepath.Abs(b.cfg.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	b.m = machineInfo()
	if err := ensureWrk(ctx, b.logf); err != nil {
		return err
	}
	b.logf("building bin/citygrid")
	if b.bin, err = buildBinary(ctx, b.root); err != nil {
		return err
	}
	b.logf("%d cores (%s), load average %s", b.m.CPUs, b.m.Model, b.m.LoadStart)
	if b.ds, err = prepareData(b.dir, b.cfg.Cells, b.cfg.Components, b.cfg.Points, b.cfg.Seed, b.logf); err != nil {
		return err
	}
	b.pickQueries()
	if err := b.writeScripts(); err != nil {
		return err
	}
	if !b.cfg.SkipPG {
		b.logf("PostGIS: creating a database on %s", redact(b.cfg.PG))
		if b.pg, err = openPostGIS(ctx, b.cfg.PG); err != nil {
			return fmt.Errorf("%w (start PostgreSQL with PostGIS, or pass -skip-pg)", err)
		}
		defer func() {
			if b.cfg.KeepDB {
				b.logf("PostGIS: kept database %s (drop it WITH (FORCE) when done)", b.pg.Name)
				b.pg.Conn.Close(context.WithoutCancel(ctx))
				b.pg.admin.Close(context.WithoutCancel(ctx))
				return
			}
			if derr := b.pg.drop(context.WithoutCancel(ctx)); derr != nil {
				err = errors.Join(err, fmt.Errorf("drop database %s: %w", b.pg.Name, derr))
			} else {
				b.logf("PostGIS: dropped database %s", b.pg.Name)
			}
		}()
		b.m.PG = b.pg.Version
		if b.pgLoad, err = b.pg.load(ctx, b.ds, b.cfg.Runs, b.logf); err != nil {
			return err
		}
		_, lons, lats := b.batchBodies()
		if err := b.pg.explain(ctx, b.path("plans.txt"), b.queries[0], b.boxes[0], lons[0], lats[0]); err != nil {
			return err
		}
	}
	if err := b.importPhase(ctx); err != nil {
		return err
	}
	if err := b.serverPhase(ctx); err != nil {
		return err
	}
	if err := b.inProcessPhase(ctx); err != nil {
		return err
	}
	if b.pg != nil {
		if err := b.pgCorrectness(ctx); err != nil {
			return err
		}
	}
	if b.cfg.Profile {
		if err := b.profile(ctx); err != nil {
			return err
		}
	}
	b.ended = time.Now()
	b.loadEnd = loadAvg()
	return nil
}

// pickQueries takes the boxes and nearest queries from the first query points inside the
// grid: boxes of cfg.BoxSize metres centred on them.
func (b *bench) pickQueries() {
	const mPerDeg = math.Pi * 6378137 / 180 // metres per degree of latitude on the sphere
	half := b.cfg.BoxSize / 2 / mPerDeg
	for i, p := range b.ds.Points {
		if b.ds.Truth[i].Code == "" {
			continue
		}
		b.queries = append(b.queries, p)
		dLon := half / math.Cos(p[1]*math.Pi/180)
		b.boxes = append(b.boxes, orb.Bound{Min: orb.Point{p[0] - dLon, p[1] - half}, Max: orb.Point{p[0] + dLon, p[1] + half}})
		if len(b.queries) == b.cfg.Queries {
			break
		}
	}
}

func (b *bench) path(name string) string { return filepath.Join(b.dir, name) }

func (b *bench) writeScripts() error {
	files := map[string]string{
		"lookup.lua":         string(lookupLua),
		"pgbench-lookup.sql": fmt.Sprintf(pgbenchCellAt, len(b.ds.Points)),
		"pgbench-floor.sql":  pgbenchFloor,
	}
	for name, s := range files {
		if err := os.WriteFile(b.path(name), []byte(s), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// importPhase imports the data set into a fresh store runs times; the last store stays.
func (b *bench) importPhase(ctx context.Context) error {
	b.db = b.path("bench.db")
	for r := range b.cfg.Runs {
		t, err := importStore(ctx, b.bin, b.db, b.ds)
		if err != nil {
			return err
		}
		b.logf("import %d/%d: cells %.2f s, units %.2f s, rules %.2f s, components %.2f s (peak RSS %d MiB); store %d MiB",
			r+1, b.cfg.Runs, t.Cells, t.Units, t.Rules, t.Components, t.ComponentsPeakRSS>>20, t.StoreBytes>>20)
		b.imports = append(b.imports, t)
	}
	return nil
}

// serverPhase starts `citygrid serve` runs times (timing start-up), then measures the HTTP
// cases against the last one, each run interleaved with its PostGIS counterpart so that
// drifting background load hits both alike.
func (b *bench) serverPhase(ctx context.Context) (err error) {
	var srv *server
	defer func() {
		if serr := srv.stop(); serr != nil && err == nil {
			err = fmt.Errorf("citygrid serve: %w", serr)
		}
	}()
	for r := range b.cfg.Runs {
		s, err := startServer(ctx, b.bin, b.db, b.path("serve.log"))
		if err != nil {
			return err
		}
		b.boot = append(b.boot, s.Boot.Seconds())
		b.logf("start-up %d/%d: ready in %.2f s", r+1, b.cfg.Runs, s.Boot.Seconds())
		if r < b.cfg.Runs-1 {
			if err := s.stop(); err != nil {
				return err
			}
			continue
		}
		srv = s
	}
	b.rss, _ = srv.metric("process_resident_memory_bytes")
	b.heap, _ = srv.metric("go_memstats_heap_inuse_bytes")

	lua, pts := b.path("lookup.lua"), b.ds.PointsFile
	c := b.cfg.Clients
	b.logf("warming up (2 s each side)")
	if _, err := srv.wrk(ctx, lua, pts, "", c, 2*time.Second); err != nil {
		return err
	}
	if b.pg != nil {
		if _, err := b.pg.runPgbench(ctx, b.dir, b.path("pgbench-lookup.sql"), c, 2*time.Second); err != nil {
			return err
		}
	}
	if err := b.pointRuns(ctx, srv, lua, pts, "lookup", c, b.cfg.Duration, &b.lookup, &b.lookupPG); err != nil {
		return err
	}
	// Again at cfg.Many connections (not a target: a dispatch engine with a pool of
	// connections asks this way, and more connections than cores is where
	// thread-per-connection designs lose their tail).
	if m := b.cfg.Many; m > 0 {
		label := fmt.Sprintf("lookup, %d connections,", m)
		if err := b.pointRuns(ctx, srv, lua, pts, label, m, b.cfg.Duration/2, &b.lookupMany, &b.lookupManyPG); err != nil {
			return err
		}
	}
	if err := b.noopRuns(ctx, srv, lua, pts); err != nil {
		return err
	}
	for r := range b.cfg.Runs {
		w, err := srv.wrk(ctx, lua, "", "/healthz", c, b.cfg.Duration/2)
		if err != nil {
			return err
		}
		b.floor.add(w.rate(), w.P50, w.P99)
		b.floor.addWindow(w.Window, w.rate()*w.Window.Wall.Seconds())
		if b.pg != nil {
			p, err := b.pg.runPgbench(ctx, b.dir, b.path("pgbench-floor.sql"), c, b.cfg.Duration/2)
			if err != nil {
				return err
			}
			b.floorPG.add(p.TPS, percentile(p.Latencies, 50), percentile(p.Latencies, 99))
			b.floorPG.addWindow(p.Window, float64(p.InWindow))
		}
		b.logf("round-trip floor %d/%d done", r+1, b.cfg.Runs)
	}
	if err := b.httpBatches(ctx, srv); err != nil {
		return err
	}
	if err := b.httpQueries(ctx, srv); err != nil {
		return err
	}
	return nil
}

// pointRuns runs the single-point comparison cfg.Runs times at c connections, alternating
// wrk and pgbench runs of d, and adds their figures to cg and pg.
func (b *bench) pointRuns(ctx context.Context, srv *server, lua, pts, label string, c int, d time.Duration, cg, pg *measure) error {
	for r := range b.cfg.Runs {
		w, err := srv.wrk(ctx, lua, pts, "", c, d)
		if err != nil {
			return err
		}
		cg.add(w.rate(), w.P50, w.P99)
		cg.addWindow(w.Window, w.rate()*w.Window.Wall.Seconds())
		b.non2xxShare = float64(w.Non2xx) / float64(w.Requests)
		msg := fmt.Sprintf("%s %d/%d: citygrid %.0f/s p50 %v p99 %v (others %.2f cores)", label, r+1, b.cfg.Runs, w.rate(), w.P50, w.P99, w.Window.others())
		if b.pg != nil {
			p, err := b.pg.runPgbench(ctx, b.dir, b.path("pgbench-lookup.sql"), c, d)
			if err != nil {
				return err
			}
			pg.add(p.TPS, percentile(p.Latencies, 50), percentile(p.Latencies, 99))
			pg.addWindow(p.Window, float64(p.InWindow))
			msg += fmt.Sprintf("; PostGIS %.0f/s p50 %v p99 %v (others %.2f cores)", p.TPS, percentile(p.Latencies, 50), percentile(p.Latencies, 99), p.Window.others())
		}
		b.logf("%s", msg)
	}
	return nil
}

// noopRuns measures the no-op responder with the lookup script, its body as large as a
// lookup answer: the most requests a second any HTTP server could answer here.
func (b *bench) noopRuns(ctx context.Context, srv *server, lua, pts string) error {
	client := newClient()
	var buf bytes.Buffer
	p := b.ds.Points[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		srv.URL+"/api/v1/lookup?lon="+formatCoord(p[0])+"&lat="+formatCoord(p[1]), nil)
	if err != nil {
		return err
	}
	body, _, err := fetch(client, req, &buf, http.StatusNotFound)
	if err != nil {
		return err
	}
	b.answerSize = len(body)
	noop, err := startNoop(ctx, b.answerSize)
	if err != nil {
		return err
	}
	defer noop.stop()
	for r := range b.cfg.Runs {
		w, err := noop.wrk(ctx, lua, pts, "", b.cfg.Clients, b.cfg.Duration/2)
		if err != nil {
			return fmt.Errorf("no-op responder: %w", err)
		}
		b.noop.add(w.rate(), w.P50, w.P99)
		b.noop.addWindow(w.Window, w.rate()*w.Window.Wall.Seconds())
		b.logf("no-op responder %d/%d: %.0f/s p50 %v p99 %v", r+1, b.cfg.Runs, w.rate(), w.P50, w.P99)
	}
	return nil
}
