// Package storetest is the conformance suite that every registry.Store runs (store/bolt,
// store/postgres). It checks the contract written on registry.Store, plus what the stores
// promise beyond it: keys below 2^53 that survive a restart and are never reused, identifier
// assignment from per district+class serials, history with before- and after-images, that
// a failed or cancelled write leaves nothing behind, and, for stores that implement
// registry.ChangeFeed, that every write appears in the feed with the current record.
//
// A store's test is one line:
//
//	storetest.Run(t, func(t *testing.T) storetest.Harness { … })
//
// Stores may round times to microseconds (PostgreSQL does), but what a Put returns must equal
// what is read back afterwards.
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"citygrid/registry"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/paulmach/orb"
)

// Harness gives the suite a fresh, empty database for one subtest.
type Harness struct {
	// Open opens a store on the harness's database. Every call opens the same database, so
	// the suite can close a store and open it again to check what was persisted. The harness
	// closes every store it opened when t ends; the suite may already have closed it, so Close
	// must be safe to call twice.
	Open func(t *testing.T) registry.Store
}

// Run runs every case of the suite as a subtest of t, calling newHarness once per subtest so
// that each case starts with an empty database.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newHarness(t))
		})
	}
}

var cases = []struct {
	name string
	run  func(*testing.T, Harness)
}{
	{"CellsRoundTrip", testCellsRoundTrip},
	{"ComponentsRoundTrip", testComponentsRoundTrip},
	{"UnitsRoundTrip", testUnitsRoundTrip},
	{"RulesRoundTrip", testRulesRoundTrip},
	{"KeysStableAfterReopen", testKeysStableAfterReopen},
	{"LookupByLegacyID", testLookupByLegacyID},
	{"AssignIDs", testAssignIDs},
	{"DuplicateIDInBatch", testDuplicateIDInBatch},
	{"StaleVersion", testStaleVersion},
	{"UpdateWithVersion", testUpdateWithVersion},
	{"Retire", testRetire},
	{"History", testHistory},
	{"FailedImportLeavesNothing/stale_version", failedImport(spoilStale, registry.ErrVersionConflict)},
	{"FailedImportLeavesNothing/duplicate", failedImport(spoilDuplicate, registry.ErrDuplicate)},
	{"FailedImportLeavesNothing/no_cell_to_assign_an_ID_from", failedImport(spoilNoCell, registry.ErrInvalidInput)},
	{"ReopenYieldsIdenticalRecords", testReopenYieldsIdentical},
	{"PutCellsReplace", testPutCellsReplace},
	{"PutRulesReplace", testPutRulesReplace},
	{"DeleteNotFound", testDeleteNotFound},
	{"CancelledContext", testCancelledContext},
	{"ChangeSeqIncreasing", testChangeSeqIncreasing},
	{"ChangeFeed", testChangeFeed},
}

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

// ---------------------------------------------------------------------------------------
// Cases

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

func testComponentsRoundTrip(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	in := []registry.Component{
		newComponent(cid(chaoyang, classManhole, 12), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classLamp, 3), chaoyang, classLamp, 2),
		newComponent(cid(haidian, classManhole, 1), haidian, classManhole, 3),
	}
	in[1].LegacyID = cid(chaoyang, "0201", 3)
	in[1].LegacyClass = "0201"
	in[1].Status = registry.StatusDamaged
	in[2].CensusDate = time.Time{} // unknown survey date
	in[2].Note = ""
	w := begin()
	got := putComponents(t, s, in, nil, "census 2024")
	w.end()
	want := stampedComponents(t, w, in, got, "census 2024")
	diff(t, "PutComponents", want, got)

	for _, c := range got {
		diff(t, "Component("+c.ID.String()+")", c, getComponent(t, s, c.ID))
	}
	diff(t, "ForEachComponent", byKey(got, componentKey), allComponents(t, s))

	keys := []registry.Key{got[2].Key, got[0].Key, got[1].Key, got[0].Key}
	byKeys, err := s.ComponentsByKey(ctx, keys)
	if err != nil {
		t.Fatalf("ComponentsByKey(%v): %v", keys, err)
	}
	diff(t, "ComponentsByKey", []registry.Component{got[2], got[0], got[1], got[0]}, byKeys)

	// In key order, as the index's queries give them (the bolt store walks its cursor).
	sorted := slices.Clone(got[:3])
	slices.SortFunc(sorted, func(a, b registry.Component) int { return cmp.Compare(a.Key, b.Key) })
	asc := []registry.Key{sorted[0].Key, sorted[1].Key, sorted[1].Key, sorted[2].Key}
	byKeys, err = s.ComponentsByKey(ctx, asc)
	if err != nil {
		t.Fatalf("ComponentsByKey(%v): %v", asc, err)
	}
	diff(t, "ComponentsByKey in key order", []registry.Component{sorted[0], sorted[1], sorted[1], sorted[2]}, byKeys)

	missing := max(got[0].Key, got[1].Key, got[2].Key) + 1000
	_, err = s.ComponentsByKey(ctx, []registry.Key{got[0].Key, missing})
	checkErr(t, "ComponentsByKey(missing key)", err, registry.ErrComponentNotFound)
	_, err = s.ComponentsByKey(ctx, []registry.Key{sorted[0].Key, sorted[1].Key, sorted[2].Key, sorted[2].Key + 1})
	checkErr(t, "ComponentsByKey(missing key after the last)", err, registry.ErrComponentNotFound)
	unknown := cid(chaoyang, classManhole, 999)
	_, err = s.Component(ctx, unknown)
	checkErr(t, "Component(unknown)", err, registry.ErrComponentNotFound)
	_, err = s.History(ctx, unknown)
	checkErr(t, "History(unknown)", err, registry.ErrComponentNotFound)
}

