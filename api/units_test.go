package api_test

import (
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"citygrid/api"
)

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
	decode(t, e.do(t, "PUT", "/api/v1/units/test-unit", body), 201, &u)
	if u.ID != "test-unit" || u.Name != "测试养护公司" || u.Type != "public_service_unit" || u.Phone != "023-1234567" {
		t.Errorf("PUT unit = %+v", u)
	}
	if got, ok := e.idx.Unit("test-unit"); !ok || got.Name != "测试养护公司" {
		t.Errorf("index unit test-unit = %+v, %v", got, ok)
	}

	rule := jsonBody(t, map[string]any{"order": 1, "class": "01", "kind": "component", "unit": "test-unit", "reason": "测试"})
	var r ruleResp
	decode(t, e.do(t, "PUT", "/api/v1/rules/test-rule", rule), 201, &r)
	if r.ID != "test-rule" || r.Unit != "test-unit" || r.Class != "01" || r.Order != 1 {
		t.Errorf("PUT rule = %+v", r)
	}

	runErrCases(t, e, []errCase{
		{"unit id mismatch", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"id": "b", "name": "x", "type": "city_centre"}), nil, 400, "id_mismatch"},
		{"unit without name", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"type": "city_centre"}), nil, 400, "missing_field"},
		{"unit bad type", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"name": "x", "type": "ministry"}), nil, 400, "invalid_unit_type"},
		{"unit unknown parent", "PUT", "/api/v1/units/a", jsonBody(t, map[string]any{"name": "x", "type": "city_centre", "parent": "nobody"}), nil, 400, "unknown_unit"},
		{"unit not an object", "PUT", "/api/v1/units/a", `[1]`, nil, 400, "invalid_input"},
		{"unit in use", "DELETE", "/api/v1/units/test-unit", "", []string{"If-Match", "*"}, 409, "unit_in_use"},
		{"unit used by a fixture rule", "DELETE", "/api/v1/units/" + inUse, "", []string{"If-Match", "*"}, 409, "unit_in_use"},
		{"unit delete without If-Match", "DELETE", "/api/v1/units/test-unit", "", nil, 428, "precondition_required"},
		{"unit replace without If-Match", "PUT", "/api/v1/units/test-unit", body, nil, 428, "precondition_required"},
		{"rule delete without If-Match", "DELETE", "/api/v1/rules/test-rule", "", nil, 428, "precondition_required"},
		{"rule replace without If-Match", "PUT", "/api/v1/rules/test-rule", rule, nil, 428, "precondition_required"},
		{"rule delete, stale If-Match", "DELETE", "/api/v1/rules/test-rule", "", []string{"If-Match", `"9"`}, 409, "version_conflict"},
		{"rule area not in the grid", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"class": "*", "area": "110105", "unit": "test-unit"}), nil, 400, "unknown_area"},
		{"rule street not in the grid", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"class": "*", "area": district[0] + "999", "unit": "test-unit"}), nil, 400, "unknown_area"},
		{"rule unknown unit", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"class": "*", "unit": "nobody"}), nil, 400, "unknown_unit"},
		{"rule bad class", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"class": "manholes", "unit": "test-unit"}), nil, 400, "invalid_class_pattern"},
		{"rule id mismatch", "PUT", "/api/v1/rules/r", jsonBody(t, map[string]any{"id": "s", "class": "*", "unit": "test-unit"}), nil, 400, "id_mismatch"},
		{"delete unknown rule", "DELETE", "/api/v1/rules/no-such-rule", "", []string{"If-Match", "*"}, 404, "rule_not_found"},
		{"delete unknown rule without If-Match", "DELETE", "/api/v1/rules/no-such-rule", "", nil, 404, "rule_not_found"},
	})
	// A district of the grid is an area that exists.
	var inDistrict ruleResp
	decode(t, e.do(t, "PUT", "/api/v1/rules/district-rule", jsonBody(t, map[string]any{"class": "*", "area": district[0], "unit": "test-unit"})), 201, &inDistrict)
	if inDistrict.Area != district[0] {
		t.Errorf("PUT rule in district %s = %+v", district[0], inDistrict)
	}
	if rec := e.do(t, "DELETE", "/api/v1/rules/district-rule", "", "If-Match", `"1"`); rec.Code != 204 {
		t.Fatalf("DELETE district-rule = %d %s", rec.Code, rec.Body)
	}

	if rec := e.do(t, "DELETE", "/api/v1/rules/test-rule", "", "If-Match", `"1"`); rec.Code != 204 {
		t.Fatalf("DELETE rule = %d %s", rec.Code, rec.Body)
	}
	if rec := e.do(t, "DELETE", "/api/v1/units/test-unit", "", "If-Match", "*"); rec.Code != 204 {
		t.Fatalf("DELETE unit = %d %s", rec.Code, rec.Body)
	}
	if _, ok := e.idx.Unit("test-unit"); ok {
		t.Errorf("unit test-unit still indexed after DELETE")
	}
	if got, _ := e.store.Units(t.Context()); len(got) != len(units) {
		t.Errorf("store has %d units, want %d again", len(got), len(units))
	}
}

