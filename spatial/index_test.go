package spatial

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"

	"citygrid/fixtures"
	"citygrid/registry"
)

// refOnRing reports whether p lies exactly on an edge of r (exact arithmetic is enough for
// the test points: vertices and points on axis-aligned edges).
func refOnRing(r orb.Ring, p orb.Point) bool {
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		if p[0] < math.Min(a[0], b[0]) || p[0] > math.Max(a[0], b[0]) || p[1] < math.Min(a[1], b[1]) || p[1] > math.Max(a[1], b[1]) {
			continue
		}
		if (b[0]-a[0])*(p[1]-a[1]) == (b[1]-a[1])*(p[0]-a[0]) {
			return true
		}
	}
	return false
}

// refClosureContains is an independent closed point-in-multipolygon test built on
// orb/planar (whose RingContains counts the ring's boundary as inside).
func refClosureContains(mp orb.MultiPolygon, p orb.Point) bool {
	for _, poly := range mp {
		if !planar.RingContains(poly[0], p) {
			continue
		}
		in := true
		for _, h := range poly[1:] {
			if planar.RingContains(h, p) && !refOnRing(h, p) {
				in = false
				break
			}
		}
		if in {
			return true
		}
	}
	return false
}

// refCellAt is the brute force: the smallest code among all cells whose closure holds p.
func refCellAt(c *city, p orb.Point) registry.GridCode {
	var best registry.GridCode
	for i := range c.Cells {
		cl := &c.Cells[i]
		if refClosureContains(cl.Geometry, p) && (best == "" || cl.Code < best) {
			best = cl.Code
		}
	}
	return best
}

func cellAtCode(t *testing.T, idx *Index, p orb.Point) registry.GridCode {
	t.Helper()
	cell, err := idx.CellAt(p)
	if errors.Is(err, registry.ErrOutsideGrid) {
		return ""
	}
	if err != nil {
		t.Fatalf("CellAt(%v) error %v", p, err)
	}
	return cell.Code
}

func TestCellAtRandomPointsMatchBruteForce(t *testing.T) {
	idx, c := newTestIndex(t)
	if len(c.Holes) < 4 {
		t.Fatalf("test city has %d holes, want at least 4", len(c.Holes))
	}
	rng := rand.New(rand.NewPCG(2, 2))
	w, h := c.Bound.Max[0]-c.Bound.Min[0], c.Bound.Max[1]-c.Bound.Min[1]
	outside := 0
	for n := 0; n < 5000; n++ {
		// 10% margin around the grid so some points are outside
		p := orb.Point{c.Bound.Min[0] - 0.1*w + rng.Float64()*1.2*w, c.Bound.Min[1] - 0.1*h + rng.Float64()*1.2*h}
		want := refCellAt(c, p)
		if want == "" {
			outside++
		}
		if got := cellAtCode(t, idx, p); got != want {
			t.Fatalf("CellAt(%v) = %q, want %q", p, got, want)
		}
	}
	if outside == 0 {
		t.Fatalf("no random point fell outside the grid; the outside case went untested")
	}
	// points inside holes and islands specifically
	for _, hl := range c.Holes {
		b := hl.Ring.Bound()
		for n := 0; n < 20; n++ {
			p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
			if got := cellAtCode(t, idx, p); got != hl.Filler {
				t.Fatalf("CellAt(%v) inside the hole of %s = %q, want the filler %q", p, hl.Outer, got, hl.Filler)
			}
		}
	}
}

