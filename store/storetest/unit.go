package storetest

import (
	"context"
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
