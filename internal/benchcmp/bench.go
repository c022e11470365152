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
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
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
		b.logf("import %d/%d: cells %.2f s, units %.2f s, rules %.2f s, components %.2f s; store %d MiB",
			r+1, b.cfg.Runs, t.Cells, t.Units, t.Rules, t.Components, t.StoreBytes>>20)
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

// batchBodies splits the query points into batches: JSON bodies and coordinate arrays.
func (b *bench) batchBodies() (bodies [][]byte, lons, lats [][]float64) {
	n := len(b.ds.Points) / b.cfg.Batch
	for i := range n {
		pts := b.ds.Points[i*b.cfg.Batch : (i+1)*b.cfg.Batch]
		var sb strings.Builder
		sb.WriteByte('[')
		lo, la := make([]float64, len(pts)), make([]float64, len(pts))
		for j, p := range pts {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "[%s,%s]", formatCoord(p[0]), formatCoord(p[1]))
			lo[j], la[j] = p[0], p[1]
		}
		sb.WriteByte(']')
		bodies = append(bodies, []byte(sb.String()))
		lons, lats = append(lons, lo), append(lats, la)
	}
	return bodies, lons, lats
}

// httpBatches times batch lookups both ways: the full answer (point, cell, unit, rule, as
// GET /lookup answers) against the SQL join returning each point's cell code, and the same
// answer on both sides (?fields=cell, the cell object, against the join returning the cell's
// columns). Then it checks every query point through both forms, untimed.
func (b *bench) httpBatches(ctx context.Context, srv *server) error {
	bodies, lons, lats := b.batchBodies()
	n := len(bodies)
	client := newClient()
	var buf bytes.Buffer
	post := func(i int, query string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/lookup"+query, bytes.NewReader(bodies[i]))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		body, _, err := fetch(client, req, &buf)
		return body, err
	}
	sql := func(query string) func(i int) error {
		return func(i int) error {
			rows, err := b.pg.Conn.Query(ctx, query, lons[i], lats[i])
			if err != nil {
				return err
			}
			k := 0
			for rows.Next() {
				k++
			}
			rows.Close()
			if k < len(lons[i]) {
				return fmt.Errorf("sql batch: %d rows for %d points", k, len(lons[i]))
			}
			return rows.Err()
		}
	}
	for _, c := range []struct {
		name, query, sql string
		cg, pg           *measure
	}{
		{"batch", "", sqlBatch, &b.batch, &b.batchPG},
		{"batch, cell only", "?fields=cell", sqlBatchCell, &b.batchCell, &b.batchCellPG},
	} {
		for r := range b.cfg.Runs {
			res, err := timeOps(ctx, n, n, batchLoop(b.cfg.Duration), func(i int) error { _, err := post(i, c.query); return err })
			if err != nil {
				return fmt.Errorf("POST /api/v1/lookup%s: %w", c.query, err)
			}
			c.cg.addLoop(res.rate(float64(b.cfg.Batch)), res)
			msg := fmt.Sprintf("%s %d/%d: citygrid %.2f ms/batch", c.name, r+1, b.cfg.Runs, ms(res.Elapsed)/float64(res.Ops))
			if b.pg != nil {
				res, err := timeOps(ctx, n, n, batchLoop(b.cfg.Duration), sql(c.sql))
				if err != nil {
					return fmt.Errorf("sql batch: %w", err)
				}
				c.pg.addLoop(res.rate(float64(b.cfg.Batch)), res)
				msg += fmt.Sprintf("; PostGIS %.2f ms/batch", ms(res.Elapsed)/float64(res.Ops))
			}
			b.logf("%s", msg)
		}
	}
	// Correctness: every query point through the batch route, untimed; the cell-only answers
	// must name the same cells as the full ones.
	b.corr.HTTPCells = make([]registry.GridCode, 0, len(b.ds.Points))
	for i := range n {
		body, err := post(i, "")
		if err != nil {
			return err
		}
		codes, err := batchCells(body, b.cfg.Batch)
		if err != nil {
			return err
		}
		body, err = post(i, "?fields=cell")
		if err != nil {
			return err
		}
		cellOnly, err := batchCells(body, b.cfg.Batch)
		if err != nil {
			return err
		}
		if !slices.Equal(codes, cellOnly) {
			return fmt.Errorf("batch %d: POST /api/v1/lookup?fields=cell names other cells than the full answer", i)
		}
		for _, c := range codes {
			b.corr.HTTPCells = append(b.corr.HTTPCells, registry.GridCode(c))
		}
	}
	return nil
}

