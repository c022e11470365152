package main

import (
	"fmt"
	"math"
	"os"
	"strings"

	"citygrid/registry"
)

// target is one goal of the issue with its measured figure.
type target struct {
	Name   string
	Figure string
	Pass   bool
	Known  bool // false: not measured in this run (e.g. -skip-pg)
}

func (t target) result() string {
	switch {
	case !t.Known:
		return "n/a"
	case t.Pass:
		return "PASS"
	}
	return "**FAIL**"
}

func ratio(a, b runs) float64 { return a.median() / b.median() }

func (b *bench) targets() []target {
	var ts []target
	comp := runs{}
	for _, t := range b.imports {
		comp = append(comp, t.Components)
	}
	ts = append(ts,
		target{"import of 1,000,000 components ≤ 11 s", fmtSpan(comp, 2) + " s", comp.median() <= 11, len(comp) > 0},
		target{"start-up, store → ready index ≤ 5 s", fmtSpan(b.boot, 2) + " s", b.boot.median() <= 5, len(b.boot) > 0},
		target{"heap ≤ 250 B/component", fmtSpan(b.heapPerComp, 0) + " B", b.heapPerComp.median() <= 250, len(b.heapPerComp) > 0},
		target{"single-point HTTP lookup p99 < 0.5 ms (wrk -c2)", fmtMs(b.lookup.P99.median()) + " ms", b.lookup.P99.median() < 0.5, b.lookup.ok()},
	)
	ratioTarget := func(name string, a, p *measure, want float64) target {
		if !a.ok() || !p.ok() {
			return target{Name: name}
		}
		r := ratio(a.Rate, p.Rate)
		return target{name, fmt.Sprintf("%.1f×", r), r >= want, true}
	}
	ts = append(ts,
		ratioTarget("single-point HTTP lookup ≥ 1.3× PostGIS (pgbench), 2 connections", &b.lookup, &b.lookupPG, 1.3),
		ratioTarget("batch of 1,000 ≥ 20× the SQL join, same answer (?fields=cell: the cell; the join: the cell's columns)", &b.batchCell, &b.batchCellPG, 20),
		ratioTarget("batch of 1,000 ≥ 20× the SQL join, full answer (point, cell, unit, rule) against the cell code", &b.batch, &b.batchPG, 20),
		ratioTarget("in-process CellAt ≥ 100× the SQL round trip", &b.cellAt, &b.cellAtPG, 100),
	)
	c := &b.corr
	inWrong, httpWrong := diffIndices(c.InProcCells, b.ds.Truth), diffIndices(c.HTTPCells, b.ds.Truth)
	ts = append(ts, target{"citygrid = brute-force truth on every query point",
		fmt.Sprintf("%d in process, %d over HTTP differ", len(inWrong), len(httpWrong)), len(inWrong)+len(httpWrong) == 0, c.InProcCells != nil})
	if c.PGCells != nil {
		bad := 0
		for _, d := range c.Dis {
			if !d.OnBoundary() {
				bad++
			}
		}
		ts = append(ts, target{"citygrid and PostGIS agree off cell boundaries",
			fmt.Sprintf("%d disagreements, %d not on a boundary", len(c.Dis), bad), bad == 0, true})
	}
	return ts
}

func (b *bench) failed() int {
	n := 0
	for _, t := range b.targets() {
		if t.Known && !t.Pass {
			n++
		}
	}
	return n
}

