package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"citygrid/registry"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/paulmach/orb"
)

// ---------------------------------------------------------------------------------------
// Test data: Beijing, 朝阳区 (110105) and 海淀区 (110108).

const (
	chaoyang = "110105"
	haidian  = "110108"

	classManhole = "01001" // 上水井盖
	classLamp    = "02001"
)

var (
	censusDate = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	changeDate = time.Date(2025, 3, 15, 8, 30, 0, 0, time.UTC)
)

// compOpts compares records: ComponentCode has unexported fields and no Equal method; a nil
// slice and an empty one are the same record.
var compOpts = gocmp.Options{
	gocmp.Comparer(func(a, b registry.ComponentCode) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func cid(district, class string, serial int) registry.ComponentCode {
	c, err := registry.NewComponentCode(district, class, serial)
	if err != nil {
		panic(fmt.Sprintf("NewComponentCode(%s, %s, %d): %v", district, class, serial, err))
	}
	return c
}

func cellCode(district string, serial int) registry.GridCode {
	return registry.MustParseGridCode(fmt.Sprintf("%s001001%03d", district, serial))
}

// square is a closed ring of side d degrees with its south-west corner at (lon, lat).
func square(lon, lat, d float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{lon, lat}, {lon + d, lat}, {lon + d, lat + d}, {lon, lat + d}, {lon, lat}}}}
}

func newCell(district string, serial int) registry.Cell {
	lon, lat := 116.45+float64(serial)*0.001, 39.92
	return registry.Cell{
		Code:     cellCode(district, serial),
		Name:     fmt.Sprintf("单元网格 %s-%03d", district, serial),
		Geometry: square(lon, lat, 0.001),
		Area:     9_500 + float64(serial),
	}
}

// newComponent is a surveyed manhole cover (or whatever class) in cell 1 of district; id may
// be zero, to be assigned.
func newComponent(id registry.ComponentCode, district, class string, n int) registry.Component {
	return registry.Component{
		ID:         id,
		Class:      class,
		Name:       fmt.Sprintf("井盖 %d", n),
		Point:      orb.Point{116.4505 + float64(n)*1e-5, 39.9205},
		Status:     registry.StatusIntact,
		Supervisor: "bjcg-" + district,
		Owner:      "北京市自来水集团",
		Maintainer: "unit-" + district + "-water",
		Cell:       cellCode(district, 1),
		CensusDate: censusDate,
		ChangeDate: changeDate,
		Source:     "实测",
		Note:       fmt.Sprintf("note %d", n),
	}
}

// ---------------------------------------------------------------------------------------
// Helpers

// window is the interval around a write: the time it stamps must fall inside, give or take
// the microsecond a store may round to.
type window struct{ from, to time.Time }

func begin() window { return window{from: time.Now()} }

func (w *window) end() { w.to = time.Now() }

func (w window) check(t testing.TB, what string, got time.Time) {
	t.Helper()
	if got.Before(w.from.Add(-time.Microsecond)) || got.After(w.to.Add(time.Microsecond)) {
		t.Errorf("%s = %v, want within [%v, %v]", what, got, w.from, w.to)
	}
}

func checkKey(t testing.TB, what string, k registry.Key) {
	t.Helper()
	if k == 0 || k > registry.MaxKey {
		t.Errorf("%s key = %d, want in [1, 2^53-1]", what, k)
	}
}

func checkErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s error = %v, want %v", what, err, want)
	}
}

func diff(t testing.TB, what string, want, got any) {
	t.Helper()
	if d := gocmp.Diff(want, got, compOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func putComponents(t testing.TB, s registry.Store, comps []registry.Component, expect []int64, actor string) []registry.Component {
	t.Helper()
	got, err := s.PutComponents(context.Background(), comps, expect, actor)
	if err != nil {
		t.Fatalf("PutComponents(%d components, %q): %v", len(comps), actor, err)
	}
	if len(got) != len(comps) {
		t.Fatalf("PutComponents returned %d components, want %d", len(got), len(comps))
	}
	return got
}

func putCells(t testing.TB, s registry.Store, cells []registry.Cell) []registry.Cell {
	t.Helper()
	got, err := s.PutCells(context.Background(), cells, "tester")
	if err != nil {
		t.Fatalf("PutCells(%d cells): %v", len(cells), err)
	}
	if len(got) != len(cells) {
		t.Fatalf("PutCells returned %d cells, want %d", len(got), len(cells))
	}
	return got
}

// allComponents reads every component with ForEachComponent, copying each.
func allComponents(t testing.TB, s registry.Store) []registry.Component {
	t.Helper()
	var out []registry.Component
	if err := s.ForEachComponent(context.Background(), func(c *registry.Component) error {
		out = append(out, *c)
		return nil
	}); err != nil {
		t.Fatalf("ForEachComponent: %v", err)
	}
	return out
}

func allCells(t testing.TB, s registry.Store) []registry.Cell {
	t.Helper()
	var out []registry.Cell
	if err := s.ForEachCell(context.Background(), func(c *registry.Cell) error {
		out = append(out, *c)
		return nil
	}); err != nil {
		t.Fatalf("ForEachCell: %v", err)
	}
	return out
}

func getComponent(t testing.TB, s registry.Store, id registry.ComponentCode) registry.Component {
	t.Helper()
	c, err := s.Component(context.Background(), id)
	if err != nil {
		t.Fatalf("Component(%s): %v", id, err)
	}
	return c
}

func history(t testing.TB, s registry.Store, id registry.ComponentCode) []registry.Change {
	t.Helper()
	h, err := s.History(context.Background(), id)
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return h
}

func units(t testing.TB, s registry.Store) []registry.Unit {
	t.Helper()
	u, err := s.Units(context.Background())
	if err != nil {
		t.Fatalf("Units: %v", err)
	}
	return u
}

func rules(t testing.TB, s registry.Store) []registry.Rule {
	t.Helper()
	r, err := s.Rules(context.Background())
	if err != nil {
		t.Fatalf("Rules: %v", err)
	}
	return r
}

func reopen(t *testing.T, h Harness, s registry.Store) registry.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return h.Open(t)
}

func byKey[T any](xs []T, key func(T) registry.Key) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

func componentKey(c registry.Component) registry.Key { return c.Key }
func cellKey(c registry.Cell) registry.Key           { return c.Key }

// stampedComponents is what a create of comps by actor must return: the input with the
// store's Key, Version 1, Updated and UpdatedBy, after checking Key and Updated.
func stampedComponents(t testing.TB, w window, comps, got []registry.Component, actor string) []registry.Component {
	t.Helper()
	want := slices.Clone(comps)
	keys := map[registry.Key]int{}
	for i := range want {
		checkKey(t, fmt.Sprintf("component %d", i), got[i].Key)
		if j, ok := keys[got[i].Key]; ok {
			t.Errorf("components %d and %d both got key %d", j, i, got[i].Key)
		}
		keys[got[i].Key] = i
		w.check(t, fmt.Sprintf("component %d Updated", i), got[i].Updated)
		want[i].Key, want[i].Version, want[i].Updated, want[i].UpdatedBy = got[i].Key, 1, got[i].Updated, actor
		if want[i].ID.IsZero() {
			want[i].ID = got[i].ID
		}
	}
	return want
}
