package spatial

// Benchmarks, each beside a bare baseline measured in the same run. The baseline is
// tidwall/rtree + orb/planar with no domain code: an R-tree of cell bounds → candidate
// polygons → the first that planar.MultiPolygonContains, and an R-tree of component points.
//
// Data from package fixtures: full size (50,000 cells, 1,000,000 components) by default,
// -short uses 2,000 cells and 50,000 components. Run e.g.:
//
//	go test ./spatial -run '^$' -bench . -benchtime 2s
//	go test ./spatial -run '^$' -bench 'Load|Memory' -benchtime 1x

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"

	"citygrid/fixtures"
	"citygrid/registry"
)

// benchCity is the benchmark data set: fixtures.BenchConfig (about 50,000 cells, 1,000,000
// components, seven districts), or fixtures.DefaultConfig (about 2,000 cells, 50,000
// components) with -short. Keys are assigned 1..N here, as a store would.
func benchCity(b *testing.B) *city {
	b.Helper()
	cfg := fixtures.BenchConfig()
	if testing.Short() {
		cfg = fixtures.DefaultConfig()
	}
	fc, err := fixtures.Generate(cfg)
	if err != nil {
		b.Fatalf("fixtures.Generate: %v", err)
	}
	return fromFixtures(fc)
}

func fromFixtures(fc *fixtures.City) *city {
	c := &city{Cells: fc.Cells, Components: fc.Components, Units: fc.Units, Rules: fc.Rules, Bound: fc.Bound}
	for i := range c.Cells {
		c.Cells[i].Key = registry.Key(i + 1)
	}
	for i := range c.Components {
		c.Components[i].Key = registry.Key(i + 1)
	}
	return c
}

type benchData struct {
	c         *city
	idx       *Index
	baseCells rtree.RTreeG[int] // cell bounds → index in c.Cells
	baseComps rtree.RTreeG[int] // component points → index in c.Components
	district  map[string]string // district → centre unit id (baseline's "resolve")
	pts       []orb.Point
	classes   []string
}

var (
	benchOnce sync.Once
	benchD    *benchData
)

func loadBench(b *testing.B) *benchData {
	b.Helper()
	benchOnce.Do(func() {
		d := &benchData{c: benchCity(b), district: map[string]string{}}
		d.idx = indexOf(b, d.c, Options{})
		for i := range d.c.Cells {
			bd := d.c.Cells[i].Geometry.Bound()
			d.baseCells.Insert(bd.Min, bd.Max, i)
		}
		for i := range d.c.Components {
			p := d.c.Components[i].Point
			d.baseComps.Insert(p, p, i)
		}
		for _, u := range d.c.Units {
			for _, dist := range u.Districts {
				d.district[dist] = u.ID
			}
		}
		// 95% inside cells, 5% just outside the city
		d.pts = fixtures.QueryPoints(&fixtures.City{Cells: d.c.Cells, Bound: d.c.Bound}, 1<<14, 99)
		// Resolve traffic: half component classes of the data (snapping applies), half
		// event classes (rules and centres decide).
		seen := map[string]bool{}
		for i := 0; i < len(d.c.Components) && len(d.classes) < 4; i += 997 {
			if cl := d.c.Components[i].Class; cl != "" && !seen[cl] {
				seen[cl] = true
				d.classes = append(d.classes, cl)
			}
		}
		d.classes = append(d.classes, "06010", "07001", "09002", "10001")
		benchD = d
	})
	return benchD
}

func (d *benchData) baselineCellAt(p orb.Point) int {
	found := -1
	d.baseCells.Search(p, p, func(_, _ [2]float64, i int) bool {
		if planar.MultiPolygonContains(d.c.Cells[i].Geometry, p) {
			found = i
			return false
		}
		return true
	})
	return found
}

var sinkInt int

func BenchmarkCellAt(b *testing.B) {
	d := loadBench(b)
	b.Run("baseline", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			sinkInt += d.baselineCellAt(d.pts[i&(len(d.pts)-1)])
		}
	})
	b.Run("index", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			c, err := d.idx.CellAt(d.pts[i&(len(d.pts)-1)])
			if err == nil {
				sinkInt += int(c.Key)
			}
		}
	})
}

