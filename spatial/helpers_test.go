package spatial

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// cityConfig sizes a synthetic city: an nx × ny grid of ~100 m cells near Chongqing whose
// vertices are jittered (rows j%3 == 0 stay straight, so some edges are exactly horizontal;
// columns i%4 == 0 stay straight, so some are exactly vertical), some edges bent by an extra
// shared vertex, about 2% of cells with a square hole filled by an island cell (every
// second island belongs to the right-hand neighbour, which becomes a two-polygon
// MultiPolygon), and components at random points.
type cityConfig struct {
	NX, NY     int
	Components int
	Seed       uint64
}

const (
	gridLon0 = 106.50
	gridLat0 = 29.50
	gridDX   = 0.001  // ~97 m at 29.5°N
	gridDY   = 0.0009 // ~100 m
)

type city struct {
	Cells      []registry.Cell
	Components []registry.Component
	Units      []registry.Unit
	Rules      []registry.Rule
	Bound      orb.Bound
	// HoleCells maps a cell with a hole to the island cell (or multipolygon) that fills it.
	Holes []hole
}

type hole struct {
	Outer, Filler registry.GridCode
	Ring          orb.Ring // the hole ring, exact axis-aligned square
}

var testClasses = []struct{ class, legacy string }{
	{"01001", ""}, {"01001", "0101"}, {"01002", ""}, {"02011", ""}, {"02013", ""},
	{"03004", ""}, {"04002", ""}, {"05001", ""}, {"", "0601"},
}

var testMaintainers = []string{"u-water", "u-lamp", "路灯管理所", "u-power", "某公司", ""}