// TestUnitsAndRulesVersions: units and rules carry their version as ETag, PUT answers 201 on
// create (without If-Match) and 200 on replace, which needs If-Match: the current version or
// *; none is 428. A PUT of what is stored answers 200 with the same version.
func TestUnitsAndRulesVersions(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}})
	body := jsonBody(t, map[string]any{"name": "版本测试所", "type": "public_service_unit"})
	renamed := jsonBody(t, map[string]any{"name": "版本测试所（新）", "type": "public_service_unit"})
	rule := jsonBody(t, map[string]any{"order": 5, "class": "01", "unit": "v-unit"})
	rule2 := jsonBody(t, map[string]any{"order": 6, "class": "01", "unit": "v-unit"})

	for _, tt := range []struct {
		name, target, create, replace, notFound string
	}{
		{"unit", "/api/v1/units/v-unit", body, renamed, "unit_not_found"},
		{"rule", "/api/v1/rules/v-rule", rule, rule2, "rule_not_found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// If-Match on a record that does not exist is 404, as for cells; * too.
			runErrCases(t, e, []errCase{
				{"If-Match on a missing record", "PUT", tt.target, tt.create, []string{"If-Match", `"1"`}, 404, tt.notFound},
				{"If-Match * on a missing record", "PUT", tt.target, tt.create, []string{"If-Match", "*"}, 404, tt.notFound},
			})
			rec := e.do(t, "PUT", tt.target, tt.create)
			if rec.Code != 201 || rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != tt.target {
				t.Fatalf("PUT new %s = %d ETag %q Location %q, want 201 \"1\" %s (body %s)", tt.name, rec.Code,
					rec.Header().Get("ETag"), rec.Header().Get("Location"), tt.target, short(rec.Body))
			}
			get := e.do(t, "GET", tt.target, "")
			if get.Code != 200 || get.Header().Get("ETag") != `"1"` {
				t.Errorf("GET %s = %d ETag %q, want 200 \"1\"", tt.target, get.Code, get.Header().Get("ETag"))
			}
			if nm := e.do(t, "GET", tt.target, "", "If-None-Match", `"1"`); nm.Code != 304 {
				t.Errorf("GET %s If-None-Match \"1\" = %d, want 304", tt.target, nm.Code)
			}
			runErrCases(t, e, []errCase{
				{"stale If-Match", "PUT", tt.target, tt.replace, []string{"If-Match", `"7"`}, 409, "version_conflict"},
				{"malformed If-Match", "PUT", tt.target, tt.replace, []string{"If-Match", "soon"}, 400, "invalid_if_match"},
			})
			rec = e.do(t, "PUT", tt.target, tt.replace, "If-Match", `"1"`)
			if rec.Code != 200 || rec.Header().Get("ETag") != `"2"` || rec.Header().Get("Location") != "" {
				t.Fatalf("PUT %s If-Match \"1\" = %d ETag %q Location %q, want 200 \"2\" and no Location (body %s)", tt.target,
					rec.Code, rec.Header().Get("ETag"), rec.Header().Get("Location"), short(rec.Body))
			}
			// The stale version is now refused; without If-Match a replace is 428.
			runErrCases(t, e, []errCase{
				{"If-Match of the old version", "PUT", tt.target, tt.create, []string{"If-Match", `"1"`}, 409, "version_conflict"},
				{"no If-Match on a stored record", "PUT", tt.target, tt.create, nil, 428, "precondition_required"},
			})
			// The same body again changes nothing: 200 with the same version.
			if rec := e.do(t, "PUT", tt.target, tt.replace, "If-Match", `"2"`); rec.Code != 200 || rec.Header().Get("ETag") != `"2"` {
				t.Errorf("PUT %s of the stored record = %d ETag %q, want 200 \"2\"", tt.target, rec.Code, rec.Header().Get("ETag"))
			}
			if rec := e.do(t, "PUT", tt.target, tt.create, "If-Match", "*"); rec.Code != 200 || rec.Header().Get("ETag") != `"3"` {
				t.Errorf("PUT %s If-Match * = %d ETag %q, want 200 \"3\"", tt.target, rec.Code, rec.Header().Get("ETag"))
			}
		})
	}
	if got, ok := e.idx.Unit("v-unit"); !ok || got.Name != "版本测试所" || got.Version != 3 {
		t.Errorf("index unit v-unit = %+v, %v; want the last write, version 3", got, ok)
	}
	var r ruleResp
	decode(t, e.do(t, "GET", "/api/v1/rules/v-rule", ""), 200, &r)
	if r.Order != 5 || r.Unit != "v-unit" {
		t.Errorf("GET rule v-rule = %+v, want order 5 (the last write)", r)
	}
	runErrCases(t, e, []errCase{
		{"unknown rule", "GET", "/api/v1/rules/no-such-rule", "", nil, 404, "rule_not_found"},
	})
}

