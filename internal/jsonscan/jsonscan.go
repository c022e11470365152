// Package jsonscan is a strict JSON (RFC 8259) tokenizer over one in-memory text, shared by
// the readers that walk JSON without encoding/json: the census feature parser
// (registry) and the lookup batch decoder (api/internal/batch). It allocates nothing: strings
// and numbers come back as slices of the text, for the caller to convert (AppendUnquoted,
// strconv.ParseFloat).
//
// It exists, rather than encoding/json, where the figure its issue names says so (the batch
// lookup and the census import; docs/benchmarks.md, "Figures behind the code"): the census reader also keeps
// numbers as text and checks coordinates while reading.
package jsonscan

import (
	"fmt"
	"unicode/utf8"
)

// Scanner reads one JSON text. Its methods advance Pos past what they read; on failure they
// record the first problem (Err) and leave Pos where it was found.
type Scanner struct {
	Data []byte
	Pos  int
	// Depth counts the arrays and objects open (Enter, Leave and Skip's own); MaxDepth, when
	// not 0, bounds it as encoding/json bounds nesting: opening container MaxDepth+1 fails.
	Depth    int
	MaxDepth int
	err      string
}

// Fail records msg as the problem, unless one is recorded already.
func (s *Scanner) Fail(msg string) {
	if s.err == "" {
		s.err = msg
	}
}

// Err returns the first problem recorded, "" for none.
func (s *Scanner) Err() string { return s.err }

// ErrMsg returns the first problem recorded, or fallback, with the byte offset it was found at.
func (s *Scanner) ErrMsg(fallback string) string {
	msg := s.err
	if msg == "" {
		msg = fallback
	}
	return fmt.Sprintf("%s at byte %d", msg, s.Pos)
}

// WS skips white space.
func (s *Scanner) WS() {
	for s.Pos < len(s.Data) {
		switch s.Data[s.Pos] {
		case ' ', '\t', '\n', '\r':
			s.Pos++
		default:
			return
		}
	}
}

// AtEnd skips white space and reports whether the text ends there.
func (s *Scanner) AtEnd() bool {
	s.WS()
	return s.Pos == len(s.Data)
}

// Peek returns the next byte, 0 at the end.
func (s *Scanner) Peek() byte {
	if s.Pos < len(s.Data) {
		return s.Data[s.Pos]
	}
	return 0
}

// Consume reads c if it comes next.
func (s *Scanner) Consume(c byte) bool {
	if s.Pos < len(s.Data) && s.Data[s.Pos] == c {
		s.Pos++
		return true
	}
	return false
}

// Colon reads the colon after an object key, with the white space around it.
func (s *Scanner) Colon() bool {
	s.WS()
	if !s.Consume(':') {
		s.Fail("expected :")
		return false
	}
	s.WS()
	return true
}

// Enter counts a container about to be opened; false (and a problem) past MaxDepth.
func (s *Scanner) Enter() bool {
	s.Depth++
	if s.MaxDepth > 0 && s.Depth > s.MaxDepth {
		s.Fail("nesting too deep")
		return false
	}
	return true
}

// Leave counts a container closed.
func (s *Scanner) Leave() { s.Depth-- }

// Literal reads lit (true, false or null).
func (s *Scanner) Literal(lit string) bool {
	rest := s.Data[s.Pos:]
	if len(rest) >= len(lit) && string(rest[:len(lit)]) == lit {
		s.Pos += len(lit)
		return true
	}
	if len(rest) < len(lit) && string(rest) == lit[:len(rest)] {
		s.Pos = len(s.Data) // a cut-off literal: failing at the end tells the caller more may come
	}
	s.Fail("bad literal")
	return false
}

// String reads a string and returns its raw content (between the quotes) and whether it
// contains escapes or bytes outside ASCII, which AppendUnquoted must then handle.
func (s *Scanner) String() (raw []byte, special bool, ok bool) {
	if !s.Consume('"') {
		s.Fail("expected a string")
		return nil, false, false
	}
	start := s.Pos
	for s.Pos < len(s.Data) {
		c := s.Data[s.Pos]
		switch {
		case c == '"':
			raw = s.Data[start:s.Pos]
			s.Pos++
			return raw, special, true
		case c == '\\':
			special = true
			s.Pos++
			if s.Pos >= len(s.Data) {
				s.Fail("unterminated string")
				return nil, false, false
			}
			switch s.Data[s.Pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.Pos++
			case 'u':
				if len(s.Data)-s.Pos < 5 {
					s.Pos = len(s.Data)
					s.Fail("unterminated string")
					return nil, false, false
				}
				if _, ok := Hex4(s.Data[s.Pos+1 : s.Pos+5]); !ok {
					s.Fail("bad \\u escape")
					return nil, false, false
				}
				s.Pos += 5
			default:
				s.Fail("bad escape")
				return nil, false, false
			}
		case c < 0x20:
			s.Fail("control character in string")
			return nil, false, false
		default:
			if c >= 0x80 {
				special = true
			}
			s.Pos++
		}
	}
	s.Fail("unterminated string")
	return nil, false, false
}

