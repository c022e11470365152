package spatial

import (
	"slices"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

func TestRetiredCell(t *testing.T) {
	idx, c := newTestIndex(t)
	old := c.Cells[0]
	in := orb.Point{old.Geometry.Bound().Min[0] + 1e-6, old.Geometry.Bound().Min[1] + 1e-6}
	if got := cellAtCode(t, idx, in); got != old.Code {
		t.Fatalf("before: CellAt = %q, want %q", got, old.Code)
	}
	ret := old
	ret.Status, ret.Version = registry.CellRetired, old.Version+1
	idx.ApplyCells([]registry.Cell{ret})
	if got := cellAtCode(t, idx, in); got != "" {
		t.Errorf("retired: CellAt = %q, want outside", got)
	}
	if got, ok := idx.Cell(old.Code); !ok || got.Status != registry.CellRetired {
		t.Errorf("retired: Cell(%s) = %+v, %v; want it, retired", old.Code, got, ok)
	}
	if n := idx.Stats().Cells; n != len(c.Cells)-1 {
		t.Errorf("Stats().Cells = %d, want %d", n, len(c.Cells)-1)
	}
	other := old
	other.Code = "500103999999999"
	if ov := idx.Overlaps([]*registry.Cell{&other}); len(ov) != 0 {
		t.Errorf("a cell over a retired cell's ground overlaps %v; retired cells take no ground", ov)
	}
	b := old.Geometry.Bound()
	list := func(active, retired bool) []registry.GridCode {
		cs, _, err := idx.CellsWithinStatus(b, active, retired, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []registry.GridCode
		for _, c := range cs {
			out = append(out, c.Code)
		}
		return out
	}
	if got := list(true, false); slices.Contains(got, old.Code) || len(got) == 0 {
		t.Errorf("active listing %v holds the retired cell or nothing", got)
	}
	if got := list(false, true); !slices.Equal(got, []registry.GridCode{old.Code}) {
		t.Errorf("retired listing %v, want [%s]", got, old.Code)
	}
	if got := list(true, true); !slices.Contains(got, old.Code) || len(got) != len(list(true, false))+1 {
		t.Errorf("listing of all %v", got)
	}
	if codes := idx.ActiveCodes(string(old.Code[:12])); slices.Contains(codes, old.Code) {
		t.Errorf("ActiveCodes holds the retired cell")
	}
	// Reinstated, it answers again.
	idx.ApplyCells([]registry.Cell{old})
	if got := cellAtCode(t, idx, in); got != old.Code {
		t.Errorf("reinstated: CellAt = %q, want %q", got, old.Code)
	}
	if list(false, true) != nil {
		t.Errorf("reinstated cell still listed as retired")
	}
}

func TestPlanRevision(t *testing.T) {
	idx, c := newTestIndex(t)
	// The area is the community of cell 0; its new grid is the same ground split in two
	// halves along the longitude of each cell's centre.
	area := string(c.Cells[0].Code[:12])
	var olds []registry.Cell
	for _, cell := range c.Cells {
		if string(cell.Code[:12]) == area {
			olds = append(olds, cell)
		}
	}
	if len(olds) < 2 {
		t.Fatalf("community %s has %d cells", area, len(olds))
	}
	var news []*registry.Cell
	for i, o := range olds {
		bd := o.Geometry.Bound()
		if len(o.Geometry) != 1 || len(o.Geometry[0]) != 1 {
			continue // keep the test to plain squares
		}
		mid := (bd.Min[0] + bd.Max[0]) / 2
		w := &registry.Cell{Code: registry.GridCode(area + fmtSerial(2*i+100)), Geometry: orb.MultiPolygon{orb.Bound{Min: bd.Min, Max: orb.Point{mid, bd.Max[1]}}.ToPolygon()}}
		e := &registry.Cell{Code: registry.GridCode(area + fmtSerial(2*i+101)), Geometry: orb.MultiPolygon{orb.Bound{Min: orb.Point{mid, bd.Min[1]}, Max: bd.Max}.ToPolygon()}}
		news = append(news, w, e)
	}
	moves, stranded := idx.PlanRevision(area, news)
	want := 0
	for _, comp := range c.Components {
		if string(comp.Cell[:12]) == area && registry.ValidPoint(comp.Point) {
			want++
		}
	}
	if len(moves)+len(stranded) != want || want == 0 {
		t.Errorf("%d moves + %d stranded, want %d components of the area", len(moves), len(stranded), want)
	}
	for _, m := range moves {
		comp := c.Components[m.Key-1]
		if string(m.From) != string(comp.Cell) {
			t.Errorf("move %v: from %s, the component is in %s", m.ID, m.From, comp.Cell)
		}
		var to *registry.Cell
		for _, n := range news {
			if n.Code == m.To {
				to = n
			}
		}
		if to == nil || !to.Geometry.Bound().Contains(comp.Point) {
			t.Errorf("move %v to %s, which does not contain %v", m.ID, m.To, comp.Point)
		}
	}
	// Without new cells every component of the area is stranded; another area is untouched.
	if moves, stranded := idx.PlanRevision(area, nil); len(moves) != 0 || len(stranded) != want {
		t.Errorf("empty grid: %d moves, %d stranded; want 0, %d", len(moves), len(stranded), want)
	}
	if moves, stranded := idx.PlanRevision("500199", nil); len(moves)+len(stranded) != 0 {
		t.Errorf("an area without cells plans %d moves, %d stranded", len(moves), len(stranded))
	}
}

func fmtSerial(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}
