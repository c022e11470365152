package spatial

import (
	"runtime"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// Batch lookups. On a large city one point's cell lookup is a chain of cache misses: the
// bucket, the cell entry, then the code and name an answer writes. Looked up one after
// another, the misses are waited for one after another. CellAtBatch and ResolveBatch take
// a block of points one step at a time (every point's bucket, then every owned bucket's
// entry, then the rest) so that the processor waits for many misses at once. Answers are
// exactly CellAt's and Resolve's, from one snapshot for the whole call.

// batchBlock is the points looked up together: enough misses in flight, and a block's
// entries still in the nearest caches when they are used.
const batchBlock = 32

// cellsAt sets out[i] to cellAt(pts[i]) (nil for an invalid point) for at most batchBlock
// points. It returns a value derived from the bytes it touched, so that those reads stay.
func (s *snapshot) cellsAt(pts []orb.Point, out []*cellEntry) int {
	var vals [batchBlock]uint32
	pts, out = pts[:min(len(pts), batchBlock)], out[:min(len(pts), batchBlock)]
	for i, p := range pts {
		vals[i] = s.grid.lookup(p) // 0 for NaN or beyond the grid
	}
	touched := 0
	for i := range pts {
		if v := vals[i]; v != 0 && v&listBit == 0 {
			e := s.cells[v-1]
			out[i] = e
			touched += len(e.cell.Name) // reads the entry
		} else if v&listBit != 0 {
			for _, slot := range s.grid.list(v) { // the candidates' entries and outer rings
				if e := s.cells[slot]; len(e.shape.polys) > 0 && len(e.shape.polys[0].rings) > 0 && len(e.shape.polys[0].rings[0]) > 0 {
					touched += int(e.shape.polys[0].rings[0][0][0])
				}
			}
		}
	}
	for i, p := range pts {
		v := vals[i]
		switch {
		case !registry.ValidPoint(p):
			out[i] = nil
		case v == 0:
			out[i] = s.cellAtTree(p)
		case v&listBit != 0:
			out[i] = s.listedCell(v, p)
		}
	}
	for _, e := range out { // the code and name the answers will write
		if e != nil && len(e.cell.Code) > 0 && len(e.cell.Name) > 0 {
			touched += int(e.cell.Code[0]) + int(e.cell.Name[0])
		}
	}
	return touched
}

// eachCell calls fn with every point of pts, its index and its cell (nil for an invalid
// point or one outside every cell), looked up a block at a time in snapshot s.
func (s *snapshot) eachCell(pts []orb.Point, fn func(i int, p orb.Point, e *cellEntry)) {
	var ents [batchBlock]*cellEntry
	touched := 0
	for lo := 0; lo < len(pts); lo += batchBlock {
		blk := pts[lo:min(lo+batchBlock, len(pts))]
		touched += s.cellsAt(blk, ents[:len(blk)])
		for i, p := range blk {
			fn(lo+i, p, ents[i])
		}
	}
	runtime.KeepAlive(touched) // keeps cellsAt's reads
}

// CellAtBatch sets cells[i], errs[i] to what CellAt(pts[i]) returns. cells and errs must be
// at least as long as pts.
func (idx *Index) CellAtBatch(pts []orb.Point, cells []*registry.Cell, errs []error) {
	idx.load().eachCell(pts, func(i int, p orb.Point, e *cellEntry) {
		cells[i], errs[i] = cellResult(p, e)
	})
}

// ResolveBatch sets res[i], errs[i] to what Resolve(pts[i], class) returns. res and errs
// must be at least as long as pts.
func (idx *Index) ResolveBatch(pts []orb.Point, class string, res []Resolution, errs []error) {
	if err := checkClass(class); err != nil {
		for i, p := range pts {
			res[i], errs[i] = Resolution{}, err
			if !registry.ValidPoint(p) { // Resolve checks the point first
				errs[i] = registry.ErrInvalidPoint
			}
		}
		return
	}
	s := idx.load()
	s.eachCell(pts, func(i int, p orb.Point, e *cellEntry) {
		if !registry.ValidPoint(p) {
			res[i], errs[i] = Resolution{}, registry.ErrInvalidPoint
			return
		}
		res[i], errs[i] = idx.resolveIn(s, p, class, e)
	})
}
