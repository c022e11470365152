package registry_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"citygrid/registry"
)

// FuzzDecodeRules: whatever the document, DecodeRules does not panic, returns one rule per
// entry with problems indexed within them, and an entry without problems is a usable rule:
// an id, a unit, and the default order exactly when it stated none.
func FuzzDecodeRules(f *testing.F) {
	for _, s := range []string{
		`[{"id":"a","class":"*","unit":"u"}]`,
		`{"rules":[{"id":"a","order":null,"class":"01","area":"500103","unit":"u"},{"id":"b","order":-2,"class":"0101","unit":"u"}]}`,
		`[{"id":"a","order":1.5,"class":"*","unit":"u"},7,null]`,
		`[]`, `{"rules":[]}`, `[{"id":"\u0000","class":"01*","unit":"u","in_unit":true}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		rules, probs, err := registry.DecodeRules(bytes.NewReader(doc))
		if err != nil {
			if rules != nil || probs != nil {
				t.Fatalf("error %v with rules %v, problems %v", err, rules, probs)
			}
			return
		}
		bad := map[int]bool{}
		for _, p := range probs {
			if p.Index < 0 || p.Index >= len(rules) {
				t.Fatalf("problem %+v outside the %d entries", p, len(rules))
			}
			bad[p.Index] = true
		}
		var entries []map[string]json.RawMessage
		if json.Unmarshal(bytes.TrimSpace(doc), &entries) != nil {
			entries = nil // the object form, or entries that are not objects: not checked here
		}
		for i, r := range rules {
			if bad[i] {
				continue
			}
			if r.ID == "" || r.Unit == "" || r.Class == "" {
				t.Fatalf("entry %d has no problem but is %+v", i, r)
			}
			if entries != nil && len(entries) == len(rules) {
				// The member as encoding/json finds it: case-insensitively; only one spelling.
				var o json.RawMessage
				n := 0
				for k, v := range entries[i] {
					if strings.EqualFold(k, "order") {
						o, n = v, n+1
					}
				}
				var want int
				switch {
				case n > 1:
					continue
				case n == 0 || string(bytes.TrimSpace(o)) == "null":
					want = registry.DefaultRuleOrder
				case json.Unmarshal(o, &want) != nil:
					t.Fatalf("entry %d has no problem but its order %s is no integer", i, o)
				}
				if r.Order != want {
					t.Fatalf("entry %d (order %s) has order %d, want %d", i, o, r.Order, want)
				}
			}
		}
	})
}