// genCity builds a deterministic synthetic city. Keys are assigned 1..N in order, as a
// store would.
func genCity(tb testing.TB, cfg cityConfig) *city {
	tb.Helper()
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	nx, ny := cfg.NX, cfg.NY
	vx := make([][]orb.Point, nx+1)
	for i := range vx {
		vx[i] = make([]orb.Point, ny+1)
		for j := range vx[i] {
			x := gridLon0 + float64(i)*gridDX
			y := gridLat0 + float64(j)*gridDY
			if i%4 != 0 && i != nx && j != 0 && j != ny {
				x += (rng.Float64()*0.4 - 0.2) * gridDX
			}
			if j%3 != 0 && j != ny && i != 0 && i != nx {
				y += (rng.Float64()*0.4 - 0.2) * gridDY
			}
			vx[i][j] = orb.Point{x, y}
		}
	}
	// bends[h][i][j]: extra vertex on the edge from (i,j) to (i+1,j) (h=0) or (i,j+1) (h=1)
	type ekey struct{ h, i, j int }
	bends := map[ekey]orb.Point{}
	for i := 0; i <= nx; i++ {
		for j := 0; j <= ny; j++ {
			if i < nx && j%3 != 0 && j != ny && (i+j)%2 == 0 {
				a, b := vx[i][j], vx[i+1][j]
				bends[ekey{0, i, j}] = orb.Point{(a[0] + b[0]) / 2, (a[1]+b[1])/2 + (rng.Float64()*0.2-0.1)*gridDY}
			}
			if j < ny && i%4 != 0 && i != nx && (i+j)%2 == 1 {
				a, b := vx[i][j], vx[i][j+1]
				bends[ekey{1, i, j}] = orb.Point{(a[0]+b[0])/2 + (rng.Float64()*0.2-0.1)*gridDX, (a[1] + b[1]) / 2}
			}
		}
	}
	code := func(i, j, serial int) registry.GridCode {
		d := "500103"
		if i >= nx/2 {
			d = "500104"
		}
		street := 1 + j/8
		community := 1 + (i%max(1, nx/2))/8
		return registry.MustParseGridCode(fmt.Sprintf("%s%03d%03d%03d", d, street, community, serial))
	}
	c := &city{Bound: orb.Bound{Min: vx[0][0], Max: vx[nx][ny]}}
	geoms := make([][]orb.MultiPolygon, nx)
	for i := 0; i < nx; i++ {
		geoms[i] = make([]orb.MultiPolygon, ny)
		for j := 0; j < ny; j++ {
			r := orb.Ring{vx[i][j]}
			if b, ok := bends[ekey{0, i, j}]; ok {
				r = append(r, b)
			}
			r = append(r, vx[i+1][j])
			if b, ok := bends[ekey{1, i + 1, j}]; ok {
				r = append(r, b)
			}
			r = append(r, vx[i+1][j+1])
			if b, ok := bends[ekey{0, i, j + 1}]; ok {
				r = append(r, b)
			}
			r = append(r, vx[i][j+1])
			if b, ok := bends[ekey{1, i, j}]; ok {
				r = append(r, b)
			}
			r = append(r, vx[i][j])
			geoms[i][j] = orb.MultiPolygon{{r}}
		}
	}
	islands := map[string]int{}
	var extra []registry.Cell
	for i := 1; i < nx-2; i++ {
		for j := 1; j < ny-1; j++ {
			if (i*7+j*13)%50 != 0 {
				continue
			}
			cx := gridLon0 + (float64(i)+0.5)*gridDX
			cy := gridLat0 + (float64(j)+0.5)*gridDY
			hx, hy := 0.15*gridDX, 0.15*gridDY
			hr := orb.Ring{{cx - hx, cy - hy}, {cx - hx, cy + hy}, {cx + hx, cy + hy}, {cx + hx, cy - hy}, {cx - hx, cy - hy}} // clockwise
			geoms[i][j][0] = append(geoms[i][j][0], hr)
			island := orb.Polygon{{{cx - hx, cy - hy}, {cx + hx, cy - hy}, {cx + hx, cy + hy}, {cx - hx, cy + hy}, {cx - hx, cy - hy}}}
			h := hole{Outer: code(i, j, 1+(i%8)*8+(j%8)), Ring: hr}
			if len(c.Holes)%2 == 0 {
				blk := string(code(i, j, 0))[:12]
				islands[blk]++
				ic := code(i, j, 900+islands[blk])
				extra = append(extra, registry.Cell{Code: ic, Name: "island " + string(ic), Geometry: orb.MultiPolygon{island}})
				h.Filler = ic
			} else {
				geoms[i+1][j] = append(geoms[i+1][j], island)
				h.Filler = code(i+1, j, 1+((i+1)%8)*8+(j%8))
			}
			c.Holes = append(c.Holes, h)
		}
	}
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			cc := code(i, j, 1+(i%8)*8+(j%8))
			c.Cells = append(c.Cells, registry.Cell{Code: cc, Name: "cell " + string(cc), Geometry: geoms[i][j], Version: 1})
		}
	}
	c.Cells = append(c.Cells, extra...)
	for k := range c.Cells {
		c.Cells[k].Key = registry.Key(k + 1)
	}

	// Components: the cell is computed the way the Service does, from the point.
	tmp := New(Options{})
	tmp.ApplyCells(c.Cells)
	c.Components = make([]registry.Component, cfg.Components)
	serial := map[string]int{}
	for k := range c.Components {
		p := orb.Point{
			c.Bound.Min[0] + rng.Float64()*(c.Bound.Max[0]-c.Bound.Min[0]),
			c.Bound.Min[1] + rng.Float64()*(c.Bound.Max[1]-c.Bound.Min[1]),
		}
		cl := testClasses[rng.IntN(len(testClasses))]
		st := registry.StatusIntact
		switch r := rng.IntN(100); {
		case r < 2:
			st = registry.StatusRemoved
		case r < 10:
			st = registry.StatusDamaged
		case r < 12:
			st = registry.StatusLost
		}
		comp := registry.Component{
			Key: registry.Key(k + 1), Class: cl.class, LegacyClass: cl.legacy, Point: p, Status: st,
			Maintainer: testMaintainers[rng.IntN(len(testMaintainers))], Version: 1,
		}
		if cell, err := tmp.CellAt(p); err == nil {
			comp.Cell = cell.Code
		}
		admin := "500103"
		if comp.Cell != "" {
			admin = comp.Cell.District()
		}
		idClass := cl.class
		if idClass == "" {
			idClass = cl.legacy
		}
		serial[admin+idClass]++
		id, err := registry.NewComponentCode(admin, idClass, serial[admin+idClass])
		if err != nil {
			tb.Fatalf("component code: %v", err)
		}
		if cl.class == "" {
			comp.LegacyID = id
		} else {
			comp.ID = id
		}
		c.Components[k] = comp
	}
	c.Units, c.Rules = testUnits(c.Bound), testRules()
	return c
}

// testUnits: a city centre, a district centre for 500103 only (500104 falls to the city),
// component maintainers, a street office and a park with its own service area.
func testUnits(b orb.Bound) []registry.Unit {
	park := orb.Bound{
		Min: orb.Point{b.Min[0] + 2*gridDX, b.Min[1] + 2*gridDY},
		Max: orb.Point{b.Min[0] + 4.5*gridDX, b.Min[1] + 4.5*gridDY},
	}
	return []registry.Unit{
		{ID: "cc", Name: "市数字化城管中心", Type: registry.UnitCityCentre},
		{ID: "dc103", Name: "渝中区数字化城管中心", Type: registry.UnitDistrictCentre, Districts: []string{"500103"}},
		{ID: "u-water", Name: "自来水公司", Type: registry.UnitPublicService},
		{ID: "u-lamp", Name: "路灯管理所", Type: registry.UnitPublicService},
		{ID: "u-power", Name: "供电公司", Type: registry.UnitPublicService},
		{ID: "u-street", Name: "七星岗街道", Type: registry.UnitAdminDepartment},
		{ID: "park", Name: "公园管理处", Type: registry.UnitAdminDepartment, Area: orb.MultiPolygon{park.ToPolygon()}},
	}
}