func TestCellAtBoundaries(t *testing.T) {
	idx, c := newTestIndex(t)
	// Every vertex of every cell, and the midpoint of every axis-aligned edge (exactly on it):
	// the answer is the smallest code among the cells whose closure holds the point.
	seen := map[orb.Point]bool{}
	var pts []orb.Point
	for _, cl := range c.Cells {
		for _, poly := range cl.Geometry {
			for _, r := range poly {
				for i := 0; i+1 < len(r); i++ {
					a, b := r[i], r[i+1]
					for _, p := range []orb.Point{a, {(a[0] + b[0]) / 2, (a[1] + b[1]) / 2}} {
						axis := a[0] == b[0] || a[1] == b[1]
						if (p == a || axis) && !seen[p] {
							seen[p] = true
							pts = append(pts, p)
						}
					}
				}
			}
		}
	}
	shared := 0
	for _, p := range pts {
		want := refCellAt(c, p)
		if want == "" {
			t.Fatalf("brute force finds no cell for boundary point %v", p)
		}
		n := 0
		for _, cl := range c.Cells {
			if refClosureContains(cl.Geometry, p) {
				n++
			}
		}
		if n > 1 {
			shared++
		}
		if got := cellAtCode(t, idx, p); got != want {
			t.Fatalf("CellAt(%v) on a boundary shared by %d cells = %q, want %q (smallest code)", p, n, got, want)
		}
	}
	if shared < 500 {
		t.Fatalf("only %d boundary points are shared by several cells; the test grid is too small", shared)
	}
	// Hole edges are filled by another cell: both closures hold them.
	for _, hl := range c.Holes {
		p := orb.Point{(hl.Ring[0][0] + hl.Ring[1][0]) / 2, (hl.Ring[0][1] + hl.Ring[1][1]) / 2}
		want := min(hl.Outer, hl.Filler)
		if got := cellAtCode(t, idx, p); got != want {
			t.Errorf("CellAt(%v) on the hole edge of %s filled by %s = %q, want %q", p, hl.Outer, hl.Filler, got, want)
		}
	}
}

func TestCellAtSlantedSharedEdgeHasOneOwner(t *testing.T) {
	// A point computed as the midpoint of a slanted edge is not exactly on it in floating
	// point; it must still land in exactly one of the two cells, the same one every time.
	idx, c := newTestIndex(t)
	checked := 0
	for _, cl := range c.Cells {
		r := cl.Geometry[0][0]
		for i := 0; i+1 < len(r); i++ {
			a, b := r[i], r[i+1]
			if a[0] == b[0] || a[1] == b[1] {
				continue
			}
			p := orb.Point{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2}
			got := cellAtCode(t, idx, p)
			if got == "" {
				t.Fatalf("CellAt(%v) on an inner edge of %s = outside", p, cl.Code)
			}
			// the owner's own closure must hold p by the index's test; any other cell that
			// holds it must have a larger code
			for _, o := range c.Cells {
				sh := newShape(o.Geometry)
				if sh.contains(p) && o.Code < got {
					t.Fatalf("CellAt(%v) = %s but %s (smaller) also holds it", p, got, o.Code)
				}
			}
			checked++
			if checked == 300 {
				return
			}
		}
	}
}

func TestCellAtErrors(t *testing.T) {
	idx, c := newTestIndex(t)
	tests := []struct {
		name string
		p    orb.Point
		want error
	}{
		{"NaN lon", orb.Point{math.NaN(), 29.5}, registry.ErrInvalidPoint},
		{"NaN lat", orb.Point{106.5, math.NaN()}, registry.ErrInvalidPoint},
		{"infinite", orb.Point{math.Inf(1), 29.5}, registry.ErrInvalidPoint},
		{"lon > 180", orb.Point{181, 29.5}, registry.ErrInvalidPoint},
		{"lat < -90", orb.Point{106.5, -91}, registry.ErrInvalidPoint},
		{"far away", orb.Point{0, 0}, registry.ErrOutsideGrid},
		{"just west of the grid", orb.Point{c.Bound.Min[0] - 1e-9, c.Bound.Center()[1]}, registry.ErrOutsideGrid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := idx.CellAt(tt.p)
			if !errors.Is(err, tt.want) {
				t.Errorf("CellAt(%v) error = %v, want %v", tt.p, err, tt.want)
			}
		})
	}
	// the grid's west edge itself is inside (closed polygons)
	p := orb.Point{c.Bound.Min[0], c.Bound.Min[1] + gridDY/2}
	if _, err := idx.CellAt(p); err != nil {
		t.Errorf("CellAt(%v) on the grid's outer edge error = %v, want a cell", p, err)
	}
}

