package spatial

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// cellCentre is the centre of grid cell (i, j) of a genCity grid: always inside that cell
// (jitter moves edges by at most 0.3 of a cell) unless the cell has a hole.
func cellCentre(i, j int) orb.Point {
	return orb.Point{gridLon0 + (float64(i)+0.5)*gridDX, gridLat0 + (float64(j)+0.5)*gridDY}
}

// east returns p moved m metres due east.
func east(p orb.Point, m float64) orb.Point {
	return orb.Point{p[0] + m/(orb.EarthRadius*math.Cos(p[1]*math.Pi/180))*180/math.Pi, p[1]}
}

func comp(key registry.Key, id, class, legacy string, p orb.Point, maint string, st registry.Status) registry.Component {
	c := registry.Component{Key: key, Class: class, LegacyClass: legacy, Point: p, Maintainer: maint, Status: st}
	if len(id) == 16 {
		c.LegacyID = registry.MustParseComponentCode(id)
	} else {
		c.ID = registry.MustParseComponentCode(id)
	}
	return c
}

// newResolveIndex is the test grid without random components, plus extra rules.
func newResolveIndex(t *testing.T, opts Options, comps ...registry.Component) *Index {
	t.Helper()
	c := genCity(t, cityConfig{NX: 24, NY: 20, Components: 0, Seed: 1})
	c.Rules = append(c.Rules, registry.Rule{ID: "r-events-104-002", Order: 40, Class: "*", Kind: "event", Area: "500104002", Unit: "u-power"})
	idx := indexOf(t, c, opts)
	idx.ApplyComponents(comps)
	return idx
}