func (b *bench) report() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	cfg, ds, m := b.cfg, b.ds, b.m
	inside, boundary, shared := 0, 0, 0
	for _, t := range ds.Truth {
		if t.Code != "" {
			inside++
		}
		if t.Boundary {
			boundary++
		}
		if t.Closures > 1 {
			shared++
		}
	}
	title := "citygrid vs PostGIS"
	if b.pg == nil {
		title = "citygrid benchmark (embedded store; PostGIS skipped)"
	}
	p("## %s\n\n", title)
	p("- date: %s (%.0f min)\n", b.started.Format("2006-01-02 15:04 MST"), b.ended.Sub(b.started).Minutes())
	p("- command: `go run ./internal/benchcmp %s`\n", strings.Join(os.Args[1:], " "))
	p("- machine: %d CPUs (nproc), %s; %s; %s\n", m.CPUs, m.Model, m.Kernel, m.Go)
	if m.PG != "" {
		p("- database: %s (127.0.0.1, default configuration; maintenance_work_mem 512MB for the index builds)\n", m.PG)
	}
	p("- tools: %s; %s\n", m.Wrk, orDash(m.Pgbench))
	p("- load average (1/5/15 min) at start %s, at end %s\n", m.LoadStart, b.loadEnd)
	p("- data: fixtures.BenchConfig, seed %d: %s cells, %s components, %d units, %d rules; %s query points "+
		"(fixtures.QueryPoints, seed %d): %s inside a cell, %s outside the grid, %d on a cell boundary, %d on an edge or vertex shared by cells\n",
		cfg.Seed, group(float64(len(ds.City.Cells))), group(float64(len(ds.City.Components))), len(ds.City.Units), len(ds.City.Rules),
		group(float64(len(ds.Points))), pointSeed, group(float64(inside)), group(float64(len(ds.Points)-inside)), boundary, shared)
	p("- every figure is the median of %d runs, (min–max) in brackets; wrk and pgbench runs last %s, Go-client loops %s\n",
		cfg.Runs, cfg.Duration, b.goDur())
	p("- client and server run on the same %d cores over loopback: wrk, pgbench and the Go client compete for CPU with "+
		"citygrid and PostgreSQL, as in any loopback benchmark, and other work on the machine adds noise\n\n", m.CPUs)

	if b.pg != nil {
		p("### Side by side\n\n")
		p("| case | citygrid | p50 / p99 ms | PostGIS | p50 / p99 ms | ratio |\n|---|---|---|---|---|---|\n")
		row := func(name, unit string, a, q *measure) {
			r := "–"
			if a.ok() && q.ok() {
				r = fmt.Sprintf("%.1f×", ratio(a.Rate, q.Rate))
			}
			p("| %s | %s | %s | %s | %s | %s |\n", name, fmtRate(a.Rate, unit), fmtLat(a), fmtRate(q.Rate, unit), fmtLat(q), r)
		}
		c := cfg.Clients
		row(fmt.Sprintf("point → cell, one point per request, %d connections: GET /api/v1/lookup (wrk -c%d) vs ST_Contains + GiST (pgbench -c%d -M prepared)", c, c, c), " req/s", &b.lookup, &b.lookupPG)
		if cfg.Many > 0 {
			m := cfg.Many
			row(fmt.Sprintf("the same with %d connections (not a target; wrk -t2 -c%d, pgbench -c%d -j%d, runs of half the length)", m, m, m, m), " req/s", &b.lookupMany, &b.lookupManyPG)
		}
		row(fmt.Sprintf("point → cell, batches of %s points, 1 client: POST /api/v1/lookup (the full answer: point, cell, unit, rule) vs one SQL join over unnest(arrays) returning the cell code (pgx); latency per batch", group(float64(cfg.Batch))), " points/s", &b.batch, &b.batchPG)
		row(fmt.Sprintf("point → cell, batches of %s points, 1 client, the same answer both sides: POST /api/v1/lookup?fields=cell (the cell object) vs the join returning the cell's code, name, community, street and district; latency per batch", group(float64(cfg.Batch))), " points/s", &b.batchCell, &b.batchCellPG)
		row("point → cell in process, 1 caller: spatial.Index.CellAt vs the SQL round trip from Go (pgx, prepared, one point per query)", " /s", &b.cellAt, &b.cellAtPG)
		row("point → cell → responsible unit in process: spatial.Index.Resolve (what GET /lookup does) vs the same SQL round trip", " /s", &b.resolve, &b.cellAtPG)
		bx := fmt.Sprintf("%.0f m × %.0f m", cfg.BoxSize, cfg.BoxSize)
		row("components in a "+bx+" box, 1 client: GET /api/v1/components?bbox= (GeoJSON, full records) vs `geom && ST_MakeEnvelope` (pgx, census columns)", " /s", &b.bboxHTTP, &b.bboxPG)
		row("components in a "+bx+" box in process: spatial.Index.Within vs the same SQL", " /s", &b.bboxIn, &b.bboxPG)
		row("nearest 5, 1 client: GET /api/v1/nearest?k=5 vs `ORDER BY geom::geography <-> point LIMIT 5` (sphere, GiST on geography)", " /s", &b.nearHTTP, &b.nearPG)
		row("nearest 5 in process: spatial.Index.Nearest (haversine) vs the same SQL", " /s", &b.nearIn, &b.nearPG)
		row("nearest 5 in process vs `ORDER BY geom <-> point LIMIT 5` (planar degrees: a different, wrong order)", " /s", &b.nearIn, &b.nearPl)
		row(fmt.Sprintf("round-trip floor, %d connections: GET /healthz (wrk) vs `SELECT 1` (pgbench)", c), " req/s", &b.floor, &b.floorPG)
		row(fmt.Sprintf("the ceiling, %d connections: a no-op HTTP/1.1 responder (fixed %d-byte answers, blocking read/write, nothing else; wrk, the lookup script) vs ST_Contains + GiST (pgbench)", c, b.answerSize), " req/s", &b.noop, &b.lookupPG)
		p("\n")
		p("Each run of the single-point comparison (runs alternate; \"others\" is the CPU the rest of the machine used meanwhile, in cores: " +
			"other work on this shared machine, including other users of the same PostgreSQL server):\n\n")
		p("| run | citygrid req/s | p50 / p99 ms | others, cores | PostGIS tps | p50 / p99 ms | others, cores | ratio |\n|---|---|---|---|---|---|---|---|\n")
		for i := range b.lookup.Rate {
			at := func(r runs) float64 {
				if i < len(r) {
					return r[i]
				}
				return math.NaN()
			}
			p("| %d | %s | %s / %s | %.2f | %s | %s / %s | %.2f | %.2f× |\n", i+1,
				group(at(b.lookup.Rate)), fmtMs(at(b.lookup.P50)), fmtMs(at(b.lookup.P99)), at(b.lookup.Others),
				group(at(b.lookupPG.Rate)), fmtMs(at(b.lookupPG.P50)), fmtMs(at(b.lookupPG.P99)), at(b.lookupPG.Others),
				at(b.lookup.Rate)/at(b.lookupPG.Rate))
		}
		p("\n")
		p("CPU time per request, µs (user + system from /proc, sampled from 1 s after the start of each run to 1 s before its end; " +
			"less sensitive to the machine's other load than throughput): the server (the citygrid process; the PostgreSQL backends serving pgbench) " +
			"and the load generator (wrk, pgbench).\n\n")
		p("| case | citygrid server | wrk | PostgreSQL backends | pgbench | server CPU ratio |\n|---|---|---|---|---|---|\n")
		cpuRow := func(name string, a, q *measure) {
			r := "–"
			if !math.IsNaN(a.SrvCPU.median()) && !math.IsNaN(q.SrvCPU.median()) {
				r = fmt.Sprintf("%.1f×", q.SrvCPU.median()/a.SrvCPU.median())
			}
			p("| %s | %s | %s | %s | %s | %s |\n", name, fmtSpan(a.SrvCPU, 1), fmtSpan(a.CliCPU, 1), fmtSpan(q.SrvCPU, 1), fmtSpan(q.CliCPU, 1), r)
		}
		cpuRow("point → cell, one point per request", &b.lookup, &b.lookupPG)
		cpuRow("round-trip floor (/healthz, SELECT 1)", &b.floor, &b.floorPG)
		cpuRow("the ceiling (no-op responder; ST_Contains)", &b.noop, &b.lookupPG)
		p("\n")
	}

	if b.pg == nil {
		c := cfg.Clients
		bx := fmt.Sprintf("%.0f m × %.0f m", cfg.BoxSize, cfg.BoxSize)
		p("### citygrid figures\n\n| case | throughput | p50 / p99 ms | server / client CPU µs per request |\n|---|---|---|---|\n")
		row := func(name, unit string, a *measure) {
			cpu := "–"
			if len(a.SrvCPU) > 0 {
				cpu = fmtSpan(a.SrvCPU, 1) + " / " + fmtSpan(a.CliCPU, 1)
			}
			p("| %s | %s | %s | %s |\n", name, fmtRate(a.Rate, unit), fmtLat(a), cpu)
		}
		row(fmt.Sprintf("GET /api/v1/lookup, one point per request, %d connections (wrk)", c), " req/s", &b.lookup)
		row(fmt.Sprintf("POST /api/v1/lookup, batches of %s points, 1 client; latency per batch", group(float64(cfg.Batch))), " points/s", &b.batch)
		row(fmt.Sprintf("POST /api/v1/lookup?fields=cell, batches of %s points, 1 client; latency per batch", group(float64(cfg.Batch))), " points/s", &b.batchCell)
		row("spatial.Index.CellAt in process, 1 caller", " /s", &b.cellAt)
		row("spatial.Index.Resolve in process, 1 caller", " /s", &b.resolve)
		row("GET /api/v1/components?bbox= ("+bx+"), 1 client", " /s", &b.bboxHTTP)
		row("spatial.Index.Within ("+bx+") in process", " /s", &b.bboxIn)
		row("GET /api/v1/nearest?k=5, 1 client", " /s", &b.nearHTTP)
		row("spatial.Index.Nearest, k = 5, in process", " /s", &b.nearIn)
		row(fmt.Sprintf("GET /healthz, %d connections (wrk): the HTTP round-trip floor", c), " req/s", &b.floor)
		p("\n")
	}

	p("### Targets\n\n| target | figure | result |\n|---|---|---|\n")
	for _, t := range b.targets() {
		fig := t.Figure
		if !t.Known {
			fig = "not measured (PostGIS skipped)"
		}
		p("| %s | %s | %s |\n", t.Name, fig, t.result())
	}
	p("\n")

	p("### Issue figures (embedded store)\n\n| figure | value |\n|---|---|\n")
	col := func(f func(importTimes) float64) runs {
		var r runs
		for _, t := range b.imports {
			r = append(r, f(t))
		}
		return r
	}
	p("| `citygrid import -kind components components.csv` (%s components, fresh store holding the cells) | %s s |\n",
		group(float64(len(ds.City.Components))), fmtSpan(col(func(t importTimes) float64 { return t.Components }), 2))
	p("| `citygrid import` of the cells / units / rules | %s s / %s s / %s s |\n",
		fmtSpan(col(func(t importTimes) float64 { return t.Cells }), 2),
		fmtSpan(col(func(t importTimes) float64 { return t.Units }), 2),
		fmtSpan(col(func(t importTimes) float64 { return t.Rules }), 2))
	p("| peak RSS of the components import (ru_maxrss of the `citygrid import` process) | %s MiB |\n",
		fmtSpan(col(func(t importTimes) float64 { return float64(t.ComponentsPeakRSS >> 20) }), 0))
	if len(b.pgLoad) > 0 {
		var cp, gi, tot runs
		for _, t := range b.pgLoad {
			cp, gi, tot = append(cp, t.Copy), append(gi, t.GiST), append(tot, t.Copy+t.GiST)
		}
		p("| PostGIS reference: bare binary COPY of the same components + CREATE INDEX USING gist | %s s (COPY %s s + GiST %s s) |\n",
			fmtSpan(tot, 2), fmtSpan(cp, 2), fmtSpan(gi, 2))
	}
	if len(b.imports) > 0 {
		p("| store file after the import | %d MiB |\n", b.imports[len(b.imports)-1].StoreBytes>>20)
	}
	p("| start-up of `citygrid serve`: exec → first 200 from /readyz | %s s |\n", fmtSpan(b.boot, 2))
	p("| spatial.Index.Load from the store, in process | %s s |\n", fmtSpan(b.loadInProc, 2))
	p("| heap held by the loaded index per component (HeapAlloc after GC, in process) | %s B |\n", fmtSpan(b.heapPerComp, 0))
	p("| `citygrid serve` after start-up: RSS / Go heap in use | %.0f MiB / %.0f MiB |\n", b.rss/(1<<20), b.heap/(1<<20))
	p("| GET /api/v1/lookup, %d connections (wrk): throughput, p50 / p99 | %s, %s ms (%.1f%% of answers 404 outside_grid, as drawn) |\n",
		cfg.Clients, fmtRate(b.lookup.Rate, " req/s"), fmtLat(&b.lookup), 100*b.non2xxShare)
	p("| spatial.Index.CellAt / Resolve in process, 1 caller | %s / %s |\n", fmtRate(b.cellAt.Rate, " /s"), fmtRate(b.resolve.Rate, " /s"))
	p("\n")

	b.reportCorrectness(&w)
	p("### How it was measured\n\n")
	p("- single-point lookups: wrk -t2 -c%d with lookup.lua cycling through the query points (thread k starts k/2 of the way in), after a 2 s warm-up\n", cfg.Clients)
	if b.pg != nil {
		p("- PostGIS single points: pgbench -n -M prepared -c%d -j%d -T with `%s`: pgbench cannot read points from a file, so the point "+
			"comes from table pts by a random id in the same statement (a primary-key probe). p50/p99 come from the completion stamps of "+
			"pgbench's per-transaction log (-l): its latency field reads 0 µs for many fast transactions in pgbench 15. Runs alternate citygrid, PostGIS.\n",
			cfg.Clients, cfg.Clients, strings.TrimSpace(strings.SplitN(pgbenchCellAt, "\n", 2)[1]))
	}
	p("- batches: the %s query points in %d batches of %s; each run sends the batches in turn for at least %s (every batch at least once), one client with keep-alive",
		group(float64(len(ds.Points))), len(ds.Points)/cfg.Batch, group(float64(cfg.Batch)), batchLoop(cfg.Duration))
	if b.pg != nil {
		p("; the SQL side runs `%s` with pgx (prepared) and reads every row; for the same answer, `%s`", oneLine(sqlBatch), oneLine(sqlBatchCell))
	}
	p("\n- in process: throughput from a loop that reads the clock every 256 calls, p50/p99 from a loop timing each call")
	if b.pg != nil {
		p("; the SQL round trip is `%s` on one pgx connection (prepared by pgx)", sqlCellAt)
	}
	p("\n- boxes and nearest: %d query points inside the grid, boxes of %.0f m centred on them; HTTP box pages use limit=10000 so one page holds every component", len(b.boxes), cfg.BoxSize)
	if b.pg != nil {
		p("; the SQL sides are `%s` and `%s`", oneLine(sqlBBox), oneLine(sqlNearestGeog))
	}
	p("\n- the server runs `citygrid serve -log-level warn` (the 404s of points outside the grid are otherwise logged at info one by one)\n")
	return w.String()
}

