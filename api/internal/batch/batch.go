// Package batch decodes the body of POST /api/v1/lookup: a GeoJSON MultiPoint, a GeoJSON
// FeatureCollection of Point features (each may name its own class in a "class" property), or
// a plain array of [lon,lat] (or [lon,lat,alt], or [lon,lat,"class"]) positions. Decode reads
// the body in one pass on the shared scanner (internal/jsonscan), without allocating, and
// accepts exactly what encoding/json accepts when it decodes a []json.RawMessage (or a struct
// with Type string, Coordinates and Features []json.RawMessage) and then each element:
//
//   - the whole body must be valid JSON (RFC 8259 grammar, nesting at most 10000 deep);
//   - object keys match "type", "coordinates", "features", "geometry", "properties" and
//     "class" case-insensitively, the last duplicate wins, and a null "type" leaves the
//     previous value while a null "coordinates", "features", "geometry", "properties" or
//     "class" clears it;
//   - a position is an array of two or three numbers, or of two numbers and a string (the
//     class); a null element counts as 0 (as it did when decoded into a float64) and a number
//     out of float64 range spoils the position;
//   - a feature is an object of type "Feature" whose geometry is a Point (its coordinates two
//     or three numbers) and whose properties, when not null, are an object whose "class", when
//     not null, is a string.
//
// An element of the wrong shape is not an error of the body: its Position says so (OK false),
// and which shape was expected (Shape).
//
// The messages of invalid_input differ from encoding/json's; codes and statuses do not.
//
// It earns its place by the rule of issue 8 (code that replaces the standard library stays
// where it wins at least 20 % on the figure its issue names, here the batch lookup): the
// comparison with encoding/json is in docs/benchmarks.md, "Figures behind the code".
package batch

import (
	"bytes"
	"strconv"

	"github.com/paulmach/orb"

	"citygrid/internal/jsonscan"
	"citygrid/registry"
)

// Errors of Decode, each invalid_input.
var (
	ErrInput         = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body must be a GeoJSON MultiPoint, a GeoJSON FeatureCollection of Points or an array of [lon,lat] positions")
	ErrSyntax        = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body is not valid JSON")
	ErrNotMultiPoint = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body's type is neither MultiPoint nor FeatureCollection")
	ErrNoCoordinates = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the MultiPoint has no coordinates array")
	ErrNoFeatures    = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the FeatureCollection has no features array")
	ErrBadType       = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body's type, coordinates or features member has the wrong JSON type")
)

