package api_test

import (
	"encoding/json"
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

// FuzzAppendJSONString: the output is one valid JSON string that decodes to what
// encoding/json makes of the same input (invalid UTF-8 replaced by U+FFFD).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "渝中区城市管理局", `"\`, "\x00\x7f\xff", "\u2028", "\xed\xa0\x80"} {
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
