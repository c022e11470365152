package api_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

func cellCodeOf(s string) registry.GridCode { return registry.GridCode(s) }

// firstComponentClass is a GB/T 47678.5-2026 component class of the catalogue.
func firstComponentClass(t testing.TB) string {
	t.Helper()
	cls := registry.DefaultCatalog().List(registry.KindComponent, registry.StandardGB2026)
	if len(cls) == 0 {
		t.Fatal("empty catalogue")
	}
	return cls[0].Code
}

type reportResp struct {
	Kind      string `json:"kind"`
	Mode      string `json:"mode"`
	Total     int    `json:"total"`
	Valid     int    `json:"valid"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Deleted   int    `json:"deleted"`
	Unchanged int    `json:"unchanged"`
	Rejected  int    `json:"rejected"`
	Stored    bool   `json:"stored"`
	Moved     int    `json:"moved"`
	Retired   int    `json:"retired"`
	Problems  []struct {
		Index   int    `json:"index"`
		ID      string `json:"id"`
		Field   string `json:"field"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"problems"`
}

func readFixture(t testing.TB, kind string) string {
	t.Helper()
	b, err := os.ReadFile(fixtureFile(kind))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCensusFixtures imports the whole test city over HTTP, each kind in its own format.
func TestCensusFixtures(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{}})
	steps := []struct {
		kind, target, contentType string
	}{
		{"cells", "/api/v1/census/cells", "application/geo+json"},
		{"units", "/api/v1/census/units", "application/json"},
		{"rules", "/api/v1/census/rules", "application/json"},
		{"components", "/api/v1/census/components", "text/csv; charset=utf-8"},
	}
	for _, s := range steps {
		rec := e.do(t, "POST", s.target, readFixture(t, s.kind), "Content-Type", s.contentType, "X-Actor", "census-team")
		var rep reportResp
		decode(t, rec, 200, &rep)
		if rep.Kind != s.kind || rep.Mode != "strict" || !rep.Stored || rep.Rejected != 0 || rep.Created == 0 || rep.Created != rep.Total || len(rep.Problems) != 0 {
			t.Errorf("POST %s = %+v, want everything created", s.target, rep)
		}
	}
	st := e.idx.Stats()
	if st.Cells == 0 || st.Components != testCity().Components || st.Units == 0 || st.Rules == 0 {
		t.Errorf("index after the census = %+v, want %d components and some of the rest", st, testCity().Components)
	}
	// Importing the same cells again changes nothing: all unchanged, none created or updated.
	var rep reportResp
	decode(t, e.do(t, "POST", "/api/v1/census/cells?format=geojson", readFixture(t, "cells")), 200, &rep)
	if rep.Unchanged != st.Cells || rep.Updated != 0 || rep.Created != 0 || rep.Stored {
		t.Errorf("second cell import = %+v, want %d unchanged and nothing stored", rep, st.Cells)
	}
}

// farCells returns n valid square cells of the given community far from the test city, and
// their codes.
func farCells(community string, n int) ([]map[string]any, []string) {
	var fs []map[string]any
	var codes []string
	for i := range n {
		x := 10 + float64(i)*0.01
		code := fmt.Sprintf("%sZ%02d", community, i)
		ring := [][]float64{{x, 10}, {x + 0.001, 10}, {x + 0.001, 10.001}, {x, 10.001}, {x, 10}}
		fs = append(fs, map[string]any{"type": "Feature", "properties": map[string]any{"code": code, "name": "远方网格"},
			"geometry": map[string]any{"type": "Polygon", "coordinates": [][][]float64{ring}}})
		codes = append(codes, code)
	}
	return fs, codes
}

func TestCensusStrictAndPartial(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells"}})
	_, cell := cellPoint(t, e.idx, 0)
	community := string(cell.Code)[:12]
	cells, codes := farCells(community, 3)
	// Feature 1 is broken: its ring is not closed.
	cells[1]["geometry"] = map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{20, 20}, {20.001, 20}, {20.001, 20.001}}}}
	body := jsonBody(t, map[string]any{"type": "FeatureCollection", "features": cells})
	before := e.idx.Stats().Cells
	exportBefore := e.do(t, "GET", "/api/v1/export/cells", "").Body.String()

	rec := e.do(t, "POST", "/api/v1/census/cells", body, "Content-Type", "application/geo+json")
	if rec.Code != 422 {
		t.Fatalf("strict import with a bad feature = %d %s, want 422", rec.Code, rec.Body)
	}
	p := problemOf(t, rec)
	var rep reportResp
	if p.Code != "import_rejected" || json.Unmarshal(p.Report, &rep) != nil {
		t.Fatalf("problem = %+v, want import_rejected with a report", p)
	}
	if rep.Stored || rep.Total != 3 || rep.Rejected != 1 || len(rep.Problems) == 0 || rep.Problems[0].Index != 1 || rep.Problems[0].Field != "geometry" {
		t.Errorf("report = %+v, want feature 1's geometry rejected and nothing stored", rep)
	}
	if got := e.idx.Stats().Cells; got != before {
		t.Errorf("index has %d cells after a rejected import, want %d", got, before)
	}
	if after := e.do(t, "GET", "/api/v1/export/cells", "").Body.String(); after != exportBefore {
		t.Errorf("the store changed after a rejected strict import")
	}

	rec = e.do(t, "POST", "/api/v1/census/cells?mode=partial", body, "Content-Type", "application/geo+json")
	decode(t, rec, 200, &rep)
	if !rep.Stored || rep.Mode != "partial" || rep.Created != 2 || rep.Rejected != 1 || len(rep.Problems) != 1 {
		t.Errorf("partial import = %+v, want 2 created and 1 rejected", rep)
	}
	for i, code := range codes {
		_, ok := e.idx.Cell(cellCodeOf(code))
		if ok != (i != 1) {
			t.Errorf("after the partial import, cell %s indexed = %v", code, ok)
		}
	}
	if got := e.idx.Stats().Cells; got != before+2 {
		t.Errorf("index has %d cells, want %d", got, before+2)
	}
}

func TestCensusComponentsNDJSON(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}})
	p, _ := cellPoint(t, e.idx, 3)
	class := firstComponentClass(t)
	line := func(props map[string]any, pt orb.Point) string {
		return jsonBody(t, map[string]any{"type": "Feature", "properties": props,
			"geometry": map[string]any{"type": "Point", "coordinates": []float64{pt[0], pt[1]}}})
	}
	body := strings.Join([]string{
		line(map[string]any{"class": class, "name": "一"}, p),
		line(map[string]any{"class": "abc"}, p),
		line(map[string]any{"class": class}, orb.Point{0, 0}),
	}, "\n") + "\n"
	rec := e.do(t, "POST", "/api/v1/census/components", body, "Content-Type", "application/geo+json-seq")
	if rec.Code != 422 {
		t.Fatalf("strict = %d %s, want 422", rec.Code, rec.Body)
	}
	if e.idx.Stats().Components != 0 {
		t.Errorf("components stored by a rejected import: %d", e.idx.Stats().Components)
	}
	var rep reportResp
	decode(t, e.do(t, "POST", "/api/v1/census/components?mode=partial&format=ndjson", body), 200, &rep)
	codes := map[int]string{}
	for _, pr := range rep.Problems {
		codes[pr.Index] = pr.Code
	}
	if rep.Created != 1 || rep.Rejected != 2 || codes[1] != "invalid_class" || codes[2] != "outside_grid" {
		t.Errorf("partial = %+v, want 1 created; 1 invalid_class, 2 outside_grid", rep)
	}
	if e.idx.Stats().Components != 1 {
		t.Errorf("index holds %d components, want 1", e.idx.Stats().Components)
	}
}

func TestCensusErrors(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells"}, cfg: apiConfigSmallBodies()})
	big := readFixture(t, "cells") // far above the 16 KiB test limit
	if len(big) <= 16<<10 {
		t.Fatalf("cells fixture is only %d bytes", len(big))
	}
	runErrCases(t, e, []errCase{
		{"unknown kind", "POST", "/api/v1/census/trees", "[]", nil, 404, "not_found"},
		{"bad mode", "POST", "/api/v1/census/units?mode=lenient", "[]", nil, 400, "invalid_mode"},
		{"bad format", "POST", "/api/v1/census/cells?format=shapefile", "{}", nil, 400, "invalid_format"},
		{"undetectable format", "POST", "/api/v1/census/cells", "hello", nil, 400, "invalid_input"},
		{"empty units document", "POST", "/api/v1/census/units", "", nil, 400, "invalid_input"},
		{"body too large", "POST", "/api/v1/census/cells", big, []string{"Content-Type", "application/geo+json"}, 413, "body_too_large"},
		{"get is not allowed", "GET", "/api/v1/census/cells", "", nil, 405, "method_not_allowed"},
		{"unknown export", "GET", "/api/v1/export/units", "", nil, 404, "not_found"},
		{"bad include_removed", "GET", "/api/v1/export/components?include_removed=maybe", "", nil, 400, "invalid_input"},
	})
	if got := e.idx.Stats().Cells; got == 0 {
		t.Fatal("no cells")
	}
}

func TestExport(t *testing.T) {
	e := sharedEnv(t)
	for _, kind := range []string{"cells", "components"} {
		rec := e.do(t, "GET", "/api/v1/export/"+kind, "")
		var fc pageResp
		decode(t, rec, 200, &fc)
		if ct := rec.Header().Get("Content-Type"); ct != "application/geo+json" {
			t.Errorf("export %s Content-Type = %q", kind, ct)
		}
		want := e.idx.Stats().Cells
		if kind == "components" {
			want = 0
			e.store.ForEachComponent(t.Context(), func(c *registry.Component) error {
				if c.Status != registry.StatusRemoved {
					want++
				}
				return nil
			})
		}
		if fc.Type != "FeatureCollection" || len(fc.Features) != want {
			t.Errorf("export %s: %d features, want %d", kind, len(fc.Features), want)
		}
	}
}

// TestCensusRulesUpsert: a rules file upserts by id in strict and partial mode (the demo
// city's 23 rules survive a one-rule file), replaces the whole set only with mode replace
// (counting what it removed), an entry refused in partial mode leaves its stored rule alone,
// a re-import of what is stored changes nothing, and an empty document removes nothing in any
// mode (422 empty_census).
func TestCensusRulesUpsert(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}})
	before := e.idx.Rules()
	if len(before) != 23 {
		t.Fatalf("the demo city has %d rules, want 23", len(before))
	}
	byID := func() map[string]registry.Rule {
		m := map[string]registry.Rule{}
		for _, r := range e.idx.Rules() {
			m[r.ID] = r
		}
		return m
	}
	kept, typo := before[0], before[1]
	entry := func(r registry.Rule, unit string) map[string]any {
		return map[string]any{"id": r.ID, "order": r.Order, "class": r.Class, "kind": r.Kind, "area": r.Area,
			"in_unit": r.InUnit, "unit": unit, "reason": r.Reason + "（新）"}
	}
	one := jsonBody(t, map[string]any{"rules": []any{entry(kept, kept.Unit)}})
	for _, mode := range []string{"strict", "partial"} {
		var rep reportResp
		decode(t, e.do(t, "POST", "/api/v1/census/rules?mode="+mode, one), 200, &rep)
		want := reportResp{Kind: "rules", Mode: mode, Total: 1, Valid: 1, Updated: 1, Stored: true}
		if mode == "partial" { // the same file again: nothing to do, nothing written
			want.Updated, want.Unchanged, want.Stored = 0, 1, false
		}
		if rep.Kind != want.Kind || rep.Total != 1 || rep.Updated != want.Updated || rep.Unchanged != want.Unchanged ||
			rep.Created != 0 || rep.Deleted != 0 || rep.Stored != want.Stored {
			t.Errorf("one-rule import (%s) = %+v, want %+v", mode, rep, want)
		}
		after := byID()
		if len(after) != 23 {
			t.Fatalf("%d rules after a one-rule import (%s), want all 23", len(after), mode)
		}
		for _, r := range before[1:] {
			if after[r.ID] != r {
				t.Errorf("rule %s = %+v after importing another one, want it untouched %+v", r.ID, after[r.ID], r)
			}
		}
		if r := after[kept.ID]; r.Reason != kept.Reason+"（新）" || r.Version != kept.Version+1 {
			t.Errorf("rule %s = %+v, want the imported reason at version %d", kept.ID, r, kept.Version+1)
		}
	}

	seq := lastSeq(t, e.store)
	body := jsonBody(t, map[string]any{"rules": []any{entry(kept, kept.Unit), entry(typo, typo.Unit+"-typo")}})
	var rep reportResp
	decode(t, e.do(t, "POST", "/api/v1/census/rules?mode=partial", body), 200, &rep)
	if rep.Stored || rep.Unchanged != 1 || rep.Updated != 0 || rep.Rejected != 1 || rep.Deleted != 0 {
		t.Errorf("partial rules import with a typo = %+v, want 1 unchanged, 1 rejected, none deleted", rep)
	}
	if after := byID(); after[typo.ID] != typo || len(after) != 23 {
		t.Errorf("refused rule %s = %+v (%d rules), want it untouched %+v among 23", typo.ID, after[typo.ID], len(after), typo)
	}
	if got := lastSeq(t, e.store); got != seq {
		t.Errorf("the feed moved from %d to %d on an import that changed nothing", seq, got)
	}

	for _, mode := range []string{"strict", "partial", "replace"} {
		for _, doc := range []string{`{"rules":[]}`, `[]`} {
			var rej struct {
				Code   string     `json:"code"`
				Report reportResp `json:"report"`
			}
			decode(t, e.do(t, "POST", "/api/v1/census/rules?mode="+mode, doc), 422, &rej)
			if rej.Code != "empty_census" || rej.Report.Total != 0 || rej.Report.Stored {
				t.Errorf("empty rules document %s (%s) = %+v, want 422 with empty_census", doc, mode, rej)
			}
		}
		if n := len(e.idx.Rules()); n != 23 {
			t.Fatalf("%d rules after an empty %s import, want 23", n, mode)
		}
	}

	decode(t, e.do(t, "POST", "/api/v1/census/rules?mode=replace", one), 200, &rep)
	if !rep.Stored || rep.Unchanged != 1 || rep.Deleted != 22 || rep.Created != 0 || rep.Updated != 0 {
		t.Errorf("replace with one rule = %+v, want 1 unchanged, 22 deleted", rep)
	}
	if after := e.idx.Rules(); len(after) != 1 || after[0].ID != kept.ID {
		t.Errorf("rules after replace = %+v, want only %s", after, kept.ID)
	}
}
