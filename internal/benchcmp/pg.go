package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"citygrid/registry"
)

// postgis is the benchmark's own database on the server: citygrid_bench_<pid>, created for
// the run and dropped WITH (FORCE) by drop.
type postgis struct {
	admin   *pgx.Conn // on the database of the -pg URL, for CREATE/DROP DATABASE
	Conn    *pgx.Conn // on the benchmark database
	cfg     *pgx.ConnConfig
	Name    string
	Version string // PostgreSQL and PostGIS versions
}

// SQL of the comparison, in one place.
const (
	sqlCells = `CREATE TABLE cells (code text PRIMARY KEY, name text, geom geometry(MultiPolygon, 4326) NOT NULL)`
	// sqlComponents holds every census field of a component, as the embedded store does.
	sqlComponents = `CREATE TABLE components (key bigint, id text, class text, name text, status text,
		supervisor text, owner text, maintainer text, cell text, census_date date, source text, note text,
		geom geometry(Point, 4326))`
	sqlPoints = `CREATE TABLE pts (id int PRIMARY KEY, geom geometry(Point, 4326) NOT NULL)`

	// sqlCellAt is the single-point lookup from Go (prepared by pgx on first use).
	sqlCellAt = `SELECT code FROM cells WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))`
	// pgbenchCellAt is the same lookup in pgbench: pgbench cannot read points from a file, so
	// the point comes from the pts table by a random id (a primary-key probe in the same query).
	pgbenchCellAt = "\\set i random(1, %d)\nSELECT c.code FROM pts p JOIN cells c ON ST_Contains(c.geom, p.geom) WHERE p.id = :i;\n"
	pgbenchFloor  = "SELECT 1;\n"
	// sqlBatch looks up a batch of points in one statement; LEFT JOIN so that points outside
	// every cell come back too, as in citygrid's answer.
	sqlBatch = `SELECT p.i, c.code FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(lon, lat, i)
		LEFT JOIN cells c ON ST_Contains(c.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))`
	// sqlBatchCell is sqlBatch answering what POST /api/v1/lookup?fields=cell answers: the
	// cell's code and name and the community, street and district codes (prefixes of the code).
	sqlBatchCell = `SELECT p.i, c.code, c.name, left(c.code, 12), left(c.code, 9), left(c.code, 6)
		FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(lon, lat, i)
		LEFT JOIN cells c ON ST_Contains(c.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))`
	// sqlAllPoints is the correctness query: every query point against the cells.
	sqlAllPoints = `SELECT p.id, c.code FROM pts p JOIN cells c ON ST_Contains(c.geom, p.geom)`
	// sqlBoundary classifies a disagreement: is point id on the boundary of cell code?
	sqlBoundary = `SELECT ST_Intersects(ST_Boundary(c.geom), p.geom), ST_Distance(ST_Boundary(c.geom), p.geom)
		FROM cells c, pts p WHERE c.code = $1 AND p.id = $2`
	// sqlBBox returns the census fields of the components in a box; the embedded index
	// likewise leaves retired components out unless asked.
	sqlBBox = `SELECT key, id, class, name, status, maintainer, cell, ST_X(geom), ST_Y(geom) FROM components
		WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) AND status <> 'removed'`
	// sqlBBoxExact counts the same with an exact closed-box test (&& compares float4 boxes).
	sqlBBoxExact = `SELECT count(*) FROM components
		WHERE ST_Covers(ST_MakeEnvelope($1, $2, $3, $4, 4326), geom) AND status <> 'removed'`
	// sqlNearestGeog orders by sphere distance (geography <->, index-assisted), as citygrid's
	// haversine Nearest does.
	sqlNearestGeog = `SELECT id FROM components WHERE status <> 'removed'
		ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography LIMIT 5`
	// sqlNearestPlanar orders by planar distance in degrees (geometry <->): not the same order.
	sqlNearestPlanar = `SELECT id FROM components WHERE status <> 'removed'
		ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326) LIMIT 5`
)

