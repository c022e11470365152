package registry

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/paulmach/orb"

	"citygrid/internal/jsonscan"
)

// geometry decodes a GeoJSON geometry object (or null) from its JSON text, which the caller
// has already found to be well-formed.
func (p *featureParser) geometry(data []byte, depth int) (orb.Geometry, *Problem) {
	sub := jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
	s := &sub
	s.WS()
	if s.Literal("null") {
		return nil, nil
	}
	bad := func(msg string) *Problem {
		return &Problem{Field: "geometry", Code: CodeInvalidGeometry, Message: msg}
	}
	if !s.Consume('{') {
		return nil, bad("geometry is not an object")
	}
	var typ string
	coords, geoms := []byte(nil), []byte(nil)
	s.WS()
	if !s.Consume('}') {
		for {
			s.WS()
			raw, esc, ok := s.String()
			if !ok || !s.Colon() {
				return nil, bad("bad geometry member")
			}
			if esc {
				p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], raw, true)
				raw = p.scratch
			}
			switch string(raw) {
			case "type":
				if s.Peek() != '"' {
					return nil, bad("geometry type is not a string")
				}
				v, esc, ok := s.String()
				if !ok {
					return nil, bad("bad geometry type")
				}
				p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], v, esc)
				typ = geometryTypeName(p.scratch)
			case "coordinates":
				from := s.Pos
				if !s.Skip() {
					return nil, bad("bad coordinates")
				}
				coords = s.Data[from:s.Pos]
			case "geometries":
				from := s.Pos
				if !s.Skip() {
					return nil, bad("bad geometries")
				}
				geoms = s.Data[from:s.Pos]
			default:
				if !s.Skip() {
					return nil, bad("bad geometry member")
				}
			}
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume('}') {
				break
			}
			return nil, bad("bad geometry object")
		}
	}
	if typ == "GeometryCollection" {
		if geoms == nil {
			return nil, bad("GeometryCollection has no geometries")
		}
		if depth >= 4 {
			return nil, bad("GeometryCollection nested too deep")
		}
		return p.collection(geoms, depth)
	}
	switch typ {
	case "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon":
	case "":
		return nil, bad("geometry has no type")
	default:
		return nil, bad(fmt.Sprintf("unknown geometry type %q", typ))
	}
	if coords == nil {
		return nil, bad(typ + " has no coordinates")
	}
	c := coordReader{s: jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: coords}, p: p}
	c.s.WS()
	var g orb.Geometry
	switch typ {
	case "Point":
		pt, ok := c.position()
		if ok {
			g = pt
		}
	case "MultiPoint":
		ls, ok := c.line()
		if ok {
			g = orb.MultiPoint(ls)
		}
	case "LineString":
		ls, ok := c.line()
		if ok {
			g = orb.LineString(ls)
		}
	case "MultiLineString":
		rs, ok := c.rings()
		if ok {
			mls := make(orb.MultiLineString, len(rs))
			for i, r := range rs {
				mls[i] = orb.LineString(r)
			}
			g = mls
		}
	case "Polygon":
		rs, ok := c.rings()
		if ok {
			g = orb.Polygon(rs)
		}
	case "MultiPolygon":
		mp, ok := c.multiPolygon()
		if ok {
			g = mp
		}
	}
	if c.prob != nil {
		return nil, c.prob
	}
	if g == nil || !c.s.AtEnd() {
		return nil, bad(fmt.Sprintf("%s coordinates are malformed", typ))
	}
	return g, nil
}

// geometryTypeName returns b as a string, without allocating for the GeoJSON type names.
func geometryTypeName(b []byte) string {
	switch string(b) {
	case "Point":
		return "Point"
	case "MultiPoint":
		return "MultiPoint"
	case "LineString":
		return "LineString"
	case "MultiLineString":
		return "MultiLineString"
	case "Polygon":
		return "Polygon"
	case "MultiPolygon":
		return "MultiPolygon"
	case "GeometryCollection":
		return "GeometryCollection"
	}
	return string(b)
}

func (p *featureParser) collection(data []byte, depth int) (orb.Geometry, *Problem) {
	s := jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
	s.WS()
	bad := &Problem{Field: "geometry", Code: CodeInvalidGeometry, Message: "geometries is not an array of geometries"}
	if !s.Consume('[') {
		return nil, bad
	}
	out := orb.Collection{}
	s.WS()
	if s.Consume(']') {
		return out, nil
	}
	for {
		s.WS()
		from := s.Pos
		if !s.Skip() {
			return nil, bad
		}
		g, prob := p.geometry(s.Data[from:s.Pos], depth+1)
		if prob != nil {
			return nil, prob
		}
		if g == nil {
			return nil, bad
		}
		out = append(out, g)
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			return out, nil
		}
		return nil, bad
	}
}

// coordReader reads GeoJSON coordinate arrays, checking every position's range.
type coordReader struct {
	s    jsonscan.Scanner
	p    *featureParser
	prob *Problem // set on the first invalid coordinate
}

func (c *coordReader) position() (orb.Point, bool) {
	s := &c.s
	if !s.Consume('[') {
		return orb.Point{}, false
	}
	var v [2]float64
	n := 0
	for {
		s.WS()
		num, ok := s.Number()
		if !ok {
			return orb.Point{}, false
		}
		if n < 2 {
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return orb.Point{}, false
			}
			v[n] = f
		}
		n++ // altitude and further elements are allowed and dropped (RFC 7946 §3.1.1)
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			break
		}
		return orb.Point{}, false
	}
	if n < 2 {
		return orb.Point{}, false
	}
	pt := orb.Point(v)
	if !ValidPoint(pt) && c.prob == nil {
		c.prob = &Problem{Field: "geometry", Code: CodeInvalidCoordinates,
			Message: fmt.Sprintf("position [%s, %s]: %s", fmtCoord(v[0]), fmtCoord(v[1]), coordRangeMsg),
			Hint:    CoordHint(v[0], v[1])}
	}
	return pt, true
}

// line reads an array of positions into a new exact-size slice.
func (c *coordReader) line() ([]orb.Point, bool) {
	s := &c.s
	if !s.Consume('[') {
		return nil, false
	}
	start := len(c.p.pts)
	defer func() { c.p.pts = c.p.pts[:start] }()
	s.WS()
	if !s.Consume(']') {
		for {
			s.WS()
			pt, ok := c.position()
			if !ok {
				return nil, false
			}
			c.p.pts = append(c.p.pts, pt)
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume(']') {
				break
			}
			return nil, false
		}
	}
	out := make([]orb.Point, len(c.p.pts)-start)
	copy(out, c.p.pts[start:])
	return out, true
}

func (c *coordReader) rings() ([]orb.Ring, bool) {
	return readArray(c, func() (orb.Ring, bool) {
		ls, ok := c.line()
		return orb.Ring(ls), ok
	})
}

func (c *coordReader) multiPolygon() (orb.MultiPolygon, bool) {
	polys, ok := readArray(c, func() (orb.Polygon, bool) {
		rs, ok := c.rings()
		return orb.Polygon(rs), ok
	})
	return orb.MultiPolygon(polys), ok
}

// readArray reads a JSON array whose members elem reads; an empty array gives a non-nil,
// empty slice.
func readArray[T any](c *coordReader, elem func() (T, bool)) ([]T, bool) {
	s := &c.s
	if !s.Consume('[') {
		return nil, false
	}
	out := []T{}
	s.WS()
	if s.Consume(']') {
		return out, true
	}
	for {
		s.WS()
		v, ok := elem()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume(']') {
			return out, true
		}
		return nil, false
	}
}

func fmtCoord(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
