package postgres

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"citygrid/registry"
)

// The PostgreSQL binary format, written for COPY and read from query results. Hand-written
// because a million-row import or start-up spends most of its client time here: pgx's generic
// encoders box every value in an interface.

// pgEpoch is 2000-01-01 00:00:00 UTC, the zero of PostgreSQL's timestamps, in Unix seconds.
const pgEpoch = 946684800

// copyHeader starts a binary COPY stream: signature, flags, header extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyTrailer ends it: a field count of -1.
var copyTrailer = []byte{0xff, 0xff}

// copySource is an io.Reader of a binary COPY stream of n rows; row appends row i's tuple.
// It encodes rows as the server asks for them, so the stream is never held in memory.
type copySource struct {
	n, i int
	row  func(b []byte, i int) []byte
	buf  []byte
	off  int
	done bool
}

func newCopySource(n int, row func(b []byte, i int) []byte) *copySource {
	return &copySource{n: n, row: row, buf: append(make([]byte, 0, 64<<10), copyHeader...)}
}

func (s *copySource) Read(p []byte) (int, error) {
	if s.off == len(s.buf) {
		if s.done {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		for s.i < s.n && len(s.buf) < 60<<10 {
			s.buf = s.row(s.buf, s.i)
			s.i++
		}
		if s.i == s.n {
			s.buf = append(s.buf, copyTrailer...)
			s.done = true
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// Field encoders: each appends the field's length (-1 for NULL) and its bytes.

func putNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, math.MaxUint32) }

func putInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// putText writes s; "" is NULL, as everywhere in this schema.
func putText(b []byte, s string) []byte {
	if s == "" {
		return putNull(b)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// putCode writes an identifier as a bigint; the zero code is NULL.
func putCode(b []byte, c registry.ComponentCode) []byte {
	if c.IsZero() {
		return putNull(b)
	}
	return putInt8(b, int64(c.Uint64()))
}

// putTime writes a timestamptz; the zero time is NULL.
func putTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return putNull(b)
	}
	return putInt8(b, pgMicros(t))
}

// pgMicros is t in microseconds since 2000-01-01 UTC (truncated).
func pgMicros(t time.Time) int64 {
	return (t.Unix()-pgEpoch)*1_000_000 + int64(t.Nanosecond()/1000)
}

// Field decoders of binary result values; nil is SQL NULL.

func getInt8(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("int8 of %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

func getFloat8(b []byte) (float64, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("float8 of %d bytes", len(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

func getBool(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, fmt.Errorf("bool of %d bytes", len(b))
	}
	return b[0] != 0, nil
}

// getTime decodes a timestamptz as UTC; NULL is the zero time.
func getTime(b []byte) (time.Time, error) {
	if b == nil {
		return time.Time{}, nil
	}
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("timestamptz of %d bytes", len(b))
	}
	us := int64(binary.BigEndian.Uint64(b))
	sec, rem := us/1_000_000, us%1_000_000
	if rem < 0 {
		sec, rem = sec-1, rem+1_000_000
	}
	return time.Unix(sec+pgEpoch, rem*1000).UTC(), nil
}

// getTextArray decodes a one-dimensional text[]; NULL is nil.
func getTextArray(b []byte) ([]string, error) {
	if b == nil {
		return nil, nil
	}
	bad := fmt.Errorf("text[] of %d bytes: malformed", len(b))
	if len(b) < 12 {
		return nil, bad
	}
	ndim := binary.BigEndian.Uint32(b)
	if ndim == 0 {
		return []string{}, nil
	}
	if ndim != 1 || len(b) < 20 {
		return nil, bad
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	b = b[20:]
	if n > len(b)/4 {
		return nil, bad
	}
	out := make([]string, n)
	for i := range out {
		if len(b) < 4 {
			return nil, bad
		}
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l < 0 {
			continue
		}
		if int(l) > len(b) {
			return nil, bad
		}
		out[i], b = string(b[:l]), b[l:]
	}
	return out, nil
}

// decodeStrings decodes the text fields vals[i] for i in idx into dst with a single
// allocation, as the bolt store does; NULL is "".
func decodeStrings(dst []*string, vals [][]byte, idx []int) {
	total := 0
	for _, i := range idx {
		total += len(vals[i])
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, i := range idx {
		sb.Write(vals[i])
	}
	all := sb.String()
	for k, i := range idx {
		n := len(vals[i])
		*dst[k], all = all[:n], all[n:]
	}
}