func testUnitsRoundTrip(t *testing.T, h Harness) {
	s := h.Open(t)
	in := []registry.Unit{
		{ID: "unit-water", Name: "朝阳区自来水公司", Type: registry.UnitPublicService, Parent: "cy-centre",
			Supervisor: "cy-szw", Districts: []string{chaoyang}, Phone: "010-6500 0001"},
		{ID: "cy-centre", Name: "朝阳区数字化城管中心", Type: registry.UnitDistrictCentre, Districts: []string{chaoyang, haidian},
			Area: square(116.4, 39.9, 0.2)},
		{ID: "cy-szw", Name: "朝阳区市政市容委", Type: registry.UnitAdminDepartment, Parent: "cy-centre"},
	}
	w := begin()
	got, err := s.PutUnits(context.Background(), in)
	w.end()
	if err != nil {
		t.Fatalf("PutUnits: %v", err)
	}
	want := slices.Clone(in)
	for i := range want {
		w.check(t, "unit Updated", got[i].Updated)
		want[i].Version, want[i].Updated = 1, got[i].Updated
	}
	diff(t, "PutUnits", want, got)
	diff(t, "Units", []registry.Unit{got[1], got[2], got[0]}, units(t, s))

	changed := got[2]
	changed.Phone = "010-6500 0002"
	again, err := s.PutUnits(context.Background(), []registry.Unit{changed})
	if err != nil {
		t.Fatalf("PutUnits(changed): %v", err)
	}
	changed.Version, changed.Updated = 2, again[0].Updated
	diff(t, "PutUnits(changed)", []registry.Unit{changed}, again)
	diff(t, "Units after change", []registry.Unit{got[1], changed, got[0]}, units(t, s))
}

func testRulesRoundTrip(t *testing.T, h Harness) {
	s := h.Open(t)
	in := []registry.Rule{
		{ID: "water-b", Order: 10, Class: "01", Kind: "component", Area: chaoyang, Unit: "unit-water", Reason: "供水设施"},
		{ID: "water-a", Order: 10, Class: classManhole, Kind: "component", Unit: "unit-water", Reason: "上水井盖"},
		{ID: "zz-first", Order: -5, Class: "*", InUnit: true, Unit: "cy-centre", Reason: "兜底"},
		{ID: "lamp", Order: 20, Class: "02*", Area: cellCode(chaoyang, 1).String(), Unit: "unit-lamp"},
	}
	got, err := s.PutRules(context.Background(), in, false)
	if err != nil {
		t.Fatalf("PutRules: %v", err)
	}
	want := slices.Clone(in)
	for i := range want {
		want[i].Version = 1
	}
	diff(t, "PutRules", want, got)
	// Order first, ties by ID.
	diff(t, "Rules", []registry.Rule{want[2], want[1], want[0], want[3]}, rules(t, s))

	upd := want[3]
	upd.Order = 0
	if _, err := s.PutRules(context.Background(), []registry.Rule{upd}, false); err != nil {
		t.Fatalf("PutRules(update): %v", err)
	}
	upd.Version = 2
	diff(t, "Rules after update", []registry.Rule{want[2], upd, want[1], want[0]}, rules(t, s))
}

func testKeysStableAfterReopen(t *testing.T, h Harness) {
	s := h.Open(t)
	cells := putCells(t, s, []registry.Cell{newCell(chaoyang, 1), newCell(chaoyang, 2)})
	var in []registry.Component
	for i := 1; i <= 20; i++ {
		in = append(in, newComponent(cid(chaoyang, classManhole, i), chaoyang, classManhole, i))
	}
	comps := putComponents(t, s, in, nil, "census")

	s = reopen(t, h, s)
	used := map[registry.Key]bool{}
	for _, c := range comps {
		used[c.Key] = true
		if got := getComponent(t, s, c.ID).Key; got != c.Key {
			t.Errorf("after reopen Component(%s).Key = %d, want %d", c.ID, got, c.Key)
		}
	}
	usedCells := map[registry.Key]bool{}
	for _, c := range cells {
		usedCells[c.Key] = true
		back, err := s.Cell(context.Background(), c.Code)
		if err != nil {
			t.Fatalf("Cell(%s): %v", c.Code, err)
		}
		if back.Key != c.Key {
			t.Errorf("after reopen Cell(%s).Key = %d, want %d", c.Code, back.Key, c.Key)
		}
	}

	// New records after the restart get keys never used before.
	more := putComponents(t, s, []registry.Component{
		newComponent(cid(chaoyang, classManhole, 100), chaoyang, classManhole, 100),
		newComponent(registry.ComponentCode{}, chaoyang, classLamp, 101),
	}, nil, "census")
	for _, c := range more {
		checkKey(t, "component "+c.ID.String(), c.Key)
		if used[c.Key] {
			t.Errorf("component %s got key %d, already used before the reopen", c.ID, c.Key)
		}
		used[c.Key] = true
	}
	moreCells := putCells(t, s, []registry.Cell{newCell(chaoyang, 3)})
	if usedCells[moreCells[0].Key] {
		t.Errorf("cell %s got key %d, already used before the reopen", moreCells[0].Code, moreCells[0].Key)
	}
	checkKey(t, "cell", moreCells[0].Key)
}

func testLookupByLegacyID(t *testing.T, h Harness) {
	s := h.Open(t)
	legacy := cid(chaoyang, "0101", 42)
	c := newComponent(cid(chaoyang, classManhole, 42), chaoyang, classManhole, 1)
	c.LegacyID, c.LegacyClass = legacy, "0101"
	got := putComponents(t, s, []registry.Component{c}, nil, "legacy census")[0]

	diff(t, "Component(id)", got, getComponent(t, s, got.ID))
	diff(t, "Component(legacy id)", got, getComponent(t, s, legacy))
	if hist := history(t, s, legacy); len(hist) != 1 || hist[0].Op != registry.OpCreate {
		t.Errorf("History(legacy id) = %d changes, want 1 create", len(hist))
	}

	// Re-importing the legacy census names the component by its legacy ID only: it updates
	// the same record, which keeps its 17-digit ID.
	re := newComponent(legacy, chaoyang, classManhole, 1)
	re.Name = "上水井盖（复查）"
	upd := putComponents(t, s, []registry.Component{re}, nil, "legacy census again")[0]
	want := got
	want.Name, want.Version, want.Updated, want.UpdatedBy = re.Name, 2, upd.Updated, "legacy census again"
	diff(t, "update by legacy id", want, upd)
	diff(t, "Component(id) after update", want, getComponent(t, s, got.ID))
	if n := len(allComponents(t, s)); n != 1 {
		t.Errorf("after update by legacy id: %d components, want 1", n)
	}
}

