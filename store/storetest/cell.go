package storetest

import (
	"context"
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
