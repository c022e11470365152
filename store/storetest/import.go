package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// oneCellIndex is the registry.Index of a grid of one cell: every point lies in it. The
// import cases need nothing more from an index.
type oneCellIndex struct{ cell registry.Cell }

func (x oneCellIndex) CellAt(orb.Point) (*registry.Cell, error)   { return &x.cell, nil }
func (oneCellIndex) Overlaps([]*registry.Cell) []registry.Overlap { return nil }
func (oneCellIndex) ComponentOutside(*registry.Cell) (registry.ComponentRef, bool) {
	return registry.ComponentRef{}, false
}
func (oneCellIndex) ApplyCells([]registry.Cell)           {}
func (oneCellIndex) ApplyComponents([]registry.Component) {}
func (oneCellIndex) SetUnits([]registry.Unit)             {}
func (oneCellIndex) SetRules([]registry.Rule)             {}
func (x oneCellIndex) ActiveCodes(prefix string) []registry.GridCode {
	if strings.HasPrefix(string(x.cell.Code), prefix) {
		return []registry.GridCode{x.cell.Code}
	}
	return nil
}
func (oneCellIndex) PlanRevision(string, []*registry.Cell) ([]registry.CellMove, []registry.ComponentRef) {
	return nil, nil
}
func (x oneCellIndex) HasCells(prefix string) bool {
	return strings.HasPrefix(string(x.cell.Code), prefix)
}

// testImportUnchanged: a census import through registry.Service of components equal to the
// stored ones writes nothing to the store: no version, Updated or history change, no feed
// entry; the report counts them unchanged. A changed one is updated alone.
func testImportUnchanged(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.Open(t)
	cells := putCells(t, s, []registry.Cell{newCell(chaoyang, 1)})
	svc := registry.NewService(s, oneCellIndex{cells[0]}, registry.DefaultCatalog(), nil)
	doc := "id,class,name,status,owner,census_date,lon,lat\n" +
		cid(chaoyang, classManhole, 1).String() + ",01001,井盖 1,intact,北京市自来水集团,2024-05-01,116.4505,39.9205\n" +
		"1101050101000002,0101,井盖 2,damaged,,20240502,116.4506,39.9205\n" // a legacy id and class
	imp := func(doc string) registry.Report {
		t.Helper()
		rep, err := svc.Import(ctx, registry.CensusComponents, strings.NewReader(doc),
			registry.ImportOptions{Format: registry.FormatCSV, Actor: "census"})
		if err != nil {
			t.Fatalf("import: %v (%+v)", err, rep)
		}
		return rep
	}
	if rep := imp(doc); rep.Created != 2 {
		t.Fatalf("first import created %d, want 2", rep.Created)
	}
	before := allComponents(t, s)
	seq := lastSeq(t, s)
	rep := imp(doc)
	if rep.Unchanged != 2 || rep.Updated != 0 || rep.Created != 0 {
		t.Errorf("re-import: created %d, updated %d, unchanged %d; want 0, 0, 2", rep.Created, rep.Updated, rep.Unchanged)
	}
	diff(t, "components after an unchanged re-import", before, allComponents(t, s))
	if got := lastSeq(t, s); got != seq {
		t.Errorf("change seq went from %d to %d on an unchanged re-import", seq, got)
	}
	for _, c := range before {
		if n := len(history(t, s, c.ID)); n != 1 {
			t.Errorf("history of %s has %d entries, want 1", c.ID, n)
		}
	}
	rep = imp(strings.Replace(doc, "井盖 2", "雨水井盖 2", 1))
	if rep.Updated != 1 || rep.Unchanged != 1 {
		t.Errorf("re-import with one change: updated %d, unchanged %d; want 1, 1", rep.Updated, rep.Unchanged)
	}
	after := allComponents(t, s)
	if len(after) != 2 || after[0].Version != before[0].Version || after[1].Version != before[1].Version+1 {
		t.Errorf("versions after one change: %d, %d; want %d, %d", after[0].Version, after[1].Version, before[0].Version, before[1].Version+1)
	}
}

// lastSeq is the store's last change seq, or 0 for a store without a change feed.
func lastSeq(t testing.TB, s registry.Store) uint64 {
	t.Helper()
	f, ok := s.(registry.ChangeFeed)
	if !ok {
		return 0
	}
	seq, err := f.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}
