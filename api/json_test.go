package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"citygrid/api"
	"citygrid/registry"
)

// TestAppendCellObject: the cell object is the code, the name and the code's prefixes, as
// encoding/json would write them, whether the code is plain (the fast path) or not (a value
// no import accepts, escaped all the same).
func TestAppendCellObject(t *testing.T) {
	for _, cell := range []registry.Cell{
		{Code: "500103001001001", Name: "解放碑街道\"网格\""},
		{Code: "50010300100101", Name: "legacy"},
		{Code: "500103", Name: ""},
		{Code: "5001030\"1\\01\n001", Name: "odd"},
		{Code: "50010300100\xff1001", Name: "\u2028"},
	} {
		out := api.AppendCellObject(nil, &cell)
		var got struct{ Code, Name, Community, Street, District string }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendCellObject(%q) = %s: %v", cell.Code, out, err)
		}
		code := strings.ToValidUTF8(string(cell.Code), "\ufffd")
		prefix := func(n int) string {
			if len(cell.Code) < n {
				return ""
			}
			return strings.ToValidUTF8(string(cell.Code[:n]), "\ufffd")
		}
		want := struct{ Code, Name, Community, Street, District string }{code, cell.Name, prefix(12), prefix(9), prefix(6)}
		if got != want {
			t.Errorf("appendCellObject(%q) = %s, decodes to %+v, want %+v", cell.Code, out, got, want)
		}
	}
}

func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "AAAAAAAAAAE", api.EncodeCursor(12345), "!!!!", "AAAAAAAAAAAA", "_____________w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := api.DecodeCursor(s)
		if err != nil {
			if registry.ErrorCode(err) != "invalid_cursor" {
				t.Fatalf("DecodeCursor(%q) error = %v, want invalid_cursor", s, err)
			}
			return
		}
		if k > registry.MaxKey {
			t.Fatalf("DecodeCursor(%q) = %d, above MaxKey", s, k)
		}
		if s != "" && api.EncodeCursor(k) != s {
			t.Fatalf("EncodeCursor(DecodeCursor(%q)) = %q", s, api.EncodeCursor(k))
		}
	})
}
