package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"citygrid/registry"
)

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
	got, err := s.PutUnits(context.Background(), in, "test")
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
	again, err := s.PutUnits(context.Background(), []registry.Unit{changed}, "test")
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
	got, err := s.PutRules(context.Background(), in, nil, "test")
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
	if _, err := s.PutRules(context.Background(), []registry.Rule{upd}, nil, "test"); err != nil {
		t.Fatalf("PutRules(update): %v", err)
	}
	upd.Version = 2
	diff(t, "Rules after update", []registry.Rule{want[2], upd, want[1], want[0]}, rules(t, s))
}

func testPutRulesReplace(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	in := []registry.Rule{
		{ID: "a", Order: 1, Class: "*", Unit: "u1"},
		{ID: "b", Order: 2, Class: "01", Unit: "u2"},
		{ID: "c", Order: 3, Class: "02", Unit: "u3"},
	}
	if _, err := s.PutRules(ctx, in, nil, "test"); err != nil {
		t.Fatalf("PutRules: %v", err)
	}
	b2 := registry.Rule{ID: "b", Order: 5, Class: "0101", Unit: "u4", Reason: "moved"}
	d := registry.Rule{ID: "d", Order: 4, Class: "03", Unit: "u5"}
	got, err := s.PutRules(ctx, []registry.Rule{b2, d}, []string{"a", "c", "not-stored"}, "test")
	if err != nil {
		t.Fatalf("PutRules(replace): %v", err)
	}
	b2.Version, d.Version = 2, 1
	diff(t, "PutRules(replace)", []registry.Rule{b2, d}, got)
	diff(t, "Rules after replace", []registry.Rule{d, b2}, rules(t, s))

	e := registry.Rule{ID: "e", Order: 0, Class: "*", Unit: "u6"}
	if _, err := s.PutRules(ctx, []registry.Rule{e}, nil, "test"); err != nil {
		t.Fatalf("PutRules(add): %v", err)
	}
	e.Version = 1
	diff(t, "Rules after add", []registry.Rule{e, d, b2}, rules(t, s))

	if _, err := s.PutRules(ctx, nil, []string{"b", "d", "e"}, "test"); err != nil {
		t.Fatalf("PutRules(nil, replace): %v", err)
	}
	if r := rules(t, s); len(r) != 0 {
		t.Errorf("after replacing with nothing, Rules = %v, want none", r)
	}
}

func testDeleteNotFound(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	checkErr(t, "DeleteUnit(missing)", s.DeleteUnit(ctx, "missing", "test"), registry.ErrUnitNotFound)
	checkErr(t, "DeleteRule(missing)", s.DeleteRule(ctx, "missing", "test"), registry.ErrRuleNotFound)

	us, err := s.PutUnits(ctx, []registry.Unit{{ID: "u1", Name: "一"}, {ID: "u2", Name: "二"}}, "test")
	if err != nil {
		t.Fatalf("PutUnits: %v", err)
	}
	rs, err := s.PutRules(ctx, []registry.Rule{{ID: "r1", Unit: "u1"}, {ID: "r2", Order: 1, Unit: "u2"}}, nil, "test")
	if err != nil {
		t.Fatalf("PutRules: %v", err)
	}
	if err := s.DeleteUnit(ctx, "u1", "test"); err != nil {
		t.Fatalf("DeleteUnit(u1): %v", err)
	}
	if err := s.DeleteRule(ctx, "r1", "test"); err != nil {
		t.Fatalf("DeleteRule(r1): %v", err)
	}
	diff(t, "Units after delete", us[1:], units(t, s))
	diff(t, "Rules after delete", rs[1:], rules(t, s))
	checkErr(t, "DeleteUnit(u1) again", s.DeleteUnit(ctx, "u1", "test"), registry.ErrUnitNotFound)
	checkErr(t, "DeleteRule(r1) again", s.DeleteRule(ctx, "r1", "test"), registry.ErrRuleNotFound)
}

// revisionWant is what the suite expects of one history entry of a unit or rule.
type revisionWant[T registry.Unit | registry.Rule] struct {
	op      registry.ChangeOp
	version int64
	actor   string
	before  *T
	after   *T
	window  window
}

// checkRevisions compares a history with what was written: op, version, actor, the time of
// the write, before- and after-images, and seqs that rise and are those of the change feed.
func checkRevisions[T registry.Unit | registry.Rule](t *testing.T, s registry.Store, kind registry.FeedKind, id string, want []revisionWant[T], got []registry.Revision[T]) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("history of %s %s = %d entries %+v, want %d", kind, id, len(got), got, len(want))
	}
	feed, _ := s.(registry.ChangeFeed)
	var all []registry.FeedEntry
	if feed != nil {
		var err error
		if all, err = feed.Changes(context.Background(), 0, 10000); err != nil {
			t.Fatalf("Changes: %v", err)
		}
	}
	for i, w := range want {
		g := got[i]
		what := fmt.Sprintf("%s %s history[%d]", kind, id, i)
		if g.Op != w.op || g.Version != w.version || g.Actor != w.actor {
			t.Errorf("%s = %s/v%d/%q, want %s/v%d/%q", what, g.Op, g.Version, g.Actor, w.op, w.version, w.actor)
		}
		w.window.check(t, what+" Time", g.Time)
		diff(t, what+" Before", w.before, g.Before)
		diff(t, what+" After", w.after, g.After)
		if i > 0 && g.Seq <= got[i-1].Seq {
			t.Errorf("%s Seq = %d, want above %d", what, g.Seq, got[i-1].Seq)
		}
		if feed != nil {
			j := slices.IndexFunc(all, func(e registry.FeedEntry) bool { return e.Seq == g.Seq })
			if j < 0 || all[j].Kind != kind || all[j].ID != id || all[j].Op != g.Op || all[j].Actor != g.Actor {
				t.Errorf("%s Seq %d is not the feed's change of %s %s (%s by %q)", what, g.Seq, kind, id, g.Op, g.Actor)
			}
		}
	}
}

