package registry_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
)

// testEnv is the real write path: a temp bolt store, the spatial index and the service.
type testEnv struct {
	store *bolt.Store
	idx   *spatial.Index
	svc   *registry.Service
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	idx := spatial.New(spatial.Options{})
	if err := idx.Load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return &testEnv{store: st, idx: idx, svc: registry.NewService(st, idx, registry.DefaultCatalog(), nil)}
}

// square returns an NDJSON cell feature: a 0.001° square with its south-west corner at (lon, lat).
func square(code string, lon, lat float64) string {
	const d = 0.001
	return fmt.Sprintf(`{"type":"Feature","properties":{"code":%q,"name":"cell %s"},"geometry":{"type":"Polygon","coordinates":[[[%v,%v],[%v,%v],[%v,%v],[%v,%v],[%v,%v]]]}}`,
		code, code, lon, lat, lon+d, lat, lon+d, lat+d, lon, lat+d, lon, lat)
}

// twoCells is a 2x1 grid in 渝中区 解放碑街道, community 001.
var twoCells = square("500103003001001", 106.570, 29.550) + "\n" + square("500103003001002", 106.571, 29.550) + "\n"

func (e *testEnv) importCells(t *testing.T, ndjson string, mode registry.Mode) (registry.Report, error) {
	t.Helper()
	return e.svc.Import(context.Background(), registry.CensusCells, strings.NewReader(ndjson), registry.ImportOptions{Mode: mode, Format: registry.FormatNDJSON, Actor: "surveyor-1"})
}

func (e *testEnv) importCSV(t *testing.T, csv string, mode registry.Mode) (registry.Report, error) {
	t.Helper()
	return e.svc.Import(context.Background(), registry.CensusComponents, strings.NewReader(csv), registry.ImportOptions{Mode: mode, Format: registry.FormatCSV, Actor: "surveyor-1"})
}

func (e *testEnv) count(t *testing.T) (cells, comps int) {
	t.Helper()
	ctx := context.Background()
	if err := e.store.ForEachCell(ctx, func(*registry.Cell) error { cells++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ForEachComponent(ctx, func(*registry.Component) error { comps++; return nil }); err != nil {
		t.Fatal(err)
	}
	return cells, comps
}

func problemCodes(rep registry.Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, fmt.Sprintf("%d:%s", p.Index, p.Code))
	}
	return out
}

const csvHeader = "id,class,name,status,maintainer,lon,lat\n"

func TestImportStrictAndPartial(t *testing.T) {
	e := newTestEnv(t)
	rep, err := e.importCells(t, twoCells, registry.ModeStrict)
	if err != nil || rep.Created != 2 || !rep.Stored {
		t.Fatalf("ImportCells = %+v, %v; want 2 created", rep, err)
	}
	good := csvHeader +
		"50010301037000001,01037,路灯 1,intact,lamps,106.5705,29.5505\n" +
		",01001,,damaged,water,106.5715,29.5505\n"
	bad := ",99999,,intact,,106.5701,29.5501\n" + // unknown class
		"50010301037000003,01037,,intact,,106.60,29.60\n" + // outside every cell
		"50010401037000004,01037,,intact,,106.5702,29.5502\n" + // district 500104, cell in 500103
		"50010301037000001,01037,,intact,,106.5703,29.5503\n" // duplicate of row 0

	rep, err = e.importCSV(t, good+bad, registry.ModeStrict)
	if !errors.Is(err, registry.ErrImportRejected) {
		t.Fatalf("strict import with bad rows: err = %v, want ErrImportRejected", err)
	}
	want := []string{"2:unknown_class", "3:outside_grid", "4:district_mismatch", "5:duplicate_id"}
	if got := problemCodes(rep); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("strict problems = %v, want %v", got, want)
	}
	if rep.Stored || rep.Total != 6 || rep.Rejected != 4 || rep.Valid != 2 {
		t.Errorf("strict report = %+v, want nothing stored, 6 read, 4 rejected", rep)
	}
	if _, comps := e.count(t); comps != 0 {
		t.Fatalf("strict rejected import stored %d components, want 0", comps)
	}
	if s := e.idx.Stats(); s.Components != 0 {
		t.Fatalf("index holds %d components after a rejected import, want 0", s.Components)
	}

	rep, err = e.importCSV(t, good+bad, registry.ModePartial)
	if err != nil || !rep.Stored || rep.Created != 2 || rep.Rejected != 4 {
		t.Fatalf("partial import = %+v, %v; want 2 created, 4 rejected", rep, err)
	}
	if _, comps := e.count(t); comps != 2 {
		t.Fatalf("partial import stored %d components, want 2", comps)
	}
	// The second good row had no id: district of its cell + class + next free serial.
	c, err := e.store.Component(context.Background(), registry.MustParseComponentCode("50010301001000001"))
	if err != nil {
		t.Fatalf("assigned identifier not found: %v", err)
	}
	if c.Cell != "500103003001002" || c.Status != registry.StatusDamaged {
		t.Errorf("assigned component = cell %s status %s, want cell 500103003001002 damaged", c.Cell, c.Status)
	}
	hits, err := e.idx.Nearest(orb.Point{106.5705, 29.5505}, spatial.Filter{Classes: []string{"01037"}}, 1, 100)
	if err != nil || len(hits) != 1 || hits[0].ID.String() != "50010301037000001" {
		t.Errorf("index Nearest after import = %v, %v; want the imported lamp", hits, err)
	}
}