func (b *bench) reportCorrectness(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	c, ds := &b.corr, b.ds
	p("### Correctness\n\n")
	p("Truth: every query point tested against every cell (bounding box, then an exact closed point-in-polygon with big.Rat fallback), " +
		"ties to the smallest code (citygrid's rule), on 2 goroutines.\n\n")
	inWrong, httpWrong := diffIndices(c.InProcCells, ds.Truth), diffIndices(c.HTTPCells, ds.Truth)
	p("- citygrid in process (CellAt) vs truth: %d of %s points differ%s\n", len(inWrong), group(float64(len(ds.Points))), examples(b, inWrong, c.InProcCells))
	p("- citygrid over HTTP (POST /api/v1/lookup) vs truth: %d differ%s\n", len(httpWrong), examples(b, httpWrong, c.HTTPCells))
	if c.PGCells != nil {
		pgWrong := diffIndices(c.PGCells, ds.Truth)
		p("- PostGIS (ST_Contains, boundary excluded) vs truth: %d differ; points in more than one cell: %d\n", len(pgWrong), c.PGMulti)
		onB := 0
		for _, d := range c.Dis {
			if d.OnBoundary() {
				onB++
			}
		}
		p("- citygrid vs PostGIS: %d disagreements: %d on a cell boundary (exact test, ST_Intersects(ST_Boundary) or distance < 1e-9°), %d not (a bug)%s\n",
			len(c.Dis), onB, len(c.Dis)-onB, map[bool]string{true: "; all in disagreements.csv", false: ""}[len(c.Dis) > 0])
		if len(c.Dis) > 0 {
			p("\n| point | lon, lat | citygrid | PostGIS | truth | on boundary (exact / PostGIS) | distance to boundary ° |\n|---|---|---|---|---|---|---|\n")
			for k, d := range c.Dis {
				if k == 20 {
					p("| … %d more | | | | | | |\n", len(c.Dis)-20)
					break
				}
				p("| %d | %s, %s | %s | %s | %s | %t / %t | %.3g |\n", d.I, formatCoord(d.P[0]), formatCoord(d.P[1]),
					orDash(string(d.Citygrid)), orDash(string(d.PostGIS)), orDash(string(d.Truth.Code)), d.Truth.Boundary, d.STBoundary, d.Dist)
			}
			p("\n")
		}
	}
	if c.BoxIn != nil {
		total := 0
		for _, n := range c.BoxIn {
			total += n
		}
		p("- boxes: %d boxes, %s components found in all (%.0f a box); HTTP vs in process: %d boxes differ",
			len(c.BoxIn), group(float64(total)), float64(total)/math.Max(1, float64(len(c.BoxIn))), countDiff(c.BoxHTTP, c.BoxIn))
		if c.BoxPG != nil {
			p("; PostGIS exact (ST_Covers) vs in process: %d differ; PostGIS && vs ST_Covers: %d boxes differ, %s rows vs %s "+
				"(&& compares the float4 bounding boxes of the index, rounded outwards, so it also returns points just outside the box)",
				countDiff(c.BoxPGExact, c.BoxIn), countDiff(c.BoxPG, c.BoxPGExact), group(float64(sum(c.BoxPG))), group(float64(sum(c.BoxPGExact))))
		}
		p("\n")
	}
	if c.NearIn != nil {
		pointOf := b.pointOf()
		h := compareNearest(c.NearHTTP, c.NearIn, b.queries, pointOf, 1e-3)
		p("- nearest 5: HTTP vs in process: %d of %d identical, %d differ%s\n", h.Equal, len(c.NearIn), h.SameSet+h.Ties+h.Differ, exampleList(h.Examples))
		if c.NearPG != nil {
			g := compareNearest(c.NearIn, c.NearPG, b.queries, pointOf, 1e-3)
			p("- nearest 5: in process vs PostGIS geography: %d identical, %d same set in another order, %d differ only by a tie (same distances within 1 mm), %d differ%s\n",
				g.Equal, g.SameSet, g.Ties, g.Differ, exampleList(g.Examples))
			pl := compareNearest(c.NearIn, c.NearPl, b.queries, pointOf, 1e-3)
			p("- nearest 5: in process vs PostGIS planar (degrees): %d identical, %d same set, %d ties, %d differ (expected: degrees of longitude are shorter than of latitude)\n",
				pl.Equal, pl.SameSet, pl.Ties, pl.Differ)
		}
	}
	p("\n")
}

func examples(b *bench, idx []int, got []registry.GridCode) string {
	if len(idx) == 0 {
		return ""
	}
	var parts []string
	for _, i := range idx[:min(5, len(idx))] {
		t := b.ds.Truth[i]
		g := ""
		if i < len(got) {
			g = string(got[i])
		}
		parts = append(parts, fmt.Sprintf("point %d (%s, %s): got %s, truth %s (boundary %t, %d closures)", i,
			formatCoord(b.ds.Points[i][0]), formatCoord(b.ds.Points[i][1]), orDash(g), orDash(string(t.Code)), t.Boundary, t.Closures))
	}
	return ": " + strings.Join(parts, "; ")
}

func exampleList(ex []string) string {
	if len(ex) == 0 {
		return ""
	}
	return ": " + strings.Join(ex, "; ")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func sum(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}
