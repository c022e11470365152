package jsonscan_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"citygrid/internal/jsonscan"
)

func TestIsNumber(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"0", true}, {"-0", true}, {"7", true}, {"106.5", true}, {"-29.56", true},
		{"1e3", true}, {"1E+3", true}, {"1.5e-07", true}, {"0.000001", true},
		{"", false}, {"-", false}, {"+1", false}, {".5", false}, {"1.", false}, {"01", false},
		{"-01", false}, {"1e", false}, {"1e+", false}, {"0x1.aa2p6", false}, {"0x10", false},
		{"10_6.5", false}, {"1_000", false}, {"Inf", false}, {"-Inf", false}, {"+Inf", false},
		{"NaN", false}, {"infinity", false}, {" 1", false}, {"1 ", false}, {"1,5", false},
		{"１", false}, {"1.5.5", false}, {"--1", false}, {"1e5.5", false},
	} {
		if got := jsonscan.IsNumber(tt.s); got != tt.want {
			t.Errorf("IsNumber(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// FuzzIsNumber checks the grammar against encoding/json: a string is a JSON number
// exactly when it is valid JSON on its own, starts like a number and has no space around it;
// strconv.ParseFloat then reads every one of them.
func FuzzIsNumber(f *testing.F) {
	for _, s := range []string{"0", "-1.5e3", "+1", ".5", "1.", "0x1p6", "1_0", "Inf", "NaN", "01", "1e", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := jsonscan.IsNumber(s)
		want := s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') &&
			strings.TrimSpace(s) == s && json.Valid([]byte(s))
		if got != want {
			t.Fatalf("IsNumber(%q) = %v, encoding/json says %v", s, got, want)
		}
		if got {
			if _, err := strconv.ParseFloat(s, 64); err != nil && !strings.Contains(err.Error(), "range") {
				t.Fatalf("IsNumber(%q) but ParseFloat: %v", s, err)
			}
		}
	})
}
