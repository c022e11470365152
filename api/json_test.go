package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"citygrid/api"
	"citygrid/registry"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"渝中区", `"渝中区"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\tnl\ncr\r", `"tab\tnl\ncr\r"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"line\u2028sep\u2029", `"line\u2028sep\u2029"`},
		{"<&>", `"<&>"`},
	}
	for _, tt := range tests {
		if got := string(api.AppendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

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

// FuzzAppendJSONString: the output is one valid JSON string that decodes to what
// encoding/json makes of the same input (invalid UTF-8 replaced by U+FFFD).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "渝中区城市管理局", `"\`, "\x00\x7f\xff", "\u2028", "\xed\xa0\x80",
		"\xe0\xa0\x80", "\xe0\x80\x80", "渝中\xe4\xb8", "\xef\xbf\xbf\xe1\x80", "\xe2\x80\xa9x", "\xe3\xc0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := api.AppendJSONString([]byte("x"), s)[1:]
		if !json.Valid(out) {
			t.Fatalf("AppendJSONString(%q) = %s: not valid JSON", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want || !utf8.ValidString(got) {
			t.Fatalf("AppendJSONString(%q) decodes to %q, want %q", s, got, want)
		}
	})
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
