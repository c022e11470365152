package spatial

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/paulmach/orb"
)

// cellGrid answers point → cell questions with one array read, and at most a few
// point-in-polygon tests, instead of an R-tree search: a uniform grid of buckets (an eighth
// of a typical cell's side) over the cells' extent. A bucket that lies in the interior of
// one cell, and that no other cell meets, names that cell. A bucket that several cells meet
// (on an edge) lists them, in code order, as the tree's candidates would be tried; a bucket
// no cell meets says so. Only a bucket outside the grid, or met by more than
// maxBucketCands cells, says "ask the tree". The answer is always exactly the tree's: a
// point in an owned bucket lies strictly inside one cell and in the closure of no other,
// and a bucket's list holds every cell whose closure meets it.
//
// On the benchmark city (50,000 cells of about 100 m) about two thirds of the points inside
// cells fall in owned buckets and nearly all the rest in listed ones (docs/benchmarks.md).
// Buckets are stored in tiles of 32 × 32, allocated only where some cell's bounding box
// reaches, and copied on write: a batch of edited cells copies only the tiles it changes.
// The lists live in one append-only array, cands, shared by the snapshots: a patch appends
// its new lists after every list an older snapshot reads.
type cellGrid struct {
	minX, minY float64 // the grid's origin
	sx, sy     float64 // bucket size, degrees
	ix, iy     float64 // 1/sx, 1/sy
	nx, ny     int     // buckets across and down
	tx         int     // tiles across
	tiles      []*gridTile
	// cands holds the lists of listed buckets, each its length and then the cell slots in
	// code order; cands[0] is 0, the empty list. built is len(cands) when the grid was
	// built: patches that have appended as much again rebuild it (see updateGrid).
	cands []uint32
	built int
}

const (
	tileShift = 5
	tileSide  = 1 << tileShift
	tileMask  = tileSide - 1
)

// gridTile holds the state of 32 × 32 buckets: cell slot + 1 (owned), listBit | offset of
// the bucket's list in cands, or 0 for "ask the tree".
type gridTile [tileSide * tileSide]uint32

// listBit marks a bucket value as a list offset; noCell is the bucket no cell meets: the
// empty list at offset 0.
const (
	listBit = 1 << 31
	noCell  = listBit
)

// maxBucketCands is the longest list a bucket keeps; a bucket more cells meet (a point
// where many cells come together, or overlapping cells) asks the tree.
const maxBucketCands = 15

// maxBucketsPerCell caps the grid's size relative to the number of cells (for a city whose
// cells are scattered over a wide extent); 96 buckets per cell is 384 bytes a cell at most.
const maxBucketsPerCell = 96

// lookup returns the bucket value of p: 0 when p is outside the grid or its tile.
func (g *cellGrid) lookup(p orb.Point) uint32 {
	if g == nil {
		return 0
	}
	fx := (p[0] - g.minX) * g.ix
	fy := (p[1] - g.minY) * g.iy
	if !(fx >= 0 && fy >= 0 && fx < float64(g.nx) && fy < float64(g.ny)) { // NaN fails too
		return 0
	}
	bx, by := int(fx), int(fy)
	t := g.tiles[(by>>tileShift)*g.tx+bx>>tileShift]
	if t == nil {
		return 0
	}
	return t[(by&tileMask)<<tileShift|bx&tileMask]
}

// list returns the cell slots of list value v (v&listBit != 0).
func (g *cellGrid) list(v uint32) []uint32 {
	i := v &^ listBit
	return g.cands[i+1 : i+1+g.cands[i]]
}

// addList appends a list of slots to cands and returns its bucket value.
func (g *cellGrid) addList(slots []uint32) uint32 {
	if len(slots) == 0 {
		return noCell
	}
	v := listBit | uint32(len(g.cands))
	g.cands = append(g.cands, uint32(len(slots)))
	g.cands = append(g.cands, slots...)
	return v
}

// rect is bucket (bx, by) widened by a margin larger than the rounding of owner's
// arithmetic, so every point owner maps to the bucket lies in it.
func (g *cellGrid) rect(bx, by int) orb.Bound {
	x0, y0 := g.minX+float64(bx)*g.sx, g.minY+float64(by)*g.sy
	ex, ey := g.sx*1e-6+1e-9, g.sy*1e-6+1e-9
	return orb.Bound{Min: orb.Point{x0 - ex, y0 - ey}, Max: orb.Point{x0 + g.sx + ex, y0 + g.sy + ey}}
}

// span returns the buckets (clamped to the grid) that the closed bound b may touch, or
// ok false when none.
func (g *cellGrid) span(b orb.Bound) (x0, y0, x1, y1 int, ok bool) {
	// One bucket of slack on each side covers the margin of rect and rounding here.
	x0 = int(math.Floor((b.Min[0]-g.minX)*g.ix)) - 1
	y0 = int(math.Floor((b.Min[1]-g.minY)*g.iy)) - 1
	x1 = int(math.Floor((b.Max[0]-g.minX)*g.ix)) + 1
	y1 = int(math.Floor((b.Max[1]-g.minY)*g.iy)) + 1
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, g.nx-1), min(y1, g.ny-1)
	return x0, y0, x1, y1, x0 <= x1 && y0 <= y1
}

