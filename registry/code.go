package registry

import (
	"strconv"
)

// ComponentCode is a component's standard identifier (管理部件标识码):
// 6-digit admin code + 5-digit class + 6-digit serial = 17 digits (GB/T 47678.5-2026), or the
// legacy layout 6 + 4 + 6 = 16 digits (CJ/T 214-2007 / GB/T 30428.2-2013). The zero value means
// "no identifier". It is comparable and 16 bytes, so it serves as a map key.
type ComponentCode struct {
	n      uint64
	legacy bool
}

// ParseComponentCode parses a 17-digit or legacy 16-digit identifier.
// It returns ErrInvalidComponentCode for anything else.
func ParseComponentCode(s string) (ComponentCode, error) {
	// Admin codes start 1-8 (GB/T 2260): a leading zero is a typo, and it keeps the zero value
	// unparseable.
	if (len(s) != 16 && len(s) != 17) || s[0] == '0' {
		return ComponentCode{}, ErrInvalidComponentCode
	}
	n, ok := digits(s)
	if !ok {
		return ComponentCode{}, ErrInvalidComponentCode
	}
	return ComponentCode{n: n, legacy: len(s) == 16}, nil
}

// MustParseComponentCode is for tests and fixtures only.
func MustParseComponentCode(s string) ComponentCode {
	c, err := ParseComponentCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

// NewComponentCode builds an identifier from its parts: admin is the 6-digit district code
// (GB/T 2260, first digit 1-9), class a 5-digit (or legacy 4-digit) class code, serial 0..999999
// (stores assign serials from 1; 0 is accepted so that every parsed identifier can be rebuilt).
// A 4-digit class gives a 16-digit legacy identifier. It returns ErrInvalidComponentCode for
// anything else; it does not check the class against the catalogue.
func NewComponentCode(admin, class string, serial int) (ComponentCode, error) {
	if len(admin) != 6 || admin[0] == '0' || (len(class) != 5 && len(class) != 4) || serial < 0 || serial > 999999 {
		return ComponentCode{}, ErrInvalidComponentCode
	}
	a, ok1 := digits(admin)
	k, ok2 := digits(class)
	if !ok1 || !ok2 {
		return ComponentCode{}, ErrInvalidComponentCode
	}
	return compose(a, k, len(class), uint64(serial)), nil
}

// compose builds the identifier admin + class (classLen digits) + 6-digit serial.
func compose(admin, class uint64, classLen int, serial uint64) ComponentCode {
	return ComponentCode{n: (admin*pow10[classLen]+class)*1000000 + serial, legacy: classLen == 4}
}

var pow10 = [...]uint64{1, 10, 100, 1000, 10000, 100000}

// digits parses s, which must be all ASCII digits and short enough not to overflow.
func digits(s string) (uint64, bool) {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// IsZero reports whether c is the zero value (no identifier).
func (c ComponentCode) IsZero() bool { return c.n == 0 }

// Legacy reports whether c uses the 16-digit legacy layout.
func (c ComponentCode) Legacy() bool { return c.legacy }

// Len is 17, or 16 for legacy identifiers, or 0 for the zero value.
func (c ComponentCode) Len() int {
	switch {
	case c.n == 0:
		return 0
	case c.legacy:
		return 16
	}
	return 17
}

// String returns the identifier's digits, "" for the zero value.
func (c ComponentCode) String() string {
	if c.n == 0 {
		return ""
	}
	return pad64(c.n, c.Len())
}

// AppendTo appends the identifier's digits to b, as String writes them, without allocating
// beyond b's growth; the zero value appends nothing.
func (c ComponentCode) AppendTo(b []byte) []byte {
	var d [20]byte
	n := c.Len()
	v := c.n
	for i := n - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:n]...)
}

// Admin returns the 6-digit administrative (district) code, "" for the zero value.
func (c ComponentCode) Admin() string {
	if c.n == 0 {
		return ""
	}
	return pad64(c.n/(1000000*pow10[c.classLen()]), 6)
}

// Class returns the class code: 5 digits, or 4 for legacy identifiers; "" for the zero value.
func (c ComponentCode) Class() string {
	if c.n == 0 {
		return ""
	}
	l := c.classLen()
	return pad64(c.n/1000000%pow10[l], l)
}

