package registry_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"citygrid/registry"
)

func TestParseComponentCode(t *testing.T) {
	tests := []struct {
		name, in   string
		wantErr    error // nil means success
		wantLegacy bool
		wantAdmin  string
		wantClass  string
		wantSerial int
	}{
		{"17 digits (GB/T 47678.5)", "50010601001000001", nil, false, "500106", "01001", 1},
		{"17 digits, largest serial", "50010301037999999", nil, false, "500103", "01037", 999999},
		{"17 digits, serial 0", "50010304002000000", nil, false, "500103", "04002", 0},
		{"legacy 16 digits, Suzhou 上水井盖", "3205080101000001", nil, true, "320508", "0101", 1},
		{"legacy 16 digits, Suzhou 污水井盖", "3205820102048188", nil, true, "320582", "0102", 48188},
		{"largest 17-digit value", "99999999999999999", nil, false, "999999", "99999", 999999},
		{"15 digits", "500106010100000", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"18 digits", "500106010010000011", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"empty", "", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"letters", "50010601010000AB", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"letter in class", "5001060A001000001", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"leading zero, 17 digits", "05001060100100001", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"leading zero, 16 digits", "0320508010100000", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"zero value's digits", "0000000000000000", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"sign", "+5001060100100001", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"space", " 3205080101000001", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"hyphenated", "320508-0101-00001", registry.ErrInvalidComponentCode, false, "", "", 0},
		{"full-width digits", "３２０５０８０１０１０００００１", registry.ErrInvalidComponentCode, false, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := registry.ParseComponentCode(tt.in)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("ParseComponentCode(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !got.IsZero() {
					t.Errorf("ParseComponentCode(%q) = %v on error, want the zero value", tt.in, got)
				}
				return
			}
			if got.String() != tt.in {
				t.Errorf("ParseComponentCode(%q).String() = %q, want %q", tt.in, got.String(), tt.in)
			}
			if got.Len() != len(tt.in) {
				t.Errorf("ParseComponentCode(%q).Len() = %d, want %d", tt.in, got.Len(), len(tt.in))
			}
			if got.Legacy() != tt.wantLegacy {
				t.Errorf("ParseComponentCode(%q).Legacy() = %v, want %v", tt.in, got.Legacy(), tt.wantLegacy)
			}
			if got.Admin() != tt.wantAdmin || got.Class() != tt.wantClass || got.Serial() != tt.wantSerial {
				t.Errorf("ParseComponentCode(%q) parts = %s/%s/%d, want %s/%s/%d", tt.in,
					got.Admin(), got.Class(), got.Serial(), tt.wantAdmin, tt.wantClass, tt.wantSerial)
			}
			if got.IsZero() {
				t.Errorf("ParseComponentCode(%q).IsZero() = true, want false", tt.in)
			}
			if text, _ := got.MarshalText(); string(text) != tt.in {
				t.Errorf("ParseComponentCode(%q).MarshalText() = %q, want %q", tt.in, text, tt.in)
			}
			if b := got.AppendTo([]byte("id=")); string(b) != "id="+tt.in {
				t.Errorf("ParseComponentCode(%q).AppendTo(\"id=\") = %q, want %q", tt.in, b, "id="+tt.in)
			}
		})
	}
}

func TestComponentCodeZeroValue(t *testing.T) {
	var c registry.ComponentCode
	if !c.IsZero() || c.Len() != 0 || c.String() != "" || c.Admin() != "" || c.Class() != "" || c.Serial() != 0 {
		t.Errorf("zero ComponentCode = {IsZero %v, Len %d, String %q, Admin %q, Class %q, Serial %d}, want {true, 0, \"\", \"\", \"\", 0}",
			c.IsZero(), c.Len(), c.String(), c.Admin(), c.Class(), c.Serial())
	}
	if text, err := c.MarshalText(); err != nil || len(text) != 0 {
		t.Errorf("zero ComponentCode.MarshalText() = %q, %v, want \"\", nil", text, err)
	}
	if b := c.AppendTo([]byte("id=")); string(b) != "id=" {
		t.Errorf("zero ComponentCode.AppendTo(\"id=\") = %q, want \"id=\"", b)
	}
	if got, err := c.WithClass("01001"); !errors.Is(err, registry.ErrInvalidComponentCode) {
		t.Errorf("zero ComponentCode.WithClass(01001) = %v, %v, want error %v", got, err, registry.ErrInvalidComponentCode)
	}
	if got := registry.ComponentCodeFromUint64(0, false); got != c {
		t.Errorf("ComponentCodeFromUint64(0, false) = %#v, want the zero value", got)
	}
}