// set stores owner o of bucket (bx, by) in a grid being patched: owned lists the tiles
// this batch already holds a copy of (or made); any other tile is copied before the write.
func (g *cellGrid) set(bx, by int, o uint32, owned map[int]bool) {
	ti := (by>>tileShift)*g.tx + bx>>tileShift
	switch {
	case g.tiles[ti] == nil:
		if o == 0 {
			return
		}
		g.tiles[ti] = new(gridTile)
	case !owned[ti]:
		t := *g.tiles[ti]
		g.tiles[ti] = &t
	}
	owned[ti] = true
	g.tiles[ti][(by&tileMask)<<tileShift|bx&tileMask] = o
}

// buildCellGrid makes the grid of a snapshot's cells, or nil when there are none.
func buildCellGrid(s *snapshot) *cellGrid {
	var ext orb.Bound
	var ws, hs []float64
	for _, e := range s.cells {
		if e == nil || e.shape.empty() {
			continue
		}
		b := e.shape.bound
		if len(ws) == 0 {
			ext = b
		} else {
			ext = ext.Union(b)
		}
		ws = append(ws, b.Max[0]-b.Min[0])
		hs = append(hs, b.Max[1]-b.Min[1])
	}
	if len(ws) == 0 {
		return nil
	}
	slices.Sort(ws)
	slices.Sort(hs)
	sx, sy := ws[len(ws)/2]/8, hs[len(hs)/2]/8
	w, h := ext.Max[0]-ext.Min[0], ext.Max[1]-ext.Min[1]
	if !(sx > 0) || !(sy > 0) || !(w > 0) || !(h > 0) {
		return nil
	}
	// Cap the bucket count: widen buckets until the extent holds at most the budget.
	budget := float64(max(maxBucketsPerCell*len(ws), 1<<12))
	if n := (w/sx + 1) * (h/sy + 1); n > budget {
		f := math.Sqrt(n / budget)
		sx, sy = sx*f, sy*f
	}
	g := &cellGrid{minX: ext.Min[0], minY: ext.Min[1], sx: sx, sy: sy, ix: 1 / sx, iy: 1 / sy}
	g.nx, g.ny = int(w/sx)+1, int(h/sy)+1
	if float64(g.nx)*float64(g.ny) > 2*budget+1e6 { // degenerate sizes; the tree alone is fine
		return nil
	}
	g.tx = (g.nx + tileMask) >> tileShift
	g.tiles = make([]*gridTile, g.tx*((g.ny+tileMask)>>tileShift))

	// Pass 1: how many cell bounding boxes touch each bucket (saturating at 2).
	touch := make([]uint8, g.nx*g.ny)
	for _, e := range s.cells {
		if e == nil || e.shape.empty() {
			continue
		}
		x0, y0, x1, y1, ok := g.span(e.shape.bound)
		if !ok {
			continue
		}
		for by := y0; by <= y1; by++ {
			for bx := x0; bx <= x1; bx++ {
				if r := g.rect(bx, by); intersects(e.shape.bound, r) {
					if i := by*g.nx + bx; touch[i] < 2 {
						touch[i]++
					}
				}
			}
		}
	}
	// Pass 2, over the cells on GOMAXPROCS goroutines: a bucket in a cell's interior is owned
	// by it when no other cell meets the bucket, checked against the cell's neighbours (the
	// cells whose bounding boxes touch its own) where other bounding boxes touch the bucket.
	// Tiles are allocated first: the goroutines then write distinct buckets only.
	for by := 0; by < g.ny; by++ {
		for bx := 0; bx < g.nx; bx++ {
			if touch[by*g.nx+bx] > 0 {
				if ti := (by>>tileShift)*g.tx + bx>>tileShift; g.tiles[ti] == nil {
					g.tiles[ti] = new(gridTile)
				}
			}
		}
	}
	procs := max(1, min(runtime.GOMAXPROCS(0), len(s.cells)/4096))
	// met[k] collects, as bucket index << 32 | slot, the buckets goroutine k's cells meet
	// without owning them: the buckets' lists.
	met := make([][]uint64, procs)
	var wg sync.WaitGroup
	for k := range procs {
		wg.Go(func() {
			var nb []*cellEntry
			for slot := k; slot < len(s.cells); slot += procs {
				e := s.cells[slot]
				if e == nil || e.shape.empty() {
					continue
				}
				x0, y0, x1, y1, ok := g.span(e.shape.bound)
				if !ok {
					continue
				}
				nb = nb[:0]
				s.cellTree.Search(e.shape.bound.Min, e.shape.bound.Max, func(_, _ [2]float64, o uint32) bool {
					if int(o) != slot && int(o) < len(s.cells) && s.cells[o] != nil {
						nb = append(nb, s.cells[o])
					}
					return true
				})
				for by := y0; by <= y1; by++ {
					for bx := x0; bx <= x1; bx++ {
						r := g.rect(bx, by)
						if !intersects(e.shape.bound, r) {
							continue
						}
						if e.shape.interiorHolds(r) && (touch[by*g.nx+bx] < 2 || !metByAny(nb, r)) {
							t := g.tiles[(by>>tileShift)*g.tx+bx>>tileShift]
							t[(by&tileMask)<<tileShift|bx&tileMask] = uint32(slot) + 1
							continue
						}
						if e.shape.intersectsRect(r) {
							met[k] = append(met[k], uint64(by*g.nx+bx)<<32|uint64(slot))
						}
					}
				}
			}
		})
	}
	wg.Wait()
	// Every bucket a tile holds that is neither owned nor met is one no cell meets.
	for _, t := range g.tiles {
		if t == nil {
			continue
		}
		for i, v := range t {
			if v == 0 {
				t[i] = noCell
			}
		}
	}
	// The lists, bucket by bucket, slots in code order.
	var all []uint64
	for _, m := range met {
		all = append(all, m...)
	}
	slices.Sort(all)
	g.cands = []uint32{0}
	var run []uint32
	for i := 0; i < len(all); {
		b := all[i] >> 32
		run = run[:0]
		for ; i < len(all) && all[i]>>32 == b; i++ {
			run = append(run, uint32(all[i]))
		}
		bx, by := int(b)%g.nx, int(b)/g.nx
		g.tiles[(by>>tileShift)*g.tx+bx>>tileShift][(by&tileMask)<<tileShift|bx&tileMask] = g.listOf(s, run)
	}
	g.built = len(g.cands)
	return g
}

