package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

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
