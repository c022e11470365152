package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `null`, `true`, `fals`, `0`, `-0`, `01`, `1.`, `.5`, `-`, `1e`, `1E+2`, `-1.5e-7`, `"a"`, `"\u00e9\ud83d\ude00"`,
	`"\ud800"`, `"\u12"`, `"\q"`, "\"\x01\"", `"\/"`, `[]`, `[1,]`, `[1 2]`, `{}`, `{"a":1}`, `{"a" 1}`, `{"a":1,}`, `{1:2}`,
	` [ 1 , { "b" : [ null , true ] } ] `, `[[1,2],[3,4]] x`, "\xef\xbb\xbf[]", `"bad \xff utf8"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

// checkSkip: Skip accepts one value followed by white space exactly where encoding/json
// calls the text valid, with encoding/json's nesting limit; a string's unquoted text is
// encoding/json's.
func checkSkip(t *testing.T, text string) {
	t.Helper()
	s := Scanner{Data: []byte(text), MaxDepth: 10000}
	skipped := s.Skip()
	if skipped != (s.Err() == "") {
		t.Fatalf("Skip(%q) = %v with problem %q", text, skipped, s.Err())
	}
	got := skipped && s.AtEnd()
	if want := json.Valid([]byte(text)); got != want {
		t.Fatalf("Skip(%q) && AtEnd = %v (%s), json.Valid = %v", text, got, s.ErrMsg("-"), want)
	}
	if got && s.Depth != 0 {
		t.Fatalf("Skip(%q): depth %d after the value", text, s.Depth)
	}
	s = Scanner{Data: []byte(text)}
	s.WS()
	if raw, special, ok := s.String(); ok && s.AtEnd() {
		var want string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatalf("String(%q) ok, encoding/json: %v", text, err)
		}
		if got := string(AppendUnquoted(nil, raw, special)); got != want {
			t.Fatalf("AppendUnquoted(String(%q)) = %q, encoding/json %q", text, got, want)
		}
	}
}

func TestSkipSameAsEncodingJSON(t *testing.T) {
	for _, text := range validSeeds {
		name := text
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) { checkSkip(t, text) })
	}
}

func FuzzSkip(f *testing.F) {
	for _, s := range validSeeds {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(checkSkip)
}

func TestNumber(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"0", "0", true}, {"-12.5e+3,", "-12.5e+3", true}, {"01", "0", true}, {"1.", "", false},
		{"-", "", false}, {"1e", "", false}, {"116.397481]", "116.397481", true},
	} {
		s := Scanner{Data: []byte(tt.in)}
		got, ok := s.Number()
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("Number(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