func TestNewComponentCode(t *testing.T) {
	tests := []struct {
		name         string
		admin, class string
		serial       int
		want         string // "" means ErrInvalidComponentCode
	}{
		{"2026 class", "500106", "01001", 1, "50010601001000001"},
		{"legacy class", "320508", "0101", 1, "3205080101000001"},
		{"serial 0", "500103", "04002", 0, "50010304002000000"},
		{"largest serial", "500103", "04002", 999999, "50010304002999999"},
		{"serial too large", "500103", "04002", 1000000, ""},
		{"negative serial", "500103", "04002", -1, ""},
		{"admin 5 digits", "50010", "01001", 1, ""},
		{"admin 7 digits", "5001030", "01001", 1, ""},
		{"admin leading zero", "050010", "01001", 1, ""},
		{"admin letter", "50010A", "01001", 1, ""},
		{"class 3 digits", "500103", "101", 1, ""},
		{"class 6 digits", "500103", "010010", 1, ""},
		{"class letter", "500103", "01A01", 1, ""},
		{"class empty", "500103", "", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := registry.NewComponentCode(tt.admin, tt.class, tt.serial)
			if tt.want == "" {
				if !errors.Is(err, registry.ErrInvalidComponentCode) {
					t.Fatalf("NewComponentCode(%q, %q, %d) = %v, %v, want error %v", tt.admin, tt.class, tt.serial, got, err, registry.ErrInvalidComponentCode)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("NewComponentCode(%q, %q, %d) = %q, %v, want %q", tt.admin, tt.class, tt.serial, got, err, tt.want)
			}
			if parsed := registry.MustParseComponentCode(tt.want); got != parsed {
				t.Errorf("NewComponentCode(%q, %q, %d) = %#v, want %#v (as parsed)", tt.admin, tt.class, tt.serial, got, parsed)
			}
		})
	}
}

func TestComponentCodeWithClass(t *testing.T) {
	tests := []struct {
		name, in, class string
		want            string // "" means ErrInvalidComponentCode
	}{
		{"legacy to 2026", "3205080101000001", "01001", "32050801001000001"},
		{"2026 to legacy", "50010601037000042", "0118", "5001060118000042"},
		{"2026 to 2026", "50010601037000042", "01038", "50010601038000042"},
		{"keeps serial 0", "3205080101000000", "01001", "32050801001000000"},
		{"class 3 digits", "3205080101000001", "010", ""},
		{"class 6 digits", "3205080101000001", "010010", ""},
		{"class letters", "3205080101000001", "0a001", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := registry.MustParseComponentCode(tt.in).WithClass(tt.class)
			if tt.want == "" {
				if !errors.Is(err, registry.ErrInvalidComponentCode) {
					t.Fatalf("%s.WithClass(%q) = %v, %v, want error %v", tt.in, tt.class, got, err, registry.ErrInvalidComponentCode)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("%s.WithClass(%q) = %q, %v, want %q", tt.in, tt.class, got, err, tt.want)
			}
			if want := registry.MustParseComponentCode(tt.want); got != want {
				t.Errorf("%s.WithClass(%q) = %#v, want %#v", tt.in, tt.class, got, want)
			}
		})
	}
}

// TestComponentCodeWithClassThroughMapping converts a legacy identifier of every mapped legacy
// component class to its 17-digit form, the way a census import does.
func TestComponentCodeWithClassThroughMapping(t *testing.T) {
	cat := registry.DefaultCatalog()
	mapped := 0
	for _, cl := range cat.List(registry.KindComponent, registry.StandardLegacy) {
		legacy, err := registry.NewComponentCode("500103", cl.Code, 123)
		if err != nil {
			t.Fatalf("NewComponentCode(500103, %s, 123) error = %v", cl.Code, err)
		}
		current, fromLegacy, err := cat.ResolveComponentClass(legacy.Class())
		if cl.NoCounterpart {
			if !errors.Is(err, registry.ErrUnmappedClass) {
				t.Errorf("ResolveComponentClass(%s) error = %v, want %v", cl.Code, err, registry.ErrUnmappedClass)
			}
			continue
		}
		if err != nil || fromLegacy != cl.Code {
			t.Fatalf("ResolveComponentClass(%s) = %q, %q, %v, want %q, %q, nil", cl.Code, current, fromLegacy, err, cl.MapsTo, cl.Code)
		}
		got, err := legacy.WithClass(current)
		want := "500103" + cl.MapsTo + "000123"
		if err != nil || got.String() != want || got.Legacy() {
			t.Errorf("%s.WithClass(%s) = %q (legacy %v), %v, want %q (legacy false)", legacy, current, got, got.Legacy(), err, want)
		}
		mapped++
	}
	if mapped == 0 {
		t.Fatal("no mapped legacy component class in the catalogue")
	}
}