func TestImportLegacyComponent(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	// 0101 上水井盖 maps to 01001 供水井盖; 0602 工地 has no 2026 counterpart.
	rep, err := e.importCSV(t, csvHeader+
		"5001030101000007,0101,,intact,,106.5705,29.5505\n"+
		"5001030602000001,0602,,intact,,106.5706,29.5506\n", registry.ModePartial)
	if err != nil {
		t.Fatal(err)
	}
	if got := problemCodes(rep); len(got) != 1 || got[0] != "1:unmapped_class" {
		t.Errorf("problems = %v, want [1:unmapped_class]", got)
	}
	for _, id := range []string{"50010301001000007", "5001030101000007"} {
		c, err := e.store.Component(context.Background(), registry.MustParseComponentCode(id))
		if err != nil {
			t.Fatalf("Component(%s): %v", id, err)
		}
		if c.ID.String() != "50010301001000007" || c.LegacyID.String() != "5001030101000007" || c.Class != "01001" || c.LegacyClass != "0101" {
			t.Errorf("Component(%s) = id %s legacy %s class %s/%s; want the 2026 form with the legacy one kept", id, c.ID, c.LegacyID, c.Class, c.LegacyClass)
		}
	}
}

func TestImportOverlappingCells(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	// Shifted half a cell east: overlaps both stored cells.
	rep, err := e.importCells(t, square("500103003001003", 106.5705, 29.5505), "")
	if !errors.Is(err, registry.ErrImportRejected) || len(rep.Problems) == 0 {
		t.Fatalf("overlapping import = %+v, %v; want rejected", rep, err)
	}
	p := rep.Problems[0]
	if p.Code != "overlapping_cells" || !strings.Contains(p.Message, "500103003001003") || !strings.Contains(p.Message, "50010300300100") {
		t.Errorf("problem = %+v, want overlapping_cells naming the pair", p)
	}
	if cells, _ := e.count(t); cells != 2 {
		t.Errorf("store holds %d cells, want 2", cells)
	}
	// Replacing a stored cell with itself is not an overlap, and changes nothing.
	rep, err = e.importCells(t, square("500103003001001", 106.570, 29.550), "")
	if err != nil || rep.Updated != 0 || rep.Unchanged != 1 || rep.Stored {
		t.Errorf("re-import of a stored cell = %+v, %v; want 1 unchanged, nothing stored", rep, err)
	}
}