func TestResolve(t *testing.T) {
	p103 := cellCentre(6, 10)  // 500103002…
	p103s1 := cellCentre(8, 3) // 500103001…
	p104 := cellCentre(18, 10) // 500104002…
	park := cellCentre(3, 3)   // inside the park unit's area
	const intact, removed = registry.StatusIntact, registry.StatusRemoved
	idx := newResolveIndex(t, Options{},
		comp(1, "50010301001000001", "01001", "", east(p103, 12), "u-lamp", intact),
		comp(2, "50010301001000002", "01001", "", east(p103, 20), "u-water", intact),
		comp(3, "50010301002000003", "01002", "", east(p103s1, 5), "某公司", intact),       // unknown maintainer…
		comp(4, "50010301002000004", "01002", "", east(p103s1, 25), "路灯管理所", intact),    // …so this one, by unit name
		comp(5, "50010401001000005", "01001", "", east(p104, 5), "u-power", removed),    // retired: skipped
		comp(6, "50010401001000006", "01001", "", east(p104, 40), "u-power", intact),    // beyond 30 m
		comp(7, "5001040101000007", "01001", "0101", east(p104, -8), "u-water", intact), // legacy import
		comp(8, "50010302011000008", "02011", "", east(park, 3), "u-lamp", intact),
		comp(9, "50010301001000009", "01001", "", east(cellCentre(8, 12), 7.25), "某公司", intact), // names no unit
		comp(10, "50010301002000010", "01002", "", east(p103, 2.5), "", intact),                 // names no maintainer
	)
	for _, pp := range []struct {
		p    orb.Point
		want string
	}{{p103, "500103002"}, {p103s1, "500103001"}, {p104, "500104002"}, {park, "500103001"}} {
		if c, err := idx.CellAt(pp.p); err != nil || !strings.HasPrefix(string(c.Code), pp.want) {
			t.Fatalf("test point %v is in %v (%v), want a cell of %s", pp.p, c, err, pp.want)
		}
	}
	tests := []struct {
		name      string
		p         orb.Point
		class     string
		kind      string
		unit      string
		rule      string
		component string
		reason    string // substring
	}{
		{"nearest maintainer within 30 m", p103, "01001", KindComponent, "u-lamp", "", "50010301001000001", ") 12 m away"},
		{"maintainer named by unit name, past an unknown one", p103s1, "01002", KindComponent, "u-lamp", "", "50010301002000004", "25 m away"},
		{"legacy class matches the legacy import", p104, "0101", KindComponent, "u-water", "", "5001040101000007", "8 m away"},
		{"current class matches the legacy import too", p104, "01001", KindComponent, "u-water", "", "5001040101000007", "u-water"},
		{"the …异常 matter of another class does not snap", p103, "01002", KindDistrictCentre, "dc103", "", "", "500103"},
		{"a maintainer beats the unit area rule", park, "02011", KindComponent, "u-lamp", "", "50010302011000008", "3 m"},
		{"unit area rule beats street rule", park, "06010", KindRule, "park", "r-park", "", "公园管理处"},
		{"street rule with its own reason", p103s1, "06010", KindRule, "u-street", "r-street-events", "", "street 001 handles its own events"},
		{"component rule, ghost rule skipped; a maintainer naming no unit is said", cellCentre(8, 12), "01001", KindRule, "u-water", "r-water", "",
			`component 50010301001000009 (class 01001) 7.25 m away names the maintainer "某公司", which is not a known unit (neither a unit id nor a unit name); rule r-water`},
		{"no maintainer: nothing is said", p103, "01002", KindDistrictCentre, "dc103", "", "", "no component maintainer or rule applies"},
		{"event rule does not take component classes", p104, "01002", KindCityCentre, "cc", "", "", "500104"},
		{"event rule takes event classes", p104, "06010", KindRule, "u-power", "r-events-104-002", "", "u-power"},
		{"legacy 4-digit codes match either kind", p104, "0601", KindRule, "u-power", "r-events-104-002", "", ""},
		{"major pattern 07*", cellCentre(18, 3), "07003", KindRule, "u-power", "r-legacy", "", ""},
		{"no rule: district centre", p103, "09001", KindDistrictCentre, "dc103", "", "", "district centre"},
		{"no district centre: city centre", cellCentre(18, 3), "09001", KindCityCentre, "cc", "", "", "city centre"},
		{"unknown class: only kind-less * rules", park, "", KindRule, "park", "r-park", "", ""},
		{"unknown class elsewhere", p104, "", KindCityCentre, "cc", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idx.Resolve(tt.p, tt.class)
			if err != nil {
				t.Fatalf("Resolve(%v, %q) error %v", tt.p, tt.class, err)
			}
			if got.Kind != tt.kind || got.Unit == nil || got.Unit.ID != tt.unit || got.RuleID != tt.rule || got.Component.String() != tt.component {
				unit := ""
				if got.Unit != nil {
					unit = got.Unit.ID
				}
				t.Errorf("Resolve(%v, %q) = kind %q unit %q rule %q component %q; want %q %q %q %q",
					tt.p, tt.class, got.Kind, unit, got.RuleID, got.Component, tt.kind, tt.unit, tt.rule, tt.component)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("Resolve(%v, %q).Reason = %q, want it to contain %q", tt.p, tt.class, got.Reason, tt.reason)
			}
			if stray := "not a known unit"; strings.Contains(got.Reason, stray) != strings.Contains(tt.reason, stray) {
				t.Errorf("Resolve(%v, %q).Reason = %q: says %q where it should not, or the reverse", tt.p, tt.class, got.Reason, stray)
			}
			if c, _ := idx.CellAt(tt.p); got.Cell == nil || got.Cell.Code != c.Code {
				t.Errorf("Resolve(%v, %q).Cell = %v, want %s", tt.p, tt.class, got.Cell, c.Code)
			}
		})
	}
}

func TestResolveSnapRadiusAndRetire(t *testing.T) {
	p := cellCentre(18, 10)
	c40 := comp(6, "50010401001000006", "01001", "", east(p, 40), "u-power", registry.StatusIntact)
	idx := newResolveIndex(t, Options{}, c40)
	if got, _ := idx.Resolve(p, "01001"); got.Kind != KindRule {
		t.Errorf("Resolve with a component 40 m away (radius 30) = %q, want rule", got.Kind)
	}
	wide := newResolveIndex(t, Options{SnapRadius: 50}, c40)
	got, _ := wide.Resolve(p, "01001")
	if got.Kind != KindComponent || got.Unit.ID != "u-power" {
		t.Errorf("Resolve with radius 50 = %q, want the component's maintainer u-power", got.Kind)
	}
	// reclassified: it no longer answers for 01001 but for 01002
	c40.Class = "01002"
	wide.ApplyComponents([]registry.Component{c40})
	if got, _ := wide.Resolve(p, "01001"); got.Kind != KindRule {
		t.Errorf("Resolve(01001) after reclassifying the component to 01002 = %q, want rule", got.Kind)
	}
	if got, _ := wide.Resolve(p, "01002"); got.Kind != KindComponent {
		t.Errorf("Resolve(01002) after reclassifying the component to 01002 = %q, want component", got.Kind)
	}
	snap := wide.load()
	if n := snap.classTree(classTreeKey(snap.classID["01001"], false)).Len(); n != 0 {
		t.Errorf("class tree of 01001 holds %d entries after the only 01001 component was reclassified", n)
	}
	// moved away and back
	far := c40
	far.Point = east(p, 500)
	wide.ApplyComponents([]registry.Component{far})
	if got, _ := wide.Resolve(p, "01002"); got.Kind == KindComponent {
		t.Errorf("Resolve after moving the component 500 m away still snaps to it")
	}
	wide.ApplyComponents([]registry.Component{c40})
	if got, _ := wide.Resolve(p, "01002"); got.Kind != KindComponent {
		t.Errorf("Resolve after moving the component back = %q, want component", got.Kind)
	}
	c40.Status = registry.StatusRemoved
	wide.ApplyComponents([]registry.Component{c40})
	if got, _ := wide.Resolve(p, "01002"); got.Kind == KindComponent {
		t.Errorf("Resolve after retiring the component = %q, want no snapping", got.Kind)
	}
}