// batchLoop is how long each batch run lasts at least (each sends every batch at least
// once): a quarter of -duration. One pass over 100 batches takes about 0.1 s on the citygrid
// side, too short to leave the caches the previous run (the other side's) used.
func batchLoop(d time.Duration) time.Duration { return d / 4 }

func (b *bench) bboxURL(base string, bd orb.Bound) string {
	return fmt.Sprintf("%s/api/v1/components?bbox=%s,%s,%s,%s&limit=10000", base,
		formatCoord(bd.Min[0]), formatCoord(bd.Min[1]), formatCoord(bd.Max[0]), formatCoord(bd.Max[1]))
}

func (b *bench) nearURL(base string, p orb.Point) string {
	return fmt.Sprintf("%s/api/v1/nearest?lon=%s&lat=%s&k=5", base, formatCoord(p[0]), formatCoord(p[1]))
}

// httpQueries measures the box and nearest routes and their PostGIS counterparts from Go,
// one sequential caller each, then records the HTTP answers for the correctness check.
func (b *bench) httpQueries(ctx context.Context, srv *server) error {
	client := newClient()
	var buf bytes.Buffer
	get := func(url string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		body, _, err := fetch(client, req, &buf)
		return body, err
	}
	bboxURLs := make([]string, len(b.boxes))
	nearURLs := make([]string, len(b.queries))
	for i := range b.boxes {
		bboxURLs[i] = b.bboxURL(srv.URL, b.boxes[i])
		nearURLs[i] = b.nearURL(srv.URL, b.queries[i])
	}
	n, d := len(b.boxes), b.goDur()
	for r := range b.cfg.Runs {
		res, err := timeOps(ctx, n, 0, d, func(i int) error { _, err := get(bboxURLs[i]); return err })
		if err != nil {
			return err
		}
		b.bboxHTTP.addLoop(res.rate(1), res)
		if b.pg != nil {
			res, err := timeOps(ctx, n, 0, d, func(i int) error { _, err := b.pg.bbox(ctx, b.boxes[i]); return err })
			if err != nil {
				return fmt.Errorf("sql bbox: %w", err)
			}
			b.bboxPG.addLoop(res.rate(1), res)
		}
		res, err = timeOps(ctx, n, 0, d, func(i int) error { _, err := get(nearURLs[i]); return err })
		if err != nil {
			return err
		}
		b.nearHTTP.addLoop(res.rate(1), res)
		if b.pg != nil {
			res, err := timeOps(ctx, n, 0, d, func(i int) error { _, err := b.pg.nearest(ctx, sqlNearestGeog, b.queries[i]); return err })
			if err != nil {
				return fmt.Errorf("sql nearest: %w", err)
			}
			b.nearPG.addLoop(res.rate(1), res)
			res, err = timeOps(ctx, n, 0, d, func(i int) error { _, err := b.pg.nearest(ctx, sqlNearestPlanar, b.queries[i]); return err })
			if err != nil {
				return fmt.Errorf("sql nearest planar: %w", err)
			}
			b.nearPl.addLoop(res.rate(1), res)
		}
		b.logf("bbox and nearest %d/%d done", r+1, b.cfg.Runs)
	}
	b.corr.BoxHTTP = make([]int, n)
	b.corr.NearHTTP = make([][]string, n)
	for i := range n {
		body, err := get(bboxURLs[i])
		if err != nil {
			return err
		}
		ids, next, err := featureIDs(body)
		if err != nil {
			return err
		}
		if next {
			return fmt.Errorf("bbox %v: more than one page", b.boxes[i])
		}
		b.corr.BoxHTTP[i] = len(ids)
		if body, err = get(nearURLs[i]); err != nil {
			return err
		}
		if b.corr.NearHTTP[i], _, err = featureIDs(body); err != nil {
			return err
		}
	}
	return nil
}

