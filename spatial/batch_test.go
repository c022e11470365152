package spatial

import (
	"math"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// TestBatchMatchesSingle: CellAtBatch and ResolveBatch answer every point exactly as CellAt
// and Resolve do (cell, unit, rule, error), over the grid's hard probes, invalid points and
// block boundaries.
func TestBatchMatchesSingle(t *testing.T) {
	idx, c := newTestIndex(t)
	s := idx.load()
	pts := gridProbes(s, c, 3000, 5)
	pts = append(pts, orb.Point{math.NaN(), 29.5}, orb.Point{200, 10}, orb.Point{106.5, math.Inf(-1)}, orb.Point{0, 0})
	var classes []string
	for _, comp := range c.Components[:3] {
		classes = append(classes, comp.Class)
	}
	classes = append(classes, "", "06010", "bogus")
	for _, n := range []int{0, 1, batchBlock - 1, batchBlock, batchBlock + 1, len(pts)} {
		in := pts[len(pts)-n:] // the invalid points are at the end: every size holds some
		cells, errs := make([]*registry.Cell, n), make([]error, n)
		idx.CellAtBatch(in, cells, errs)
		for i, p := range in {
			cell, err := idx.CellAt(p)
			if cell != cells[i] || err != errs[i] {
				t.Fatalf("n=%d: CellAtBatch point %d %v = %v, %v; CellAt: %v, %v", n, i, p, cells[i], errs[i], cell, err)
			}
		}
		for _, class := range classes {
			res, rerrs := make([]Resolution, n), make([]error, n)
			idx.ResolveBatch(in, class, res, rerrs)
			for i, p := range in {
				want, err := idx.Resolve(p, class)
				if res[i] != want || rerrs[i] != err {
					t.Fatalf("n=%d class %q: ResolveBatch point %d %v = %+v, %v; Resolve: %+v, %v", n, class, i, p, res[i], rerrs[i], want, err)
				}
			}
		}
	}
}