func TestEditHistoryAndConflicts(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.importCSV(t, csvHeader+"50010301037000001,01037,路灯,intact,lamps,106.5705,29.5505\n", ""); err != nil {
		t.Fatal(err)
	}
	id := registry.MustParseComponentCode("50010301037000001")

	patch := &registry.Feature{Index: -1, Props: map[string]string{"status": "破损", "note": "灯罩破裂"}}
	c, err := e.svc.UpdateComponent(ctx, id, patch, 1, "surveyor-2")
	if err != nil || c.Version != 2 || c.Status != registry.StatusDamaged || c.Note != "灯罩破裂" || c.Name != "路灯" {
		t.Fatalf("UpdateComponent = %+v, %v; want version 2, damaged, note set, name kept", c, err)
	}
	if _, err := e.svc.UpdateComponent(ctx, id, patch, 1, "surveyor-3"); !errors.Is(err, registry.ErrVersionConflict) {
		t.Fatalf("stale update err = %v, want ErrVersionConflict", err)
	}
	// Move it into the neighbouring cell: the cell is recomputed.
	move := &registry.Feature{Index: -1, Geometry: orb.Point{106.5715, 29.5505}, Props: map[string]string{}}
	c, err = e.svc.UpdateComponent(ctx, id, move, 2, "surveyor-2")
	if err != nil || c.Cell != "500103003001002" {
		t.Fatalf("move = cell %s, %v; want 500103003001002", c.Cell, err)
	}
	if _, err := e.svc.UpdateComponent(ctx, id, &registry.Feature{Props: map[string]string{"class": "01001"}}, 3, "x"); registry.ErrorCode(err) != "class_immutable" {
		t.Errorf("class change err = %v, want class_immutable", err)
	}
	if _, err := e.svc.UpdateComponent(ctx, id, &registry.Feature{Geometry: orb.Point{107, 30}, Props: map[string]string{}}, 3, "x"); registry.ErrorCode(err) != "outside_grid" {
		t.Errorf("move outside err = %v, want outside_grid", err)
	}
	c, err = e.svc.RetireComponent(ctx, id, 3, "surveyor-2", "道路改造拆除")
	if err != nil || c.Status != registry.StatusRemoved || c.Version != 4 {
		t.Fatalf("RetireComponent = %+v, %v; want removed, version 4", c, err)
	}
	hist, err := e.store.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, h := range hist {
		ops = append(ops, fmt.Sprintf("%s/%d/%s", h.Op, h.Version, h.Actor))
	}
	want := "create/1/surveyor-1 update/2/surveyor-2 update/3/surveyor-2 retire/4/surveyor-2"
	if strings.Join(ops, " ") != want {
		t.Errorf("history = %v, want %s", ops, want)
	}
	if len(hist) == 4 && (hist[1].Before.Status != registry.StatusIntact || hist[1].After.Status != registry.StatusDamaged) {
		t.Errorf("history[1] before/after status = %v/%v, want intact/damaged", hist[1].Before.Status, hist[1].After.Status)
	}
	// A retired component stays readable but no longer answers Nearest.
	hits, err := e.idx.Nearest(orb.Point{106.5715, 29.5505}, spatial.Filter{Classes: []string{"01037"}}, 1, 100)
	if err != nil || len(hits) != 0 {
		t.Errorf("Nearest after retire = %v, %v; want none", hits, err)
	}
}

func TestUnitsAndRules(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	units := `{"units":[
	 {"id":"city","name":"重庆市数字化城市管理中心","type":"city_centre"},
	 {"id":"yz","name":"渝中区数字化城市管理中心","type":"district_centre","parent":"city","districts":["500103"]},
	 {"id":"cgj","name":"渝中区城市管理局","type":"admin_department","parent":"yz"},
	 {"id":"lamps","name":"路灯管理所","type":"public_service_unit","parent":"yz","supervisor":"nobody"}]}`
	rep, err := e.svc.Import(ctx, registry.CensusUnits, strings.NewReader(units), registry.ImportOptions{})
	if !errors.Is(err, registry.ErrImportRejected) || len(rep.Problems) != 1 || rep.Problems[0].Code != "unknown_unit" {
		t.Fatalf("units with a dangling supervisor = %+v, %v; want rejected with unknown_unit", rep, err)
	}
	units = strings.Replace(units, `"nobody"`, `"cgj"`, 1)
	if rep, err = e.svc.Import(ctx, registry.CensusUnits, strings.NewReader(units), registry.ImportOptions{}); err != nil || rep.Kind != "units" || rep.Created != 4 {
		t.Fatalf("Import(units) = %+v, %v; want 4 created", rep, err)
	}
	rules := `{"rules":[{"id":"r1","order":1,"class":"01","area":"500103003","unit":"lamps","reason":"解放碑 utilities"}]}`
	if rep, err := e.svc.Import(ctx, registry.CensusRules, strings.NewReader(rules), registry.ImportOptions{}); err != nil || rep.Kind != "rules" || rep.Created != 1 {
		t.Fatalf("Import(rules) = %+v, %v; want 1 rule created", rep, err)
	}
	res, err := e.idx.Resolve(orb.Point{106.5705, 29.5505}, "01037")
	if err != nil || res.Kind != "rule" || res.RuleID != "r1" || res.Unit.ID != "lamps" {
		t.Fatalf("Resolve = %+v, %v; want rule r1 → lamps", res, err)
	}
	res, err = e.idx.Resolve(orb.Point{106.5705, 29.5505}, "06010")
	if err != nil || res.Kind != "district_centre" || res.Unit.ID != "yz" {
		t.Fatalf("Resolve(event) = %+v, %v; want the district centre", res, err)
	}
	if err := e.svc.DeleteUnit(ctx, "lamps", registry.AnyVersion, "tester"); registry.ErrorCode(err) != "unit_in_use" {
		t.Errorf("DeleteUnit(lamps) = %v, want unit_in_use", err)
	}
	// An empty rules document removes nothing, in any mode; replace with another rule does.
	for _, mode := range []registry.Mode{registry.ModeStrict, registry.ModePartial, registry.ModeReplace} {
		rep, err := e.svc.Import(ctx, registry.CensusRules, strings.NewReader(`{"rules":[]}`), registry.ImportOptions{Mode: mode})
		if !errors.Is(err, registry.ErrEmptyCensus) || rep.Stored || rep.Total != 0 {
			t.Errorf("Import(empty rules, %s) = %+v, %v; want rejected with empty_census", mode, rep, err)
		}
		if n := len(e.idx.Rules()); n != 1 {
			t.Errorf("rules after importing an empty set (%s) = %d, want 1", mode, n)
		}
	}
	rep, err = e.svc.Import(ctx, registry.CensusRules, strings.NewReader(`[{"id":"r2","class":"02","unit":"cgj"}]`), registry.ImportOptions{Mode: registry.ModeReplace})
	if err != nil || rep.Created != 1 || rep.Deleted != 1 {
		t.Errorf("Import(replace with r2) = %+v, %v; want 1 created, 1 deleted", rep, err)
	}
	if rs := e.idx.Rules(); len(rs) != 1 || rs[0].ID != "r2" {
		t.Errorf("rules after replace = %+v, want only r2", rs)
	}
	if err := e.svc.DeleteUnit(ctx, "lamps", registry.AnyVersion, "tester"); err != nil {
		t.Errorf("DeleteUnit(lamps) after its rule went = %v", err)
	}
}

