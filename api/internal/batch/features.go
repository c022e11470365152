package batch

// The FeatureCollection form of a batch: features, each a Point with an optional "class".

import "citygrid/internal/jsonscan"

// features parses an array of features into d.pos (replacing what a previous member left),
// keeping at most limit+1 but counting them all.
func (d *decoder) features() (int, error) {
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
		var scratch Position
		dst := &scratch
		if n <= d.limit {
			d.pos = append(d.pos, Position{})
			dst = &d.pos[len(d.pos)-1]
		}
		dst.Shape = ShapeFeature
		if !d.feature(dst) {
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

// feature parses one element of a features array and reports whether it is valid JSON. It sets
// p.OK when the element is a Point feature (see the package doc), with its coordinates in
// p.Nums and its class, if any, in p.Class.
func (d *decoder) feature(p *Position) (valid bool) {
	s := &d.s
	p.OK = false
	if s.Peek() != '{' {
		return s.Skip()
	}
	if !s.Enter() {
		return false
	}
	s.Pos++
	s.WS()
	isFeature, bad := false, false
	var geom *Position // the last geometry's coordinates: nil when absent or null
	var g Position
	if s.Consume('}') {
		s.Leave()
		return true
	}
	for {
		s.WS()
		k, kSpecial, ok := s.String()
		if !ok || !s.Colon() {
			return false
		}
		s.WS()
		switch {
		case equalFold(k, kSpecial, "type"):
			switch s.Peek() {
			case '"':
				v, special, ok := s.String()
				if !ok {
					return false
				}
				if special {
					var buf [64]byte
					v = jsonscan.AppendUnquoted(buf[:0], v, true)
				}
				isFeature = string(v) == "Feature"
			case 'n':
				if !s.Literal("null") {
					return false
				}
			default:
				bad = true
				if !s.Skip() {
					return false
				}
			}
		case equalFold(k, kSpecial, "geometry"):
			switch s.Peek() {
			case '{':
				g = Position{}
				okGeom, valid := d.point(&g)
				if !valid {
					return false
				}
				if !okGeom {
					bad = true
				}
				geom = &g
			case 'n':
				if !s.Literal("null") {
					return false
				}
				geom = nil
			default:
				bad = true
				if !s.Skip() {
					return false
				}
			}
		case equalFold(k, kSpecial, "properties"):
			switch s.Peek() {
			case '{':
				okProps, valid := d.properties(p)
				if !valid {
					return false
				}
				if !okProps {
					bad = true
				}
			case 'n':
				if !s.Literal("null") {
					return false
				}
				p.Class, p.ClassEsc = [2]int32{}, false
			default:
				bad = true
				if !s.Skip() {
					return false
				}
			}
		default:
			if !s.Skip() {
				return false
			}
		}
		s.WS()
		if s.Consume(',') {
			continue
		}
		if !s.Consume('}') {
			return false
		}
		s.Leave()
		break
	}
	if geom != nil {
		p.Nums, p.N = geom.Nums, geom.N
	}
	p.OK = !bad && isFeature && geom != nil && geom.OK
	return true
}

// point parses a geometry object: ok reports a Point whose coordinates are a position of 2 or
// 3 numbers (no class), put in g; valid that the object is valid JSON.
func (d *decoder) point(g *Position) (ok, valid bool) {
	s := &d.s
	if !s.Enter() {
		return false, false
	}
	s.Pos++ // '{'
	s.WS()
	if s.Consume('}') {
		s.Leave()
		return false, true
	}
	isPoint, bad, has := false, false, false
	for {
		s.WS()
		k, kSpecial, okKey := s.String()
		if !okKey || !s.Colon() {
			return false, false
		}
		s.WS()
		switch {
		case equalFold(k, kSpecial, "type"):
			switch s.Peek() {
			case '"':
				v, special, okV := s.String()
				if !okV {
					return false, false
				}
				if special {
					var buf [64]byte
					v = jsonscan.AppendUnquoted(buf[:0], v, true)
				}
				isPoint = string(v) == "Point"
			case 'n':
				if !s.Literal("null") {
					return false, false
				}
			default:
				bad = true
				if !s.Skip() {
					return false, false
				}
			}
		case equalFold(k, kSpecial, "coordinates"):
			switch s.Peek() {
			case '[':
				*g = Position{}
				if !d.position(g) {
					return false, false
				}
				if g.HasClass() {
					g.OK = false // coordinates are numbers only
				}
				has = true
			case 'n':
				if !s.Literal("null") {
					return false, false
				}
				*g, has = Position{}, false
			default:
				bad = true
				if !s.Skip() {
					return false, false
				}
			}
		default:
			if !s.Skip() {
				return false, false
			}
		}
		s.WS()
		if s.Consume(',') {
			continue
		}
		if !s.Consume('}') {
			return false, false
		}
		s.Leave()
		break
	}
	return !bad && isPoint && has && g.OK, true
}

// properties parses a feature's properties object, which replaces any earlier one: the class,
// when a string, goes to p.Class; ok is false when the class is neither a string nor null.
func (d *decoder) properties(p *Position) (ok, valid bool) {
	s := &d.s
	p.Class, p.ClassEsc = [2]int32{}, false
	if !s.Enter() {
		return false, false
	}
	s.Pos++ // '{'
	s.WS()
	if s.Consume('}') {
		s.Leave()
		return true, true
	}
	ok = true
	for {
		s.WS()
		k, kSpecial, okKey := s.String()
		if !okKey || !s.Colon() {
			return false, false
		}
		s.WS()
		if equalFold(k, kSpecial, "class") {
			switch s.Peek() {
			case '"':
				raw, special, okV := s.String()
				if !okV {
					return false, false
				}
				end := int32(s.Pos - 1)
				p.Class, p.ClassEsc = [2]int32{end - int32(len(raw)), end}, special
			case 'n':
				if !s.Literal("null") {
					return false, false
				}
				p.Class, p.ClassEsc = [2]int32{}, false
			default:
				ok = false
				if !s.Skip() {
					return false, false
				}
			}
		} else if !s.Skip() {
			return false, false
		}
		s.WS()
		if s.Consume(',') {
			continue
		}
		if !s.Consume('}') {
			return false, false
		}
		s.Leave()
		break
	}
	return ok, true
}