// openPostGIS connects to url and creates the benchmark database with PostGIS.
func openPostGIS(ctx context.Context, url string) (*postgis, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse -pg: %w", err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s@%s:%d: %w", cfg.User, cfg.Host, cfg.Port, err)
	}
	pg := &postgis{admin: admin, Name: fmt.Sprintf("citygrid_bench_%d", os.Getpid())}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pg.Name+" WITH (FORCE)"); err != nil {
		admin.Close(ctx)
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pg.Name); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("create database %s: %w", pg.Name, err)
	}
	pg.cfg = cfg.Copy()
	pg.cfg.Database = pg.Name
	if pg.Conn, err = pgx.ConnectConfig(ctx, pg.cfg); err != nil {
		pg.drop(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := pg.Conn.Exec(ctx, "CREATE EXTENSION postgis"); err != nil {
		pg.drop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("create extension postgis: %w", err)
	}
	var v, gv string
	if err := pg.Conn.QueryRow(ctx, "SELECT current_setting('server_version'), postgis_lib_version()").Scan(&v, &gv); err != nil {
		pg.drop(context.WithoutCancel(ctx))
		return nil, err
	}
	pg.Version = "PostgreSQL " + v + ", PostGIS " + gv
	return pg, nil
}

// drop closes the connections and drops the database WITH (FORCE).
func (pg *postgis) drop(ctx context.Context) error {
	if pg.Conn != nil {
		pg.Conn.Close(ctx)
	}
	_, err := pg.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pg.Name+" WITH (FORCE)")
	pg.admin.Close(ctx)
	return err
}

// loadTimes are the seconds of the reference load: a bare binary COPY of the components
// and a GiST index on their points.
type loadTimes struct{ Copy, GiST float64 }

// load creates and fills cells, pts and (runs times, timed; the last one stays) components.
func (pg *postgis) load(ctx context.Context, ds *dataset, runs int, logf func(string, ...any)) ([]loadTimes, error) {
	c := pg.Conn
	for _, q := range []string{sqlCells, sqlPoints, "SET maintenance_work_mem = '512MB'"} {
		if _, err := c.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%.40s: %w", q, err)
		}
	}
	cells := ds.City.Cells
	if _, err := c.PgConn().CopyFrom(ctx, newCopySource(len(cells), func(b []byte, i int) []byte {
		b = binary.BigEndian.AppendUint16(b, 3)
		b = putText(b, string(cells[i].Code))
		b = putText(b, cells[i].Name)
		return putBytes(b, ewkbMultiPolygon(cells[i].Geometry))
	}), "COPY cells (code, name, geom) FROM STDIN BINARY"); err != nil {
		return nil, fmt.Errorf("copy cells: %w", err)
	}
	pts := ds.Points
	if _, err := c.PgConn().CopyFrom(ctx, newCopySource(len(pts), func(b []byte, i int) []byte {
		b = binary.BigEndian.AppendUint16(b, 2)
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, uint32(i+1))
		return putBytes(b, ewkbPoint(pts[i]))
	}), "COPY pts (id, geom) FROM STDIN BINARY"); err != nil {
		return nil, fmt.Errorf("copy pts: %w", err)
	}
	if _, err := c.Exec(ctx, "CREATE INDEX cells_geom ON cells USING gist (geom)"); err != nil {
		return nil, err
	}
	var times []loadTimes
	for r := range runs {
		for _, q := range []string{"DROP TABLE IF EXISTS components", "CHECKPOINT"} {
			if _, err := c.Exec(ctx, q); err != nil {
				return nil, err
			}
		}
		var t loadTimes
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sqlComponents); err != nil {
				return err
			}
			start := time.Now()
			if err := copyComponents(ctx, tx.Conn(), ds); err != nil {
				return err
			}
			t.Copy = time.Since(start).Seconds()
			start = time.Now()
			if _, err := tx.Exec(ctx, "CREATE INDEX components_geom ON components USING gist (geom)"); err != nil {
				return err
			}
			t.GiST = time.Since(start).Seconds()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load components: %w", err)
		}
		logf("PostGIS reference load %d/%d: COPY %.2f s + GiST %.2f s", r+1, runs, t.Copy, t.GiST)
		times = append(times, t)
	}
	for _, q := range []string{
		"CREATE INDEX components_geog ON components USING gist ((geom::geography))",
		"VACUUM ANALYZE cells", "VACUUM ANALYZE pts", "VACUUM ANALYZE components",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return times, nil
}