// TestCellReplacementKeepsComponents: a cell replacement that would leave a component located
// in the cell (retired ones included) outside its new geometry is refused, by PutCell and by
// ImportCells; one that keeps them all inside is stored.
func TestCellReplacementKeepsComponents(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.importCSV(t, csvHeader+"50010301037000001,01037,路灯,intact,lamps,106.5708,29.5508\n", ""); err != nil {
		t.Fatal(err)
	}
	id := registry.MustParseComponentCode("50010301037000001")
	// Retired components still name their cell: they are refused too.
	if _, err := e.svc.RetireComponent(ctx, id, 1, "surveyor-1", ""); err != nil {
		t.Fatal(err)
	}
	const code = "500103003001001"
	shrunk := square(code, 106.570, 29.550) // 0.001° square; the lamp is at (+0.0008, +0.0008)
	shrunk = strings.Replace(shrunk, "106.571,", "106.5705,", -1)
	shrunk = strings.Replace(shrunk, "29.551]", "29.5505]", -1)
	f := feature(t, shrunk)
	if _, err := e.svc.PutCell(ctx, f, 0, "gis"); registry.ErrorCode(err) != "components_outside_cell" ||
		!strings.Contains(err.Error(), id.String()) || !strings.Contains(err.Error(), "[106.5708,29.5508]") {
		t.Errorf("PutCell shrinking away from the lamp = %v, want components_outside_cell naming %s at its point", err, id)
	}
	rep, err := e.importCells(t, shrunk+"\n"+square("500103003001009", 106.580, 29.550)+"\n", registry.ModePartial)
	if err != nil || rep.Created != 1 || rep.Updated != 0 || len(rep.Problems) != 1 ||
		rep.Problems[0].Code != "components_outside_cell" || rep.Problems[0].Index != 0 {
		t.Errorf("ImportCells partial = %+v, %v; want feature 0 refused with components_outside_cell, the other created", rep, err)
	}
	if c, _ := e.idx.Cell(code); c == nil || c.Version != 1 {
		t.Errorf("cell %s = %+v, want it untouched at version 1", code, c)
	}
	if got, err := e.idx.CellAt(orb.Point{106.5708, 29.5508}); err != nil || got.Code != code {
		t.Errorf("CellAt(lamp) = %v, %v; want %s", got, err, code)
	}
	// Shrinking from the west keeps the lamp inside: stored.
	kept := strings.Replace(square(code, 106.570, 29.550), "[106.57,", "[106.5705,", -1)
	if c, err := e.svc.PutCell(ctx, feature(t, kept), 0, "gis"); err != nil || c.Version != 2 {
		t.Errorf("PutCell keeping the lamp inside = %+v, %v; want version 2", c, err)
	}
	// The neighbour holds no component: it may change freely.
	if rep, err := e.importCells(t, square("500103003001002", 106.571, 29.5502)+"\n", ""); err != nil || rep.Updated != 1 {
		t.Errorf("ImportCells moving the empty neighbour = %+v, %v; want 1 updated", rep, err)
	}
}

// feature reads one NDJSON feature line.
func feature(t *testing.T, line string) *registry.Feature {
	t.Helper()
	var out *registry.Feature
	err := registry.ReadFeatures(strings.NewReader(line), registry.FormatNDJSON, func(f *registry.Feature) error {
		cp := *f
		out = &cp
		return nil
	})
	if err != nil || out == nil || out.Err != nil {
		t.Fatalf("ReadFeatures(%s) = %v, %v", line, out, err)
	}
	return out
}