func TestParseGridCode(t *testing.T) {
	tests := []struct {
		name, in   string
		wantErr    bool
		wantLegacy bool
	}{
		{"15 digits (GB/T 47678.3)", "500103001001001", false, false},
		{"15 with a letter in the serial", "50010300100100A", false, false},
		{"15 with letters only in the serial", "500103001001AZ9", false, false},
		{"15 with serial ZZZ", "500103001001ZZZ", false, false},
		{"14 digits legacy (CJ/T 213)", "50010300100101", false, true},
		{"lower-case serial letter", "50010300100100a", true, false},
		{"letter in the district", "5001A3001001001", true, false},
		{"letter in the street", "5001030A1001001", true, false},
		{"letter at position 12 (community)", "50010300100A001", true, false},
		{"letter first", "A00103001001001", true, false},
		{"leading zero, 15", "000103001001001", true, false},
		{"leading zero, 14", "00010300100101", true, false},
		{"letter in legacy serial", "5001030010010A", true, false},
		{"13 digits", "5001030010010", true, false},
		{"16 digits", "5001030010010010", true, false},
		{"empty", "", true, false},
		{"punctuation in serial", "500103001001-01", true, false},
		{"non-ASCII in serial", "500103001001０1", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := registry.ParseGridCode(tt.in)
			if tt.wantErr {
				if !errors.Is(err, registry.ErrInvalidGridCode) || got != "" {
					t.Fatalf("ParseGridCode(%q) = %q, %v, want \"\", %v", tt.in, got, err, registry.ErrInvalidGridCode)
				}
				return
			}
			if err != nil || got.String() != tt.in {
				t.Fatalf("ParseGridCode(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.in)
			}
			if got.Legacy() != tt.wantLegacy {
				t.Errorf("ParseGridCode(%q).Legacy() = %v, want %v", tt.in, got.Legacy(), tt.wantLegacy)
			}
		})
	}
}