func copyComponents(ctx context.Context, c *pgx.Conn, ds *dataset) error {
	comps := ds.City.Components
	n, err := c.PgConn().CopyFrom(ctx, newCopySource(len(comps), func(b []byte, i int) []byte {
		x := &comps[i]
		b = binary.BigEndian.AppendUint16(b, 13)
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(i+1))
		b = putText(b, x.ID.String())
		b = putText(b, x.Class)
		b = putText(b, x.Name)
		b = putText(b, x.Status.String())
		b = putText(b, x.Supervisor)
		b = putText(b, x.Owner)
		b = putText(b, x.Maintainer)
		b = putText(b, string(x.Cell))
		b = putDate(b, x.CensusDate)
		b = putText(b, x.Source)
		b = putText(b, x.Note)
		return putBytes(b, ewkbPoint(x.Point))
	}), "COPY components (key, id, class, name, status, supervisor, owner, maintainer, cell, census_date, source, note, geom) FROM STDIN BINARY")
	if err != nil {
		return err
	}
	if int(n.RowsAffected()) != len(comps) {
		return fmt.Errorf("copy components: %d rows, want %d", n.RowsAffected(), len(comps))
	}
	return nil
}

// The binary COPY format (header, tuples of length-prefixed fields, trailer) and EWKB.

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copySource streams n binary COPY tuples, encoding them as the connection reads.
type copySource struct {
	n, i int
	row  func(b []byte, i int) []byte
	buf  []byte
	off  int
	done bool
}

func newCopySource(n int, row func(b []byte, i int) []byte) *copySource {
	return &copySource{n: n, row: row, buf: append(make([]byte, 0, 64<<10), copyHeader...)}
}

func (s *copySource) Read(p []byte) (int, error) {
	if s.off == len(s.buf) {
		if s.done {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		for s.i < s.n && len(s.buf) < 60<<10 {
			s.buf = s.row(s.buf, s.i)
			s.i++
		}
		if s.i == s.n {
			s.buf = append(s.buf, 0xff, 0xff)
			s.done = true
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// putText writes s; "" is NULL.
func putText(b []byte, s string) []byte {
	if s == "" {
		return binary.BigEndian.AppendUint32(b, math.MaxUint32)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func putBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// putDate writes a date as days since 2000-01-01; the zero time is NULL.
func putDate(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.BigEndian.AppendUint32(b, math.MaxUint32)
	}
	days := int32(t.UTC().Truncate(24*time.Hour).Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, uint32(days))
}

const (
	ewkbSRID          = 0x20000000
	ewkbPointType     = 1
	ewkbPolygonType   = 3
	ewkbMultiPolyType = 6
	srid4326          = 4326
)

// ewkbPoint is p as little-endian EWKB with SRID 4326, the binary input of geometry.
func ewkbPoint(p orb.Point) []byte {
	b := make([]byte, 0, 25)
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint32(b, ewkbPointType|ewkbSRID)
	b = binary.LittleEndian.AppendUint32(b, srid4326)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p[0]))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(p[1]))
}

// ewkbMultiPolygon is mp as little-endian EWKB with SRID 4326 on the outer geometry.
func ewkbMultiPolygon(mp orb.MultiPolygon) []byte {
	b := []byte{1}
	b = binary.LittleEndian.AppendUint32(b, ewkbMultiPolyType|ewkbSRID)
	b = binary.LittleEndian.AppendUint32(b, srid4326)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(mp)))
	for _, pg := range mp {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint32(b, ewkbPolygonType)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(pg)))
		for _, r := range pg {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
			for _, p := range r {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p[0]))
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p[1]))
			}
		}
	}
	return b
}

// pgbenchResult is one pgbench run: its reported throughput, the per-transaction latencies
// of its -l log, its sampled window (see window; Server is the backends serving pgbench) and
// the transactions completed in that window.
type pgbenchResult struct {
	TPS       float64
	Latencies []time.Duration
	Window    window
	InWindow  int
}

