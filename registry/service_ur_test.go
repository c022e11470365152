package registry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"citygrid/registry"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
)

const urUnits = `{"units":[
 {"id":"city","name":"重庆市数字化城市管理中心","type":"city_centre"},
 {"id":"yz","name":"渝中区数字化城市管理中心","type":"district_centre","parent":"city","districts":["500103"]},
 {"id":"cgj","name":"渝中区城市管理局","type":"admin_department","parent":"yz"},
 {"id":"lamps","name":"路灯管理所","type":"public_service_unit","parent":"yz","supervisor":"cgj"}]}`

// urEnv is a test registry with the two-cell grid of 解放碑 and four units.
func urEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.importURDoc(t, registry.CensusUnits, urUnits, ""); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *testEnv) importURDoc(t *testing.T, k registry.Census, doc string, mode registry.Mode) (registry.Report, error) {
	t.Helper()
	return e.svc.Import(context.Background(), k, strings.NewReader(doc), registry.ImportOptions{Mode: mode, Actor: "registrar"})
}

// TestRuleWithoutOrderGoesLast: a rule that states no order is tried after every rule that
// does, whatever their ids; before, it was order 0 and came first.
func TestRuleWithoutOrderGoesLast(t *testing.T) {
	e := urEnv(t)
	doc := `[{"id":"a-any","class":"*","unit":"cgj","reason":"no order"},
	 {"id":"z-lamps","order":1000,"class":"01","unit":"lamps","reason":"order 1000"}]`
	if _, err := e.importURDoc(t, registry.CensusRules, doc, ""); err != nil {
		t.Fatal(err)
	}
	if ids := ruleIDs(e.idx.Rules()); !slices.Equal(ids, []string{"z-lamps", "a-any"}) {
		t.Errorf("rules in the order tried = %v, want z-lamps then a-any", ids)
	}
	res, err := e.idx.Resolve(orb.Point{106.5705, 29.5505}, "01037")
	if err != nil || res.RuleID != "z-lamps" {
		t.Errorf("Resolve(01037) = %+v, %v; want rule z-lamps", res, err)
	}
	res, err = e.idx.Resolve(orb.Point{106.5705, 29.5505}, "02001")
	if err != nil || res.RuleID != "a-any" {
		t.Errorf("Resolve(02001) = %+v, %v; want rule a-any, the one without order", res, err)
	}
}