func testAssignIDs(t *testing.T, h Harness) {
	s := h.Open(t)
	zero := registry.ComponentCode{}
	first := putComponents(t, s, []registry.Component{
		newComponent(cid(chaoyang, classManhole, 7), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classManhole, 3), chaoyang, classManhole, 2),
		newComponent(zero, chaoyang, classManhole, 3),
		newComponent(zero, chaoyang, classManhole, 4),
		newComponent(zero, chaoyang, classLamp, 5),
		newComponent(zero, haidian, classManhole, 6),
		newComponent(zero, chaoyang, classManhole, 7),
		// An explicit ID after the zero ones still counts: assigned serials go above it.
		newComponent(cid(haidian, classLamp, 20), haidian, classLamp, 8),
		newComponent(zero, haidian, classLamp, 9),
	}, nil, "census")
	want := []registry.ComponentCode{
		cid(chaoyang, classManhole, 7),
		cid(chaoyang, classManhole, 3),
		cid(chaoyang, classManhole, 8),
		cid(chaoyang, classManhole, 9),
		cid(chaoyang, classLamp, 1),
		cid(haidian, classManhole, 1),
		cid(chaoyang, classManhole, 10),
		cid(haidian, classLamp, 20),
		cid(haidian, classLamp, 21),
	}
	for i, c := range first {
		if c.ID != want[i] {
			t.Errorf("element %d: ID = %s, want %s", i, c.ID, want[i])
		}
		diff(t, "Component("+c.ID.String()+")", c, getComponent(t, s, c.ID))
	}

	// Serials continue in later calls, after explicit IDs, and across a reopen.
	next := putComponents(t, s, []registry.Component{newComponent(zero, chaoyang, classManhole, 10)}, nil, "edit")
	if w := cid(chaoyang, classManhole, 11); next[0].ID != w {
		t.Errorf("next assigned ID = %s, want %s", next[0].ID, w)
	}
	putComponents(t, s, []registry.Component{newComponent(cid(chaoyang, classManhole, 50), chaoyang, classManhole, 11)}, nil, "edit")
	s = reopen(t, h, s)
	after := putComponents(t, s, []registry.Component{
		newComponent(zero, chaoyang, classManhole, 12),
		newComponent(zero, chaoyang, classLamp, 13),
	}, nil, "edit")
	for i, w := range []registry.ComponentCode{cid(chaoyang, classManhole, 51), cid(chaoyang, classLamp, 2)} {
		if after[i].ID != w {
			t.Errorf("after reopen, element %d: ID = %s, want %s", i, after[i].ID, w)
		}
	}

	// Without a cell or class there is nothing to assign from.
	bad := newComponent(zero, chaoyang, classManhole, 14)
	bad.Cell = ""
	_, err := s.PutComponents(context.Background(), []registry.Component{bad}, nil, "edit")
	checkErr(t, "PutComponents(zero ID, no cell)", err, registry.ErrInvalidInput)
	bad = newComponent(zero, chaoyang, "", 15)
	_, err = s.PutComponents(context.Background(), []registry.Component{bad}, nil, "edit")
	checkErr(t, "PutComponents(zero ID, no class)", err, registry.ErrInvalidInput)
}

func testDuplicateIDInBatch(t *testing.T, h Harness) {
	s := h.Open(t)
	id := cid(chaoyang, classManhole, 5)
	legacy := cid(chaoyang, "0101", 9)
	withLegacy := newComponent(cid(chaoyang, classManhole, 9), chaoyang, classManhole, 3)
	withLegacy.LegacyID = legacy
	tests := []struct {
		name  string
		batch []registry.Component
		dup   registry.ComponentCode
	}{
		{"same ID", []registry.Component{
			newComponent(id, chaoyang, classManhole, 1),
			newComponent(cid(chaoyang, classManhole, 6), chaoyang, classManhole, 2),
			newComponent(id, chaoyang, classManhole, 3),
		}, id},
		{"ID equals another's legacy ID", []registry.Component{
			withLegacy,
			newComponent(legacy, chaoyang, classManhole, 4),
		}, legacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutComponents(context.Background(), tt.batch, nil, "census")
			checkErr(t, "PutComponents", err, registry.ErrDuplicate)
			if !strings.Contains(err.Error(), tt.dup.String()) {
				t.Errorf("PutComponents error %q does not name the duplicate %s", err, tt.dup)
			}
			if got := allComponents(t, s); len(got) != 0 {
				t.Errorf("after a duplicate, %d components stored, want 0", len(got))
			}
			for _, c := range tt.batch {
				_, err := s.Component(context.Background(), c.ID)
				checkErr(t, "Component("+c.ID.String()+")", err, registry.ErrComponentNotFound)
			}
		})
	}
}