func TestCellLookups(t *testing.T) {
	idx, c := newTestIndex(t)
	for _, want := range []registry.Cell{c.Cells[0], c.Cells[len(c.Cells)-1], c.Cells[37]} {
		got, ok := idx.Cell(want.Code)
		if !ok || got.Key != want.Key || !orb.Equal(got.Geometry, want.Geometry) {
			t.Errorf("Cell(%s) = %v, %v; want key %d", want.Code, got, ok, want.Key)
		}
		got, ok = idx.CellByKey(want.Key)
		if !ok || got.Code != want.Code {
			t.Errorf("CellByKey(%d) = %v, %v; want code %s", want.Key, got, ok, want.Code)
		}
	}
	if _, ok := idx.Cell("500199001001001"); ok {
		t.Errorf("Cell(unknown) found a cell")
	}
	if _, ok := idx.CellByKey(999999); ok {
		t.Errorf("CellByKey(unknown) found a cell")
	}
	// a component's cell code that no cell has must not be mistaken for a cell
	idx.ApplyComponents([]registry.Component{{Key: 99999, Point: orb.Point{0, 0}, Cell: "500199001001001", Status: registry.StatusIntact}})
	if _, ok := idx.Cell("500199001001001"); ok {
		t.Errorf("Cell(code known only from a component) found a cell")
	}
	st := idx.Stats()
	want := Stats{Cells: len(c.Cells), Components: len(c.Components) + 1, Units: len(c.Units), Rules: len(c.Rules)}
	if st != want {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}
}

func TestApplyCellsReplacesGeometry(t *testing.T) {
	idx, c := newTestIndex(t)
	old := c.Cells[0]
	// move cell 0 far away: its old place becomes outside (nothing else covers it)
	moved := old
	moved.Geometry = orb.MultiPolygon{orb.Bound{Min: orb.Point{10, 10}, Max: orb.Point{10.001, 10.001}}.ToPolygon()}
	moved.Version = 2
	inOld := orb.Point{old.Geometry.Bound().Min[0] + 1e-6, old.Geometry.Bound().Min[1] + 1e-6}
	if got := cellAtCode(t, idx, inOld); got != old.Code {
		t.Fatalf("before: CellAt(%v) = %q, want %q", inOld, got, old.Code)
	}
	idx.ApplyCells([]registry.Cell{moved})
	if got := cellAtCode(t, idx, inOld); got != "" {
		t.Errorf("after moving: CellAt(%v) = %q, want outside", inOld, got)
	}
	if got := cellAtCode(t, idx, orb.Point{10.0005, 10.0005}); got != old.Code {
		t.Errorf("after moving: CellAt(new place) = %q, want %q", got, old.Code)
	}
	if got, _ := idx.Cell(old.Code); got.Version != 2 {
		t.Errorf("Cell(%s).Version = %d, want 2", old.Code, got.Version)
	}
	if n := idx.Stats().Cells; n != len(c.Cells) {
		t.Errorf("Stats().Cells = %d after a replacement, want %d", n, len(c.Cells))
	}
	// the caller's geometry is copied: changing it afterwards changes nothing
	moved.Geometry[0][0][0] = orb.Point{50, 50}
	if got, _ := idx.Cell(old.Code); got.Geometry[0][0][0] == (orb.Point{50, 50}) {
		t.Errorf("index shares the caller's geometry")
	}
}