// BenchmarkResolve: "baseline" does the same lookups bare: the baseline cell lookup, for
// component classes an R-tree search of the components within 30 m (haversine-checked),
// and a map from district to centre. "baseline-cellonly" is just the cell lookup and the map.
func BenchmarkResolve(b *testing.B) {
	d := loadBench(b)
	b.Run("baseline", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			p := d.pts[i&(len(d.pts)-1)]
			ci := d.baselineCellAt(p)
			if ci < 0 {
				continue
			}
			near := -1
			if classKind(d.classes[i%len(d.classes)]) == kindComp {
				rb := radiusBound(p, DefaultSnapRadius)
				d.baseComps.Search(rb.Min, rb.Max, func(_, _ [2]float64, j int) bool {
					if geo.DistanceHaversine(p, d.c.Components[j].Point) <= DefaultSnapRadius {
						near = j
					}
					return true
				})
			}
			sinkInt += near + len(d.district[d.c.Cells[ci].Code.District()])
		}
	})
	b.Run("baseline-cellonly", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			if ci := d.baselineCellAt(d.pts[i&(len(d.pts)-1)]); ci >= 0 {
				sinkInt += len(d.district[d.c.Cells[ci].Code.District()])
			}
		}
	})
	b.Run("index", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			r, err := d.idx.Resolve(d.pts[i&(len(d.pts)-1)], d.classes[i%len(d.classes)])
			if err == nil {
				sinkInt += len(r.Kind)
			}
		}
	})
}

// BenchmarkNearest5: the baseline is tidwall/rtree's Nearby with its planar BoxDist (degrees,
// so not geodesic); brute is a haversine scan of every component.
func BenchmarkNearest5(b *testing.B) {
	d := loadBench(b)
	b.Run("baseline", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			p := d.pts[i&(len(d.pts)-1)]
			n := 0
			d.baseComps.Nearby(rtree.BoxDist[float64, int](p, p, nil), func(_, _ [2]float64, j int, _ float64) bool {
				sinkInt += j
				n++
				return n < 5
			})
		}
	})
	b.Run("index", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			hits, err := d.idx.Nearest(d.pts[i&(len(d.pts)-1)], Filter{}, 5, 0)
			if err != nil || len(hits) != 5 {
				b.Fatalf("Nearest = %d hits, %v", len(hits), err)
			}
		}
	})
	b.Run("brute", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			p := d.pts[i&(len(d.pts)-1)]
			var best [5]float64
			for k := range best {
				best[k] = math.Inf(1)
			}
			for j := range d.c.Components {
				if dd := geo.DistanceHaversine(p, d.c.Components[j].Point); dd < best[4] {
					best[4] = dd
					slices.Sort(best[:])
				}
			}
			sinkInt += int(best[0])
		}
	})
}

// BenchmarkWithin: a ~300 m box (about 9 cells), first page of 100 by key. The baseline
// searches the same box and sorts the matches by key.
func BenchmarkWithin(b *testing.B) {
	d := loadBench(b)
	box := func(i int) orb.Bound {
		p := d.pts[i&(len(d.pts)-1)]
		return orb.Bound{Min: p, Max: orb.Point{p[0] + 3*gridDX, p[1] + 3*gridDY}}
	}
	b.Run("baseline", func(b *testing.B) {
		defer reportCPU(b)()
		var keys []registry.Key
		for i := 0; b.Loop(); i++ {
			bd := box(i)
			keys = keys[:0]
			d.baseComps.Search(bd.Min, bd.Max, func(_, _ [2]float64, j int) bool {
				if d.c.Components[j].Status != registry.StatusRemoved {
					keys = append(keys, d.c.Components[j].Key)
				}
				return true
			})
			slices.Sort(keys)
			sinkInt += len(keys[:min(len(keys), 100)])
		}
	})
	b.Run("index", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			hits, _, err := d.idx.Within(box(i), Filter{}, 100, 0)
			if err != nil {
				b.Fatal(err)
			}
			sinkInt += len(hits)
		}
	})
}

// BenchmarkLoad builds the whole index from a store (here an in-memory one).
func BenchmarkLoad(b *testing.B) {
	d := loadBench(b)
	st := &memStore{c: d.c}
	for b.Loop() {
		idx := New(Options{})
		if err := idx.Load(context.Background(), st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(d.c.Components)), "components")
}