// Shapes of an element, which say what an element that is not OK should have been.
const (
	ShapePosition uint8 = iota // an element of a positions array: [lon,lat], [lon,lat,alt] or [lon,lat,"class"]
	ShapeFeature               // an element of a FeatureCollection: a Feature with a Point geometry
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// Position is one element of the positions array: where its numbers are in the body, to be
// converted by Point (number conversion is most of the work, and the caller may do it in
// parallel).
type Position struct {
	// Nums are the byte ranges of the element's numbers in the body (N of them, at most 3);
	// an empty range is a null.
	Nums [3][2]int32
	// Class is the byte range of the element's class in the body: the raw content of the
	// string, between its quotes (ClassEsc: with escapes or non-ASCII bytes); empty when the
	// element names no class.
	Class    [2]int32
	N        uint8
	ClassEsc bool
	// OK reports the element's syntax: a position (an array of 2 or 3 numbers or nulls, or 2
	// and a class) or a Point feature.
	OK bool
	// Shape is what the element should be: ShapePosition or ShapeFeature.
	Shape uint8
}

// HasClass reports whether the element names its own class.
func (p *Position) HasClass() bool { return p.Class[1] > p.Class[0] }

// AppendClass appends the element's class, unquoted, to dst.
func (p *Position) AppendClass(dst, body []byte) []byte {
	raw := body[p.Class[0]:p.Class[1]]
	if !p.ClassEsc {
		return append(dst, raw...)
	}
	return jsonscan.AppendUnquoted(dst, raw, true)
}

// Point converts p's numbers, found in body (Decode's trimmed body), to a point; ok is false
// when p is no position, a number is out of float64 range, or the point is no valid lon/lat.
func (p *Position) Point(body []byte) (orb.Point, bool) {
	if !p.OK {
		return orb.Point{}, false
	}
	var xy [3]float64
	for i := range int(p.N) {
		r := p.Nums[i]
		if r[0] == r[1] {
			continue // null: 0
		}
		v, err := strconv.ParseFloat(string(body[r[0]:r[1]]), 64)
		if err != nil {
			return orb.Point{}, false
		}
		xy[i] = v
	}
	pt := orb.Point{xy[0], xy[1]}
	return pt, registry.ValidPoint(pt)
}

// Decode reads body's positions into dst[:0] and returns them with the body as trimmed (the
// positions' ranges point into it) and how many positions the (last) coordinates array holds:
// it keeps at most limit+1 of them but counts them all, so that the caller can refuse a batch
// over limit without holding it.
func Decode(body []byte, dst []Position, limit int) (pos []Position, trimmed []byte, n int, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || (body[0] != '[' && body[0] != '{') {
		return dst[:0], body, 0, ErrInput
	}
	d := decoder{s: jsonscan.Scanner{Data: body, MaxDepth: maxDepth}, pos: dst[:0], limit: limit}
	if body[0] == '[' {
		n, err = d.positions()
	} else {
		n, err = d.object()
	}
	if err != nil {
		return d.pos, body, 0, err
	}
	if !d.s.AtEnd() {
		return d.pos, body, 0, ErrSyntax
	}
	return d.pos, body, n, nil
}

type decoder struct {
	s     jsonscan.Scanner
	pos   []Position
	limit int
}

// equalFold reports whether a string's raw content (jsonscan.Scanner.String) means key,
// ignoring case as encoding/json matches field names.
func equalFold(raw []byte, special bool, key string) bool {
	if !special {
		return bytes.EqualFold(raw, []byte(key))
	}
	var buf [64]byte
	return bytes.EqualFold(jsonscan.AppendUnquoted(buf[:0], raw, true), []byte(key))
}

// object parses a GeoJSON MultiPoint or FeatureCollection object. The positions of its
// "coordinates" or its "features" (the last of either) are parsed where they are met; when the
// type asks for the other member, met before, that one is parsed again from where it starts.
func (d *decoder) object() (int, error) {
	s := &d.s
	typ, typeErr := "", false
	const (
		none = iota
		coords
		feats
	)
	var at [3]int // where the last "coordinates" and "features" values start; 0: absent or null
	filled := none
	n := 0
	if !s.Enter() {
		return 0, ErrSyntax
	}
	s.Pos++ // '{'
	s.WS()
	if s.Consume('}') {
		s.Leave()
		return 0, ErrNotMultiPoint
	}
	for {
		s.WS()
		k, kSpecial, ok := s.String()
		if !ok || !s.Colon() {
			return 0, ErrSyntax
		}
		s.WS()
		member := none
		switch {
		case equalFold(k, kSpecial, "type"):
			switch s.Peek() {
			case '"':
				v, special, ok := s.String()
				if !ok {
					return 0, ErrSyntax
				}
				if special {
					var buf [64]byte
					v = jsonscan.AppendUnquoted(buf[:0], v, true)
				}
				switch string(v) { // constants: no allocation
				case "MultiPoint":
					typ = "MultiPoint"
				case "FeatureCollection":
					typ = "FeatureCollection"
				default:
					typ = "other"
				}
			case 'n':
				if !s.Literal("null") {
					return 0, ErrSyntax
				}
			default:
				typeErr = true
				if !s.Skip() {
					return 0, ErrSyntax
				}
			}
		case equalFold(k, kSpecial, "coordinates"):
			member = coords
		case equalFold(k, kSpecial, "features"):
			member = feats
		default:
			if !s.Skip() {
				return 0, ErrSyntax
			}
		}
		if member != none {
			switch s.Peek() {
			case '[':
				at[member] = s.Pos
				var err error
				if n, err = d.elements(member == feats); err != nil {
					return 0, err
				}
				filled = member
			case 'n':
				if !s.Literal("null") {
					return 0, ErrSyntax
				}
				at[member] = 0
				if filled == member {
					d.pos, n, filled = d.pos[:0], 0, none
				}
			default:
				typeErr = true
				if !s.Skip() {
					return 0, ErrSyntax
				}
			}
		}
		s.WS()
		if s.Consume(',') {
			continue
		}
		if !s.Consume('}') {
			return 0, ErrSyntax
		}
		s.Leave()
		break
	}
	// encoding/json reported a wrong member type only after checking the whole body's syntax,
	// which the caller finishes; any of these is invalid_input all the same.
	want := coords
	switch {
	case typeErr:
		return 0, ErrBadType
	case typ == "FeatureCollection":
		want = feats
	case typ != "MultiPoint":
		return 0, ErrNotMultiPoint
	}
	if at[want] == 0 {
		if want == feats {
			return 0, ErrNoFeatures
		}
		return 0, ErrNoCoordinates
	}
	if filled != want { // the other member came last: parse the wanted one again
		end, depth := s.Pos, s.Depth
		s.Pos, s.Depth = at[want], 1
		var err error
		if n, err = d.elements(want == feats); err != nil {
			return 0, err
		}
		s.Pos, s.Depth = end, depth
	}
	return n, nil
}

// elements parses the positions of a coordinates array, or the features of a features array.
func (d *decoder) elements(features bool) (int, error) {
	if features {
		return d.features()
	}
	return d.positions()
}

// positions parses an array of positions into d.pos (replacing what a previous coordinates
// member left), keeping at most limit+1 but counting them all.
func (d *decoder) positions() (int, error) {
	s := &d.s
	d.pos = d.pos[:0]
	if !s.Enter() {
		return 0, ErrSyntax
	}
	s.Pos++ // '['
	s.WS()
	if s.Consume(']') {
		s.Leave()
		return 0, nil
	}
	n := 0
	for {
		s.WS()
		var scratch Position // the position to fill, or a scratch one past limit
		dst := &scratch
		if n <= d.limit {
			d.pos = append(d.pos, Position{})
			dst = &d.pos[len(d.pos)-1]
		}
		if !d.plainPosition(dst) && !d.position(dst) {
			return 0, ErrSyntax
		}
		n++
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			s.Leave()
			return n, nil
		}
		return 0, ErrSyntax
	}
}

