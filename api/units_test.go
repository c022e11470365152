package api_test

import "testing"

type unitResp struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Parent     string         `json:"parent"`
	Supervisor string         `json:"supervisor"`
	Districts  []string       `json:"districts"`
	Phone      string         `json:"phone"`
	Area       map[string]any `json:"area"`
	Version    int64          `json:"version"`
}

type ruleResp struct {
	ID     string `json:"id"`
	Order  int    `json:"order"`
	Class  string `json:"class"`
	Kind   string `json:"kind"`
	Area   string `json:"area"`
	InUnit bool   `json:"in_unit"`
	Unit   string `json:"unit"`
	Reason string `json:"reason"`
}

func TestUnitsAndRulesRead(t *testing.T) {
	e := sharedEnv(t)
	want := e.idx.Units()
	var got struct{ Units []unitResp }
	decode(t, e.do(t, "GET", "/api/v1/units", ""), 200, &got)
	if len(want) == 0 || len(got.Units) != len(want) {
		t.Fatalf("GET /units: %d units, want %d", len(got.Units), len(want))
	}
	for i, w := range want {
		g := got.Units[i]
		if g.ID != w.ID || g.Name != w.Name || g.Type != w.Type.String() || g.Parent != w.Parent || g.Supervisor != w.Supervisor ||
			g.Phone != w.Phone || len(g.Districts) != len(w.Districts) || (g.Area != nil) != (len(w.Area) > 0) {
			t.Errorf("unit %d = %+v, want %+v", i, g, w)
		}
	}
	var one unitResp
	decode(t, e.do(t, "GET", "/api/v1/units/"+want[0].ID, ""), 200, &one)
	if one.ID != want[0].ID || one.Name != want[0].Name {
		t.Errorf("GET /units/%s = %+v", want[0].ID, one)
	}

	wantRules := e.idx.Rules()
	var rules struct{ Rules []ruleResp }
	decode(t, e.do(t, "GET", "/api/v1/rules", ""), 200, &rules)
	if len(wantRules) == 0 || len(rules.Rules) != len(wantRules) {
		t.Fatalf("GET /rules: %d rules, want %d", len(rules.Rules), len(wantRules))
	}
	for i, w := range wantRules {
		g := rules.Rules[i]
		if g != (ruleResp{w.ID, w.Order, w.Class, w.Kind, w.Area, w.InUnit, w.Unit, w.Reason}) {
			t.Errorf("rule %d = %+v, want %+v", i, g, w)
		}
	}
	runErrCases(t, e, []errCase{
		{"unknown unit", "GET", "/api/v1/units/no-such-unit", "", nil, 404, "unit_not_found"},
	})
}

func TestUnitsAndRulesWrite(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}})
	units := e.idx.Units()
	rules := e.idx.Rules()
	inUse := rules[0].Unit
	district := units[0].Districts
	if len(district) == 0 {
		for _, u := range units {
			if len(u.Districts) > 0 {
				district = u.Districts
			}
		}
	}

	body := jsonBody(t, map[string]any{"name": "测试养护公司", "type": "public_service_unit", "districts": district, "phone": "023-1234567"})
	var u unitResp
	decode(t, e.do(t, "PUT", "/api/v1/units/test-unit", body), 200, &u)
	if u.ID != "test-unit" || u.Name != "测试养护公司" || u.Type != "public_service_unit" || u.Phone != "023-1234567" {
		t.Errorf("PUT unit = %+v", u)
	}
	if got, ok := e.idx.Unit("test-unit"); !ok || got.Name != "测试养护公司" {
		t.Errorf("index unit test-unit = %+v, %v", got, ok)
	}

	rule := jsonBody(t, map[string]any{"order": 1, "class": "01", "kind": "component", "unit": "test-unit", "reason": "测试"})
	var r ruleResp
	decode(t, e.do(t, "PUT", "/api/v1/rules/test-rule", rule), 200, &r)
	if r.ID != "test-rule" || r.Unit != "test-unit" || r.Class != "01" || r.Order != 1 {
		t.Errorf("PUT rule = %+v", r)
	}

	runErrCases(t, e, []errCase{
		{"unit id mismatch", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"id": "b", "name": "x", "type": "city_centre"}), nil, 400, "id_mismatch"},
		{"unit without name", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"type": "city_centre"}), nil, 400, "missing_field"},
		{"unit bad type", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"name": "x", "type": "ministry"}), nil, 400, "invalid_unit_type"},
		{"unit unknown parent", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"name": "x", "type": "city_centre", "parent": "nobody"}), nil, 400, "unknown_unit"},
		{"unit not an object", "PUT", "/api/v1/units/a", `[1]`, nil, 400, "invalid_input"},
		{"unit in use", "DELETE", "/api/v1/units/test-unit", "", nil, 409, "unit_in_use"},
		{"unit used by a fixture rule", "DELETE", "/api/v1/units/" + inUse, "", nil, 409, "unit_in_use"},
		{"rule unknown unit", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"class": "*", "unit": "nobody"}), nil, 400, "unknown_unit"},
		{"rule bad class", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"class": "manholes", "unit": "test-unit"}), nil, 400, "invalid_class_pattern"},
		{"rule id mismatch", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"id": "s", "class": "*", "unit": "test-unit"}), nil, 400, "id_mismatch"},
		{"delete unknown rule", "DELETE", "/api/v1/rules/no-such-rule", "", nil, 404, "rule_not_found"},
	})

	if rec := e.do(t, "DELETE", "/api/v1/rules/test-rule", ""); rec.Code != 204 {
		t.Fatalf("DELETE rule = %d %s", rec.Code, rec.Body)
	}
	if rec := e.do(t, "DELETE", "/api/v1/units/test-unit", ""); rec.Code != 204 {
		t.Fatalf("DELETE unit = %d %s", rec.Code, rec.Body)
	}
	if _, ok := e.idx.Unit("test-unit"); ok {
		t.Errorf("unit test-unit still indexed after DELETE")
	}
	if got, _ := e.store.Units(t.Context()); len(got) != len(units) {
		t.Errorf("store has %d units, want %d again", len(got), len(units))
	}
}
