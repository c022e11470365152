package geojson_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"citygrid/geojson"
)

func TestAppendString(t *testing.T) {
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
		if got := string(geojson.AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzAppendString: the output is one valid JSON string that decodes to what
// encoding/json makes of the same input (invalid UTF-8 replaced by U+FFFD).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "渝中区城市管理局", `"\`, "\x00\x7f\xff", "\u2028", "\xed\xa0\x80",
		"\xe0\xa0\x80", "\xe0\x80\x80", "渝中\xe4\xb8", "\xef\xbf\xbf\xe1\x80", "\xe2\x80\xa9x", "\xe3\xc0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := geojson.AppendString([]byte("x"), s)[1:]
		if !json.Valid(out) {
			t.Fatalf("AppendString(%q) = %s: not valid JSON", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want || !utf8.ValidString(got) {
			t.Fatalf("AppendString(%q) decodes to %q, want %q", s, got, want)
		}
	})
}
