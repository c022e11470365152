package spatial

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// gridProbes returns points where the grid could go wrong: random points over (and beyond)
// the city, every vertex of every cell with its neighbours one ulp away, edge midpoints, and
// points on and one ulp either side of bucket boundaries.
func gridProbes(s *snapshot, c *city, n int, seed uint64) []orb.Point {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := c.Bound
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	var pts []orb.Point
	for range n {
		pts = append(pts, orb.Point{b.Min[0] - w/10 + rng.Float64()*w*1.2, b.Min[1] - h/10 + rng.Float64()*h*1.2})
	}
	ulps := func(p orb.Point) {
		for _, dx := range []float64{-1, 0, 1} {
			for _, dy := range []float64{-1, 0, 1} {
				pts = append(pts, orb.Point{math.Nextafter(p[0], p[0]+dx), math.Nextafter(p[1], p[1]+dy)})
			}
		}
	}
	for _, cell := range c.Cells {
		for _, poly := range cell.Geometry {
			for _, ring := range poly {
				for i, v := range ring {
					ulps(v)
					if i > 0 {
						ulps(orb.Point{(v[0] + ring[i-1][0]) / 2, (v[1] + ring[i-1][1]) / 2})
					}
				}
			}
		}
	}
	if g := s.grid; g != nil {
		for range n {
			bx, by := rng.IntN(g.nx+1), rng.IntN(g.ny+1)
			ulps(orb.Point{g.minX + float64(bx)*g.sx, g.minY + rng.Float64()*float64(g.ny)*g.sy})
			ulps(orb.Point{g.minX + rng.Float64()*float64(g.nx)*g.sx, g.minY + float64(by)*g.sy})
		}
	}
	return pts
}

// checkGridAgrees fails when cellAt (grid first) and cellAtTree differ anywhere on probes,
// and returns the share of probes the grid answered from an owned bucket, and the share it
// left to the tree.
func checkGridAgrees(t *testing.T, s *snapshot, pts []orb.Point) (ownedShare, treeShare float64) {
	t.Helper()
	owned, tree, bad := 0, 0, 0
	for _, p := range pts {
		switch v := s.grid.lookup(p); {
		case v == 0:
			tree++
		case v&listBit == 0:
			owned++
		}
		got, want := s.cellAt(p), s.cellAtTree(p)
		if got != want {
			if bad++; bad <= 10 {
				t.Errorf("cellAt(%v) = %v, the tree says %v", p, codeOf(got), codeOf(want))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d probes disagree", bad, len(pts))
	}
	return float64(owned) / float64(len(pts)), float64(tree) / float64(len(pts))
}

func codeOf(e *cellEntry) registry.GridCode {
	if e == nil {
		return "(none)"
	}
	return e.cell.Code
}

func TestCellGridAgreesWithTree(t *testing.T) {
	idx, c := newTestIndex(t)
	s := idx.load()
	if s.grid == nil {
		t.Fatal("no cell grid after Load")
	}
	pts := gridProbes(s, c, 20000, 1)
	checkGridAgrees(t, s, pts)
	// The grid must also carry its weight: most random points inside the city are answered
	// by it (cells are about 8 × 8 buckets; those along the jittered edges are not owned).
	var inside []orb.Point
	for _, p := range pts[:20000] {
		if s.cellAtTree(p) != nil {
			inside = append(inside, p)
		}
	}
	share, tree := checkGridAgrees(t, s, inside)
	t.Logf("of %d points inside cells, %.0f%% fell in owned buckets, %.1f%% were left to the tree", len(inside), share*100, tree*100)
	if share < 0.6 {
		t.Errorf("the grid answered %.0f%% of points inside cells from owned buckets, want at least 60%%", share*100)
	}
	// The rest fall in listed buckets: the tree is for points beyond the grid and for
	// crowded buckets only.
	if tree > 0.01 {
		t.Errorf("%.1f%% of points inside cells were left to the tree, want under 1%%", tree*100)
	}
}

// TestCellGridAfterEdits: replacing cells (a shrunk cell leaving a gap, a cell grown over
// its neighbour's bucket area, a new cell beyond the grid) keeps grid and tree in
// agreement, and the snapshot before the edit keeps its own answers.
func TestCellGridAfterEdits(t *testing.T) {
	idx, c := newTestIndex(t)
	before := idx.load()
	probesBefore := gridProbes(before, c, 5000, 2)
	want := make([]*cellEntry, len(probesBefore))
	for i, p := range probesBefore {
		want[i] = before.cellAt(p)
	}

	shrunk := c.Cells[30]
	b := shrunk.Geometry.Bound()
	mid := b.Center()
	shrunk.Geometry = orb.MultiPolygon{{{b.Min, {mid[0], b.Min[1]}, mid, {b.Min[0], mid[1]}, b.Min}}}
	far := registry.Cell{Key: 999999, Code: "500103999999001", Name: "far", Geometry: orb.MultiPolygon{{{
		{c.Bound.Max[0] + 0.01, c.Bound.Max[1] + 0.01}, {c.Bound.Max[0] + 0.012, c.Bound.Max[1] + 0.01},
		{c.Bound.Max[0] + 0.012, c.Bound.Max[1] + 0.012}, {c.Bound.Max[0] + 0.01, c.Bound.Max[1] + 0.012},
		{c.Bound.Max[0] + 0.01, c.Bound.Max[1] + 0.01}}}}}
	idx.ApplyCells([]registry.Cell{shrunk, far})
	after := idx.load()
	c2 := *c
	c2.Cells = append(append([]registry.Cell(nil), c.Cells...), far)
	c2.Cells[30] = shrunk
	checkGridAgrees(t, after, gridProbes(after, &c2, 5000, 3))
	if got := after.cellAt(mid); got == nil || got.cell.Code == shrunk.Code && !got.shape.contains(mid) {
		t.Errorf("cellAt(%v) after shrinking %s = %v", mid, shrunk.Code, codeOf(got))
	}
	inner := orb.Point{(b.Min[0] + mid[0]) / 2, (b.Min[1] + mid[1]) / 2}
	if got := after.cellAt(inner); got == nil || got.cell.Code != shrunk.Code {
		t.Errorf("cellAt(%v) inside the shrunk cell = %v, want %s", inner, codeOf(got), shrunk.Code)
	}
	farIn := far.Geometry.Bound().Center()
	if got := after.cellAt(farIn); got == nil || got.cell.Code != far.Code {
		t.Errorf("cellAt(%v) in the new far cell = %v", farIn, codeOf(got))
	}
	for i, p := range probesBefore {
		if got := before.cellAt(p); got != want[i] {
			t.Fatalf("the old snapshot changed its answer at %v: %v, was %v", p, codeOf(got), codeOf(want[i]))
		}
	}
	// A big batch rebuilds the grid: every cell replaced by itself.
	idx.ApplyCells(c2.Cells)
	checkGridAgrees(t, idx.load(), gridProbes(idx.load(), &c2, 5000, 4))
}

func TestCellGridOwnerOutside(t *testing.T) {
	idx, _ := newTestIndex(t)
	g := idx.load().grid
	for _, p := range []orb.Point{{math.NaN(), 29.5}, {106.5, math.Inf(1)}, {-180, -90}, {180, 90}, {g.minX - 1e-12, g.minY}} {
		if o := g.lookup(p); o != 0 {
			t.Errorf("lookup(%v) = %d, want 0 (ask the tree)", p, o)
		}
	}
	var nilGrid *cellGrid
	if o := nilGrid.lookup(orb.Point{106.5, 29.5}); o != 0 {
		t.Errorf("nil grid lookup = %d", o)
	}
}