func (c ComponentCode) classLen() int {
	if c.legacy {
		return 4
	}
	return 5
}

// Serial returns the 6-digit serial as a number.
func (c ComponentCode) Serial() int { return int(c.n % 1000000) }

// Uint64 returns the identifier as a number; with Legacy it round-trips through ComponentCodeFromUint64.
func (c ComponentCode) Uint64() uint64 { return c.n }

// ComponentCodeFromUint64 rebuilds a code stored as Uint64 and Legacy.
func ComponentCodeFromUint64(n uint64, legacy bool) ComponentCode {
	return ComponentCode{n: n, legacy: legacy}
}

// WithClass returns c with its class replaced by class (4 or 5 digits), keeping admin and serial.
// Converting a legacy identifier with its mapped 2026 class yields the 17-digit form. It returns
// ErrInvalidComponentCode for a malformed class or the zero value. It does not allocate.
func (c ComponentCode) WithClass(class string) (ComponentCode, error) {
	k, ok := digits(class)
	if c.n == 0 || !ok || (len(class) != 4 && len(class) != 5) {
		return ComponentCode{}, ErrInvalidComponentCode
	}
	admin := c.n / (1000000 * pow10[c.classLen()])
	return compose(admin, k, len(class), c.n%1000000), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; "" gives the zero value.
func (c *ComponentCode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*c = ComponentCode{}
		return nil
	}
	v, err := ParseComponentCode(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (c ComponentCode) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// GridCode is a unit grid cell code (单元网格标识码): 15 characters per GB/T 47678.3
// (6 district + 3 street + 3 community + 3 serial; the serial may use 0-9A-Z), or the legacy
// 14-digit CJ/T 213-2005 layout (6 + 3 + 3 + 2).
type GridCode string

// ParseGridCode checks s and returns it as a GridCode; ErrInvalidGridCode otherwise.
func ParseGridCode(s string) (GridCode, error) {
	switch len(s) {
	case 15:
		for i := 0; i < 15; i++ {
			c := s[i]
			if i < 12 && (c < '0' || c > '9') {
				return "", ErrInvalidGridCode
			}
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
				return "", ErrInvalidGridCode
			}
		}
	case 14:
		for i := 0; i < 14; i++ {
			if s[i] < '0' || s[i] > '9' {
				return "", ErrInvalidGridCode
			}
		}
	default:
		return "", ErrInvalidGridCode
	}
	if s[0] == '0' {
		return "", ErrInvalidGridCode
	}
	return GridCode(s), nil
}

// MustParseGridCode is for tests and fixtures only.
func MustParseGridCode(s string) GridCode {
	g, err := ParseGridCode(s)
	if err != nil {
		panic(err)
	}
	return g
}

// String returns the code.
func (g GridCode) String() string { return string(g) }

// Legacy reports whether g uses the 14-digit CJ/T 213 layout.
func (g GridCode) Legacy() bool { return len(g) == 14 }

// District returns the 6-digit district (区/县) code.
func (g GridCode) District() string { return sub(string(g), 6) }

// Street returns the 9-digit street (街道/镇/乡) code.
func (g GridCode) Street() string { return sub(string(g), 9) }

// Community returns the 12-digit community (社区/村) code.
func (g GridCode) Community() string { return sub(string(g), 12) }

// Upgrade returns the 15-character form: a legacy code's 2-digit serial is zero-padded to 3.
func (g GridCode) Upgrade() GridCode {
	if len(g) == 14 {
		return g[:12] + "0" + g[12:]
	}
	return g
}

func sub(s string, n int) string {
	if len(s) < n {
		return ""
	}
	return s[:n]
}

// pad64 formats n in decimal, zero-padded to width (at most 20) digits, with one allocation.
func pad64(n uint64, width int) string {
	var buf [20]byte
	b := strconv.AppendUint(buf[:0], n, 10)
	if len(b) >= width {
		return string(b)
	}
	var out [20]byte
	p := copy(out[width-len(b):], b)
	for i := range width - p {
		out[i] = '0'
	}
	return string(out[:width])
}