func TestGridCodeParts(t *testing.T) {
	tests := []struct {
		in                                    registry.GridCode
		district, street, community, upgraded string
	}{
		{"500103001001001", "500103", "500103001", "500103001001", "500103001001001"},
		{"500103014002A1Z", "500103", "500103014", "500103014002", "500103014002A1Z"},
		{"50010300100101", "500103", "500103001", "500103001001", "500103001001001"},
		{"32050801904499", "320508", "320508019", "320508019044", "320508019044099"},
		{"", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.in), func(t *testing.T) {
			if got := tt.in.District(); got != tt.district {
				t.Errorf("GridCode(%q).District() = %q, want %q", tt.in, got, tt.district)
			}
			if got := tt.in.Street(); got != tt.street {
				t.Errorf("GridCode(%q).Street() = %q, want %q", tt.in, got, tt.street)
			}
			if got := tt.in.Community(); got != tt.community {
				t.Errorf("GridCode(%q).Community() = %q, want %q", tt.in, got, tt.community)
			}
			up := tt.in.Upgrade()
			if string(up) != tt.upgraded {
				t.Errorf("GridCode(%q).Upgrade() = %q, want %q", tt.in, up, tt.upgraded)
			}
			if up != "" {
				if p, err := registry.ParseGridCode(string(up)); err != nil || p.Legacy() {
					t.Errorf("ParseGridCode(%q) = %q (legacy %v), %v, want a 15-character code", up, p, p.Legacy(), err)
				}
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    registry.Status
		wantErr bool
	}{
		{"intact", registry.StatusIntact, false},
		{"damaged", registry.StatusDamaged, false},
		{"Lost", registry.StatusLost, false},
		{"ABANDONED", registry.StatusAbandoned, false},
		{" removed\t", registry.StatusRemoved, false},
		{"完好", registry.StatusIntact, false},
		{"破损", registry.StatusDamaged, false},
		{"丢失", registry.StatusLost, false},
		{"废弃", registry.StatusAbandoned, false},
		{"移除", registry.StatusRemoved, false},
		{"破損", registry.StatusDamaged, false},
		{"丟失", registry.StatusLost, false},
		{"廢棄", registry.StatusAbandoned, false},
		{"", registry.StatusIntact, false},
		{"  ", registry.StatusIntact, false},
		{"broken", 0, true},
		{"损坏", 0, true},
		{"破损了", 0, true},
		{"intact,damaged", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := registry.ParseStatus(tt.in)
			if tt.wantErr {
				if !errors.Is(err, registry.ErrInvalidStatus) {
					t.Fatalf("ParseStatus(%q) = %v, %v, want error %v", tt.in, got, err, registry.ErrInvalidStatus)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStatus(%q) = %v, %v, want %v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStatusNamesRoundTrip(t *testing.T) {
	for s := registry.StatusIntact; s <= registry.StatusRemoved; s++ {
		for _, name := range []string{s.String(), s.Chinese()} {
			if got, err := registry.ParseStatus(name); err != nil || got != s {
				t.Errorf("ParseStatus(%q) = %v, %v, want %v, nil", name, got, err, s)
			}
		}
	}
	if got := registry.Status(0).String(); got != "" {
		t.Errorf("Status(0).String() = %q, want \"\"", got)
	}
}

var componentCodeSyntax = regexp.MustCompile(`^[1-9][0-9]{15,16}$`)

func FuzzParseComponentCode(f *testing.F) {
	for _, s := range []string{
		"50010601001000001", "3205080101000001", "3205820102048188", "99999999999999999",
		"05001060100100001", "50010601010000AB", "", "1", "500106010100000", "500106010010000011",
		"+5001060100100001", "３２０５０８０１０１０００００１",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := registry.ParseComponentCode(s)
		if wantOK := componentCodeSyntax.MatchString(s); wantOK != (err == nil) {
			t.Fatalf("ParseComponentCode(%q) error = %v, want success %v", s, err, wantOK)
		}
		if err != nil {
			if !errors.Is(err, registry.ErrInvalidComponentCode) {
				t.Fatalf("ParseComponentCode(%q) error = %v, want %v", s, err, registry.ErrInvalidComponentCode)
			}
			return
		}
		if c.String() != s || c.Len() != len(s) || c.Legacy() != (len(s) == 16) {
			t.Fatalf("ParseComponentCode(%q) = %q (len %d, legacy %v), want it back", s, c, c.Len(), c.Legacy())
		}
		if back := registry.ComponentCodeFromUint64(c.Uint64(), c.Legacy()); back != c {
			t.Fatalf("ComponentCodeFromUint64(%d, %v) = %#v, want %#v", c.Uint64(), c.Legacy(), back, c)
		}
		if got := c.Admin() + c.Class() + fmt.Sprintf("%06d", c.Serial()); got != s {
			t.Fatalf("ParseComponentCode(%q) parts join to %q", s, got)
		}
		if n, err := registry.NewComponentCode(c.Admin(), c.Class(), c.Serial()); err != nil || n != c {
			t.Fatalf("NewComponentCode(%q, %q, %d) = %#v, %v, want %#v", c.Admin(), c.Class(), c.Serial(), n, err, c)
		}
	})
}

var gridCodeSyntax = regexp.MustCompile(`^[1-9][0-9]{11}[0-9A-Z]{3}$|^[1-9][0-9]{13}$`)

func FuzzParseGridCode(f *testing.F) {
	for _, s := range []string{
		"500103001001001", "50010300100100A", "500103001001ZZZ", "50010300100101", "5001030A1001001",
		"000103001001001", "5001030010010", "5001030010010010", "", "500103001001０1", "50010300100100a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := registry.ParseGridCode(s)
		if wantOK := gridCodeSyntax.MatchString(s); wantOK != (err == nil) {
			t.Fatalf("ParseGridCode(%q) error = %v, want success %v", s, err, wantOK)
		}
		if err != nil {
			if !errors.Is(err, registry.ErrInvalidGridCode) || g != "" {
				t.Fatalf("ParseGridCode(%q) = %q, %v, want \"\", %v", s, g, err, registry.ErrInvalidGridCode)
			}
			return
		}
		if g.String() != s || g.Legacy() != (len(s) == 14) {
			t.Fatalf("ParseGridCode(%q) = %q (legacy %v), want it back", s, g, g.Legacy())
		}
		if g.District() != s[:6] || g.Street() != s[:9] || g.Community() != s[:12] {
			t.Fatalf("ParseGridCode(%q) parts = %q/%q/%q", s, g.District(), g.Street(), g.Community())
		}
		up := g.Upgrade()
		if p, err := registry.ParseGridCode(string(up)); err != nil || p.Legacy() || up.Community() != g.Community() {
			t.Fatalf("ParseGridCode(%q).Upgrade() = %q, which parses as %q (legacy %v), %v", s, up, p, p.Legacy(), err)
		}
	})
}

// TestComponentCodeAllocs holds the conversions a census import runs per component to zero
// allocations.
func TestComponentCodeAllocs(t *testing.T) {
	legacy := registry.MustParseComponentCode("3205080101000001")
	buf := make([]byte, 0, 32)
	tests := map[string]func(){
		"ParseComponentCode": func() { _, _ = registry.ParseComponentCode("32050801001000001") },
		"NewComponentCode":   func() { _, _ = registry.NewComponentCode("320508", "01001", 1) },
		"WithClass":          func() { _, _ = legacy.WithClass("01001") },
		"AppendTo":           func() { _ = legacy.AppendTo(buf[:0]) },
	}
	for name, fn := range tests {
		if allocs := testing.AllocsPerRun(100, fn); allocs != 0 {
			t.Errorf("%s allocates %v times per call, want 0", name, allocs)
		}
	}
}