// TestImportUnitsReferences: in partial mode an entry may only refer to stored units and to
// entries that are stored with it: refusing one entry refuses those that lean on it, however
// deep. Parent cycles and supervisors are checked against the stored units too.
func TestImportUnitsReferences(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	imp := func(doc string, mode registry.Mode) (registry.Report, error) {
		return e.svc.Import(ctx, registry.CensusUnits, strings.NewReader(doc), registry.ImportOptions{Mode: mode})
	}
	if _, err := imp(`[{"id":"city","name":"市中心","type":"city_centre"},
	  {"id":"cgj","name":"城管局","type":"admin_department","parent":"city"},
	  {"id":"lamps","name":"路灯所","type":"public_service_unit","parent":"city","supervisor":"cgj"}]`, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := imp(`[{"id":"a","name":"甲","type":"public_service_unit","parent":"city"},
	  {"id":"b","name":"乙","type":"ministry","parent":"city"},
	  {"id":"c","name":"丙","type":"public_service_unit","parent":"b"},
	  {"id":"d","name":"丁","type":"public_service_unit","parent":"c"},
	  {"id":"city","name":"市中心","type":"city_centre","parent":"lamps"},
	  {"id":"e","name":"戊","type":"public_service_unit","supervisor":"lamps"},
	  {"id":"cgj","name":"城管局","type":"district_centre","parent":"city"}]`, registry.ModePartial)
	want := "1:invalid_unit_type 2:unknown_unit 3:unknown_unit 4:parent_cycle 5:invalid_supervisor 6:invalid_supervisor"
	if err != nil || strings.Join(problemCodes(rep), " ") != want || rep.Created != 1 || rep.Updated != 0 {
		t.Fatalf("partial import = %v %+v, %v; want problems %s and only a created", problemCodes(rep), rep, err, want)
	}
	units, err := e.store.Units(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range units {
		got = append(got, fmt.Sprintf("%s/%s/%s", u.ID, u.Type, u.Parent))
	}
	if w := "a/public_service_unit/city cgj/admin_department/city city/city_centre/ lamps/public_service_unit/city"; strings.Join(got, " ") != w {
		t.Errorf("stored units = %v, want %s", got, w)
	}
}

// TestPutUnitChecks: PutUnit checks the parent chain and the supervisor against the stored
// units, and a version > 0 against the stored unit's; so does PutRule.
func TestPutUnitChecks(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	put := func(u registry.Unit, v int64) error {
		_, err := e.svc.PutUnit(ctx, u, v, "tester")
		return err
	}
	p1 := registry.Unit{ID: "p1", Name: "一", Type: registry.UnitPublicService}
	p2 := registry.Unit{ID: "p2", Name: "二", Type: registry.UnitPublicService, Parent: "p1"}
	adm := registry.Unit{ID: "adm", Name: "局", Type: registry.UnitAdminDepartment}
	sup := registry.Unit{ID: "sup", Name: "所", Type: registry.UnitPublicService, Supervisor: "adm"}
	for _, u := range []registry.Unit{p1, p2, adm, sup} {
		if err := put(u, registry.NoVersion); err != nil {
			t.Fatalf("PutUnit(%s): %v", u.ID, err)
		}
	}
	cyc := p1
	cyc.Parent = "p2"
	self := p1
	self.Parent = "p1"
	badSup := p2
	badSup.Supervisor = "p1"
	demoted := adm
	demoted.Type = registry.UnitPublicService
	for _, tt := range []struct {
		name    string
		u       registry.Unit
		version int64
		want    string
	}{
		{"cycle through a stored unit", cyc, 0, "parent_cycle"},
		{"own parent", self, 0, "invalid_reference"},
		{"supervisor not an admin department", badSup, 0, "invalid_supervisor"},
		{"supervisor demoted", demoted, 0, "invalid_supervisor"},
		{"unknown parent", registry.Unit{ID: "x", Name: "x", Type: registry.UnitPublicService, Parent: "nobody"}, registry.NoVersion, "unknown_unit"},
		{"replace without a version", p2, registry.NoVersion, "precondition_required"},
		{"any version of a missing unit", registry.Unit{ID: "new", Name: "新", Type: registry.UnitPublicService}, registry.AnyVersion, "unit_not_found"},
		{"stale version", p2, 2, "version_conflict"},
		{"version of a missing unit", registry.Unit{ID: "new", Name: "新", Type: registry.UnitPublicService}, 1, "unit_not_found"},
		{"id of 65 characters", registry.Unit{ID: strings.Repeat("长", 65), Name: "x", Type: registry.UnitPublicService}, 0, "too_long"},
		{"parent of 65 characters", registry.Unit{ID: "x", Name: "x", Type: registry.UnitPublicService, Parent: strings.Repeat("p", 65)}, 0, "too_long"},
		{"id not UTF-8", registry.Unit{ID: "a\xffb", Name: "x", Type: registry.UnitPublicService}, 0, "invalid_encoding"},
	} {
		if err := put(tt.u, tt.version); registry.ErrorCode(err) != tt.want {
			t.Errorf("PutUnit(%s) = %v, want %s", tt.name, err, tt.want)
		}
	}
	if u, err := e.svc.PutUnit(ctx, p2, 1, "tester"); err != nil || u.Version != 1 {
		t.Errorf("PutUnit(p2 unchanged, version 1) = %+v, %v; want version 1, nothing written", u, err)
	}
	p2.Phone = "023-2"
	if u, err := e.svc.PutUnit(ctx, p2, 1, "tester"); err != nil || u.Version != 2 {
		t.Errorf("PutUnit(p2, version 1) = %+v, %v; want version 2", u, err)
	}

	ru := registry.Rule{ID: "r", Class: "*", Unit: "p1"}
	if r, err := e.svc.PutRule(ctx, ru, registry.NoVersion, "tester"); err != nil || r.Version != 1 {
		t.Fatalf("PutRule(new) = %+v, %v", r, err)
	}
	if _, err := e.svc.PutRule(ctx, ru, registry.NoVersion, "tester"); !errors.Is(err, registry.ErrPreconditionRequired) {
		t.Errorf("PutRule(existing, no version) = %v, want precondition_required", err)
	}
	if _, err := e.svc.PutRule(ctx, ru, 3, "tester"); !errors.Is(err, registry.ErrVersionConflict) {
		t.Errorf("PutRule(stale) = %v, want version_conflict", err)
	}
	if _, err := e.svc.PutRule(ctx, registry.Rule{ID: "s", Class: "*", Unit: "p1"}, 1, "tester"); !errors.Is(err, registry.ErrRuleNotFound) {
		t.Errorf("PutRule(missing, version 1) = %v, want rule_not_found", err)
	}
	if r, err := e.svc.PutRule(ctx, ru, 1, "tester"); err != nil || r.Version != 1 {
		t.Errorf("PutRule(unchanged, version 1) = %+v, %v; want version 1, nothing written", r, err)
	}
	ru.Reason = "changed"
	if r, err := e.svc.PutRule(ctx, ru, 1, "tester"); err != nil || r.Version != 2 {
		t.Errorf("PutRule(version 1) = %+v, %v; want version 2", r, err)
	}
	for _, bad := range []registry.Rule{
		{ID: strings.Repeat("r", 65), Class: "*", Unit: "p1"},
		{ID: "r", Class: "*", Unit: strings.Repeat("u", 65)},
	} {
		if _, err := e.svc.PutRule(ctx, bad, registry.NoVersion, "tester"); registry.ErrorCode(err) != "too_long" {
			t.Errorf("PutRule(id %d characters, unit %d) = %v, want too_long", len(bad.ID), len(bad.Unit), err)
		}
	}
}

// TestUpdateComponentNoChange: a patch that changes nothing writes nothing (no new version,
// no history entry); an empty class is a class change; edits are dated by Service.Now.
func TestUpdateComponentNoChange(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.svc.Now = func() time.Time { return time.Date(2031, 5, 6, 23, 30, 0, 0, time.FixedZone("CST", 8*3600)) }
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.importCSV(t, csvHeader+"50010301037000001,01037,路灯,intact,lamps,106.5705,29.5505\n", ""); err != nil {
		t.Fatal(err)
	}
	id := registry.MustParseComponentCode("50010301037000001")
	for _, tt := range []struct {
		name  string
		patch *registry.Feature
	}{
		{"empty", &registry.Feature{Props: map[string]string{}}},
		{"keys set aside", &registry.Feature{Props: map[string]string{"key": "9", "updated_by": "x", "class_name": "灯", "cell": "1"}}},
		{"same values", &registry.Feature{Geometry: orb.Point{106.5705, 29.5505}, Props: map[string]string{"name": "路灯", "status": "完好", "class": "01037", "maintainer": "lamps"}}},
	} {
		c, err := e.svc.UpdateComponent(ctx, id, tt.patch, 1, "surveyor-2")
		if err != nil || c.Version != 1 || c.UpdatedBy == "surveyor-2" {
			t.Errorf("UpdateComponent(%s) = version %d by %q, %v; want version 1 unchanged", tt.name, c.Version, c.UpdatedBy, err)
		}
	}
	if hist, err := e.store.History(ctx, id); err != nil || len(hist) != 1 {
		t.Errorf("history after no-op patches = %d entries, %v; want 1", len(hist), err)
	}
	if _, err := e.svc.UpdateComponent(ctx, id, &registry.Feature{Props: map[string]string{"class": ""}}, 1, "x"); registry.ErrorCode(err) != "class_immutable" {
		t.Errorf(`UpdateComponent(class "") = %v, want class_immutable`, err)
	}
	c, err := e.svc.UpdateComponent(ctx, id, &registry.Feature{Props: map[string]string{"note": "灯罩破裂"}}, 1, "surveyor-2")
	if err != nil || c.Version != 2 || !c.ChangeDate.Equal(time.Date(2031, 5, 6, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("UpdateComponent(note) = version %d change date %v, %v; want version 2 dated 2031-05-06 (UTC)", c.Version, c.ChangeDate, err)
	}
}

func TestImportUnknownKind(t *testing.T) {
	e := newTestEnv(t)
	for _, k := range []registry.Census{"", "cell", "Cells", "classes"} {
		rep, err := e.svc.Import(context.Background(), k, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON})
		if code := registry.ErrorCode(err); code != "invalid_kind" || registry.ErrorKind(err) != registry.Invalid {
			t.Errorf("Import(%q) error = %v, want an Invalid invalid_kind", k, err)
		}
		if rep.Stored || rep.Total != 0 {
			t.Errorf("Import(%q) report = %+v, want nothing read or stored", k, rep)
		}
	}
	if cells, _ := e.count(t); cells != 0 {
		t.Errorf("cells after imports of unknown kinds = %d, want 0", cells)
	}
}

// TestImportDetectsFormat: without opt.Format, Import tells the format of cells and components
// from opt.Name, else from the first bytes, and refuses input it cannot tell with invalid_input.
func TestImportDetectsFormat(t *testing.T) {
	csvRow := csvHeader + "50010301037000001,01037,路灯,intact,lamps,106.5705,29.5505\n"
	for _, tt := range []struct {
		name, file, in string
		kind           registry.Census
		wantCreated    int
		wantCode       string // "" for success
	}{
		{"NDJSON cells by content", "", twoCells, registry.CensusCells, 2, ""},
		{"NDJSON cells by name", "cells.geojsonl", twoCells, registry.CensusCells, 2, ""},
		{"CSV components by content", "", csvRow, registry.CensusComponents, 1, ""},
		{"CSV components by name", "parts.csv", csvRow, registry.CensusComponents, 1, ""},
		{"empty cells", "", "", registry.CensusCells, 0, "invalid_input"},
		{"text of no format", "cells.txt", "cells, one per line\n", registry.CensusCells, 0, "invalid_input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			if tt.kind == registry.CensusComponents {
				if _, err := e.importCells(t, twoCells, ""); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := e.svc.Import(context.Background(), tt.kind, strings.NewReader(tt.in), registry.ImportOptions{Name: tt.file})
			if code := registry.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("Import(%s, %q) error = %v, want code %q", tt.kind, tt.file, err, tt.wantCode)
			}
			if rep.Kind != string(tt.kind) || rep.Mode != registry.ModeStrict || rep.Created != tt.wantCreated {
				t.Errorf("Import(%s, %q) report = %+v, want kind %s, strict, %d created", tt.kind, tt.file, rep, tt.kind, tt.wantCreated)
			}
		})
	}
}

