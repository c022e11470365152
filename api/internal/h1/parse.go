package h1

import "bytes"

// verdict is what parseHead decided about the bytes at the start of a buffer.
type verdict int

const (
	headMore  verdict = iota // not a complete head yet, and nothing seen rules the fast path out
	headFast                 // a complete head the Lane may answer: head.path, head.query
	headOther                // net/http's business: another method, path, version, a header it must act on, anything malformed
)

type head struct {
	path  []byte // the request target up to '?'
	query []byte // after the first '?', empty when none
}

// parseHead reads one request head at the start of b. With headFast it returns the head and
// its length including the blank line. It is strict: whatever it does not accept as a plain
// keep-alive GET without a body is headOther, for net/http to handle as it always does.
// FuzzParseHead checks that net/http reads every headFast head the same way.
func parseHead(b []byte) (head, int, verdict) {
	var h head
	line, rest, ok := cutLine(b)
	if !ok {
		// The request line is incomplete: keep reading while it can still be a GET.
		if bytes.HasPrefix(b, []byte("GET ")) || bytes.HasPrefix([]byte("GET "), b) {
			if bytes.IndexByte(b, '\n') < 0 {
				return h, 0, headMore
			}
		}
		return h, 0, headOther
	}
	target, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return h, 0, headOther
	}
	target, ok = bytes.CutSuffix(target, []byte(" HTTP/1.1"))
	if !ok || len(target) == 0 || target[0] != '/' {
		return h, 0, headOther
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return h, 0, headOther
		}
	}
	if path, _, _ := bytes.Cut(target, []byte("?")); bytes.IndexByte(path, '%') >= 0 {
		return h, 0, headOther // an escaped path names no route of ours; net/http judges it
	}
	hosts := 0
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			if bytes.IndexByte(rest, '\n') >= 0 {
				return h, 0, headOther // a line ending in a bare LF
			}
			return h, 0, headMore
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || !isToken(name) || !validValue(value) {
			return h, 0, headOther
		}
		switch {
		case equalFold(name, "host"):
			hosts++
			if hosts > 1 || !validHost(trimOWS(value)) {
				return h, 0, headOther
			}
		case equalFold(name, "connection"):
			if !equalFold(trimOWS(value), "keep-alive") {
				return h, 0, headOther
			}
		case equalFold(name, "content-length"), equalFold(name, "transfer-encoding"),
			equalFold(name, "expect"), equalFold(name, "upgrade"):
			return h, 0, headOther
		}
	}
	if hosts != 1 {
		return h, 0, headOther
	}
	h.path, h.query, _ = bytes.Cut(target, []byte("?"))
	return h, len(b) - len(rest), headFast
}

// cutLine cuts a CRLF-terminated line off b. ok is false when b holds no complete line, or
// when its first line ends in a bare LF or holds a CR elsewhere (the caller sees headOther
// from the LF it finds).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, b, false
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, b, false
	}
	return line, b[i+1:], true
}

// isToken reports whether b is an RFC 9110 token (a header name).
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue reports whether a header value holds only visible characters, spaces, tabs
// and obs-text, as net/http requires.
func validValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost is a conservative subset of what net/http accepts as a Host value: the
// characters of a host name, an IPv4 or bracketed IPv6 address, and a port.
func validHost(v []byte) bool {
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte { return bytes.Trim(b, " \t") }

// equalFold compares b with a lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
