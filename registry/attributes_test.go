package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"citygrid/registry"
)

// geojsonComponent is one GeoJSON component feature with the given extra properties (JSON
// members text, starting with a comma).
func geojsonComponent(id, extra string) string {
	return fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[106.5705,29.5505]},"properties":{"id":%q,"class":"01037"%s}}`, id, extra)
}

// decodeOne reads one census feature of format f and decodes it as a component.
func decodeOne(t *testing.T, f registry.Format, text string) (registry.Component, []registry.Problem) {
	t.Helper()
	var c registry.Component
	var probs []registry.Problem
	n := 0
	err := registry.ReadFeatures(strings.NewReader(text), f, func(feat *registry.Feature) error {
		n++
		c, probs = registry.DecodeComponent(feat, registry.DefaultCatalog())
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("ReadFeatures: %d features, %v", n, err)
	}
	return c, probs
}

// TestDecodeComponentAttributes: properties outside the standard are kept with their JSON
// type, from GeoJSON, NDJSON and CSV, and from an "attributes" object; the caps hold.
func TestDecodeComponentAttributes(t *testing.T) {
	const id = "50010301037000001"
	many := ""
	for i := range registry.MaxAttributes + 1 {
		many += fmt.Sprintf(`,"a%02d":%d`, i, i)
	}
	tests := []struct {
		name     string
		format   registry.Format
		text     string
		want     registry.Attributes
		wantCode string
	}{
		{"none", registry.FormatGeoJSON, geojsonComponent(id, ""), "", ""},
		{"types kept, names sorted", registry.FormatGeoJSON,
			geojsonComponent(id, `,"材质":"铸铁","fid":17,"规格":"0800","ok":true,"size":[600,800],"meta":{"b":1,"a":"<x>"},"blank":"  ","gone":null`),
			`{"fid":17,"meta":{"a":"<x>","b":1},"ok":true,"size":[600,800],"材质":"铸铁","规格":"0800"}`, ""},
		{"ndjson", registry.FormatNDJSON, geojsonComponent(id, `,"fid":1.50`) + "\n", `{"fid":1.50}`, ""},
		{"csv columns are text", registry.FormatCSV,
			"id,class,lon,lat,材质,规格,fid\n" + id + ",01037,106.5705,29.5505,铸铁,0800,17\n",
			`{"fid":"17","材质":"铸铁","规格":"0800"}`, ""},
		{"csv attributes column", registry.FormatCSV,
			"id,class,lon,lat,attributes\n" + id + `,01037,106.5705,29.5505,"{""材质"":""铸铁"",""fid"":3}"` + "\n",
			`{"fid":3,"材质":"铸铁"}`, ""},
		{"attributes object as the API answers it", registry.FormatGeoJSON,
			geojsonComponent(id, `,"attributes":{"材质":"铸铁","fid":17,"x":null},"规格":"0800"`), `{"fid":17,"材质":"铸铁","规格":"0800"}`, ""},
		{"the same value twice", registry.FormatGeoJSON,
			geojsonComponent(id, `,"attributes":{"fid":17},"fid":17`), `{"fid":17}`, ""},
		{"set-aside properties are not attributes", registry.FormatGeoJSON,
			geojsonComponent(id, `,"key":3,"cell":"500103003001001","version":2,"updated":"2025-01-01T00:00:00Z","updated_by":"x","class_name":"路灯","status_name":"完好","street":"s","community":"c"`), "", ""},
		{"exponent in decimal", registry.FormatGeoJSON, geojsonComponent(id, `,"h":1e3,"l":2.5E-3`), `{"h":1000,"l":0.0025}`, ""},
		{"conflicting values", registry.FormatGeoJSON, geojsonComponent(id, `,"attributes":{"fid":17},"fid":18`), "", "conflicting_values"},
		{"attributes not an object", registry.FormatGeoJSON, geojsonComponent(id, `,"attributes":[1,2]`), "", "invalid_attribute"},
		{"attributes a string", registry.FormatGeoJSON, geojsonComponent(id, `,"attributes":"铸铁"`), "", "invalid_attribute"},
		{"a census field inside attributes", registry.FormatGeoJSON, geojsonComponent(id, `,"attributes":{"name":"x"}`), "", "invalid_attribute"},
		{"an empty name", registry.FormatGeoJSON, geojsonComponent(id, `,"":"x"`), "", "invalid_attribute"},
		{"too many", registry.FormatGeoJSON, geojsonComponent(id, many), "", "too_many_attributes"},
		{"name too long", registry.FormatGeoJSON, geojsonComponent(id, `,"`+strings.Repeat("名", registry.MaxAttributeNameLen+1)+`":1`), "", "too_long"},
		{"value too long", registry.FormatGeoJSON, geojsonComponent(id, `,"note2":"`+strings.Repeat("x", registry.MaxAttributeValueSize)+`"`), "", "too_long"},
		{"too large in all", registry.FormatGeoJSON, geojsonComponent(id, strings.Repeat(`,"n`, 1)+strings.Join(func() []string {
			var out []string
			for i := range 12 {
				out = append(out, fmt.Sprintf(`%d":"%s"`, i, strings.Repeat("y", 1000)))
			}
			return out
		}(), `,"n`)), "", "too_many_attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, probs := decodeOne(t, tt.format, tt.text)
			if tt.wantCode != "" {
				if len(probs) != 1 || probs[0].Code != tt.wantCode || probs[0].Field != "attributes" || probs[0].ID != id {
					t.Fatalf("problems %+v, want one %s on field attributes of %s", probs, tt.wantCode, id)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatalf("problems %+v", probs)
			}
			if c.Attributes != tt.want {
				t.Errorf("Attributes = %s, want %s", c.Attributes, tt.want)
			}
		})
	}
}