// TestUnitPutGraph: PUT /units/{id} refuses a parent cycle through stored units and a
// supervisor that is not an admin department, as a units document does.
func TestUnitPutGraph(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units"}})
	put := func(id string, m map[string]any) int {
		t.Helper()
		return e.do(t, "PUT", "/api/v1/units/"+id, jsonBody(t, m)).Code
	}
	if c1, c2, c3 := put("g-p1", map[string]any{"name": "一", "type": "public_service_unit"}),
		put("g-p2", map[string]any{"name": "二", "type": "public_service_unit", "parent": "g-p1"}),
		put("g-admin", map[string]any{"name": "局", "type": "admin_department"}); c1 != 201 || c2 != 201 || c3 != 201 {
		t.Fatalf("PUT g-p1, g-p2, g-admin = %d, %d, %d; want 201", c1, c2, c3)
	}
	if c := put("g-sup", map[string]any{"name": "所", "type": "public_service_unit", "supervisor": "g-admin"}); c != 201 {
		t.Fatalf("PUT g-sup = %d, want 201", c)
	}
	star := []string{"If-Match", "*"}
	runErrCases(t, e, []errCase{
		{"parent cycle", "PUT", "/api/v1/units/g-p1", jsonBody(t, map[string]any{"name": "一", "type": "public_service_unit", "parent": "g-p2"}), star, 400, "parent_cycle"},
		{"supervisor not an admin department", "PUT", "/api/v1/units/g-p2",
			jsonBody(t, map[string]any{"name": "二", "type": "public_service_unit", "parent": "g-p1", "supervisor": "g-p1"}), star, 400, "invalid_supervisor"},
		{"a supervisor stops being an admin department", "PUT", "/api/v1/units/g-admin",
			jsonBody(t, map[string]any{"name": "局", "type": "public_service_unit"}), star, 400, "invalid_supervisor"},
	})
	if u, _ := e.idx.Unit("g-p1"); u == nil || u.Parent != "" {
		t.Errorf("unit g-p1 = %+v after a refused cycle, want no parent", u)
	}
}

