package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"citygrid/registry"

	"github.com/paulmach/orb"
)

func testCellsRoundTrip(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	in := []registry.Cell{newCell(chaoyang, 3), newCell(chaoyang, 1), newCell(haidian, 2)}
	in[2].Code = registry.MustParseGridCode("11010800100102") // legacy 14 digits
	in[1].Geometry = append(in[1].Geometry, orb.Polygon{
		{{116.5, 39.9}, {116.51, 39.9}, {116.51, 39.91}, {116.5, 39.91}, {116.5, 39.9}},
		{{116.502, 39.902}, {116.502, 39.903}, {116.503, 39.903}, {116.502, 39.902}}, // a hole
	})
	w := begin()
	got := putCells(t, s, in)
	w.end()

	want := slices.Clone(in)
	seen := map[registry.Key]bool{}
	for i := range got {
		checkKey(t, "cell "+string(got[i].Code), got[i].Key)
		if seen[got[i].Key] {
			t.Errorf("cell %s: key %d given twice", got[i].Code, got[i].Key)
		}
		seen[got[i].Key] = true
		w.check(t, "cell Updated", got[i].Updated)
		want[i].Key, want[i].Version, want[i].Updated = got[i].Key, 1, got[i].Updated
	}
	diff(t, "PutCells", want, got)
	for _, c := range got {
		back, err := s.Cell(ctx, c.Code)
		if err != nil {
			t.Fatalf("Cell(%s): %v", c.Code, err)
		}
		diff(t, "Cell("+string(c.Code)+")", c, back)
	}
	diff(t, "ForEachCell", byKey(got, cellKey), allCells(t, s))

	_, err := s.Cell(ctx, cellCode(chaoyang, 999))
	checkErr(t, "Cell(unknown)", err, registry.ErrCellNotFound)
}

func testPutCellsReplace(t *testing.T, h Harness) {
	s := h.Open(t)
	first := putCells(t, s, []registry.Cell{newCell(chaoyang, 1), newCell(chaoyang, 2)})

	repl := newCell(chaoyang, 1)
	repl.Name = "重划后的网格"
	repl.Geometry = square(116.6, 39.95, 0.002)
	repl.Area = 38_000
	w := begin()
	got := putCells(t, s, []registry.Cell{repl})[0]
	w.end()
	want := repl
	want.Key, want.Version, want.Updated = first[0].Key, 2, got.Updated
	w.check(t, "replaced cell Updated", got.Updated)
	diff(t, "replaced cell", want, got)
	back, err := s.Cell(context.Background(), repl.Code)
	if err != nil {
		t.Fatalf("Cell(%s): %v", repl.Code, err)
	}
	diff(t, "Cell after replace", want, back)
	diff(t, "ForEachCell after replace", byKey([]registry.Cell{got, first[1]}, cellKey), allCells(t, s))

	_, err = s.PutCells(context.Background(), []registry.Cell{newCell(chaoyang, 3), newCell(chaoyang, 3)}, "tester")
	checkErr(t, "PutCells(same code twice)", err, registry.ErrDuplicate)
	if n := len(allCells(t, s)); n != 2 {
		t.Errorf("after a duplicate, %d cells stored, want 2", n)
	}
}

// cellHistory reads a cell's history, failing the test on error.
func cellHistory(t testing.TB, s registry.Store, code registry.GridCode) []registry.Revision[registry.Cell] {
	t.Helper()
	h, err := s.CellHistory(context.Background(), code)
	if err != nil {
		t.Fatalf("CellHistory(%s): %v", code, err)
	}
	return h
}

// checkCellRevisions compares a cell history with the ops, actors and records expected: each
// entry's After is the record, its Before the one before, its Version the record's version,
// and seqs increase.
func checkCellRevisions(t testing.TB, what string, got []registry.Revision[registry.Cell], ops []registry.ChangeOp, actors []string, records []registry.Cell) {
	t.Helper()
	if len(got) != len(ops) {
		t.Fatalf("%s: %d entries, want %d: %+v", what, len(got), len(ops), got)
	}
	for i, r := range got {
		if r.Op != ops[i] || r.Actor != actors[i] || r.Version != records[i].Version {
			t.Errorf("%s[%d]: op %s actor %q version %d; want %s %q %d", what, i, r.Op, r.Actor, r.Version, ops[i], actors[i], records[i].Version)
		}
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Errorf("%s[%d]: seq %d after %d", what, i, r.Seq, got[i-1].Seq)
		}
		if !r.Time.Equal(records[i].Updated) {
			t.Errorf("%s[%d]: time %v, want the record's Updated %v", what, i, r.Time, records[i].Updated)
		}
		if r.After == nil {
			t.Errorf("%s[%d]: no After", what, i)
		} else {
			diff(t, fmt.Sprintf("%s[%d].After", what, i), records[i], *r.After)
		}
		switch {
		case i == 0 && r.Before != nil:
			t.Errorf("%s[0]: Before %+v, want nil", what, *r.Before)
		case i > 0 && r.Before == nil:
			t.Errorf("%s[%d]: no Before", what, i)
		case i > 0:
			diff(t, fmt.Sprintf("%s[%d].Before", what, i), records[i-1], *r.Before)
		}
	}
}

func testCellHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	first := putCells(t, s, []registry.Cell{newCell(chaoyang, 1)})[0]
	repl := newCell(chaoyang, 1)
	repl.Name = "重划后的网格"
	got, err := s.PutCells(context.Background(), []registry.Cell{repl}, "gis-wang")
	if err != nil {
		t.Fatal(err)
	}
	checkCellRevisions(t, "history", cellHistory(t, s, first.Code),
		[]registry.ChangeOp{registry.OpCreate, registry.OpUpdate}, []string{"tester", "gis-wang"},
		[]registry.Cell{first, got[0]})
	s = reopen(t, h, s)
	checkCellRevisions(t, "history after reopen", cellHistory(t, s, first.Code),
		[]registry.ChangeOp{registry.OpCreate, registry.OpUpdate}, []string{"tester", "gis-wang"},
		[]registry.Cell{first, got[0]})
	_, err = s.CellHistory(context.Background(), cellCode(chaoyang, 999))
	checkErr(t, "CellHistory(unknown)", err, registry.ErrCellNotFound)
}

// revisionFixture stores two cells of street 110105001 side by side, and a third in another
// street, with a component in each of the first two.
func revisionFixture(t *testing.T, s registry.Store) (cells []registry.Cell, comps []registry.Component) {
	t.Helper()
	other := newCell(chaoyang, 9)
	other.Code = registry.MustParseGridCode(chaoyang + "002001009")
	cells = putCells(t, s, []registry.Cell{newCell(chaoyang, 1), newCell(chaoyang, 2), other})
	a := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	b := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	b.Cell, b.Point = cells[1].Code, orb.Point{116.4525, 39.9205}
	comps = putComponents(t, s, []registry.Component{a, b}, nil, "tester")
	return cells, comps
}