func testStaleVersion(t *testing.T, h Harness) {
	s := h.Open(t)
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	putComponents(t, s, []registry.Component{c}, nil, "census")
	c.Name = "second"
	v2 := putComponents(t, s, []registry.Component{c}, []int64{1}, "editor")[0]
	if v2.Version != 2 {
		t.Fatalf("update Version = %d, want 2", v2.Version)
	}

	stale := c
	stale.Name = "stale write"
	other := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	_, err := s.PutComponents(context.Background(), []registry.Component{other, stale}, []int64{0, 1}, "late editor")
	checkErr(t, "PutComponents(stale version)", err, registry.ErrVersionConflict)
	diff(t, "component after a stale write", v2, getComponent(t, s, c.ID))
	if n := len(history(t, s, c.ID)); n != 2 {
		t.Errorf("after a stale write, History has %d changes, want 2", n)
	}
	if _, err := s.Component(context.Background(), other.ID); !errors.Is(err, registry.ErrComponentNotFound) {
		t.Errorf("the batch's other component was stored (err = %v)", err)
	}

	// A create expecting some version conflicts too: there is none.
	_, err = s.PutComponents(context.Background(), []registry.Component{other}, []int64{3}, "editor")
	checkErr(t, "PutComponents(new, expect 3)", err, registry.ErrVersionConflict)
	if n := len(allComponents(t, s)); n != 1 {
		t.Errorf("%d components stored, want 1", n)
	}
}

func testUpdateWithVersion(t *testing.T, h Harness) {
	s := h.Open(t)
	in := []registry.Component{
		newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2),
	}
	v1 := putComponents(t, s, in, nil, "census")

	upd := slices.Clone(in)
	upd[0].Name, upd[0].Status, upd[0].Point = "换新井盖", registry.StatusDamaged, orb.Point{116.46, 39.93}
	upd[1].Maintainer = "unit-other"
	w := begin()
	got := putComponents(t, s, upd, []int64{1, 0}, "editor") // 0: no check
	w.end()
	for i := range upd {
		want := upd[i]
		want.Key, want.Version, want.Updated, want.UpdatedBy = v1[i].Key, 2, got[i].Updated, "editor"
		w.check(t, "Updated", got[i].Updated)
		diff(t, fmt.Sprintf("update %d", i), want, got[i])
		diff(t, "Component after update", got[i], getComponent(t, s, upd[i].ID))
	}
	got = putComponents(t, s, got[:1], []int64{2}, "editor")
	if got[0].Version != 3 || got[0].Key != v1[0].Key {
		t.Errorf("second update: Version %d Key %d, want 3 and %d", got[0].Version, got[0].Key, v1[0].Key)
	}
}

func testRetire(t *testing.T, h Harness) {
	s := h.Open(t)
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	putComponents(t, s, []registry.Component{c}, nil, "census")
	c.Status = registry.StatusRemoved
	retired := putComponents(t, s, []registry.Component{c}, []int64{1}, "inspector")[0]
	if retired.Status != registry.StatusRemoved || retired.Version != 2 {
		t.Errorf("retired: Status %v Version %d, want removed 2", retired.Status, retired.Version)
	}
	diff(t, "Component(retired)", retired, getComponent(t, s, c.ID))
	diff(t, "ForEachComponent", []registry.Component{retired}, allComponents(t, s))

	// Changing a retired component again is a plain update.
	c.Note = "井盖已拆除"
	putComponents(t, s, []registry.Component{c}, nil, "inspector")
	var ops []registry.ChangeOp
	for _, ch := range history(t, s, c.ID) {
		ops = append(ops, ch.Op)
	}
	diff(t, "History ops", []registry.ChangeOp{registry.OpCreate, registry.OpRetire, registry.OpUpdate}, ops)
}

func testHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	neighbour := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	steps := []struct {
		actor  string
		op     registry.ChangeOp
		change func(*registry.Component)
	}{
		{"census 2024", registry.OpCreate, func(*registry.Component) {}},
		{"alice", registry.OpUpdate, func(c *registry.Component) { c.Name = "上水井盖 A" }},
		{"bob", registry.OpUpdate, func(c *registry.Component) {
			c.Status = registry.StatusDamaged
			c.ChangeDate = changeDate.AddDate(0, 1, 0)
		}},
		{"carol", registry.OpRetire, func(c *registry.Component) { c.Status = registry.StatusRemoved }},
	}
	var stored []registry.Component
	var windows []window
	for i, st := range steps {
		st.change(&c)
		w := begin()
		got := putComponents(t, s, []registry.Component{c}, nil, st.actor)[0]
		w.end()
		stored, windows = append(stored, got), append(windows, w)
		if i == 1 { // another component's change in between must not show up
			putComponents(t, s, []registry.Component{neighbour}, nil, "dave")
		}
	}

	hist := history(t, s, c.ID)
	if len(hist) != len(steps) {
		t.Fatalf("History = %d changes, want %d", len(hist), len(steps))
	}
	for i, ch := range hist {
		if ch.Op != steps[i].op || ch.Actor != steps[i].actor || ch.Version != int64(i+1) {
			t.Errorf("change %d: op %s actor %q version %d, want %s %q %d", i, ch.Op, ch.Actor, ch.Version, steps[i].op, steps[i].actor, i+1)
		}
		windows[i].check(t, fmt.Sprintf("change %d Time", i), ch.Time)
		if ch.After == nil {
			t.Fatalf("change %d: After is nil", i)
		}
		diff(t, fmt.Sprintf("change %d After", i), stored[i], *ch.After)
		if i == 0 {
			if ch.Before != nil {
				t.Errorf("create: Before = %+v, want nil", ch.Before)
			}
		} else if ch.Before == nil {
			t.Errorf("change %d: Before is nil", i)
		} else {
			diff(t, fmt.Sprintf("change %d Before", i), stored[i-1], *ch.Before)
		}
		if i > 0 && ch.Seq <= hist[i-1].Seq {
			t.Errorf("change %d: Seq %d not above %d", i, ch.Seq, hist[i-1].Seq)
		}
	}
	if n := len(history(t, s, neighbour.ID)); n != 1 {
		t.Errorf("History(neighbour) = %d changes, want 1", n)
	}
}

// A spoiler breaks element 500 of a 1000-component import; existing is a stored component.
type spoiler func(batch []registry.Component, expect []int64, existing registry.Component)

func spoilStale(b []registry.Component, e []int64, existing registry.Component) {
	b[500], e[500] = existing, 7
}

