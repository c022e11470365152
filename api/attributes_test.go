package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"citygrid/registry"
)

// TestComponentAttributes: a component's attributes (properties outside the standard) are
// taken by POST, answered under "attributes", merged by PATCH (null removes one), refused
// over their caps, written by the export, and an exported feature imports back with them.
func TestComponentAttributes(t *testing.T) {
	e := newEnv(t, envOptions{})
	proto := someComponent(t, e, 0)
	p, _ := cellPoint(t, e.idx, 7)
	attrsOf := func(body []byte) map[string]any {
		t.Helper()
		var f struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		raw, ok := f.Properties["attributes"]
		if !ok {
			return nil
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("attributes %s: %v", raw, err)
		}
		return m
	}
	rec := e.do(t, "POST", "/api/v1/components", componentFeature(t, &p, map[string]any{
		"class": proto.Class, "材质": "铸铁", "fid": 17, "attributes": map[string]any{"规格": "0800"}}))
	if rec.Code != 201 {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	id := strings.TrimPrefix(rec.Header().Get("Location"), "/api/v1/components/")
	if got := fmt.Sprint(attrsOf(rec.Body.Bytes())); got != "map[fid:17 材质:铸铁 规格:0800]" {
		t.Errorf("created attributes = %s", got)
	}
	rec = e.do(t, "PATCH", "/api/v1/components/"+id,
		componentFeature(t, nil, map[string]any{"attributes": map[string]any{"fid": nil, "材质": "球墨铸铁"}}), "If-Match", `"1"`)
	if rec.Code != 200 || rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("PATCH = %d %s", rec.Code, rec.Body)
	}
	rec = e.do(t, "GET", "/api/v1/components/"+id, "")
	want := "map[材质:球墨铸铁 规格:0800]"
	if got := fmt.Sprint(attrsOf(rec.Body.Bytes())); got != want {
		t.Errorf("GET attributes = %s, want %s", got, want)
	}
	rec = e.do(t, "GET", "/api/v1/components/"+proto.ID.String(), "")
	if a := attrsOf(rec.Body.Bytes()); a != nil {
		t.Errorf("a component without attributes answers attributes %v", a)
	}
	many := map[string]any{}
	for i := range registry.MaxAttributes + 1 {
		many[fmt.Sprintf("a%d", i)] = i
	}
	runErrCases(t, e, []errCase{
		{"too many", "POST", "/api/v1/components", componentFeature(t, &p, map[string]any{"class": proto.Class, "attributes": many}), nil, 400, "too_many_attributes"},
		{"attributes not an object", "PATCH", "/api/v1/components/" + id, componentFeature(t, nil, map[string]any{"attributes": "铸铁"}), []string{"If-Match", `"2"`}, 400, "invalid_attribute"},
		{"a name too long", "PATCH", "/api/v1/components/" + id, componentFeature(t, nil, map[string]any{strings.Repeat("长", 65): 1}), []string{"If-Match", `"2"`}, 400, "too_long"},
	})

	// The export writes them; the exported feature imports back with them.
	rec = e.do(t, "GET", "/api/v1/export/components", "")
	var line string
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"id":"`+id+`"`) {
			line = strings.TrimSuffix(sc.Text(), ",")
		}
	}
	if got := fmt.Sprint(attrsOf([]byte(line))); got != want {
		t.Fatalf("exported attributes = %s in %s, want %s", got, line, want)
	}
	f := newEnv(t, envOptions{kinds: []string{"cells", "units"}})
	rec = f.do(t, "POST", "/api/v1/census/components", `{"type":"FeatureCollection","features":[`+line+`]}`)
	if rec.Code != 200 {
		t.Fatalf("import of the export = %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, "GET", "/api/v1/components/"+id, "")
	if got := fmt.Sprint(attrsOf(rec.Body.Bytes())); got != want {
		t.Errorf("re-imported attributes = %s, want %s", got, want)
	}
}
