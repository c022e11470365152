package storetest

import (
	"context"
	"strings"
	"testing"

	"citygrid/registry"
)

// testComponentAttributes: a component's attributes (canonical JSON object text) are stored
// and read back byte for byte by every read, after a reopen too, in the history's before- and
// after-images, and an update changes or clears them. The values are those a store of its
// own would answer differently (PostgreSQL's jsonb orders keys by length, writes exponents in
// decimal, undoes escapes): the store must answer the canonical form it was given.
func testComponentAttributes(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	attrs := func(text string) registry.Attributes {
		t.Helper()
		a, err := registry.ParseAttributes([]byte(text))
		if err != nil {
			t.Fatalf("ParseAttributes(%s): %v", text, err)
		}
		return a
	}
	in := []registry.Component{
		newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2),
		newComponent(cid(chaoyang, classManhole, 3), chaoyang, classManhole, 3),
	}
	in[0].Attributes = attrs(`{"材质":"铸铁","fid":17,"规格":"0800","b":1.50,"aa":{"z":[1,2.0,"x"],"y":null},"ok":true,"esc":"a\"b\\c\n<&>\u2028"}`)
	in[1].Attributes = attrs(`{"n":1e3,"big":12345678901234567890123,"neg":-0.0001}`)
	// in[2] has none
	got := putComponents(t, s, in, nil, "census")
	for i := range in {
		if got[i].Attributes != in[i].Attributes {
			t.Errorf("PutComponents: component %d attributes %s, want %s", i, got[i].Attributes, in[i].Attributes)
		}
		diff(t, "Component after put", got[i], getComponent(t, s, got[i].ID))
	}
	byKeys, err := s.ComponentsByKey(ctx, []registry.Key{got[1].Key, got[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "ComponentsByKey", []registry.Component{got[1], got[0]}, byKeys)
	diff(t, "ForEachComponent", byKey(got, componentKey), allComponents(t, s))

	// Change one, clear another, give the third some: in one write.
	upd := []registry.Component{got[0], got[1], got[2]}
	upd[0].Attributes = attrs(`{"材质":"球墨铸铁","fid":17}`)
	upd[1].Attributes = ""
	upd[2].Attributes = attrs(`{"` + strings.Repeat("名", registry.MaxAttributeNameLen) + `":"` + strings.Repeat("长", 300) + `"}`)
	after := putComponents(t, s, upd, []int64{1, 1, 1}, "surveyor")
	for i := range upd {
		if after[i].Attributes != upd[i].Attributes || after[i].Version != 2 {
			t.Errorf("update %d: attributes %s version %d, want %s version 2", i, after[i].Attributes, after[i].Version, upd[i].Attributes)
		}
	}
	s = reopen(t, h, s)
	diff(t, "ForEachComponent after reopen", byKey(after, componentKey), allComponents(t, s))
	for i, c := range after {
		hist := history(t, s, c.ID)
		if len(hist) != 2 || hist[1].Before == nil || hist[1].After == nil {
			t.Fatalf("History(%s) = %+v, want a create and an update with both images", c.ID, hist)
		}
		if hist[1].Before.Attributes != got[i].Attributes || hist[1].After.Attributes != after[i].Attributes {
			t.Errorf("History(%s): before %s after %s, want %s then %s", c.ID, hist[1].Before.Attributes,
				hist[1].After.Attributes, got[i].Attributes, after[i].Attributes)
		}
	}
}