func spoilDuplicate(b []registry.Component, _ []int64, _ registry.Component) {
	b[500] = newComponent(b[10].ID, chaoyang, classManhole, 500)
}

func spoilNoCell(b []registry.Component, _ []int64, _ registry.Component) {
	b[500].ID, b[500].Cell = registry.ComponentCode{}, ""
}

// failedImport checks that an import of 1000 components (creates with explicit and assigned
// IDs, and an update) that fails on element 500 leaves nothing behind: no record, no history,
// no serial.
func failedImport(spoil spoiler, wantErr error) func(*testing.T, Harness) {
	return func(t *testing.T, h Harness) {
		zero := registry.ComponentCode{}
		s := h.Open(t)
		seed := putComponents(t, s, []registry.Component{
			newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1),
			newComponent(zero, chaoyang, classManhole, 2),
			newComponent(zero, haidian, classLamp, 3),
		}, nil, "seed")
		seed[0] = putComponents(t, s, seed[:1], nil, "seed edit")[0]
		before := allComponents(t, s)
		histBefore := history(t, s, seed[0].ID)

		batch := make([]registry.Component, 1000)
		expect := make([]int64, 1000)
		for i := range batch {
			id := zero
			if i%2 == 0 {
				id = cid(chaoyang, classManhole, 1000+i)
			}
			batch[i] = newComponent(id, chaoyang, classManhole, i)
			if i%3 == 0 {
				batch[i].Class, batch[i].Cell = classLamp, cellCode(haidian, 1)
			}
		}
		batch[20] = seed[1] // an update of a stored component
		batch[20].Name = "changed by the failed import"
		spoil(batch, expect, seed[0])

		_, err := s.PutComponents(context.Background(), batch, expect, "bad import")
		checkErr(t, "PutComponents", err, wantErr)

		diff(t, "components after the failed import", before, allComponents(t, s))
		diff(t, "history after the failed import", histBefore, history(t, s, seed[0].ID))
		if n := len(history(t, s, seed[1].ID)); n != 1 {
			t.Errorf("History(%s) = %d changes, want 1", seed[1].ID, n)
		}
		for _, i := range []int{0, 2, 998} {
			if _, err := s.Component(context.Background(), batch[i].ID); !errors.Is(err, registry.ErrComponentNotFound) {
				t.Errorf("Component(%s) of the failed batch: err = %v, want not found", batch[i].ID, err)
			}
		}
		// Serials did not move: the next assigned IDs follow the seed's.
		next := putComponents(t, s, []registry.Component{
			newComponent(zero, chaoyang, classManhole, 1),
			newComponent(zero, haidian, classLamp, 2),
		}, nil, "after")
		for i, w := range []registry.ComponentCode{cid(chaoyang, classManhole, 3), cid(haidian, classLamp, 2)} {
			if next[i].ID != w {
				t.Errorf("next assigned ID %d = %s, want %s", i, next[i].ID, w)
			}
		}
	}
}

