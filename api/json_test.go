package api_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
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

// jsonNumber is the JSON number grammar (RFC 8259 §6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// TestParseJSONNumberCoordinates: coordinates as clients print float64s (shortest form, up
// to 17 significant digits), and the same digits moved by one in the last place, convert
// exactly as strconv.ParseFloat converts them.
func TestParseJSONNumberCoordinates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		t.Helper()
		checkParseNumber(t, s)
	}
	printed, recognised := 0, 0
	for range 200000 {
		v := (r.Float64()*2 - 1) * 180
		if r.IntN(4) == 0 {
			v = math.Round(v*1e7) / 1e7 // GPS precision
		}
		s := strconv.FormatFloat(v, 'f', -1, 64)
		check(s)
		_, shortest, _ := api.ParseNumber([]byte(s))
		if digits := strings.Count(s, "") - 1 - strings.Count(s, ".") - strings.Count(s, "-"); digits <= 15 && !shortest {
			t.Fatalf("parseNumber(%q): %d digits, not recognised as the shortest form", s, digits)
		}
		printed++
		if shortest {
			recognised++
		}
		// The last digit moved: not a shortest form, often 17 digits off any float64.
		if b := []byte(s); b[len(b)-1] > '0' && b[len(b)-1] < '9' {
			b[len(b)-1]++
			check(string(b))
			b = append(b, '5') // a digit more: up to 18 digits
			check(string(b))
		}
	}
	// Halfway cases: 2^53 + 1 (exactly between two float64s) and its neighbours, scaled.
	for _, s := range []string{"9007199254740993", "9007199254740993.0", "900719925474099.3", "90071992547409.93",
		"9007199254740995", "9007199254740997", "18014398509481985", "0.9007199254740993", "1.7976931348623157"} {
		check(s)
	}
	// Around powers of two, where the gap below a float64 is half the gap above: the floats
	// nearest 2^j, as printed, and decimals between them (31.999999999999998 reads as
	// 31.999999999999996, not 32).
	for j := -20; j <= 8; j++ {
		p := math.Ldexp(1, j)
		for _, s := range []string{"31.999999999999998", "31.9999999999999982", "63.999999999999996",
			"15.999999999999999", "7.9999999999999996", "0.12499999999999999", "127.99999999999999"} {
			check(s)
		}
		q := p
		for range 4 {
			q = math.Nextafter(q, 0)
		}
		for range 9 {
			s := strconv.FormatFloat(q, 'f', -1, 64)
			check(s)
			check(strconv.FormatFloat(q, 'f', 17, 64))
			for _, d := range []string{"1", "2", "5", "8", "9"} {
				check(s + d)
			}
			if b := []byte(s); b[len(b)-1] > '0' && b[len(b)-1] < '9' {
				b[len(b)-1]++
				check(string(b))
				b[len(b)-1] -= 2
				check(string(b))
			}
			q = math.Nextafter(q, math.Inf(1))
		}
	}
	// Every printed coordinate is its shortest form; with 16 or 17 digits it is recognised
	// where its neighbours read otherwise (about half of them: 52% measured).
	if recognised*10 < printed*4 {
		t.Errorf("%d of %d printed coordinates recognised as their shortest form, want at least 40%%", recognised, printed)
	}
}

// checkParseNumber: parseNumber's value is strconv.ParseFloat's, bit for bit, and when it
// says the text is the shortest form, strconv.FormatFloat(v, 'f', -1, 64) writes the text.
func checkParseNumber(t *testing.T, s string) {
	t.Helper()
	got, shortest, gerr := api.ParseNumber([]byte(s))
	want, werr := strconv.ParseFloat(s, 64)
	if (gerr != nil) != (werr != nil) || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("parseNumber(%q) = %v, %v; ParseFloat: %v, %v", s, got, gerr, want, werr)
	}
	if f := strconv.FormatFloat(got, 'f', -1, 64); shortest && f != s {
		t.Fatalf("parseNumber(%q) says shortest form, but FormatFloat writes %s", s, f)
	}
}

// FuzzParseJSONNumber: on every JSON number the batch decoder's conversion (with its exact
// fast path) gives strconv.ParseFloat's value, bit for bit, and fails where it fails.
func FuzzParseJSONNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "116.397481", "106.5710900891195", "29.636145182530996",
		"9007199254740992", "9007199254740993", "0.9007199254740993", "1e999", "-1.5e-7", "123456789012345678901",
		"0.0000000000000000000001", "0.00000000000000000000001", "18446744073709551615", "18446744073709551616",
		"31.999999999999998", "63.999999999999996", "0.12499999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !jsonNumber.MatchString(s) {
			return
		}
		checkParseNumber(t, s)
	})
}

// FuzzParseNumberDigits: decimals of up to 20 digits with up to 22 fraction digits, the
// domain of parseNumber's exact paths, convert as strconv.ParseFloat converts them, and
// when parseNumber calls one the shortest form, strconv.FormatFloat writes it.
func FuzzParseNumberDigits(f *testing.F) {
	for _, seed := range []struct {
		m uint64
		k uint8
	}{{31999999999999998, 15}, {1065710900891195, 13}, {29636145182530996, 15}, {12799999999999999, 14},
		{9007199254740993, 0}, {18446744073709551615, 19}, {1, 22}, {12499999999999999, 17}} {
		f.Add(seed.m, seed.k, false)
	}
	f.Fuzz(func(t *testing.T, m uint64, k uint8, neg bool) {
		s := strconv.FormatUint(m, 10)
		if k %= 23; k > 0 {
			for len(s) <= int(k) {
				s = "0" + s
			}
			s = s[:len(s)-int(k)] + "." + s[len(s)-int(k):]
		}
		if neg {
			s = "-" + s
		}
		checkParseNumber(t, s)
	})
}