// testUnitHistory: every create, update and delete of a unit is in its history with the
// actor, the time, the version and the unit before and after; the history outlives the unit
// and a reopen, and one unit's history is not another's whose id starts alike.
func testUnitHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	_, err := s.UnitHistory(ctx, "u1")
	checkErr(t, "UnitHistory(missing)", err, registry.ErrUnitNotFound)

	u := registry.Unit{ID: "u1", Name: "朝阳区自来水公司", Type: registry.UnitPublicService, Districts: []string{chaoyang},
		Area: square(116.4, 39.9, 0.01), Phone: "010-1"}
	w1 := begin()
	v1, err := s.PutUnits(ctx, []registry.Unit{u, {ID: "u1x", Name: "同前缀", Type: registry.UnitAdminDepartment}}, "alice")
	w1.end()
	if err != nil {
		t.Fatalf("PutUnits: %v", err)
	}
	u.Phone, u.Area = "010-2", nil
	w2 := begin()
	v2, err := s.PutUnits(ctx, []registry.Unit{u}, "bob")
	w2.end()
	if err != nil {
		t.Fatalf("PutUnits(changed): %v", err)
	}
	w3 := begin()
	err = s.DeleteUnit(ctx, "u1", "carol")
	w3.end()
	if err != nil {
		t.Fatalf("DeleteUnit: %v", err)
	}
	want := []revisionWant[registry.Unit]{
		{registry.OpCreate, 1, "alice", nil, &v1[0], w1},
		{registry.OpUpdate, 2, "bob", &v1[0], &v2[0], w2},
		{registry.OpDelete, 2, "carol", &v2[0], nil, w3},
	}
	s = reopen(t, h, s)
	got, err := s.UnitHistory(ctx, "u1")
	if err != nil {
		t.Fatalf("UnitHistory after delete: %v", err)
	}
	checkRevisions(t, s, registry.FeedUnit, "u1", want, got)
	other, err := s.UnitHistory(ctx, "u1x")
	if err != nil {
		t.Fatalf("UnitHistory(u1x): %v", err)
	}
	checkRevisions(t, s, registry.FeedUnit, "u1x", []revisionWant[registry.Unit]{{registry.OpCreate, 1, "alice", nil, &v1[1], w1}}, other)

	// A unit created again starts at version 1; its history goes on.
	w4 := begin()
	v4, err := s.PutUnits(ctx, []registry.Unit{u}, "dave")
	w4.end()
	if err != nil {
		t.Fatalf("PutUnits(again): %v", err)
	}
	got, err = s.UnitHistory(ctx, "u1")
	if err != nil {
		t.Fatalf("UnitHistory: %v", err)
	}
	checkRevisions(t, s, registry.FeedUnit, "u1", append(want, revisionWant[registry.Unit]{registry.OpCreate, 1, "dave", nil, &v4[0], w4}), got)
}

// testRuleHistory: as testUnitHistory for rules, including the rules PutRules removes.
func testRuleHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	_, err := s.RuleHistory(ctx, "r1")
	checkErr(t, "RuleHistory(missing)", err, registry.ErrRuleNotFound)

	r1 := registry.Rule{ID: "r1", Order: 1, Class: "01", Kind: "component", Area: chaoyang, Unit: "u1", Reason: "供水"}
	r2 := registry.Rule{ID: "r2", Order: 2, Class: "*", InUnit: true, Unit: "u2"}
	w1 := begin()
	v1, err := s.PutRules(ctx, []registry.Rule{r1, r2}, nil, "alice")
	w1.end()
	if err != nil {
		t.Fatalf("PutRules: %v", err)
	}
	r1.Reason = "供水（改）"
	w2 := begin()
	v2, err := s.PutRules(ctx, []registry.Rule{r1}, []string{"r2", "never-stored"}, "bob")
	w2.end()
	if err != nil {
		t.Fatalf("PutRules(update r1, remove r2): %v", err)
	}
	diff(t, "Rules after remove", v2, rules(t, s))
	w3 := begin()
	err = s.DeleteRule(ctx, "r1", "carol")
	w3.end()
	if err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	s = reopen(t, h, s)
	got, err := s.RuleHistory(ctx, "r1")
	if err != nil {
		t.Fatalf("RuleHistory(r1): %v", err)
	}
	checkRevisions(t, s, registry.FeedRule, "r1", []revisionWant[registry.Rule]{
		{registry.OpCreate, 1, "alice", nil, &v1[0], w1},
		{registry.OpUpdate, 2, "bob", &v1[0], &v2[0], w2},
		{registry.OpDelete, 2, "carol", &v2[0], nil, w3},
	}, got)
	got, err = s.RuleHistory(ctx, "r2")
	if err != nil {
		t.Fatalf("RuleHistory(r2): %v", err)
	}
	checkRevisions(t, s, registry.FeedRule, "r2", []revisionWant[registry.Rule]{
		{registry.OpCreate, 1, "alice", nil, &v1[1], w1},
		{registry.OpDelete, 1, "bob", &v1[1], nil, w2},
	}, got)
	_, err = s.RuleHistory(ctx, "never-stored")
	checkErr(t, "RuleHistory(never stored)", err, registry.ErrRuleNotFound)
	_, err = s.PutRules(ctx, []registry.Rule{r1}, []string{"r1"}, "x")
	checkErr(t, "PutRules(r1 both stored and removed)", err, registry.ErrInvalidInput)
}