// exhaustingStore is a store in which every serial of one class is taken: PutComponents fails,
// as registry.AssignIDs does, naming every element without an ID of that class.
type exhaustingStore struct {
	*bolt.Store
	class string
	calls int
}

func (s *exhaustingStore) PutComponents(ctx context.Context, comps []registry.Component, expect []int64, actor string) ([]registry.Component, error) {
	s.calls++
	var failed []int
	for i := range comps {
		if comps[i].ID.IsZero() && comps[i].Class == s.class {
			failed = append(failed, i)
		}
	}
	if failed != nil {
		return nil, fmt.Errorf("put components: %w", &registry.UnassignedError{Elements: failed,
			Err: registry.Errorf(registry.Conflict, registry.CodeSerialsExhausted, "every serial of class %s is taken", s.class)})
	}
	return s.Store.PutComponents(ctx, comps, expect, actor)
}

// TestImportSerialsExhausted: a feature that cannot get an identifier is a problem of the
// report with its index, not a bare 409; a partial import stores the others, a strict one
// nothing (422).
func TestImportSerialsExhausted(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, registry.ModeStrict); err != nil {
		t.Fatal(err)
	}
	st := &exhaustingStore{Store: e.store, class: "01001"}
	svc := registry.NewService(st, e.idx, registry.DefaultCatalog(), nil)
	csv := csvHeader +
		"50010301037000001,01037,路灯 1,intact,,106.5705,29.5505\n" +
		",01001,,intact,,106.5715,29.5505\n" + // no serial left
		",01037,,intact,,106.5706,29.5506\n" +
		",99999,,intact,,106.5707,29.5507\n" // unknown class
	imp := func(mode registry.Mode) (registry.Report, error) {
		return svc.Import(context.Background(), registry.CensusComponents, strings.NewReader(csv),
			registry.ImportOptions{Mode: mode, Format: registry.FormatCSV, Actor: "surveyor-1"})
	}
	tests := []struct {
		mode        registry.Mode
		wantErr     error
		wantStored  bool
		wantCreated int
		wantComps   int
	}{
		{registry.ModeStrict, registry.ErrImportRejected, false, 0, 0}, // unknown class already rejects it
		{registry.ModePartial, nil, true, 2, 2},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			rep, err := imp(tt.mode)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("import = %v, want %v", err, tt.wantErr)
			}
			if tt.mode == registry.ModeStrict {
				return
			}
			if got, want := strings.Join(problemCodes(rep), " "), "1:serials_exhausted 3:unknown_class"; got != want {
				t.Errorf("problems = %s, want %s", got, want)
			}
			if rep.Stored != tt.wantStored || rep.Created != tt.wantCreated || rep.Rejected != 2 || rep.Valid != 2 || rep.Total != 4 {
				t.Errorf("report = %+v, want stored %v, %d created, 2 rejected of 4", rep, tt.wantStored, tt.wantCreated)
			}
			for _, p := range rep.Problems {
				if p.Code == registry.CodeSerialsExhausted && !strings.Contains(p.Message, "01001") {
					t.Errorf("problem %+v: want the message to name the class", p)
				}
			}
			if _, comps := e.count(t); comps != tt.wantComps {
				t.Errorf("stored %d components, want %d", comps, tt.wantComps)
			}
		})
	}

	// Strict, without the unknown class: the exhausted feature alone rejects the import.
	e2 := newTestEnv(t)
	if _, err := e2.importCells(t, twoCells, registry.ModeStrict); err != nil {
		t.Fatal(err)
	}
	svc2 := registry.NewService(&exhaustingStore{Store: e2.store, class: "01001"}, e2.idx, registry.DefaultCatalog(), nil)
	rep, err := svc2.Import(context.Background(), registry.CensusComponents, strings.NewReader(csvHeader+",01037,,intact,,106.5706,29.5506\n,01001,,intact,,106.5715,29.5505\n"),
		registry.ImportOptions{Mode: registry.ModeStrict, Format: registry.FormatCSV, Actor: "surveyor-1"})
	if !errors.Is(err, registry.ErrImportRejected) || rep.Stored || strings.Join(problemCodes(rep), " ") != "1:serials_exhausted" {
		t.Errorf("strict import = %+v, %v; want rejected with 1:serials_exhausted", rep, err)
	}
	if _, comps := e2.count(t); comps != 0 {
		t.Errorf("strict import stored %d components, want 0", comps)
	}
}