func TestResolveNoUnit(t *testing.T) {
	c := genCity(t, cityConfig{NX: 4, NY: 4, Seed: 1})
	c.Units, c.Rules = nil, nil
	idx := indexOf(t, c, Options{})
	if _, err := idx.Resolve(cellCentre(1, 1), "06010"); !errors.Is(err, registry.ErrNoUnit) {
		t.Errorf("Resolve with no units error = %v, want ErrNoUnit", err)
	}
	// units arrive later; rules naming them start to apply
	idx.SetRules([]registry.Rule{{ID: "r", Class: "*", Unit: "late"}})
	if _, err := idx.Resolve(cellCentre(1, 1), "06010"); !errors.Is(err, registry.ErrNoUnit) {
		t.Errorf("Resolve with a rule naming an unknown unit error = %v, want ErrNoUnit", err)
	}
	idx.SetUnits([]registry.Unit{{ID: "late", Name: "Late unit", Type: registry.UnitAdminDepartment}})
	if got, err := idx.Resolve(cellCentre(1, 1), "06010"); err != nil || got.RuleID != "r" {
		t.Errorf("Resolve after SetUnits = %+v, %v; want rule r", got, err)
	}
}

func TestResolveArea(t *testing.T) {
	idx := newResolveIndex(t, Options{})
	box := func(i0, j0, i1, j1 float64) orb.Bound {
		return orb.Bound{
			Min: orb.Point{gridLon0 + i0*gridDX, gridLat0 + j0*gridDY},
			Max: orb.Point{gridLon0 + i1*gridDX, gridLat0 + j1*gridDY},
		}
	}
	tests := []struct {
		name    string
		b       orb.Bound
		class   string
		kind    string
		unit    string
		rule    string
		oneCell bool
		reason  string
	}{
		{"one cell", box(6.4, 10.4, 6.6, 10.6), "09001", KindDistrictCentre, "dc103", "", true, "500103"},
		{"across districts", box(11.5, 10.5, 12.5, 10.6), "06010", KindCityCentre, "cc", "", false, "several districts"},
		{"one street, several cells", box(6.5, 1.5, 9.5, 5.5), "06010", KindRule, "u-street", "r-street-events", false, ""},
		{"one district, two streets", box(6.5, 6.5, 9.5, 9.5), "06010", KindDistrictCentre, "dc103", "", false, ""},
		{"inside the park area", box(2.3, 2.3, 4.2, 4.2), "", KindRule, "park", "r-park", false, ""},
		{"half in the park area", box(3.5, 3.5, 5.5, 5.5), "", KindDistrictCentre, "dc103", "", false, ""},
		{"district without centre", box(18.5, 2.5, 20.5, 4.5), "09001", KindCityCentre, "cc", "", false, "500104"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idx.ResolveArea(tt.b, tt.class)
			if err != nil {
				t.Fatalf("ResolveArea(%v, %q) error %v", tt.b, tt.class, err)
			}
			unit := ""
			if got.Unit != nil {
				unit = got.Unit.ID
			}
			if got.Kind != tt.kind || unit != tt.unit || got.RuleID != tt.rule || (got.Cell != nil) != tt.oneCell {
				t.Errorf("ResolveArea(%v, %q) = kind %q unit %q rule %q cell %v; want %q %q %q one cell %v",
					tt.b, tt.class, got.Kind, unit, got.RuleID, got.Cell != nil, tt.kind, tt.unit, tt.rule, tt.oneCell)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("ResolveArea(%v, %q).Reason = %q, want it to contain %q", tt.b, tt.class, got.Reason, tt.reason)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	idx, c := newTestIndex(t)
	ptrs := func(cs []registry.Cell) []*registry.Cell {
		out := make([]*registry.Cell, len(cs))
		for i := range cs {
			out[i] = &cs[i]
		}
		return out
	}
	// Re-importing the whole grid: only shared edges, holes exactly filled by islands.
	if got := idx.Overlaps(ptrs(c.Cells)); len(got) != 0 {
		t.Fatalf("Overlaps(the grid itself) = %d pairs, want none; first %+v", len(got), got[0])
	}
	square := func(code string, x0, y0, x1, y1 float64) registry.Cell {
		return registry.Cell{Code: registry.MustParseGridCode(code), Geometry: orb.MultiPolygon{orb.Bound{Min: orb.Point{x0, y0}, Max: orb.Point{x1, y1}}.ToPolygon()}}
	}
	diamond := func(code string, cx, cy, r float64) registry.Cell {
		return registry.Cell{Code: registry.MustParseGridCode(code), Geometry: orb.MultiPolygon{{{{cx - r, cy}, {cx, cy - r}, {cx + r, cy}, {cx, cy + r}, {cx - r, cy}}}}}
	}
	dup := c.Cells[30]
	dup.Code = "500103009009009"
	tests := []struct {
		name  string
		cells []registry.Cell
		want  [][2]registry.GridCode // nil B: any indexed cell, count only
		count int
	}{
		{"same geometry, other code", []registry.Cell{dup}, [][2]registry.GridCode{{dup.Code, c.Cells[30].Code}}, 1},
		{"new cells apart, touching along an edge", []registry.Cell{square("500199001001001", 10, 10, 11, 11), square("500199001001002", 11, 10, 12, 11)}, nil, 0},
		{"new cells touching at a corner", []registry.Cell{square("500199001001001", 10, 10, 11, 11), square("500199001001002", 11, 11, 12, 12)}, nil, 0},
		{"new cells overlapping each other", []registry.Cell{square("500199001001002", 10, 10, 11, 11), square("500199001001001", 10.5, 10.5, 12, 12)}, [][2]registry.GridCode{{"500199001001001", "500199001001002"}}, 1},
		{"diamond crossing a square (edge crossings only)", []registry.Cell{square("500199001001001", 10, 10, 11, 11), diamond("500199001001002", 11.2, 10.5, 0.3)}, [][2]registry.GridCode{{"500199001001001", "500199001001002"}}, 1},
		{"square over 2x2 cells of the grid", []registry.Cell{square("500199001001001", gridLon0+5.5*gridDX, gridLat0+5.5*gridDY, gridLon0+6.5*gridDX, gridLat0+6.5*gridDY)}, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := idx.Overlaps(ptrs(tt.cells))
			if len(got) != tt.count {
				t.Fatalf("Overlaps = %d pairs %+v, want %d", len(got), got, tt.count)
			}
			byCode := map[registry.GridCode]orb.MultiPolygon{}
			for _, cl := range tt.cells {
				byCode[cl.Code] = cl.Geometry
			}
			for i, o := range got {
				if tt.want != nil && (o.A != tt.want[i][0] || o.B != tt.want[i][1]) {
					t.Errorf("overlap %d = %s/%s, want %s/%s", i, o.A, o.B, tt.want[i][0], tt.want[i][1])
				}
				for _, code := range []registry.GridCode{o.A, o.B} {
					g, ok := byCode[code]
					if !ok {
						cl, found := idx.Cell(code)
						if !found {
							t.Fatalf("overlap names unknown cell %s", code)
						}
						g = cl.Geometry
					}
					if !refClosureContains(g, o.Point) || onAnyRing(g, o.Point) {
						t.Errorf("overlap %s/%s point %v is not inside %s", o.A, o.B, o.Point, code)
					}
				}
			}
		})
	}
}

func onAnyRing(mp orb.MultiPolygon, p orb.Point) bool {
	for _, poly := range mp {
		for _, r := range poly {
			if refOnRing(r, p) {
				return true
			}
		}
	}
	return false
}