func testRules() []registry.Rule {
	return []registry.Rule{
		{ID: "r-park", Order: 5, Class: "*", InUnit: true, Unit: "park"},
		{ID: "r-ghost", Order: 1, Class: "01001", Unit: "no-such-unit"},
		{ID: "r-street-events", Order: 10, Class: "06", Kind: "event", Area: "500103001", Unit: "u-street", Reason: "street 001 handles its own events"},
		{ID: "r-water", Order: 20, Class: "01001", Kind: "component", Unit: "u-water"},
		{ID: "r-legacy", Order: 30, Class: "07*", Area: "500104", Unit: "u-power"},
	}
}

// newTestIndex is an index over a small city: 24 × 20 cells, 3,000 components.
func newTestIndex(tb testing.TB) (*Index, *city) {
	tb.Helper()
	c := genCity(tb, cityConfig{NX: 24, NY: 20, Components: 3000, Seed: 1})
	return indexOf(tb, c, Options{}), c
}

func indexOf(tb testing.TB, c *city, opts Options) *Index {
	tb.Helper()
	idx := New(opts)
	if err := idx.Load(context.Background(), &memStore{c: c}); err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return idx
}

// memStore serves a city through registry.Store's read side, for Load.
type memStore struct {
	c       *city
	failAt  int // ForEachComponent fails at this many components when > 0
	unitErr error
}

var _ registry.Store = (*memStore)(nil)

func (m *memStore) ForEachCell(ctx context.Context, fn func(*registry.Cell) error) error {
	for i := range m.c.Cells {
		c := m.c.Cells[i]
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) ForEachComponent(ctx context.Context, fn func(*registry.Component) error) error {
	for i := range m.c.Components {
		if m.failAt > 0 && i == m.failAt {
			return fmt.Errorf("disk on fire")
		}
		c := m.c.Components[i]
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Units(context.Context) ([]registry.Unit, error) {
	return slices.Clone(m.c.Units), m.unitErr
}

func (m *memStore) Rules(context.Context) ([]registry.Rule, error) {
	return slices.Clone(m.c.Rules), nil
}

func (m *memStore) Cell(context.Context, registry.GridCode) (registry.Cell, error) {
	return registry.Cell{}, registry.ErrCellNotFound
}

func (m *memStore) Component(context.Context, registry.ComponentCode) (registry.Component, error) {
	return registry.Component{}, registry.ErrComponentNotFound
}

func (m *memStore) ComponentsByKey(context.Context, []registry.Key) ([]registry.Component, error) {
	return nil, registry.ErrComponentNotFound
}

func (m *memStore) History(context.Context, registry.ComponentCode) ([]registry.Change, error) {
	return nil, registry.ErrComponentNotFound
}

func (m *memStore) PutCells(context.Context, []registry.Cell, string) ([]registry.Cell, error) {
	return nil, fmt.Errorf("memStore is read-only")
}

func (m *memStore) CellHistory(context.Context, registry.GridCode) ([]registry.Revision[registry.Cell], error) {
	return nil, registry.ErrCellNotFound
}

func (m *memStore) ReviseCells(context.Context, registry.CellRevision, string) (registry.RevisionResult, error) {
	return registry.RevisionResult{}, fmt.Errorf("memStore is read-only")
}

func (m *memStore) PutComponents(context.Context, []registry.Component, []int64, string) ([]registry.Component, error) {
	return nil, fmt.Errorf("memStore is read-only")
}

func (m *memStore) PutComponentsNoted(context.Context, []registry.Component, []int64, string, string) ([]registry.Component, error) {
	return nil, fmt.Errorf("memStore is read-only")
}

func (m *memStore) PutUnits(context.Context, []registry.Unit, string) ([]registry.Unit, error) {
	return nil, fmt.Errorf("memStore is read-only")
}

func (m *memStore) DeleteUnit(context.Context, string, string) error {
	return fmt.Errorf("memStore is read-only")
}

func (m *memStore) PutRules(context.Context, []registry.Rule, []string, string) ([]registry.Rule, error) {
	return nil, fmt.Errorf("memStore is read-only")
}

func (m *memStore) DeleteRule(context.Context, string, string) error {
	return fmt.Errorf("memStore is read-only")
}

func (m *memStore) UnitHistory(context.Context, string) ([]registry.Revision[registry.Unit], error) {
	return nil, registry.ErrUnitNotFound
}

func (m *memStore) RuleHistory(context.Context, string) ([]registry.Revision[registry.Rule], error) {
	return nil, registry.ErrRuleNotFound
}

func (m *memStore) Close() error { return nil }