func ruleIDs(rs []registry.Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestRuleAreaMustExist: a rule that can match no cell is refused with unknown_area, on
// import and on PutRule: its area must be a code prefix of at least one stored cell (a
// district, street or community with a cell, or a cell).
func TestRuleAreaMustExist(t *testing.T) {
	e := urEnv(t)
	for _, tt := range []struct {
		area string
		ok   bool
	}{
		{"500103", true},           // district of the grid
		{"500103003", true},        // street
		{"500103003001", true},     // community
		{"500103003001002", true},  // a cell
		{"500104", false},          // another district
		{"500103004", false},       // a street without cells
		{"500103003002", false},    // a community without cells
		{"500103003001003", false}, // a cell not stored
		{"50010300300100", true},   // a 14-digit prefix of stored cells: the rule matches them
		{"50010300300200", false},  // a 14-digit code no cell starts with
		{"", true},                 // everywhere
	} {
		doc := `[{"id":"r","order":1,"class":"01","area":"` + tt.area + `","unit":"lamps"}]`
		rep, err := e.importURDoc(t, registry.CensusRules, doc, registry.ModeStrict)
		if tt.ok != (err == nil) || !tt.ok && (len(rep.Problems) != 1 || rep.Problems[0].Code != "unknown_area" || rep.Problems[0].Field != "area") {
			t.Errorf("import rule with area %q = %+v, %v; want ok %v (else unknown_area)", tt.area, rep, err, tt.ok)
		}
		_, err = e.svc.PutRule(context.Background(), registry.Rule{ID: "p", Class: "01", Area: tt.area, Unit: "lamps"}, registry.NoVersion, "t")
		if tt.ok {
			if err != nil {
				t.Errorf("PutRule(area %q) = %v", tt.area, err)
			} else if err := e.svc.DeleteRule(context.Background(), "p", registry.AnyVersion, "t"); err != nil {
				t.Fatal(err)
			}
		} else if registry.ErrorCode(err) != "unknown_area" {
			t.Errorf("PutRule(area %q) = %v, want unknown_area", tt.area, err)
		}
	}
	// Partial: the rule with a known area is stored, the other reported.
	doc := `[{"id":"ok","class":"01","area":"500103003","unit":"lamps"},{"id":"bad","class":"01","area":"110105","unit":"lamps"}]`
	rep, err := e.importURDoc(t, registry.CensusRules, doc, registry.ModePartial)
	if err != nil || rep.Created != 1 || rep.Rejected != 1 || rep.Problems[0].ID != "bad" || rep.Problems[0].Code != "unknown_area" {
		t.Errorf("partial import = %+v, %v; want ok stored, bad rejected with unknown_area", rep, err)
	}
}

// TestUnitsReimportUnchanged: re-importing units equal to the stored ones changes nothing: no
// version, no feed entry, no history; the report counts them unchanged. One changed unit is
// updated alone. An empty units document is 422 empty_census.
func TestUnitsReimportUnchanged(t *testing.T) {
	e := urEnv(t)
	ctx := context.Background()
	before, err := e.store.Units(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq := e.lastSeq(t)
	rep, err := e.importURDoc(t, registry.CensusUnits, urUnits, "")
	if err != nil || rep.Unchanged != 4 || rep.Created+rep.Updated != 0 || rep.Stored {
		t.Errorf("re-import = %+v, %v; want 4 unchanged, nothing stored", rep, err)
	}
	after, _ := e.store.Units(ctx)
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("units changed by an unchanged re-import:\n%s", d)
	}
	if got := e.lastSeq(t); got != seq {
		t.Errorf("feed moved from %d to %d", seq, got)
	}
	if h, err := e.svc.UnitHistory(ctx, "lamps"); err != nil || len(h) != 1 {
		t.Errorf("history of lamps = %d entries, %v; want the create only", len(h), err)
	}
	rep, err = e.importURDoc(t, registry.CensusUnits, strings.Replace(urUnits, "路灯管理所", "路灯管理处", 1), "")
	if err != nil || rep.Unchanged != 3 || rep.Updated != 1 {
		t.Errorf("import with one renamed unit = %+v, %v; want 3 unchanged, 1 updated", rep, err)
	}
	h, err := e.svc.UnitHistory(ctx, "lamps")
	if err != nil || len(h) != 2 || h[1].Actor != "registrar" || !slices.Equal(registry.ChangedUnitFields(h[1].Before, h[1].After), []string{"name"}) {
		t.Errorf("history of lamps = %+v, %v; want an update of the name by registrar", h, err)
	}
	for _, doc := range []string{`[]`, `{"units":[]}`} {
		rep, err := e.importURDoc(t, registry.CensusUnits, doc, registry.ModePartial)
		if !errors.Is(err, registry.ErrEmptyCensus) || rep.Total != 0 || rep.Stored {
			t.Errorf("import %s = %+v, %v; want rejected with empty_census", doc, rep, err)
		}
	}
}

// TestRulesReimportUnchanged: as for units; a rule put with its stored content keeps its version.
func TestRulesReimportUnchanged(t *testing.T) {
	e := urEnv(t)
	ctx := context.Background()
	doc := `[{"id":"r1","order":1,"class":"01","area":"500103003","unit":"lamps"},{"id":"r2","class":"*","unit":"cgj"}]`
	if _, err := e.importURDoc(t, registry.CensusRules, doc, ""); err != nil {
		t.Fatal(err)
	}
	seq := e.lastSeq(t)
	for _, mode := range []registry.Mode{registry.ModeStrict, registry.ModePartial, registry.ModeReplace} {
		rep, err := e.importURDoc(t, registry.CensusRules, doc, mode)
		if err != nil || rep.Unchanged != 2 || rep.Created+rep.Updated+rep.Deleted != 0 {
			t.Errorf("re-import (%s) = %+v, %v; want 2 unchanged", mode, rep, err)
		}
	}
	stored := e.idx.Rules()
	r, err := e.svc.PutRule(ctx, stored[0], stored[0].Version, "x")
	if err != nil || r.Version != 1 {
		t.Errorf("PutRule(stored content) = %+v, %v; want version 1 kept", r, err)
	}
	if got := e.lastSeq(t); got != seq {
		t.Errorf("feed moved from %d to %d", seq, got)
	}
}

// TestUnitRuleWritePreconditions: replacing or deleting a stored unit or rule needs a version
// (precondition_required), a stale one is version_conflict, * any; deleted records keep their
// history, with the actor of each change.
func TestUnitRuleWritePreconditions(t *testing.T) {
	e := urEnv(t)
	ctx := context.Background()
	u := registry.Unit{ID: "water", Name: "供水公司", Type: registry.UnitPublicService, Supervisor: "cgj"}
	if _, err := e.svc.PutUnit(ctx, u, registry.NoVersion, "alice"); err != nil {
		t.Fatal(err)
	}
	u.Phone = "023-6300000"
	for _, tt := range []struct {
		version int64
		want    string
	}{
		{registry.NoVersion, "precondition_required"},
		{2, "version_conflict"},
	} {
		if _, err := e.svc.PutUnit(ctx, u, tt.version, "bob"); registry.ErrorCode(err) != tt.want {
			t.Errorf("PutUnit(version %d) = %v, want %s", tt.version, err, tt.want)
		}
		if err := e.svc.DeleteUnit(ctx, "water", tt.version, "bob"); registry.ErrorCode(err) != tt.want {
			t.Errorf("DeleteUnit(version %d) = %v, want %s", tt.version, err, tt.want)
		}
	}
	if got, err := e.svc.PutUnit(ctx, u, registry.AnyVersion, "bob"); err != nil || got.Version != 2 {
		t.Fatalf("PutUnit(*) = %+v, %v; want version 2", got, err)
	}
	if err := e.svc.DeleteUnit(ctx, "water", 2, "carol"); err != nil {
		t.Fatalf("DeleteUnit(2) = %v", err)
	}
	if err := e.svc.DeleteUnit(ctx, "water", registry.AnyVersion, "carol"); !errors.Is(err, registry.ErrUnitNotFound) {
		t.Errorf("DeleteUnit(deleted) = %v, want unit_not_found", err)
	}
	h, err := e.svc.UnitHistory(ctx, "water")
	if err != nil || len(h) != 3 {
		t.Fatalf("history of a deleted unit = %+v, %v; want 3 entries", h, err)
	}
	var got []string
	for _, r := range h {
		got = append(got, string(r.Op)+"/"+r.Actor)
		if r.Time.IsZero() || time.Since(r.Time) > time.Hour {
			t.Errorf("history entry %+v: time %v", r, r.Time)
		}
	}
	if strings.Join(got, " ") != "create/alice update/bob delete/carol" {
		t.Errorf("history = %v", got)
	}
	if _, err := e.svc.RuleHistory(ctx, "never"); !errors.Is(err, registry.ErrRuleNotFound) {
		t.Errorf("RuleHistory(never) = %v, want rule_not_found", err)
	}
}

func TestChangedFields(t *testing.T) {
	area := orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}}
	u := registry.Unit{ID: "u", Name: "一", Type: registry.UnitPublicService, Districts: []string{"500103"}, Version: 1}
	for _, tt := range []struct {
		name          string
		before, after *registry.Unit
		want          []string
	}{
		{"create", nil, &u, []string{"id", "name", "type", "districts"}},
		{"delete", &u, nil, []string{}},
		{"bookkeeping only", &u, &registry.Unit{ID: "u", Name: "一", Type: registry.UnitPublicService, Districts: []string{"500103"}, Version: 7, Updated: time.Now()}, []string{}},
		{"nil and empty districts", &registry.Unit{ID: "u"}, &registry.Unit{ID: "u", Districts: []string{}}, []string{}},
		{"area and phone", &u, &registry.Unit{ID: "u", Name: "一", Type: registry.UnitPublicService, Districts: []string{"500103"}, Area: area, Phone: "1"}, []string{"phone", "area"}},
	} {
		if got := registry.ChangedUnitFields(tt.before, tt.after); !slices.Equal(got, tt.want) || got == nil {
			t.Errorf("ChangedUnitFields(%s) = %#v, want %v", tt.name, got, tt.want)
		}
	}
	r := registry.Rule{ID: "r", Order: 1, Class: "01", Unit: "u"}
	for _, tt := range []struct {
		name          string
		before, after *registry.Rule
		want          []string
	}{
		{"create", nil, &r, []string{"id", "order", "class", "unit"}},
		{"version only", &r, &registry.Rule{ID: "r", Order: 1, Class: "01", Unit: "u", Version: 3}, []string{}},
		{"every data field", &r, &registry.Rule{ID: "r", Order: 2, Class: "02", Kind: "event", Area: "500103", InUnit: true, Unit: "v", Reason: "x"},
			[]string{"order", "class", "kind", "area", "in_unit", "unit", "reason"}},
	} {
		if got := registry.ChangedRuleFields(tt.before, tt.after); !slices.Equal(got, tt.want) {
			t.Errorf("ChangedRuleFields(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	c := registry.Component{Class: "01037", Name: "路灯", Point: orb.Point{106.5, 29.5}, Status: registry.StatusIntact, Cell: "500103003001001"}
	moved := c
	moved.Point, moved.Cell, moved.Version, moved.UpdatedBy = orb.Point{106.6, 29.5}, "500103003001002", 2, "x"
	retired := c
	retired.Status, retired.Note = registry.StatusRemoved, "拆除"
	for _, tt := range []struct {
		name          string
		before, after *registry.Component
		want          []string
	}{
		{"move", &c, &moved, []string{"cell", "geometry"}},
		{"retire", &c, &retired, []string{"status", "note"}},
		{"nothing", &c, &c, []string{}},
	} {
		if got := registry.ChangedComponentFields(tt.before, tt.after); !slices.Equal(got, tt.want) {
			t.Errorf("ChangedComponentFields(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