// TestImportUnknownUnitNames: a maintainer or owner that names no unit (by id or name) is a
// warning of the report, once per distinct value at its first feature, and refuses nothing.
func TestImportUnknownUnitNames(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	units := `[{"id":"city","name":"重庆市数字化城市管理中心","type":"city_centre"},
	 {"id":"lamps","name":"路灯管理所","type":"public_service_unit","parent":"city"}]`
	if _, err := e.svc.Import(ctx, registry.CensusUnits, strings.NewReader(units), registry.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	csv := "class,maintainer,owner,lon,lat\n" +
		"01037,lamps,,106.5705,29.5505\n" + // a unit id
		"01037,路灯管理所,路灯管理所,106.5706,29.5506\n" + // a unit name
		"01037,路灯所,重庆水务集团,106.5707,29.5507\n" + // neither
		"01037,路灯所,,106.5708,29.5508\n" + // the same again: counted, not repeated
		"01001,,,106.5709,29.5509\n" // none named: nothing to say
	rep, err := e.svc.Import(ctx, registry.CensusComponents, strings.NewReader(csv), registry.ImportOptions{Format: registry.FormatCSV})
	if err != nil || rep.Created != 5 || len(rep.Problems) != 0 {
		t.Fatalf("import = %+v, %v; want 5 created, no problems", rep, err)
	}
	var got []string
	for _, w := range rep.Warnings {
		got = append(got, fmt.Sprintf("%d:%s:%s", w.Index, w.Field, w.Code))
	}
	if want := "2:maintainer:unknown_unit_name 2:owner:unknown_unit_name"; strings.Join(got, " ") != want {
		t.Fatalf("warnings = %v (%+v), want %s", got, rep.Warnings, want)
	}
	if m := rep.Warnings[0].Message; !strings.Contains(m, `"路灯所"`) || !strings.Contains(m, "2 components") {
		t.Errorf("warning message %q, want it to name the value and count 2 components", m)
	}
}