// inProcessPhase loads the store into a spatial.Index in this process (timed, with the heap
// it holds), then measures CellAt, Resolve, Within and Nearest, each run interleaved with the
// single-point SQL round trip from Go.
func (b *bench) inProcessPhase(ctx context.Context) error {
	for r := range b.cfg.Runs {
		b.idx = nil
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		st, err := bolt.Open(b.db, bolt.Options{})
		if err != nil {
			return err
		}
		idx := spatial.New(spatial.Options{})
		start := time.Now()
		err = idx.Load(ctx, st)
		took := time.Since(start)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("load index: %w", err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.idx = idx
		comps := idx.Stats().Components
		per := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(comps)
		b.loadInProc = append(b.loadInProc, took.Seconds())
		b.heapPerComp = append(b.heapPerComp, per)
		b.logf("in-process load %d/%d: %.2f s, %.0f B/component (%d components)", r+1, b.cfg.Runs, took.Seconds(), per, comps)
	}
	idx, pts, d := b.idx, b.ds.Points, b.goDur()
	cellAt := func(i int) error {
		if _, err := idx.CellAt(pts[i]); err != nil && !errors.Is(err, registry.ErrOutsideGrid) {
			return err
		}
		return nil
	}
	resolve := func(i int) error {
		if _, err := idx.Resolve(pts[i], ""); err != nil && !errors.Is(err, registry.ErrOutsideGrid) && !errors.Is(err, registry.ErrNoUnit) {
			return err
		}
		return nil
	}
	within := func(i int) error { _, _, err := idx.Within(b.boxes[i], spatial.Filter{}, 0, 0); return err }
	nearest := func(i int) error { _, err := idx.Nearest(b.queries[i], spatial.Filter{}, 5, 0); return err }
	inProc := func(m *measure, n int, op func(int) error) error {
		rate, err := rateOps(ctx, n, d/2, op)
		if err != nil {
			return err
		}
		lat, err := timeOps(ctx, n, 0, d/2, op)
		if err != nil {
			return err
		}
		m.addLoop(rate.rate(1), lat)
		return nil
	}
	for r := range b.cfg.Runs {
		if err := inProc(&b.cellAt, len(pts), cellAt); err != nil {
			return fmt.Errorf("in-process cell at: %w", err)
		}
		if err := inProc(&b.resolve, len(pts), resolve); err != nil {
			return fmt.Errorf("in-process resolve: %w", err)
		}
		if b.pg != nil {
			var code string
			res, err := timeOps(ctx, len(pts), 0, d, func(i int) error {
				err := b.pg.Conn.QueryRow(ctx, sqlCellAt, pts[i][0], pts[i][1]).Scan(&code)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("sql cell at: %w", err)
			}
			b.cellAtPG.addLoop(res.rate(1), res)
		}
		if err := inProc(&b.bboxIn, len(b.boxes), within); err != nil {
			return fmt.Errorf("in-process within: %w", err)
		}
		if err := inProc(&b.nearIn, len(b.queries), nearest); err != nil {
			return fmt.Errorf("in-process nearest: %w", err)
		}
		b.logf("in-process %d/%d done", r+1, b.cfg.Runs)
	}
	// Correctness of the in-process answers.
	b.corr.InProcCells = make([]registry.GridCode, len(pts))
	for i, p := range pts {
		c, err := idx.CellAt(p)
		switch {
		case err == nil:
			b.corr.InProcCells[i] = c.Code
		case !errors.Is(err, registry.ErrOutsideGrid):
			return err
		}
	}
	b.corr.BoxIn = make([]int, len(b.boxes))
	b.corr.NearIn = make([][]string, len(b.queries))
	for i := range b.boxes {
		hits, _, err := idx.Within(b.boxes[i], spatial.Filter{}, 0, 0)
		if err != nil {
			return err
		}
		b.corr.BoxIn[i] = len(hits)
		near, err := idx.Nearest(b.queries[i], spatial.Filter{}, 5, 0)
		if err != nil {
			return err
		}
		for _, h := range near {
			b.corr.NearIn[i] = append(b.corr.NearIn[i], h.ID.String())
		}
	}
	return nil
}

// bbox runs sqlBBox and returns the number of rows, scanning every column.
func (pg *postgis) bbox(ctx context.Context, bd orb.Bound) (int, error) {
	rows, err := pg.Conn.Query(ctx, sqlBBox, bd.Min[0], bd.Min[1], bd.Max[0], bd.Max[1])
	if err != nil {
		return 0, err
	}
	var (
		key                                   int64
		id, class, name, status, maint, cellc *string
		x, y                                  float64
		n                                     int
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &id, &class, &name, &status, &maint, &cellc, &x, &y}, func() error { n++; return nil })
	return n, err
}

// nearest runs one of the nearest queries and returns the component ids in order.
func (pg *postgis) nearest(ctx context.Context, sql string, p orb.Point) ([]string, error) {
	rows, err := pg.Conn.Query(ctx, sql, p[0], p[1])
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
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