// runPgbench runs pgbench -n -M prepared -c clients -j clients -T d -f script -l against the
// benchmark database. -M prepared: the strongest protocol pgbench has, as pgx uses too.
func (pg *postgis) runPgbench(ctx context.Context, dir, script string, clients int, d time.Duration) (pgbenchResult, error) {
	var r pgbenchResult
	prefix := filepath.Join(dir, "pgbench_log")
	old, _ := filepath.Glob(prefix + ".*")
	for _, f := range old {
		os.Remove(f)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(clients),
		"-T", strconv.Itoa(secs), "-f", script, "-l", "--log-prefix", prefix,
		"-h", pg.cfg.Host, "-p", strconv.Itoa(int(pg.cfg.Port)), "-U", pg.cfg.User, pg.Name)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if pg.cfg.Password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+pg.cfg.Password)
	}
	// The backends exist only while pgbench runs: find them by application name.
	backends := func() ([]int, error) {
		rows, err := pg.admin.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgbench'", pg.Name)
		if err != nil {
			return nil, err
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil || len(pids) != clients {
			return nil, err
		}
		out := make([]int, len(pids))
		for i, p := range pids {
			out[i] = int(p)
		}
		return out, nil
	}
	out, w, err := runSampled(ctx, cmd, time.Duration(secs)*time.Second, backends)
	if err != nil {
		return r, fmt.Errorf("pgbench: %w\n%s", err, lastLines(string(out), 10))
	}
	r.Window = w
	if r.TPS, err = parsePgbenchTPS(string(out)); err != nil {
		return r, err
	}
	logs, _ := filepath.Glob(prefix + ".*")
	if len(logs) == 0 {
		return r, errors.New("pgbench wrote no transaction log")
	}
	from, to := w.From.UnixMicro(), w.From.Add(w.Wall).UnixMicro()
	for _, f := range logs {
		lat, done, err := readPgbenchLog(f)
		if err != nil {
			return r, err
		}
		r.Latencies = append(r.Latencies, lat...)
		for _, us := range done {
			if us >= from && us < to {
				r.InWindow++
			}
		}
		os.Remove(f)
	}
	return r, nil
}

// parsePgbenchTPS reads "tps = 1234.5 (without initial connection time)".
func parsePgbenchTPS(out string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "tps = "); ok {
			f, _, _ := strings.Cut(rest, " ")
			return strconv.ParseFloat(f, 64)
		}
	}
	return 0, fmt.Errorf("no tps in pgbench output:\n%s", lastLines(out, 10))
}

// readPgbenchLog returns the transaction latencies of a pgbench -l log, whose lines are
// "client_id transaction_no time script_no time_epoch time_us", and every transaction's
// completion time (µs since the Unix epoch). The time field is not used: pgbench 15 reads
// the clock lazily and logs 0 µs for many fast transactions (about half of them at 60 µs
// each here). The completion stamps read the clock afresh, and a pgbench client starts its
// next transaction as soon as one ends, so the latency of a client's transaction is the time
// since its previous one completed; each client's first transaction, with no predecessor,
// has no latency.
func readPgbenchLog(path string) (lat []time.Duration, done []int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	last := map[string]int64{} // client → completion time of its previous transaction, µs
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			return nil, nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		sec, err1 := strconv.ParseInt(fields[4], 10, 64)
		us, err2 := strconv.ParseInt(fields[5], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		at := sec*1_000_000 + us
		if prev, ok := last[fields[0]]; ok {
			lat = append(lat, time.Duration(at-prev)*time.Microsecond)
		}
		last[fields[0]] = at
		done = append(done, at)
	}
	return lat, done, sc.Err()
}

// allCells answers every query point with one SQL statement: point index → cell codes.
func (pg *postgis) allCells(ctx context.Context) (map[int][]registry.GridCode, error) {
	rows, err := pg.Conn.Query(ctx, sqlAllPoints)
	if err != nil {
		return nil, err
	}
	out := map[int][]registry.GridCode{}
	var id int32
	var code string
	_, err = pgx.ForEachRow(rows, []any{&id, &code}, func() error {
		out[int(id)-1] = append(out[int(id)-1], registry.GridCode(code))
		return nil
	})
	return out, err
}

// explain writes EXPLAIN (ANALYZE, BUFFERS) of each benchmark query, with the parameters of
// its first use, to path, so that the plans PostGIS ran are on record.
func (pg *postgis) explain(ctx context.Context, path string, p orb.Point, bd orb.Bound, lons, lats []float64) error {
	queries := []struct {
		name, sql string
		args      []any
	}{
		{"single point (pgx)", sqlCellAt, []any{p[0], p[1]}},
		{"single point (pgbench)", strings.ReplaceAll(strings.SplitN(pgbenchCellAt, "\n", 2)[1], ":i", "1"), nil},
		{"batch", sqlBatch, []any{lons, lats}},
		{"batch, cell columns", sqlBatchCell, []any{lons, lats}},
		{"bbox", sqlBBox, []any{bd.Min[0], bd.Min[1], bd.Max[0], bd.Max[1]}},
		{"nearest geography", sqlNearestGeog, []any{p[0], p[1]}},
		{"nearest planar", sqlNearestPlanar, []any{p[0], p[1]}},
	}
	var sb strings.Builder
	for _, q := range queries {
		rows, err := pg.Conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, q.args...)
		if err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		fmt.Fprintf(&sb, "== %s\n%s\n%s\n\n", q.name, strings.TrimSpace(q.sql), strings.Join(lines, "\n"))
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
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