// BenchmarkMemory reports the heap the index holds per component (R-trees, component table,
// cells, interned strings), measured after GC around a Load with the input data alive
// before and after, so only the index is counted.
func BenchmarkMemory(b *testing.B) {
	d := loadBench(b)
	var perComp float64
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		idx := indexOf(b, d.c, Options{})
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perComp = float64(m1.HeapAlloc-m0.HeapAlloc) / float64(len(d.c.Components))
		runtime.KeepAlive(idx)
	}
	b.ReportMetric(perComp, "B/component")
}

// BenchmarkApplyComponent is one write of one component (move), copy-on-write included.
func BenchmarkApplyComponent(b *testing.B) {
	d := loadBench(b)
	idx := indexOf(b, d.c, Options{})
	batch := make([]registry.Component, 1)
	for i := 0; b.Loop(); i++ {
		c := d.c.Components[(i*7919)%len(d.c.Components)]
		c.Point[0] += 1e-6
		batch[0] = c
		idx.ApplyComponents(batch)
	}
}

func BenchmarkCRS(b *testing.B) {
	p := orb.Point{106.55, 29.56}
	g := FromWGS84(p, GCJ02)
	bd := FromWGS84(p, BD09)
	var sink orb.Point
	b.Run("wgs84-gcj02", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			sink = FromWGS84(p, GCJ02)
		}
	})
	b.Run("gcj02-wgs84", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			sink = ToWGS84(g, GCJ02)
		}
	})
	b.Run("wgs84-bd09", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			sink = FromWGS84(p, BD09)
		}
	})
	b.Run("bd09-wgs84", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			sink = ToWGS84(bd, BD09)
		}
	})
	sinkInt += int(sink[0])
}

// classCase is a class filter of the class benchmarks, with the components it matches.
type classCase struct {
	name    string
	filter  Filter
	members []int // indexes into benchData.c.Components matching filter
}

// classCases are class filters from the rarest of the bench city up: "0301" is a legacy class
// (231 components of 1,000,000 in BenchConfig, matched through LegacyClass), "02006" the
// rarest 2026 class (1,356), "05001" a class with no component at all, then a common class
// and majors, so a plan that helps rare classes is seen not to hurt the others.
func (d *benchData) classCases() []classCase {
	specs := []struct {
		name    string
		classes []string
	}{
		{"0301", []string{"0301"}},
		{"02006", []string{"02006"}},
		{"05001-absent", []string{"05001"}},
		{"3-rare", []string{"0301", "02006", "04001"}},
		{"04002", []string{"04002"}},
		{"major-05", []string{"05"}},
		{"major-02", []string{"02"}},
		{"major-01", []string{"01"}},
	}
	out := make([]classCase, len(specs))
	for i, sp := range specs {
		out[i] = classCase{name: sp.name, filter: Filter{Classes: sp.classes}}
		for j := range d.c.Components {
			if matchRef(&d.c.Components[j], out[i].filter) {
				out[i].members = append(out[i].members, j)
			}
		}
	}
	return out
}

// BenchmarkNearestClass is Nearest(p, Filter{Classes: …}, 5, 0), unlimited radius, per class
// filter. Baselines in the same run: "scan" tests every component's class and status and
// computes the haversine distance of those that match (a query without any index); "scan-class"
// computes the haversine distance of a precomputed list of the filter's members only (the
// floor for a rare class). "scan" runs for the two rarest classes only: it costs the same
// for every filter.
func BenchmarkNearestClass(b *testing.B) {
	d := loadBench(b)
	for _, cc := range d.classCases() {
		want := min(5, len(cc.members))
		b.Run(cc.name+"/index", func(b *testing.B) {
			defer reportCPU(b)()
			for i := 0; b.Loop(); i++ {
				hits, err := d.idx.Nearest(d.pts[i&(len(d.pts)-1)], cc.filter, 5, 0)
				if err != nil || len(hits) != want {
					b.Fatalf("Nearest = %d hits, %v; want %d", len(hits), err, want)
				}
			}
		})
		b.Run(cc.name+"/scan-class", func(b *testing.B) {
			defer reportCPU(b)()
			for i := 0; b.Loop(); i++ {
				sinkInt += d.nearest5(d.pts[i&(len(d.pts)-1)], cc.members, false, nil)
			}
		})
		if cc.name == "0301" || cc.name == "02006" {
			cl := cc.filter.Classes[0]
			match := func(c *registry.Component) bool {
				return c.Status != registry.StatusRemoved && (c.Class == cl || c.LegacyClass == cl)
			}
			b.Run(cc.name+"/scan", func(b *testing.B) {
				defer reportCPU(b)()
				for i := 0; b.Loop(); i++ {
					sinkInt += d.nearest5(d.pts[i&(len(d.pts)-1)], nil, true, match)
				}
			})
		}
	}
}