// TestParseAttributes: the forms another store answers (PostgreSQL's jsonb: spaces, its own
// key order, escapes undone, exponents in decimal) all give the canonical text.
func TestParseAttributes(t *testing.T) {
	tests := []struct {
		in, want string
		wantCode string
	}{
		{"", "", ""},
		{"null", "", ""},
		{"{}", "", ""},
		{`{"b": 1, "a": "x"}`, `{"a":"x","b":1}`, ""},
		{`{"fid": 17, "材质": "铸铁"}`, `{"fid":17,"材质":"铸铁"}`, ""},
		{`{"\u6750\u8d28":"\u94f8\u94c1"}`, `{"材质":"铸铁"}`, ""},
		{`{"h": 1000, "x": {"z": [1, 2], "y": null}}`, `{"h":1000,"x":{"y":null,"z":[1,2]}}`, ""},
		{`{"h":1e3}`, `{"h":1000}`, ""},
		{`{"a":null,"b":2}`, `{"b":2}`, ""},
		{`{"a":1,"a":2}`, `{"a":2}`, ""},
		{`[1]`, "", "invalid_attribute"},
		{`{"a":}`, "", "invalid_attribute"},
		{`{"a":1} x`, "", "invalid_attribute"},
		{`{"version":1}`, "", "invalid_attribute"},
		{`{"GLBJMC":"x"}`, "", "invalid_attribute"},
	}
	for _, tt := range tests {
		got, err := registry.ParseAttributes([]byte(tt.in))
		if registry.ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
			t.Errorf("ParseAttributes(%s) error %v, want code %q", tt.in, err, tt.wantCode)
			continue
		}
		if tt.wantCode == "" && (err != nil || string(got) != tt.want) {
			t.Errorf("ParseAttributes(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	a, err := registry.ParseAttributes([]byte(`{"b":[1],"a":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if l := a.List(); len(l) != 2 || l[0].Name != "a" || string(l[0].Value) != `"x"` || l[1].Name != "b" || string(l[1].Value) != `[1]` {
		t.Errorf("List() = %+v, want a then b", l)
	}
	if v, ok := a.Get("b"); !ok || string(v) != "[1]" {
		t.Errorf(`Get("b") = %s, %v`, v, ok)
	}
	if _, ok := a.Get("c"); ok {
		t.Errorf(`Get("c") found a value`)
	}
}

// FuzzParseAttributes: whatever the input, the answer is canonical (parsing it again gives
// it back), valid JSON, and within the caps.
func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"材质":"铸铁","fid":1e3}`, `{"x":{"b":[1,{"c":null}]}}`, `[]`, `{"a":"\u0000"}`, `{"":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := registry.ParseAttributes(in)
		if err != nil {
			if registry.ErrorCode(err) == "" {
				t.Fatalf("ParseAttributes(%q): an error without a code: %v", in, err)
			}
			return
		}
		if a == "" {
			return
		}
		if !json.Valid([]byte(a)) || len(a) > registry.MaxAttributesSize {
			t.Fatalf("ParseAttributes(%q) = %q: not JSON or too large", in, a)
		}
		again, err := registry.ParseAttributes([]byte(a))
		if err != nil || again != a {
			t.Fatalf("ParseAttributes(%q) = %q, but again = %q, %v", in, a, again, err)
		}
	})
}