// Number reads a number and returns its text.
func (s *Scanner) Number() ([]byte, bool) {
	start := s.Pos
	d := s.Data
	i := s.Pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.Pos = i // at the end of the data when the number was cut off
		s.Fail("bad number")
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.Pos = i
			s.Fail("bad number")
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.Pos = i
			s.Fail("bad number")
			return nil, false
		}
	}
	s.Pos = i
	return d[start:i], true
}

// IsNumber reports whether s is exactly one number in JSON's grammar (RFC 8259 section 6),
// with nothing before or after it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
// strconv.ParseFloat alone also takes "+1", ".5", "1.", "0x1p6", "1_000", "Inf" and "NaN".
func IsNumber(s string) bool {
	sc := Scanner{Data: []byte(s)}
	_, ok := sc.Number()
	return ok && sc.Pos == len(s)
}

// Skip checks and skips one value of any kind (after white space); the containers it opens
// count toward Depth.
func (s *Scanner) Skip() bool {
	s.WS()
	switch c := s.Peek(); {
	case c == '"':
		_, _, ok := s.String()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		_, ok := s.Number()
		return ok
	case c == 't':
		return s.Literal("true")
	case c == 'f':
		return s.Literal("false")
	case c == 'n':
		return s.Literal("null")
	case c == '[' || c == '{':
		if !s.Enter() {
			return false
		}
		s.Pos++
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		s.WS()
		if s.Consume(end) {
			s.Leave()
			return true
		}
		for {
			if c == '{' {
				s.WS()
				if _, _, ok := s.String(); !ok {
					return false
				}
				if !s.Colon() {
					return false
				}
			}
			if !s.Skip() {
				return false
			}
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume(end) {
				s.Leave()
				return true
			}
			if end == ']' {
				s.Fail("expected , or ]")
			} else {
				s.Fail("expected , or }")
			}
			return false
		}
	}
	if s.Pos >= len(s.Data) {
		s.Fail("unexpected end of input")
	} else {
		s.Fail("unexpected character")
	}
	return false
}

// AppendUnquoted appends the text of a string's raw content (String's raw and special),
// resolving escapes and replacing invalid UTF-8 and lone surrogates with U+FFFD as
// encoding/json does.
func AppendUnquoted(dst, raw []byte, special bool) []byte {
	if !special {
		return append(dst, raw...)
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return append(dst, string(utf8.RuneError)...)
			}
			switch raw[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, n := decodeU(raw[i:])
				dst = utf8.AppendRune(dst, r)
				i += n
				continue
			default: // " \ /
				dst = append(dst, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, string(utf8.RuneError)...)
			} else {
				dst = append(dst, raw[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

// decodeU decodes a \uXXXX escape at the start of b, with a following low surrogate if any,
// and returns the rune and the bytes consumed.
func decodeU(b []byte) (rune, int) {
	if len(b) < 6 {
		return utf8.RuneError, len(b)
	}
	v, ok := Hex4(b[2:6])
	if !ok {
		return utf8.RuneError, len(b)
	}
	r := rune(v)
	if r >= 0xD800 && r < 0xDC00 {
		if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if v2, ok := Hex4(b[8:12]); ok && v2 >= 0xDC00 && v2 < 0xE000 {
				return 0x10000 + (r-0xD800)<<10 + (rune(v2) - 0xDC00), 12
			}
		}
		return utf8.RuneError, 6
	}
	if r >= 0xDC00 && r < 0xE000 {
		return utf8.RuneError, 6
	}
	return r, 6
}

// Hex4 returns the value of the four hexadecimal digits b starts with; ok is false when b is
// shorter or one of them is no hexadecimal digit.
func Hex4(b []byte) (v uint16, ok bool) {
	if len(b) < 4 {
		return 0, false
	}
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}