// plainPosition parses the usual element, [lon,lat] with no space inside, as position
// would, and reports whether it did; anything else leaves the scanner as it was, for position.
func (d *decoder) plainPosition(p *Position) bool {
	s := &d.s
	start := s.Pos
	if !s.Consume('[') {
		return false
	}
	lo0 := s.Pos
	if _, ok := s.Number(); !ok || !s.Consume(',') {
		s.Pos = start
		return false
	}
	hi0 := s.Pos - 1
	lo1 := s.Pos
	if _, ok := s.Number(); !ok || s.Peek() != ']' {
		s.Pos = start
		return false
	}
	p.Nums[0] = [2]int32{int32(lo0), int32(hi0)}
	p.Nums[1] = [2]int32{int32(lo1), int32(s.Pos)}
	p.N, p.OK = 2, true
	s.Pos++
	return true
}

// position parses one element of a positions array and reports whether it is valid JSON. It
// fills p.OK with the element's syntax as a position (2 or 3 numbers or nulls) and p.Nums
// with where its numbers are.
func (d *decoder) position(p *Position) (valid bool) {
	s := &d.s
	p.OK, p.N = false, 0
	if s.Peek() != '[' {
		return s.Skip()
	}
	if !s.Enter() {
		return false
	}
	s.Pos++
	s.WS()
	if s.Consume(']') {
		s.Leave()
		return true
	}
	n, bad := 0, false
	p.Class = [2]int32{}
	for {
		s.WS()
		switch c := s.Peek(); {
		case c == '"' && n == 2:
			raw, special, ok := s.String()
			if !ok {
				return false
			}
			end := int32(s.Pos - 1)
			p.Class, p.ClassEsc = [2]int32{end - int32(len(raw)), end}, special
			if len(raw) == 0 {
				bad = true // an empty class is no class
			}
		case c == '-' || c >= '0' && c <= '9':
			start := s.Pos
			if _, ok := s.Number(); !ok {
				return false
			}
			if n < len(p.Nums) {
				p.Nums[n] = [2]int32{int32(start), int32(s.Pos)}
			}
		case c == 'n':
			if !s.Literal("null") {
				return false
			}
			if n < len(p.Nums) { // null counts as 0: an empty range
				p.Nums[n] = [2]int32{int32(s.Pos), int32(s.Pos)}
			}
		default:
			bad = true
			if !s.Skip() {
				return false
			}
		}
		n++
		s.WS()
		if s.Consume(',') {
			continue
		}
		if !s.Consume(']') {
			return false
		}
		s.Leave()
		break
	}
	p.OK = !bad && n >= 2 && n <= 3
	p.N = uint8(min(n, len(p.Nums)))
	if p.HasClass() {
		p.N = 2 // the third element is the class, not an altitude
	}
	return true
}
