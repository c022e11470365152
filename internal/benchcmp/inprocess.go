package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"

	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
)

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