// TestWritesLoggedWithActor: every successful write is logged once at info as "write" with
// its actor and request id, by the middleware, whatever the route; a refused write and a
// lookup batch (a POST that reads) are not.
func TestWritesLoggedWithActor(t *testing.T) {
	logs := &logRecords{}
	e := newEnv(t, envOptions{kinds: []string{"cells", "units"}, cfg: api.Config{Log: slog.New(logs)}})
	steps := []struct {
		method, target, body string
		headers              []string
		status               int
		write                bool
	}{
		{"PUT", "/api/v1/units/log-unit", jsonBody(t, map[string]any{"name": "日志测试所", "type": "public_service_unit"}),
			[]string{"X-Actor", "registrar-li", "X-Request-Id", "req-put"}, 201, true},
		{"PUT", "/api/v1/units/log-unit", jsonBody(t, map[string]any{"name": "日志测试所（改）", "type": "public_service_unit"}),
			[]string{"X-Actor", "registrar-li", "X-Request-Id", "req-refused"}, 428, false},
		{"POST", "/api/v1/lookup?fields=cell", `[[106.57,29.55]]`, []string{"X-Request-Id", "req-lookup"}, 200, false},
		{"DELETE", "/api/v1/units/log-unit", "", []string{"If-Match", "*", "X-Request-Id", "req-delete"}, 204, true},
	}
	for _, st := range steps {
		rec := e.do(t, st.method, st.target, st.body, st.headers...)
		if rec.Code != st.status {
			t.Fatalf("%s %s = %d %s, want %d", st.method, st.target, rec.Code, short(rec.Body), st.status)
		}
		id := rec.Header().Get("X-Request-Id")
		r := logs.find("write", "request_id", id)
		switch {
		case st.write && r == nil:
			t.Errorf("%s %s (%s): no write logged", st.method, st.target, id)
		case st.write:
			wantActor := "anonymous"
			if i := slices.Index(st.headers, "X-Actor"); i >= 0 {
				wantActor = st.headers[i+1]
			}
			if r["level"] != "INFO" || r["actor"] != wantActor || r["route"] == "" {
				t.Errorf("%s %s: write logged as %v, want INFO with actor %s and the route", st.method, st.target, r, wantActor)
			}
		case r != nil:
			t.Errorf("%s %s (%s, %d): logged as a write: %v", st.method, st.target, id, rec.Code, r)
		}
	}
}