// listOf returns the bucket value of a bucket that the cells of slots meet (none of them
// owning it): their list in code order, or 0 (ask the tree) when there are too many.
// slots is reordered.
func (g *cellGrid) listOf(s *snapshot, slots []uint32) uint32 {
	if len(slots) > maxBucketCands {
		return 0
	}
	slices.SortFunc(slots, func(a, b uint32) int {
		return strings.Compare(string(s.cells[a].cell.Code), string(s.cells[b].cell.Code))
	})
	return g.addList(slots)
}

// interiorHolds reports whether the closed rectangle r lies in the interior of s: its
// centre is inside and no edge of s meets r.
func (s *shape) interiorHolds(r orb.Bound) bool {
	if !(s.bound.Min[0] < r.Min[0] && s.bound.Min[1] < r.Min[1] && r.Max[0] < s.bound.Max[0] && r.Max[1] < s.bound.Max[1]) {
		return false
	}
	return !s.anyEdge(r, false) && s.contains(r.Center())
}

// metByAny reports whether the closure of any of cells meets r.
func metByAny(cells []*cellEntry, r orb.Bound) bool {
	for _, o := range cells {
		if o.shape.intersectsRect(r) {
			return true
		}
	}
	return false
}

func intersects(a, b orb.Bound) bool {
	return a.Min[0] <= b.Max[0] && b.Min[0] <= a.Max[0] && a.Min[1] <= b.Max[1] && b.Min[1] <= a.Max[1]
}

// updateGrid recomputes the buckets that the bounds of changed cells (before and after the
// batch) may touch, from the batch's cell tree, copying the grid and each tile it changes
// once. A batch that changes many cells, or that finds the lists grown to twice their built
// size, rebuilds the grid instead.
func (w *writer) updateGrid(changed []orb.Bound) {
	s := w.s
	if s.grid == nil || len(changed) > max(1024, s.nCells/8) || len(s.grid.cands) > 2*s.grid.built+4096 {
		s.grid = buildCellGrid(s)
		return
	}
	g := *s.grid
	g.tiles = slices.Clone(g.tiles)
	owned := map[int]bool{}
	var slots []uint32
	for _, b := range changed {
		x0, y0, x1, y1, ok := g.span(b)
		if !ok {
			continue
		}
		for by := y0; by <= y1; by++ {
			for bx := x0; bx <= x1; bx++ {
				var v uint32
				v, slots = g.bucketOf(s, g.rect(bx, by), slots[:0])
				g.set(bx, by, v, owned)
			}
		}
	}
	s.grid = &g
}

// bucketOf decides one bucket from the cell tree: the slot + 1 of the cell whose interior
// holds r when no other cell meets r (closed), else the list of the cells that meet r
// (noCell when none). Any cell holding a point of r then is that one, or on that list.
func (g *cellGrid) bucketOf(s *snapshot, r orb.Bound, slots []uint32) (uint32, []uint32) {
	s.cellTree.Search(r.Min, r.Max, func(_, _ [2]float64, slot uint32) bool {
		if int(slot) < len(s.cells) && s.cells[slot] != nil && s.cells[slot].shape.intersectsRect(r) {
			slots = append(slots, slot)
		}
		return true
	})
	if len(slots) == 1 && s.cells[slots[0]].shape.interiorHolds(r) {
		return slots[0] + 1, slots
	}
	return g.listOf(s, slots), slots
}