// matchRef is the brute-force version of Filter.
func matchRef(c *registry.Component, f Filter) bool {
	if len(f.Statuses) == 0 {
		if c.Status == registry.StatusRemoved {
			return false
		}
	} else if !slices.Contains(f.Statuses, c.Status) {
		return false
	}
	if len(f.Classes) > 0 {
		eff := c.Class
		if eff == "" {
			eff = c.LegacyClass
		}
		ok := false
		for _, fc := range f.Classes {
			if fc == eff || fc == c.LegacyClass && fc != "" || len(fc) == 2 && strings.HasPrefix(eff, fc) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return strings.HasPrefix(string(c.Cell), f.Cell)
}

var testFilters = []Filter{
	{},
	{Classes: []string{"01001"}},
	{Classes: []string{"0101"}},
	{Classes: []string{"02", "0601"}},
	{Statuses: []registry.Status{registry.StatusRemoved}},
	{Statuses: []registry.Status{registry.StatusDamaged, registry.StatusIntact}, Cell: "500104"},
	{Cell: "500103002"},
}

func TestNearestMatchesBruteForce(t *testing.T) {
	idx, c := newTestIndex(t)
	rng := rand.New(rand.NewPCG(3, 3))
	w, h := c.Bound.Max[0]-c.Bound.Min[0], c.Bound.Max[1]-c.Bound.Min[1]
	for n := 0; n < 2000; n++ {
		p := orb.Point{c.Bound.Min[0] - 0.2*w + rng.Float64()*1.4*w, c.Bound.Min[1] - 0.2*h + rng.Float64()*1.4*h}
		f := testFilters[n%len(testFilters)]
		k := 1 + rng.IntN(12)
		radius := 0.0
		if n%3 == 0 {
			radius = 50 + rng.Float64()*300
		}
		got, err := idx.Nearest(p, f, k, radius)
		if err != nil {
			t.Fatalf("Nearest(%v, %+v, %d, %g) error %v", p, f, k, radius, err)
		}
		type kd struct {
			key registry.Key
			d   float64
		}
		ref := []kd{}
		for i := range c.Components {
			cp := &c.Components[i]
			if !matchRef(cp, f) {
				continue
			}
			d := geo.DistanceHaversine(p, cp.Point)
			if radius > 0 && d > radius {
				continue
			}
			ref = append(ref, kd{cp.Key, d})
		}
		slices.SortFunc(ref, func(a, b kd) int {
			if a.d != b.d {
				return cmpF(a.d, b.d)
			}
			return int(a.key) - int(b.key)
		})
		if len(ref) > k {
			ref = ref[:k]
		}
		gotKD := make([]kd, len(got))
		for i, hh := range got {
			gotKD[i] = kd{hh.Key, hh.Distance}
		}
		if diff := cmp.Diff(ref, gotKD, cmp.AllowUnexported(kd{})); diff != "" {
			t.Fatalf("Nearest(%v, %+v, %d, %g) differs from brute force (-want +got):\n%s", p, f, k, radius, diff)
		}
	}
}

func cmpF(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}

func TestNearestHitFields(t *testing.T) {
	idx, c := newTestIndex(t)
	want := c.Components[41]
	got, err := idx.Nearest(want.Point, Filter{Statuses: []registry.Status{want.Status}}, 1, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("Nearest(at component 42) = %v, %v", got, err)
	}
	id := want.ID
	if id.IsZero() {
		id = want.LegacyID
	}
	class := want.Class
	if class == "" {
		class = want.LegacyClass
	}
	wantHit := Hit{Key: want.Key, ID: id, Class: class, Status: want.Status, Point: want.Point, Cell: want.Cell, Maintainer: want.Maintainer}
	if diff := cmp.Diff(wantHit, got[0], cmp.AllowUnexported(registry.ComponentCode{})); diff != "" {
		t.Errorf("Nearest hit (-want +got):\n%s", diff)
	}
	h, ok := idx.ComponentByKey(want.Key)
	if !ok || h.ID != id || h.Point != want.Point {
		t.Errorf("ComponentByKey(%d) = %+v, %v; want ID %s", want.Key, h, ok, id)
	}
	if _, ok := idx.ComponentByKey(registry.Key(len(c.Components) + 10)); ok {
		t.Errorf("ComponentByKey(unknown) found a component")
	}
}

func TestQueryErrors(t *testing.T) {
	idx, c := newTestIndex(t)
	p := c.Bound.Center()
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"Nearest k=0", func() error { _, err := idx.Nearest(p, Filter{}, 0, 0); return err }, registry.ErrInvalidInput},
		{"Nearest negative radius", func() error { _, err := idx.Nearest(p, Filter{}, 1, -1); return err }, registry.ErrInvalidInput},
		{"Nearest NaN radius", func() error { _, err := idx.Nearest(p, Filter{}, 1, math.NaN()); return err }, registry.ErrInvalidInput},
		{"Nearest NaN point", func() error { _, err := idx.Nearest(orb.Point{math.NaN(), 0}, Filter{}, 1, 0); return err }, registry.ErrInvalidPoint},
		{"Nearest bad class", func() error { _, err := idx.Nearest(p, Filter{Classes: []string{"1x"}}, 1, 0); return err }, registry.ErrInvalidClass},
		{"Nearest bad status", func() error { _, err := idx.Nearest(p, Filter{Statuses: []registry.Status{9}}, 1, 0); return err }, registry.ErrInvalidStatus},
		{"Within inverted box", func() error {
			_, _, err := idx.Within(orb.Bound{Min: orb.Point{1, 1}, Max: orb.Point{0, 0}}, Filter{}, 0, 0)
			return err
		}, registry.ErrInvalidInput},
		{"CellsWithin NaN box", func() error {
			_, _, err := idx.CellsWithin(orb.Bound{Min: orb.Point{math.NaN(), 1}, Max: orb.Point{2, 2}}, 0, 0)
			return err
		}, registry.ErrInvalidInput},
		{"Resolve bad class", func() error { _, err := idx.Resolve(p, "abc"); return err }, registry.ErrInvalidClass},
		{"Resolve outside", func() error { _, err := idx.Resolve(orb.Point{0, 0}, "01001"); return err }, registry.ErrOutsideGrid},
		{"Resolve NaN", func() error { _, err := idx.Resolve(orb.Point{0, math.NaN()}, "01001"); return err }, registry.ErrInvalidPoint},
		{"ResolveArea outside", func() error {
			_, err := idx.ResolveArea(orb.Bound{Min: orb.Point{1, 1}, Max: orb.Point{2, 2}}, "")
			return err
		}, registry.ErrOutsideGrid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWithinPagingCoversEveryMatchOnce(t *testing.T) {
	idx, c := newTestIndex(t)
	rng := rand.New(rand.NewPCG(4, 4))
	for n := 0; n < 60; n++ {
		a := orb.Point{c.Bound.Min[0] + rng.Float64()*(c.Bound.Max[0]-c.Bound.Min[0]), c.Bound.Min[1] + rng.Float64()*(c.Bound.Max[1]-c.Bound.Min[1])}
		b := orb.Bound{Min: a, Max: orb.Point{a[0] + rng.Float64()*0.01, a[1] + rng.Float64()*0.008}}
		f := testFilters[n%len(testFilters)]
		var want []registry.Key
		for i := range c.Components {
			cp := &c.Components[i]
			if b.Contains(cp.Point) && matchRef(cp, f) {
				want = append(want, cp.Key)
			}
		}
		limit := 1 + n%9
		var got []registry.Key
		cursor := registry.Key(0)
		for pages := 0; ; pages++ {
			hits, next, err := idx.Within(b, f, limit, cursor)
			if err != nil {
				t.Fatalf("Within error %v", err)
			}
			if len(hits) > limit {
				t.Fatalf("Within returned %d hits, limit %d", len(hits), limit)
			}
			for _, h := range hits {
				got = append(got, h.Key)
			}
			if next == 0 {
				break
			}
			if len(hits) != limit || next != hits[len(hits)-1].Key {
				t.Fatalf("Within page of %d with next %d, want a full page ending at next", len(hits), next)
			}
			cursor = next
			if pages > len(want)+1 {
				t.Fatalf("Within paging does not end")
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Within(%v, %+v) paged by %d (-want +got):\n%s", b, f, limit, diff)
		}
		// unlimited: one page, same keys
		all, next, err := idx.Within(b, f, 0, 0)
		if err != nil || next != 0 || len(all) != len(want) {
			t.Fatalf("Within unlimited = %d hits, next %d, err %v; want %d, 0, nil", len(all), next, err, len(want))
		}
	}
}

func TestCellsWithinPaging(t *testing.T) {
	idx, c := newTestIndex(t)
	b := orb.Bound{Min: orb.Point{gridLon0 + 3.3*gridDX, gridLat0 + 2.2*gridDY}, Max: orb.Point{gridLon0 + 9.1*gridDX, gridLat0 + 5.7*gridDY}}
	var want []registry.Key
	for _, cl := range c.Cells {
		if _, ok := intersectBound(cl.Geometry.Bound(), b); ok {
			want = append(want, cl.Key)
		}
	}
	slices.Sort(want)
	var got []registry.Key
	cursor := registry.Key(0)
	for {
		cells, next, err := idx.CellsWithin(b, 5, cursor)
		if err != nil {
			t.Fatalf("CellsWithin error %v", err)
		}
		for _, cl := range cells {
			got = append(got, cl.Key)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if len(want) < 20 {
		t.Fatalf("box meets only %d cells; widen it", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CellsWithin paged (-want +got):\n%s", diff)
	}
}

func TestApplyComponentsMoveAndRetire(t *testing.T) {
	idx, c := newTestIndex(t)
	comp := c.Components[10]
	comp.Status = registry.StatusIntact
	idx.ApplyComponents([]registry.Component{comp})
	oldBox := orb.Bound{Min: comp.Point, Max: comp.Point}
	inBox := func(b orb.Bound, f Filter) bool {
		hits, _, err := idx.Within(b, f, 0, 0)
		if err != nil {
			t.Fatalf("Within error %v", err)
		}
		for _, h := range hits {
			if h.Key == comp.Key {
				return true
			}
		}
		return false
	}
	if !inBox(oldBox, Filter{}) {
		t.Fatalf("component %d not found at its point", comp.Key)
	}
	// move it
	moved := comp
	moved.Point = orb.Point{comp.Point[0] + 0.003, comp.Point[1] + 0.002}
	idx.ApplyComponents([]registry.Component{moved})
	newBox := orb.Bound{Min: moved.Point, Max: moved.Point}
	if inBox(oldBox, Filter{}) || !inBox(newBox, Filter{}) {
		t.Errorf("after the move: at old point %v, at new point %v; want false, true", inBox(oldBox, Filter{}), inBox(newBox, Filter{}))
	}
	if n := idx.Stats().Components; n != len(c.Components) {
		t.Errorf("Stats().Components = %d after a move, want %d", n, len(c.Components))
	}
	near, err := idx.Nearest(moved.Point, Filter{}, 1, 0)
	if err != nil || len(near) != 1 || near[0].Key != comp.Key || near[0].Distance != 0 {
		t.Errorf("Nearest(new point) = %+v, %v; want key %d at 0 m", near, err, comp.Key)
	}
	// retire it
	retired := moved
	retired.Status = registry.StatusRemoved
	idx.ApplyComponents([]registry.Component{retired})
	if inBox(newBox, Filter{}) {
		t.Errorf("retired component returned by Within with no status filter")
	}
	if !inBox(newBox, Filter{Statuses: []registry.Status{registry.StatusRemoved}}) {
		t.Errorf("retired component not returned by Within asking for StatusRemoved")
	}
	near, _ = idx.Nearest(moved.Point, Filter{}, 1, 0)
	if len(near) == 1 && near[0].Key == comp.Key {
		t.Errorf("Nearest returned the retired component")
	}
	if h, ok := idx.ComponentByKey(comp.Key); !ok || h.Status != registry.StatusRemoved {
		t.Errorf("ComponentByKey(retired) = %+v, %v; want it, removed", h, ok)
	}
	// an unset status is a freshly surveyed, intact component
	fresh := retired
	fresh.Status = 0
	idx.ApplyComponents([]registry.Component{fresh})
	if h, _ := idx.ComponentByKey(comp.Key); h.Status != registry.StatusIntact || !inBox(newBox, Filter{}) {
		t.Errorf("component with Status 0: status %v, found by Within %v; want intact, true", h.Status, inBox(newBox, Filter{}))
	}
}

func TestLargeKeys(t *testing.T) {
	idx := New(Options{})
	p := orb.Point{106.5, 29.5}
	keys := []registry.Key{registry.MaxKey, 1 << 40, directSlots, directSlots - 1, 3}
	var comps []registry.Component
	for i, k := range keys {
		comps = append(comps, registry.Component{Key: k, Point: orb.Point{p[0] + float64(i)*1e-4, p[1]}, Status: registry.StatusIntact, Class: "01001"})
	}
	idx.ApplyComponents(comps)
	for _, k := range keys {
		if h, ok := idx.ComponentByKey(k); !ok || h.Key != k {
			t.Errorf("ComponentByKey(%d) = %+v, %v", k, h, ok)
		}
	}
	hits, _, err := idx.Within(orb.Bound{Min: orb.Point{106, 29}, Max: orb.Point{107, 30}}, Filter{}, 0, 0)
	if err != nil {
		t.Fatalf("Within error %v", err)
	}
	var got []registry.Key
	for _, h := range hits {
		got = append(got, h.Key)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Within over large keys (-want +got):\n%s", diff)
	}
	// move a large-key component: the old entry must leave the tree
	idx.ApplyComponents([]registry.Component{{Key: 1 << 40, Point: orb.Point{0, 0}, Status: registry.StatusIntact}})
	hits, _, _ = idx.Within(orb.Bound{Min: orb.Point{106, 29}, Max: orb.Point{107, 30}}, Filter{}, 0, 0)
	if len(hits) != len(keys)-1 {
		t.Errorf("after moving key 2^40 away: %d hits, want %d", len(hits), len(keys)-1)
	}
	if idx.Stats().Components != len(keys) {
		t.Errorf("Stats().Components = %d, want %d", idx.Stats().Components, len(keys))
	}
	// key 0 cannot be indexed
	idx.ApplyComponents([]registry.Component{{Key: 0, Point: p}})
	if idx.Stats().Components != len(keys) {
		t.Errorf("a component without key was indexed")
	}
}

func TestCopyOnWriteReaderDuringWrites(t *testing.T) {
	idx, c := newTestIndex(t)
	before := idx.load()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := orb.Point{c.Bound.Min[0] + rng.Float64()*(c.Bound.Max[0]-c.Bound.Min[0]), c.Bound.Min[1] + rng.Float64()*(c.Bound.Max[1]-c.Bound.Min[1])}
				if _, err := idx.CellAt(p); err != nil {
					errs <- "CellAt: " + err.Error()
					return
				}
				hits, err := idx.Nearest(p, Filter{}, 3, 0)
				if err != nil || len(hits) != 3 {
					errs <- "Nearest failed during writes"
					return
				}
				if _, _, err := idx.Within(orb.Bound{Min: p, Max: orb.Point{p[0] + 0.002, p[1] + 0.002}}, Filter{}, 10, 0); err != nil {
					errs <- "Within: " + err.Error()
					return
				}
				if _, err := idx.Resolve(p, "01001"); err != nil {
					errs <- "Resolve: " + err.Error()
					return
				}
			}
		}(uint64(r))
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for n := 0; n < 300; n++ {
		batch := make([]registry.Component, 1+rng.IntN(20))
		for i := range batch {
			cp := c.Components[rng.IntN(len(c.Components))]
			cp.Point = orb.Point{c.Bound.Min[0] + rng.Float64()*(c.Bound.Max[0]-c.Bound.Min[0]), c.Bound.Min[1] + rng.Float64()*(c.Bound.Max[1]-c.Bound.Min[1])}
			if i == 0 {
				cp.Key = registry.Key(len(c.Components) + 1 + n) // a new one too
			}
			batch[i] = cp
		}
		idx.ApplyComponents(batch)
		if n%50 == 0 {
			idx.ApplyCells([]registry.Cell{c.Cells[rng.IntN(len(c.Cells))]})
			idx.SetUnits(c.Units)
			idx.SetRules(c.Rules)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// the snapshot taken before the writes is untouched
	if before.nComps != len(c.Components) {
		t.Errorf("old snapshot's component count changed to %d", before.nComps)
	}
	for i := 0; i < len(c.Components); i += 97 {
		cp := &c.Components[i]
		e := before.comps.get(uint32(cp.Key))
		if e == nil || e.pt != cp.Point {
			t.Fatalf("old snapshot's component %d changed", cp.Key)
		}
	}
	if got := idx.Stats().Components; got != len(c.Components)+300 {
		t.Errorf("Stats().Components = %d, want %d", got, len(c.Components)+300)
	}
}

func TestSingleWriteCopiesLittle(t *testing.T) {
	// A one-component write must not copy the component table: it shares every leaf but one
	// with the previous snapshot.
	c := genCity(t, cityConfig{NX: 10, NY: 10, Components: 20000, Seed: 3})
	idx := indexOf(t, c, Options{})
	before := idx.load()
	cp := c.Components[5000]
	cp.Point[0] += 1e-5
	idx.ApplyComponents([]registry.Component{cp})
	after := idx.load()
	shared, copied := 0, 0
	for ti := range before.comps.top {
		for li := range before.comps.top[ti].l {
			a, b := before.comps.top[ti].l[li], after.comps.top[ti].l[li]
			if a == nil {
				continue
			}
			if a == b {
				shared++
			} else {
				copied++
			}
		}
	}
	if copied != 1 || shared < 70 {
		t.Errorf("after one write: %d leaves copied, %d shared; want 1 copied, the rest (≥ 70) shared", copied, shared)
	}
}

func TestLoad(t *testing.T) {
	c := genCity(t, cityConfig{NX: 6, NY: 6, Components: 500, Seed: 4})
	idx := New(Options{})
	if idx.Ready() {
		t.Fatalf("Ready() before Load = true")
	}
	if _, err := idx.CellAt(c.Bound.Center()); !errors.Is(err, registry.ErrOutsideGrid) {
		t.Errorf("CellAt on an empty index error = %v, want ErrOutsideGrid", err)
	}
	if err := idx.Load(context.Background(), &memStore{c: c, failAt: 100}); err == nil {
		t.Fatalf("Load with a failing store error = nil")
	}
	if idx.Ready() || idx.Stats().Cells != 0 {
		t.Errorf("a failed Load published a snapshot: Ready %v, %+v", idx.Ready(), idx.Stats())
	}
	if err := idx.Load(context.Background(), &memStore{c: c, unitErr: errors.New("nope")}); err == nil || !strings.Contains(err.Error(), "load units") {
		t.Errorf("Load with failing Units error = %v, want one naming units", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := idx.Load(ctx, &memStore{c: genCity(t, cityConfig{NX: 10, NY: 10, Components: 10000, Seed: 4})}); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context error = %v, want context.Canceled", err)
	}
	if err := idx.Load(context.Background(), &memStore{c: c}); err != nil {
		t.Fatalf("Load error %v", err)
	}
	if !idx.Ready() {
		t.Errorf("Ready() after Load = false")
	}
	want := Stats{Cells: len(c.Cells), Components: len(c.Components), Units: len(c.Units), Rules: len(c.Rules)}
	if got := idx.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	// a second Load replaces everything, including interned strings
	c2 := genCity(t, cityConfig{NX: 3, NY: 3, Components: 10, Seed: 5})
	c2.Components[0].Maintainer = "only-in-c2"
	if err := idx.Load(context.Background(), &memStore{c: c2}); err != nil {
		t.Fatalf("second Load error %v", err)
	}
	want = Stats{Cells: len(c2.Cells), Components: 10, Units: len(c2.Units), Rules: len(c2.Rules)}
	if got := idx.Stats(); got != want {
		t.Errorf("Stats() after reload = %+v, want %+v", got, want)
	}
	if h, _ := idx.ComponentByKey(1); h.Maintainer != "only-in-c2" {
		t.Errorf("maintainer after reload = %q, want only-in-c2", h.Maintainer)
	}
}

func TestUnitsAndRulesReads(t *testing.T) {
	idx, c := newTestIndex(t)
	us := idx.Units()
	if len(us) != len(c.Units) || !slices.IsSortedFunc(us, func(a, b registry.Unit) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("Units() = %d units sorted %v; want %d sorted by ID", len(us), slices.IsSortedFunc(us, func(a, b registry.Unit) int { return strings.Compare(a.ID, b.ID) }), len(c.Units))
	}
	if u, ok := idx.Unit("u-lamp"); !ok || u.Name != "路灯管理所" {
		t.Errorf("Unit(u-lamp) = %v, %v", u, ok)
	}
	if _, ok := idx.Unit("nobody"); ok {
		t.Errorf("Unit(nobody) found a unit")
	}
	var ids []string
	for _, r := range idx.Rules() {
		ids = append(ids, r.ID)
	}
	want := []string{"r-ghost", "r-park", "r-street-events", "r-water", "r-legacy"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("Rules() order (-want +got):\n%s", diff)
	}
}

// TestFixturesCity checks the index against the demo city of package fixtures, whose
// generator promises every component strictly inside its Cell: CellAt of each component's
// point must be that cell, and a brute-force scan must agree on the fixtures' query points.
func TestFixturesCity(t *testing.T) {
	fc, err := fixtures.Generate(fixtures.DefaultConfig())
	if err != nil {
		t.Fatalf("fixtures.Generate: %v", err)
	}
	c := fromFixtures(fc)
	idx := indexOf(t, c, Options{})
	for i := range c.Components {
		cp := &c.Components[i]
		if got := cellAtCode(t, idx, cp.Point); got != cp.Cell {
			t.Fatalf("CellAt(component %s at %v) = %q, want its cell %q", cp.ID, cp.Point, got, cp.Cell)
		}
	}
	for _, p := range fixtures.QueryPoints(fc, 3000, 5) {
		var want registry.GridCode
		for i := range c.Cells {
			if refClosureContains(c.Cells[i].Geometry, p) && (want == "" || c.Cells[i].Code < want) {
				want = c.Cells[i].Code
			}
		}
		if got := cellAtCode(t, idx, p); got != want {
			t.Fatalf("CellAt(%v) = %q, brute force %q", p, got, want)
		}
	}
	for i := 0; i < len(c.Components); i += 53 {
		if _, err := idx.Resolve(c.Components[i].Point, c.Components[i].Class); err != nil {
			t.Fatalf("Resolve(component %s) error %v", c.Components[i].ID, err)
		}
	}
}