// nearest5 is the brute force of the class benchmarks: the five smallest haversine distances
// from p over the components listed in members, or, when all is set, over every component
// that match accepts. It returns the nearest distance, truncated.
func (d *benchData) nearest5(p orb.Point, members []int, all bool, match func(*registry.Component) bool) int {
	var best [5]float64
	for k := range best {
		best[k] = math.Inf(1)
	}
	try := func(q orb.Point) {
		if dd := geo.DistanceHaversine(p, q); dd < best[4] {
			best[4] = dd
			slices.Sort(best[:])
		}
	}
	if all {
		for j := range d.c.Components {
			if c := &d.c.Components[j]; match(c) {
				try(c.Point)
			}
		}
	} else {
		for _, j := range members {
			try(d.c.Components[j].Point)
		}
	}
	return int(best[0])
}

// BenchmarkWithinClass is Within(box, Filter{Classes: …}, 100, 0) for boxes of 300 m (about
// 9 cells), 3 km and the whole bench city. "baseline" searches a bare R-tree of every
// component for the box, tests the class and sorts the matching keys (BenchmarkWithin's
// baseline plus the class test); "scan-class" tests a precomputed list of the filter's
// members against the box and sorts their keys.
func BenchmarkWithinClass(b *testing.B) {
	d := loadBench(b)
	boxes := []struct {
		name string
		box  func(i int) orb.Bound
	}{
		{"300m", func(i int) orb.Bound {
			p := d.pts[i&(len(d.pts)-1)]
			return orb.Bound{Min: p, Max: orb.Point{p[0] + 3*gridDX, p[1] + 3*gridDY}}
		}},
		{"3km", func(i int) orb.Bound {
			p := d.pts[i&(len(d.pts)-1)]
			return orb.Bound{Min: p, Max: orb.Point{p[0] + 30*gridDX, p[1] + 30*gridDY}}
		}},
		{"city", func(int) orb.Bound { return d.c.Bound }},
	}
	for _, cc := range d.classCases() {
		if cc.name != "0301" && cc.name != "3-rare" && cc.name != "04002" && cc.name != "major-02" {
			continue
		}
		member := make([]bool, len(d.c.Components))
		for _, j := range cc.members {
			member[j] = true
		}
		for _, bx := range boxes {
			name := bx.name + "/" + cc.name
			b.Run(name+"/index", func(b *testing.B) {
				defer reportCPU(b)()
				for i := 0; b.Loop(); i++ {
					hits, _, err := d.idx.Within(bx.box(i), cc.filter, 100, 0)
					if err != nil {
						b.Fatal(err)
					}
					sinkInt += len(hits)
				}
			})
			b.Run(name+"/baseline", func(b *testing.B) {
				defer reportCPU(b)()
				var keys []registry.Key
				for i := 0; b.Loop(); i++ {
					bd := bx.box(i)
					keys = keys[:0]
					d.baseComps.Search(bd.Min, bd.Max, func(_, _ [2]float64, j int) bool {
						if member[j] {
							keys = append(keys, d.c.Components[j].Key)
						}
						return true
					})
					slices.Sort(keys)
					sinkInt += len(keys[:min(len(keys), 100)])
				}
			})
			b.Run(name+"/scan-class", func(b *testing.B) {
				defer reportCPU(b)()
				var keys []registry.Key
				for i := 0; b.Loop(); i++ {
					bd := bx.box(i)
					keys = keys[:0]
					for _, j := range cc.members {
						if c := &d.c.Components[j]; bd.Contains(c.Point) {
							keys = append(keys, c.Key)
						}
					}
					slices.Sort(keys)
					sinkInt += len(keys[:min(len(keys), 100)])
				}
			})
		}
	}
}