func testReopenYieldsIdentical(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	var cells []registry.Cell
	for i := 1; i <= 30; i++ {
		cells = append(cells, newCell(chaoyang, i))
	}
	putCells(t, s, cells)
	cells[4].Name = "renamed"
	putCells(t, s, cells[4:5])
	var comps []registry.Component
	for i := 0; i < 300; i++ {
		id := registry.ComponentCode{}
		if i%4 != 0 {
			id = cid(chaoyang, classManhole, i+1)
		}
		c := newComponent(id, chaoyang, classManhole, i)
		if i%7 == 0 {
			c.LegacyID, c.LegacyClass = cid(chaoyang, "0101", i+1), "0101"
		}
		comps = append(comps, c)
	}
	comps = putComponents(t, s, comps, nil, "census")
	comps[5].Status = registry.StatusRemoved
	comps[6].Name = "edited"
	putComponents(t, s, comps[5:7], nil, "editor")
	if _, err := s.PutUnits(ctx, []registry.Unit{{ID: "u1", Name: "一", Type: registry.UnitCityCentre, Area: square(116, 39, 1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRules(ctx, []registry.Rule{{ID: "r1", Order: 1, Class: "*", Unit: "u1"}}, true); err != nil {
		t.Fatal(err)
	}

	wantCells, wantComps := allCells(t, s), allComponents(t, s)
	wantUnits, wantRules := units(t, s), rules(t, s)
	wantHist := history(t, s, comps[5].ID)
	if len(wantCells) != 30 || len(wantComps) != 300 {
		t.Fatalf("stored %d cells and %d components, want 30 and 300", len(wantCells), len(wantComps))
	}

	s = reopen(t, h, s)
	diff(t, "ForEachCell after reopen", wantCells, allCells(t, s))
	diff(t, "ForEachComponent after reopen", wantComps, allComponents(t, s))
	diff(t, "Units after reopen", wantUnits, units(t, s))
	diff(t, "Rules after reopen", wantRules, rules(t, s))
	diff(t, "History after reopen", wantHist, history(t, s, comps[5].ID))
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

func testPutRulesReplace(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	in := []registry.Rule{
		{ID: "a", Order: 1, Class: "*", Unit: "u1"},
		{ID: "b", Order: 2, Class: "01", Unit: "u2"},
		{ID: "c", Order: 3, Class: "02", Unit: "u3"},
	}
	if _, err := s.PutRules(ctx, in, false); err != nil {
		t.Fatalf("PutRules: %v", err)
	}
	b2 := registry.Rule{ID: "b", Order: 5, Class: "0101", Unit: "u4", Reason: "moved"}
	d := registry.Rule{ID: "d", Order: 4, Class: "03", Unit: "u5"}
	got, err := s.PutRules(ctx, []registry.Rule{b2, d}, true)
	if err != nil {
		t.Fatalf("PutRules(replace): %v", err)
	}
	b2.Version, d.Version = 2, 1
	diff(t, "PutRules(replace)", []registry.Rule{b2, d}, got)
	diff(t, "Rules after replace", []registry.Rule{d, b2}, rules(t, s))

	e := registry.Rule{ID: "e", Order: 0, Class: "*", Unit: "u6"}
	if _, err := s.PutRules(ctx, []registry.Rule{e}, false); err != nil {
		t.Fatalf("PutRules(add): %v", err)
	}
	e.Version = 1
	diff(t, "Rules after add", []registry.Rule{e, d, b2}, rules(t, s))

	if _, err := s.PutRules(ctx, nil, true); err != nil {
		t.Fatalf("PutRules(nil, replace): %v", err)
	}
	if r := rules(t, s); len(r) != 0 {
		t.Errorf("after replacing with nothing, Rules = %v, want none", r)
	}
}

func testDeleteNotFound(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	checkErr(t, "DeleteUnit(missing)", s.DeleteUnit(ctx, "missing"), registry.ErrUnitNotFound)
	checkErr(t, "DeleteRule(missing)", s.DeleteRule(ctx, "missing"), registry.ErrRuleNotFound)

	us, err := s.PutUnits(ctx, []registry.Unit{{ID: "u1", Name: "一"}, {ID: "u2", Name: "二"}})
	if err != nil {
		t.Fatalf("PutUnits: %v", err)
	}
	rs, err := s.PutRules(ctx, []registry.Rule{{ID: "r1", Unit: "u1"}, {ID: "r2", Order: 1, Unit: "u2"}}, false)
	if err != nil {
		t.Fatalf("PutRules: %v", err)
	}
	if err := s.DeleteUnit(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUnit(u1): %v", err)
	}
	if err := s.DeleteRule(ctx, "r1"); err != nil {
		t.Fatalf("DeleteRule(r1): %v", err)
	}
	diff(t, "Units after delete", us[1:], units(t, s))
	diff(t, "Rules after delete", rs[1:], rules(t, s))
	checkErr(t, "DeleteUnit(u1) again", s.DeleteUnit(ctx, "u1"), registry.ErrUnitNotFound)
	checkErr(t, "DeleteRule(r1) again", s.DeleteRule(ctx, "r1"), registry.ErrRuleNotFound)
}

func testCancelledContext(t *testing.T, h Harness) {
	s := h.Open(t)
	var many []registry.Component
	for i := 0; i < 10_000; i++ {
		many = append(many, newComponent(registry.ComponentCode{}, chaoyang, classManhole, i))
	}
	putComponents(t, s, many, nil, "census")
	putCells(t, s, []registry.Cell{newCell(chaoyang, 1)})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newComponent(cid(haidian, classManhole, 1), haidian, classManhole, 1)
	_, err := s.PutComponents(ctx, []registry.Component{c}, nil, "x")
	checkErr(t, "PutComponents(cancelled)", err, context.Canceled)
	_, err = s.PutCells(ctx, []registry.Cell{newCell(haidian, 1)}, "x")
	checkErr(t, "PutCells(cancelled)", err, context.Canceled)
	_, err = s.PutUnits(ctx, []registry.Unit{{ID: "u"}})
	checkErr(t, "PutUnits(cancelled)", err, context.Canceled)
	_, err = s.PutRules(ctx, []registry.Rule{{ID: "r"}}, false)
	checkErr(t, "PutRules(cancelled)", err, context.Canceled)
	checkErr(t, "DeleteUnit(cancelled)", s.DeleteUnit(ctx, "u"), context.Canceled)
	checkErr(t, "DeleteRule(cancelled)", s.DeleteRule(ctx, "r"), context.Canceled)

	if n := len(allComponents(t, s)); n != len(many) {
		t.Errorf("%d components stored, want %d", n, len(many))
	}
	if n := len(allCells(t, s)); n != 1 {
		t.Errorf("%d cells stored, want 1", n)
	}
	if u := units(t, s); len(u) != 0 {
		t.Errorf("units stored: %v", u)
	}
	if r := rules(t, s); len(r) != 0 {
		t.Errorf("rules stored: %v", r)
	}

	// Cancelling in the middle of a long read stops it.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err = s.ForEachComponent(ctx, func(*registry.Component) error {
		calls++
		cancel()
		return nil
	})
	checkErr(t, "ForEachComponent(cancelled mid-way)", err, context.Canceled)
	if calls >= len(many) {
		t.Errorf("ForEachComponent went on for all %d components after the cancel", calls)
	}
}

func testChangeSeqIncreasing(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	a := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	b := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	steps := []func(){
		func() { putComponents(t, s, []registry.Component{a}, nil, "1") },
		func() { putCells(t, s, []registry.Cell{newCell(chaoyang, 1)}) },
		func() { putComponents(t, s, []registry.Component{b}, nil, "2") },
		func() {
			if _, err := s.PutUnits(ctx, []registry.Unit{{ID: "u"}}); err != nil {
				t.Fatal(err)
			}
		},
		func() { a.Name = "a2"; putComponents(t, s, []registry.Component{a}, nil, "3") },
		func() {
			if _, err := s.PutRules(ctx, []registry.Rule{{ID: "r"}}, false); err != nil {
				t.Fatal(err)
			}
		},
		func() { b.Name = "b2"; a.Name = "a3"; putComponents(t, s, []registry.Component{b, a}, nil, "4") },
		func() {
			if err := s.DeleteUnit(ctx, "u"); err != nil {
				t.Fatal(err)
			}
		},
		func() { a.Status = registry.StatusRemoved; putComponents(t, s, []registry.Component{a}, nil, "5") },
	}
	for _, step := range steps {
		step()
	}
	s = reopen(t, h, s)
	ha, hb := history(t, s, a.ID), history(t, s, b.ID)
	if len(ha) != 4 || len(hb) != 2 {
		t.Fatalf("History lengths = %d and %d, want 4 and 2", len(ha), len(hb))
	}
	// In write order: a create, b create, a update, {b and a in one call}, a retire.
	groups := [][]registry.Change{{ha[0]}, {hb[0]}, {ha[1]}, {hb[1], ha[2]}, {ha[3]}}
	for i := 1; i < len(groups); i++ {
		for _, prev := range groups[i-1] {
			for _, ch := range groups[i] {
				if ch.Seq <= prev.Seq {
					t.Errorf("%s by %q: Seq %d, want above %d (%s by %q)", ch.Op, ch.Actor, ch.Seq, prev.Seq, prev.Op, prev.Actor)
				}
			}
		}
	}
	if hb[1].Seq == ha[2].Seq {
		t.Errorf("two components changed in one call share Seq %d", ha[2].Seq)
	}
	order := []registry.Change{ha[3]}
	// A write after the reopen continues the sequence.
	a.Status = registry.StatusIntact
	putComponents(t, s, []registry.Component{a}, nil, "6")
	ha = history(t, s, a.ID)
	if last, prev := ha[len(ha)-1].Seq, order[len(order)-1].Seq; last <= prev {
		t.Errorf("Seq after reopen = %d, want above %d", last, prev)
	}
}

// feedChange is what the suite expects of one feed entry.
type feedChange struct {
	Kind registry.FeedKind
	ID   string
	Op   registry.ChangeOp
}

func sortFeedChanges(cs []feedChange) []feedChange {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b feedChange) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Op, b.Op))
	})
	return out
}

