package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// parseWKT parses the WKT (or EWKT with SRID 4326 or 4490) text of a POINT, MULTIPOINT,
// LINESTRING, POLYGON or MULTIPOLYGON, with optional Z/M ordinates, which are dropped.
// The returned Problem (Field "geometry") has code invalid_geometry for malformed text and
// invalid_coordinates for NaN, infinite or out-of-range lon/lat; its Index is 0.
func parseWKT(text string) (orb.Geometry, *Problem) {
	w := wktParser{s: text}
	g := w.parse()
	if w.prob != nil {
		return nil, w.prob
	}
	return g, nil
}

type wktParser struct {
	s    string
	pos  int
	dims int // ordinates per position from the Z/M tag; 0 = 2 to 4 accepted
	prob *Problem
}

func (w *wktParser) fail(code, format string, args ...any) {
	if w.prob == nil {
		w.prob = &Problem{Field: "geometry", Code: code, Message: "wkt: " + fmt.Sprintf(format, args...)}
	}
}

func (w *wktParser) ws() {
	for w.pos < len(w.s) {
		switch w.s[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *wktParser) word() string {
	w.ws()
	start := w.pos
	for w.pos < len(w.s) {
		c := w.s[w.pos]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			break
		}
		w.pos++
	}
	return strings.ToUpper(w.s[start:w.pos])
}

func (w *wktParser) consume(c byte) bool {
	w.ws()
	if w.pos < len(w.s) && w.s[w.pos] == c {
		w.pos++
		return true
	}
	return false
}

func (w *wktParser) parse() orb.Geometry {
	if len(w.s) > 5 && strings.EqualFold(w.s[:5], "SRID=") {
		semi := strings.IndexByte(w.s, ';')
		if semi < 0 {
			w.fail(CodeInvalidGeometry, "SRID prefix without ;")
			return nil
		}
		switch srid := strings.TrimSpace(w.s[5:semi]); srid {
		case "4326", "4490":
		default:
			w.fail(CodeInvalidGeometry, "SRID %q is not 4326 (WGS84) or 4490 (CGCS2000)", srid)
			return nil
		}
		w.pos = semi + 1
	}
	kw := w.word()
	for _, base := range [...]string{"POINT", "MULTIPOINT", "LINESTRING", "POLYGON", "MULTIPOLYGON", "MULTILINESTRING"} {
		if strings.HasPrefix(kw, base) {
			switch kw[len(base):] {
			case "Z", "M":
				kw, w.dims = base, 3
			case "ZM":
				kw, w.dims = base, 4
			}
		}
	}
	if w.dims == 0 {
		save := w.pos
		switch w.word() {
		case "Z", "M":
			w.dims = 3
		case "ZM":
			w.dims = 4
		default:
			w.pos = save
		}
	}
	empty := func() bool {
		save := w.pos
		if w.word() == "EMPTY" {
			return true
		}
		w.pos = save
		return false
	}
	var g orb.Geometry
	switch kw {
	case "POINT":
		if empty() {
			g = nil
			break
		}
		if !w.consume('(') {
			w.fail(CodeInvalidGeometry, "expected ( after POINT")
			return nil
		}
		p := w.position()
		if !w.consume(')') {
			w.fail(CodeInvalidGeometry, "expected ) after the POINT position")
		}
		g = p
	case "MULTIPOINT":
		if empty() {
			g = orb.MultiPoint{}
			break
		}
		g = orb.MultiPoint(w.points(true))
	case "LINESTRING":
		if empty() {
			g = orb.LineString{}
			break
		}
		g = orb.LineString(w.points(false))
	case "POLYGON":
		if empty() {
			g = orb.Polygon{}
			break
		}
		g = w.polygon()
	case "MULTIPOLYGON":
		if empty() {
			g = orb.MultiPolygon{}
			break
		}
		if !w.consume('(') {
			w.fail(CodeInvalidGeometry, "expected ( after MULTIPOLYGON")
			return nil
		}
		mp := orb.MultiPolygon{}
		for w.prob == nil {
			mp = append(mp, w.polygon())
			if w.consume(',') {
				continue
			}
			if !w.consume(')') {
				w.fail(CodeInvalidGeometry, "expected , or ) in MULTIPOLYGON at byte %d", w.pos)
			}
			break
		}
		g = mp
	case "":
		w.fail(CodeInvalidGeometry, "no geometry type")
		return nil
	default:
		w.fail(CodeInvalidGeometry, "unsupported geometry type %q (want POINT, MULTIPOINT, LINESTRING, POLYGON or MULTIPOLYGON)", kw)
		return nil
	}
	w.ws()
	if w.prob == nil && w.pos != len(w.s) {
		w.fail(CodeInvalidGeometry, "unexpected text at byte %d", w.pos)
	}
	if w.prob != nil {
		return nil
	}
	return g
}

func (w *wktParser) polygon() orb.Polygon {
	if !w.consume('(') {
		w.fail(CodeInvalidGeometry, "expected ( to start a polygon at byte %d", w.pos)
		return nil
	}
	var p orb.Polygon
	for w.prob == nil {
		p = append(p, orb.Ring(w.points(false)))
		if w.consume(',') {
			continue
		}
		if !w.consume(')') {
			w.fail(CodeInvalidGeometry, "expected , or ) in a polygon at byte %d", w.pos)
		}
		break
	}
	return p
}

// points reads "(x y, x y, …)"; with paren, each position may be wrapped as "(x y)" (MULTIPOINT).
func (w *wktParser) points(paren bool) []orb.Point {
	if !w.consume('(') {
		w.fail(CodeInvalidGeometry, "expected ( at byte %d", w.pos)
		return nil
	}
	var pts []orb.Point
	for w.prob == nil {
		wrapped := paren && w.consume('(')
		pts = append(pts, w.position())
		if wrapped && !w.consume(')') {
			w.fail(CodeInvalidGeometry, "expected ) at byte %d", w.pos)
		}
		if w.consume(',') {
			continue
		}
		if !w.consume(')') {
			w.fail(CodeInvalidGeometry, "expected , or ) at byte %d", w.pos)
		}
		break
	}
	return pts
}

func (w *wktParser) position() orb.Point {
	var v [2]float64
	n := 0
	for {
		w.ws()
		start := w.pos
		for w.pos < len(w.s) {
			c := w.s[w.pos]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ')' || c == '(' {
				break
			}
			w.pos++
		}
		if w.pos == start {
			break
		}
		f, err := strconv.ParseFloat(w.s[start:w.pos], 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			w.fail(CodeInvalidGeometry, "%q is not a number", w.s[start:w.pos])
			return orb.Point{}
		}
		if n < 2 {
			v[n] = f
		}
		n++
	}
	if n < 2 || n > 4 || w.dims != 0 && n != w.dims {
		w.fail(CodeInvalidGeometry, "a position has %d ordinates at byte %d", n, w.pos)
		return orb.Point{}
	}
	p := orb.Point(v)
	if !ValidPoint(p) {
		w.fail(CodeInvalidCoordinates, "position (%s %s): %s", fmtCoord(v[0]), fmtCoord(v[1]), coordRangeMsg)
		if w.prob.Hint == "" && w.prob.Code == CodeInvalidCoordinates {
			w.prob.Hint = CoordHint(v[0], v[1])
		}
	}
	return p
}