func testReviseCells(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	cells, comps := revisionFixture(t, s)
	// The new grid of street 110105001: cell 1 redrawn, cell 2 retired, cell 3 new over cell
	// 2's ground; the component of cell 2 moves to cell 3.
	c1 := newCell(chaoyang, 1)
	c1.Name = "重划后的网格"
	c3 := newCell(chaoyang, 3)
	c3.Geometry = cells[1].Geometry
	move := comps[1]
	move.Cell = c3.Code
	var lastSeq uint64
	feed, hasFeed := s.(registry.ChangeFeed)
	if hasFeed {
		var err error
		if lastSeq, err = feed.LastSeq(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w := begin()
	res, err := s.ReviseCells(ctx, registry.CellRevision{Area: chaoyang + "001", Cells: []registry.Cell{c1, c3},
		Retire: []registry.GridCode{cells[1].Code}, Moves: []registry.Component{move}, Note: "2026 修测"}, "gis-wang")
	w.end()
	if err != nil {
		t.Fatalf("ReviseCells: %v", err)
	}
	if len(res.Cells) != 2 || len(res.Retired) != 1 || len(res.Moved) != 1 {
		t.Fatalf("ReviseCells stored %d cells, retired %d, moved %d; want 2, 1, 1", len(res.Cells), len(res.Retired), len(res.Moved))
	}
	want1 := c1
	want1.Key, want1.Version, want1.Updated = cells[0].Key, 2, res.Cells[0].Updated
	w.check(t, "revised cell Updated", want1.Updated)
	diff(t, "revised cell", want1, res.Cells[0])
	if res.Cells[1].Version != 1 || res.Cells[1].Key == 0 || res.Cells[1].Key == cells[0].Key || res.Cells[1].Key == cells[1].Key {
		t.Errorf("new cell: version %d key %d", res.Cells[1].Version, res.Cells[1].Key)
	}
	ret := res.Retired[0]
	wantRet := cells[1]
	wantRet.Status, wantRet.Version, wantRet.Retired, wantRet.Updated = registry.CellRetired, 2, ret.Retired, ret.Updated
	w.check(t, "Retired", ret.Retired)
	if !ret.Updated.Equal(ret.Retired) {
		t.Errorf("retired cell: Updated %v, Retired %v; want equal", ret.Updated, ret.Retired)
	}
	diff(t, "retired cell", wantRet, ret)
	moved := res.Moved[0]
	if moved.Cell != c3.Code || moved.Version != comps[1].Version+1 || moved.UpdatedBy != "gis-wang" {
		t.Errorf("moved component: cell %s version %d by %q; want %s %d gis-wang", moved.Cell, moved.Version, moved.UpdatedBy, c3.Code, comps[1].Version+1)
	}

	s = reopen(t, h, s)
	back, err := s.Cell(ctx, cells[1].Code)
	if err != nil {
		t.Fatalf("Cell(retired): %v", err)
	}
	diff(t, "retired cell read back", ret, back)
	diff(t, "ForEachCell after revision", byKey([]registry.Cell{res.Cells[0], ret, cells[2], res.Cells[1]}, cellKey), allCells(t, s))
	diff(t, "moved component read back", moved, getComponent(t, s, moved.ID))
	if a := getComponent(t, s, comps[0].ID); a.Version != comps[0].Version || a.Cell != cells[0].Code {
		t.Errorf("the component of the redrawn cell changed: version %d cell %s", a.Version, a.Cell)
	}
	hist := history(t, s, moved.ID)
	if last := hist[len(hist)-1]; last.Op != registry.OpUpdate || last.Actor != "gis-wang" || last.Note != "2026 修测" || last.Before == nil || last.Before.Cell != cells[1].Code {
		t.Errorf("component history: last entry %+v; want an update by gis-wang from cell %s with the revision's note", last, cells[1].Code)
	}
	rh := cellHistory(t, s, cells[1].Code)
	checkCellRevisions(t, "retired cell history", rh, []registry.ChangeOp{registry.OpCreate, registry.OpRetire},
		[]string{"tester", "gis-wang"}, []registry.Cell{cells[1], ret})
	if rh[len(rh)-1].Note != "2026 修测" {
		t.Errorf("retire note %q, want 2026 修测", rh[len(rh)-1].Note)
	}
	if hasFeed {
		feed = s.(registry.ChangeFeed)
		es, err := feed.Changes(ctx, lastSeq, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, e := range es {
			ops = append(ops, fmt.Sprintf("%s %s %s", e.Kind, e.ID, e.Op))
			if e.Kind == registry.FeedCell && e.ID == string(cells[1].Code) && (e.Cell == nil || e.Cell.Status != registry.CellRetired) {
				t.Errorf("feed entry of the retired cell: %+v", e.Cell)
			}
		}
		want := []string{"cell " + string(c1.Code) + " update", "cell " + string(c3.Code) + " create",
			"cell " + string(cells[1].Code) + " retire", "component " + moved.ID.String() + " update"}
		diff(t, "feed of the revision", want, ops)
	}

	// A retired code comes back through a revision as active, with its key.
	back2 := cells[1]
	res2, err := s.ReviseCells(ctx, registry.CellRevision{Area: chaoyang + "001", Cells: []registry.Cell{back2}}, "gis-wang")
	if err != nil {
		t.Fatal(err)
	}
	if c := res2.Cells[0]; c.Status != registry.CellActive || !c.Retired.IsZero() || c.Key != cells[1].Key || c.Version != 3 {
		t.Errorf("reinstated cell: status %s retired %v key %d version %d; want active, zero, %d, 3", c.Status, c.Retired, c.Key, c.Version, cells[1].Key)
	}
}

func testReviseCellsAtomic(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	cells, comps := revisionFixture(t, s)
	c3 := newCell(chaoyang, 3)
	stale := comps[1]
	stale.Cell, stale.Version = c3.Code, comps[1].Version+5
	for _, tc := range []struct {
		name string
		rev  registry.CellRevision
		want error
	}{
		{"stale move", registry.CellRevision{Cells: []registry.Cell{c3}, Retire: []registry.GridCode{cells[1].Code}, Moves: []registry.Component{stale}}, registry.ErrVersionConflict},
		{"unknown retire", registry.CellRevision{Cells: []registry.Cell{c3}, Retire: []registry.GridCode{cellCode(chaoyang, 7)}}, registry.ErrCellNotFound},
		{"put and retire one code", registry.CellRevision{Cells: []registry.Cell{newCell(chaoyang, 2)}, Retire: []registry.GridCode{cells[1].Code}}, registry.ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ReviseCells(ctx, tc.rev, "gis-wang")
			checkErr(t, "ReviseCells", err, tc.want)
			diff(t, "cells after a failed revision", byKey(cells, cellKey), allCells(t, s))
			diff(t, "components after a failed revision", byKey(comps, componentKey), allComponents(t, s))
			if h := cellHistory(t, s, cells[1].Code); len(h) != 1 {
				t.Errorf("history of cell 2 after a failed revision: %d entries, want 1", len(h))
			}
		})
	}
}