// TestUnitAndRuleHistory: GET …/{id}/history answers who changed a unit or rule, when, how,
// the version, the changed fields and the record before and after, also once it is deleted;
// 404 for an id that never existed.
func TestUnitAndRuleHistory(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units"}})
	district := ""
	for _, u := range e.idx.Units() {
		if len(u.Districts) > 0 {
			district = u.Districts[0]
		}
	}
	steps := []struct {
		method, target, body string
		headers              []string
		status               int
	}{
		{"PUT", "/api/v1/units/h-unit", jsonBody(t, map[string]any{"name": "历史所", "type": "public_service_unit"}), []string{"X-Actor", "alice"}, 201},
		{"PUT", "/api/v1/units/h-unit", jsonBody(t, map[string]any{"name": "历史所", "type": "public_service_unit", "phone": "023-1", "districts": []string{district}}),
			[]string{"X-Actor", "bob", "If-Match", `"1"`}, 200},
		{"PUT", "/api/v1/rules/h-rule", jsonBody(t, map[string]any{"class": "01", "area": district, "unit": "h-unit"}), []string{"X-Actor", "carol"}, 201},
		{"PUT", "/api/v1/rules/h-rule", jsonBody(t, map[string]any{"order": 3, "class": "01", "area": district, "unit": "h-unit"}),
			[]string{"X-Actor", "carol", "If-Match", "*"}, 200},
		{"DELETE", "/api/v1/rules/h-rule", "", []string{"X-Actor", "dave", "If-Match", `"2"`}, 204},
		{"DELETE", "/api/v1/units/h-unit", "", []string{"X-Actor", "erin", "If-Match", `"2"`}, 204},
	}
	for _, st := range steps {
		if rec := e.do(t, st.method, st.target, st.body, st.headers...); rec.Code != st.status {
			t.Fatalf("%s %s = %d %s, want %d", st.method, st.target, rec.Code, short(rec.Body), st.status)
		}
	}
	type entry struct {
		Seq     uint64          `json:"seq"`
		Actor   string          `json:"actor"`
		Op      string          `json:"op"`
		Version int64           `json:"version"`
		Changed []string        `json:"changed"`
		Before  json.RawMessage `json:"before"`
		After   json.RawMessage `json:"after"`
	}
	for _, tt := range []struct {
		target string
		want   []entry // Seq, Before and After checked apart
	}{
		{"/api/v1/units/h-unit/history", []entry{
			{Actor: "alice", Op: "create", Version: 1, Changed: []string{"id", "name", "type"}},
			{Actor: "bob", Op: "update", Version: 2, Changed: []string{"districts", "phone"}},
			{Actor: "erin", Op: "delete", Version: 2, Changed: []string{}},
		}},
		{"/api/v1/rules/h-rule/history", []entry{
			{Actor: "carol", Op: "create", Version: 1, Changed: []string{"id", "order", "class", "area", "unit"}},
			{Actor: "carol", Op: "update", Version: 2, Changed: []string{"order"}},
			{Actor: "dave", Op: "delete", Version: 2, Changed: []string{}},
		}},
	} {
		var got struct{ Changes []entry }
		decode(t, e.do(t, "GET", tt.target, ""), 200, &got)
		if len(got.Changes) != len(tt.want) {
			t.Fatalf("GET %s = %+v, want %d entries", tt.target, got, len(tt.want))
		}
		for i, w := range tt.want {
			g := got.Changes[i]
			if g.Actor != w.Actor || g.Op != w.Op || g.Version != w.Version || !slices.Equal(g.Changed, w.Changed) {
				t.Errorf("%s[%d] = %s/%s/v%d changed %v, want %s/%s/v%d changed %v", tt.target, i, g.Actor, g.Op, g.Version, g.Changed,
					w.Actor, w.Op, w.Version, w.Changed)
			}
			if (string(g.Before) == "null") != (w.Op == "create") || (string(g.After) == "null") != (w.Op == "delete") {
				t.Errorf("%s[%d] (%s): before %s, after %s", tt.target, i, g.Op, g.Before, g.After)
			}
			if i > 0 && g.Seq <= got.Changes[i-1].Seq {
				t.Errorf("%s[%d] seq %d, want above %d", tt.target, i, g.Seq, got.Changes[i-1].Seq)
			}
		}
		var before struct {
			Version int64 `json:"version"`
			Order   *int  `json:"order"`
			Phone   *string
		}
		if err := json.Unmarshal(got.Changes[2].Before, &before); err != nil || before.Version != 2 {
			t.Errorf("%s: the deleted record = %s (%v), want version 2", tt.target, got.Changes[2].Before, err)
		}
	}
	runErrCases(t, e, []errCase{
		{"unit never stored", "GET", "/api/v1/units/no-such-unit/history", "", nil, 404, "unit_not_found"},
		{"rule never stored", "GET", "/api/v1/rules/no-such-rule/history", "", nil, 404, "rule_not_found"},
	})
}
