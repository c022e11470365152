package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"citygrid/registry"
)

// correctness gathers every answer checked and the comparisons made of them.
type correctness struct {
	HTTPCells, InProcCells []registry.GridCode // per query point; "" outside every cell
	PGCells                []registry.GridCode
	PGMulti                int // points PostGIS put in more than one cell

	BoxHTTP, BoxIn, BoxPG, BoxPGExact []int
	NearHTTP, NearIn, NearPG, NearPl  [][]string

	Dis []disagreement // citygrid (HTTP) vs PostGIS, point → cell
}

// disagreement is a query point where citygrid and PostGIS name different cells.
type disagreement struct {
	I                 int
	P                 orb.Point
	Citygrid, PostGIS registry.GridCode
	Truth             truth
	// STBoundary: ST_Intersects(ST_Boundary(cell), point) for a cell either side named;
	// Dist the smallest ST_Distance(ST_Boundary(cell), point) in degrees.
	STBoundary bool
	Dist       float64
}

// OnBoundary reports whether the point lies on a cell boundary, by the exact test or by
// PostGIS (intersecting the boundary, or within 1e-9° of it).
func (d disagreement) OnBoundary() bool { return d.Truth.Boundary || d.STBoundary || d.Dist < 1e-9 }

// diffIndices lists the points whose answers differ from the truth.
func diffIndices(got []registry.GridCode, ts []truth) []int {
	var out []int
	for i := range ts {
		if i >= len(got) || got[i] != ts[i].Code {
			out = append(out, i)
		}
	}
	return out
}

// pgCorrectness asks PostGIS for every point's cell, compares with citygrid's HTTP answers,
// classifies each disagreement, and collects PostGIS's box counts and nearest answers.
func (b *bench) pgCorrectness(ctx context.Context) error {
	ds, pg, c := b.ds, b.pg, &b.corr
	b.logf("correctness: PostGIS answers")
	all, err := pg.allCells(ctx)
	if err != nil {
		return fmt.Errorf("correctness query: %w", err)
	}
	c.PGCells = make([]registry.GridCode, len(ds.Points))
	for i, codes := range all {
		c.PGCells[i] = slices.Min(codes)
		if len(codes) > 1 {
			c.PGMulti++
		}
	}
	for i := range ds.Points {
		if c.PGCells[i] == c.HTTPCells[i] {
			continue
		}
		d := disagreement{I: i, P: ds.Points[i], Citygrid: c.HTTPCells[i], PostGIS: c.PGCells[i], Truth: ds.Truth[i], Dist: math.Inf(1)}
		for _, code := range []registry.GridCode{d.Citygrid, d.PostGIS} {
			if code == "" {
				continue
			}
			var on bool
			var dist float64
			if err := pg.Conn.QueryRow(ctx, sqlBoundary, string(code), int32(i+1)).Scan(&on, &dist); err != nil {
				return fmt.Errorf("classify point %d: %w", i, err)
			}
			d.STBoundary = d.STBoundary || on
			d.Dist = min(d.Dist, dist)
		}
		c.Dis = append(c.Dis, d)
	}
	if err := b.writeDisagreements(); err != nil {
		return err
	}
	c.BoxPG = make([]int, len(b.boxes))
	c.BoxPGExact = make([]int, len(b.boxes))
	c.NearPG = make([][]string, len(b.queries))
	c.NearPl = make([][]string, len(b.queries))
	for i, bd := range b.boxes {
		if c.BoxPG[i], err = pg.bbox(ctx, bd); err != nil {
			return err
		}
		if err := pg.Conn.QueryRow(ctx, sqlBBoxExact, bd.Min[0], bd.Min[1], bd.Max[0], bd.Max[1]).Scan(&c.BoxPGExact[i]); err != nil {
			return err
		}
		if c.NearPG[i], err = pg.nearest(ctx, sqlNearestGeog, b.queries[i]); err != nil {
			return err
		}
		if c.NearPl[i], err = pg.nearest(ctx, sqlNearestPlanar, b.queries[i]); err != nil {
			return err
		}
	}
	return nil
}

// writeDisagreements writes every citygrid/PostGIS disagreement to DIR/disagreements.csv.
func (b *bench) writeDisagreements() error {
	var sb strings.Builder
	sb.WriteString("point,lon,lat,citygrid,postgis,truth,exact_boundary,closures,st_intersects_boundary,distance_deg\n")
	for _, d := range b.corr.Dis {
		fmt.Fprintf(&sb, "%d,%s,%s,%s,%s,%s,%t,%d,%t,%g\n", d.I, formatCoord(d.P[0]), formatCoord(d.P[1]),
			d.Citygrid, d.PostGIS, d.Truth.Code, d.Truth.Boundary, d.Truth.Closures, d.STBoundary, d.Dist)
	}
	return os.WriteFile(b.path("disagreements.csv"), []byte(sb.String()), 0o644)
}

// nearestCheck compares two answers of nearest-5 per query: equal as ordered lists, equal
// as sets, or different only by a tie (the same sorted distances within tol metres).
type nearestCheck struct {
	Equal, SameSet, Ties, Differ int
	Examples                     []string
}

func compareNearest(a, b [][]string, queries []orb.Point, pointOf func(string) (orb.Point, bool), tol float64) nearestCheck {
	var r nearestCheck
	for i := range a {
		if i >= len(b) {
			break
		}
		switch {
		case slices.Equal(a[i], b[i]):
			r.Equal++
			continue
		case sameSet(a[i], b[i]):
			r.SameSet++
			continue
		}
		da, oka := distances(queries[i], a[i], pointOf)
		db, okb := distances(queries[i], b[i], pointOf)
		tie := oka && okb && len(da) == len(db)
		for k := range da {
			if tie && math.Abs(da[k]-db[k]) > tol {
				tie = false
			}
		}
		if tie {
			r.Ties++
			continue
		}
		r.Differ++
		if len(r.Examples) < 5 {
			r.Examples = append(r.Examples, fmt.Sprintf("query %d %v: %v (%.3f m) vs %v (%.3f m)", i, queries[i], a[i], da, b[i], db))
		}
	}
	return r
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// distances returns the sorted haversine distances (metres) from q to the components ids.
func distances(q orb.Point, ids []string, pointOf func(string) (orb.Point, bool)) ([]float64, bool) {
	var out []float64
	for _, id := range ids {
		p, ok := pointOf(id)
		if !ok {
			return nil, false
		}
		out = append(out, geo.DistanceHaversine(q, p))
	}
	slices.Sort(out)
	return out, true
}

// pointOf looks components up by ID in the generated city (the map is built on first use).
func (b *bench) pointOf() func(string) (orb.Point, bool) {
	var m map[string]orb.Point
	return func(id string) (orb.Point, bool) {
		if m == nil {
			m = make(map[string]orb.Point, len(b.ds.City.Components))
			for i := range b.ds.City.Components {
				m[b.ds.City.Components[i].ID.String()] = b.ds.City.Components[i].Point
			}
		}
		p, ok := m[id]
		return p, ok
	}
}

// countDiff counts the positions where two per-box counts differ.
func countDiff(a, b []int) int {
	n := 0
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			n++
		}
	}
	return n
}