// testChangeFeed runs only for stores that implement registry.ChangeFeed: every write appears
// in the feed, in write order with strictly increasing seqs, with its kind, id and op, the time
// of the write, and the record as it is stored now (nil once a unit or rule is deleted).
// Within one write call the order of entries is the store's business.
func testChangeFeed(t *testing.T, h Harness) {
	s := h.Open(t)
	feed, ok := s.(registry.ChangeFeed)
	if !ok {
		t.Skipf("%T does not implement registry.ChangeFeed", s)
	}
	ctx := context.Background()
	if seq, err := feed.LastSeq(ctx); err != nil || seq != 0 {
		t.Fatalf("LastSeq of an empty store = %d, %v; want 0, nil", seq, err)
	}
	if got, err := feed.Changes(ctx, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes(0, 10) of an empty store = %v, %v; want none", got, err)
	}

	cell1, cell2 := newCell(chaoyang, 1), newCell(chaoyang, 2)
	a := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	b := newComponent(registry.ComponentCode{}, chaoyang, classLamp, 2) // ID assigned by the store
	u1 := registry.Unit{ID: "u1", Name: "一", Type: registry.UnitPublicService}
	u2 := registry.Unit{ID: "u2", Name: "二", Type: registry.UnitAdminDepartment}
	r1 := registry.Rule{ID: "r1", Order: 1, Class: "*", Unit: "u1"}
	r2 := registry.Rule{ID: "r2", Order: 2, Class: "01", Unit: "u2"}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	cellID := func(c registry.Cell) string { return string(c.Code) }

	type step struct {
		name string
		do   func() []feedChange
	}
	steps := []step{
		{"create cells", func() []feedChange {
			putCells(t, s, []registry.Cell{cell1, cell2})
			return []feedChange{{registry.FeedCell, cellID(cell1), registry.OpCreate}, {registry.FeedCell, cellID(cell2), registry.OpCreate}}
		}},
		{"create components", func() []feedChange {
			got := putComponents(t, s, []registry.Component{a, b}, nil, "census")
			b.ID = got[1].ID
			return []feedChange{{registry.FeedComponent, a.ID.String(), registry.OpCreate}, {registry.FeedComponent, b.ID.String(), registry.OpCreate}}
		}},
		{"create units", func() []feedChange {
			_, err := s.PutUnits(ctx, []registry.Unit{u1, u2})
			must("PutUnits", err)
			return []feedChange{{registry.FeedUnit, "u1", registry.OpCreate}, {registry.FeedUnit, "u2", registry.OpCreate}}
		}},
		{"create rules", func() []feedChange {
			_, err := s.PutRules(ctx, []registry.Rule{r1, r2}, false)
			must("PutRules", err)
			return []feedChange{{registry.FeedRule, "r1", registry.OpCreate}, {registry.FeedRule, "r2", registry.OpCreate}}
		}},
		{"replace a cell", func() []feedChange {
			cell1.Name = "重划后的网格"
			putCells(t, s, []registry.Cell{cell1})
			return []feedChange{{registry.FeedCell, cellID(cell1), registry.OpUpdate}}
		}},
		{"update a component", func() []feedChange {
			a.Name = "井盖（更新）"
			putComponents(t, s, []registry.Component{a}, nil, "surveyor")
			return []feedChange{{registry.FeedComponent, a.ID.String(), registry.OpUpdate}}
		}},
		{"retire one, update another", func() []feedChange {
			b.Status = registry.StatusRemoved
			a.Point = orb.Point{a.Point[0] + 1e-5, a.Point[1]}
			putComponents(t, s, []registry.Component{b, a}, nil, "surveyor")
			return []feedChange{{registry.FeedComponent, b.ID.String(), registry.OpRetire}, {registry.FeedComponent, a.ID.String(), registry.OpUpdate}}
		}},
		{"replace the rules", func() []feedChange {
			r2.Reason = "moved"
			_, err := s.PutRules(ctx, []registry.Rule{r2}, true)
			must("PutRules(replace)", err)
			return []feedChange{{registry.FeedRule, "r1", registry.OpDelete}, {registry.FeedRule, "r2", registry.OpUpdate}}
		}},
		{"delete a unit", func() []feedChange {
			must("DeleteUnit", s.DeleteUnit(ctx, "u1"))
			return []feedChange{{registry.FeedUnit, "u1", registry.OpDelete}}
		}},
		{"delete a rule", func() []feedChange {
			must("DeleteRule", s.DeleteRule(ctx, "r2"))
			return []feedChange{{registry.FeedRule, "r2", registry.OpDelete}}
		}},
		{"update a unit", func() []feedChange {
			u2.Phone = "010-6500 0002"
			_, err := s.PutUnits(ctx, []registry.Unit{u2})
			must("PutUnits(update)", err)
			return []feedChange{{registry.FeedUnit, "u2", registry.OpUpdate}}
		}},
		{"a failed write", func() []feedChange {
			_, err := s.PutComponents(ctx, []registry.Component{a}, []int64{1}, "stale")
			checkErr(t, "PutComponents(stale version)", err, registry.ErrVersionConflict)
			return nil
		}},
	}
	var wants [][]feedChange
	var windows []window
	for _, st := range steps {
		w := begin()
		wants = append(wants, st.do())
		w.end()
		windows = append(windows, w)
	}

	total := 0
	for _, w := range wants {
		total += len(w)
	}
	all, err := feed.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatalf("Changes(0, 1000): %v", err)
	}
	if len(all) != total {
		t.Fatalf("Changes(0, 1000) returned %d entries, want %d: %+v", len(all), total, all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("entry %d Seq = %d, want above %d (entry %d)", i, all[i].Seq, all[i-1].Seq, i-1)
		}
	}
	if all[0].Seq == 0 {
		t.Errorf("entry 0 Seq = 0, want above 0")
	}
	at := 0
	for i, st := range steps {
		part := all[at : at+len(wants[i])]
		at += len(wants[i])
		got := make([]feedChange, len(part))
		for j, e := range part {
			got[j] = feedChange{e.Kind, e.ID, e.Op}
			windows[i].check(t, fmt.Sprintf("%s: entry %d Time", st.name, e.Seq), e.Time)
		}
		diff(t, st.name+": entries", sortFeedChanges(wants[i]), sortFeedChanges(got))
	}

	// Every entry carries the record as it is stored now, not as it was written.
	curUnits, curRules := units(t, s), rules(t, s)
	for _, e := range all {
		what := fmt.Sprintf("entry %d (%s %s %s)", e.Seq, e.Op, e.Kind, e.ID)
		set := 0
		for _, p := range []bool{e.Cell != nil, e.Component != nil, e.Unit != nil, e.Rule != nil} {
			if p {
				set++
			}
		}
		switch e.Kind {
		case registry.FeedCell:
			cur, err := s.Cell(ctx, registry.GridCode(e.ID))
			if err != nil {
				t.Fatalf("Cell(%s): %v", e.ID, err)
			}
			if e.Cell == nil {
				t.Errorf("%s: Cell = nil, want the stored cell", what)
			} else {
				diff(t, what+" Cell", cur, *e.Cell)
			}
		case registry.FeedComponent:
			id, err := registry.ParseComponentCode(e.ID)
			if err != nil {
				t.Fatalf("%s: ID: %v", what, err)
			}
			cur := getComponent(t, s, id)
			if e.Component == nil {
				t.Errorf("%s: Component = nil, want the stored component", what)
			} else {
				diff(t, what+" Component", cur, *e.Component)
			}
		case registry.FeedUnit:
			i := slices.IndexFunc(curUnits, func(u registry.Unit) bool { return u.ID == e.ID })
			switch {
			case i < 0 && e.Unit != nil:
				t.Errorf("%s: Unit = %+v, want nil (deleted)", what, *e.Unit)
			case i >= 0 && e.Unit == nil:
				t.Errorf("%s: Unit = nil, want the stored unit", what)
			case i >= 0:
				diff(t, what+" Unit", curUnits[i], *e.Unit)
			}
		case registry.FeedRule:
			i := slices.IndexFunc(curRules, func(r registry.Rule) bool { return r.ID == e.ID })
			switch {
			case i < 0 && e.Rule != nil:
				t.Errorf("%s: Rule = %+v, want nil (deleted)", what, *e.Rule)
			case i >= 0 && e.Rule == nil:
				t.Errorf("%s: Rule = nil, want the stored rule", what)
			case i >= 0:
				diff(t, what+" Rule", curRules[i], *e.Rule)
			}
		default:
			t.Errorf("%s: unknown kind", what)
		}
		if set > 1 {
			t.Errorf("%s: %d records set, want at most one", what, set)
		}
	}

	last, err := feed.LastSeq(ctx)
	if err != nil || last != all[len(all)-1].Seq {
		t.Errorf("LastSeq = %d, %v; want %d, the last entry's", last, err, all[len(all)-1].Seq)
	}
	if got, err := feed.Changes(ctx, last, 10); err != nil || len(got) != 0 {
		t.Errorf("Changes(LastSeq, 10) = %+v, %v; want none", got, err)
	}
	if got, err := feed.Changes(ctx, 0, 0); err != nil || len(got) != 0 {
		t.Errorf("Changes(0, 0) = %+v, %v; want none", got, err)
	}
	// Pages of any size, from any since, are slices of the whole.
	for _, limit := range []int{1, 2, 5} {
		var paged []registry.FeedEntry
		since := uint64(0)
		for n := 0; n <= len(all); n++ {
			page, err := feed.Changes(ctx, since, limit)
			if err != nil {
				t.Fatalf("Changes(%d, %d): %v", since, limit, err)
			}
			if len(page) > limit {
				t.Fatalf("Changes(%d, %d) returned %d entries", since, limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			since = page[len(page)-1].Seq
		}
		diff(t, fmt.Sprintf("paged by %d", limit), all, paged)
	}
	mid := all[len(all)/2].Seq
	tail, err := feed.Changes(ctx, mid, 1000)
	if err != nil {
		t.Fatalf("Changes(%d, 1000): %v", mid, err)
	}
	diff(t, fmt.Sprintf("Changes(%d, 1000)", mid), all[len(all)/2+1:], tail)
	// The feed is persistent.
	s = reopen(t, h, s)
	feed = s.(registry.ChangeFeed)
	again, err := feed.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatalf("Changes after reopen: %v", err)
	}
	diff(t, "Changes after reopen", all, again)
}