// TestAttributesImportAndEdit: attributes are stored by an import, kept by an edit that does
// not name them, merged by one that does (null removes), and refused when over the caps.
func TestAttributesImportAndEdit(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.importCSV(t, "id,class,lon,lat,材质,fid\n50010301037000001,01037,106.5705,29.5505,铸铁,7\n", ""); err != nil {
		t.Fatal(err)
	}
	id := registry.MustParseComponentCode("50010301037000001")
	c, err := e.store.Component(ctx, id)
	if err != nil || c.Attributes != `{"fid":"7","材质":"铸铁"}` {
		t.Fatalf("stored attributes %s, %v", c.Attributes, err)
	}
	edit := func(props map[string]string, raw ...string) (registry.Component, error) {
		t.Helper()
		f := &registry.Feature{Props: props}
		if len(raw) > 0 {
			f.Raw = map[string]bool{}
			for _, k := range raw {
				f.Raw[k] = true
			}
		}
		cur, err := e.store.Component(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.UpdateComponent(ctx, id, f, cur.Version, "surveyor-2")
	}
	steps := []struct {
		name     string
		props    map[string]string
		raw      []string
		want     registry.Attributes
		version  int64
		wantCode string
	}{
		{"a field edit keeps them", map[string]string{"note": "n"}, nil, `{"fid":"7","材质":"铸铁"}`, 2, ""},
		{"the same again changes nothing", map[string]string{"attributes": `{"材质":"铸铁"}`}, []string{"attributes"}, `{"fid":"7","材质":"铸铁"}`, 2, ""},
		{"merge: set, add, remove", map[string]string{"attributes": `{"材质":"球墨铸铁","fid":null}`, "规格": "700"}, []string{"attributes", "规格"},
			`{"材质":"球墨铸铁","规格":700}`, 3, ""},
		{"an empty text clears one", map[string]string{"规格": ""}, nil, `{"材质":"球墨铸铁"}`, 4, ""},
		{"attributes as a string", map[string]string{"attributes": `x`}, nil, "", 0, "invalid_attribute"},
		{"a value too long", map[string]string{"attributes": `{"x":"` + strings.Repeat("长", 400) + `"}`}, []string{"attributes"}, "", 0, "too_long"},
	}
	for _, s := range steps {
		got, err := edit(s.props, s.raw...)
		if s.wantCode != "" {
			if registry.ErrorCode(err) != s.wantCode {
				t.Errorf("%s: %v, want %s", s.name, err, s.wantCode)
			}
			continue
		}
		if err != nil || got.Attributes != s.want || got.Version != s.version {
			t.Errorf("%s: attributes %s version %d, %v; want %s version %d", s.name, got.Attributes, got.Version, err, s.want, s.version)
		}
	}
}
