package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"citygrid/internal/jsonscan"
)

// featureParser decodes one GeoJSON Feature from its JSON text. It exists, rather than
// json.Unmarshal into a struct, so that numbers keep their literal text, property names and
// values cost one allocation per feature instead of one per value, and coordinates are checked
// while they are read. It keeps its buffers between features.
type featureParser struct {
	s       jsonscan.Scanner
	props   map[string]string
	raw     map[string]bool   // the props whose value is not a JSON string (Feature.Raw)
	keys    map[string]string // interned property names
	blob    []byte            // the feature's id and property values, back to back
	spans   []propSpan
	scratch []byte
	pts     []orb.Point
}

type propSpan struct {
	key        string
	start, end int
	raw        bool // a number, boolean, object or array: the text is JSON
}

func newFeatureParser() *featureParser {
	return &featureParser{props: make(map[string]string), raw: make(map[string]bool), keys: make(map[string]string)}
}

// parse fills f from data, the JSON text of one feature at position index. f.Props is the
// parser's reused map.
func (p *featureParser) parse(data []byte, index int, f *Feature) {
	clear(p.props)
	clear(p.raw)
	*f = Feature{Index: index, Props: p.props}
	p.blob = p.blob[:0]
	p.spans = p.spans[:0]
	p.s = jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
	s := &p.s

	var (
		typ                string
		idStart, idEnd     = -1, -1
		geomStart, geomEnd = -1, -1
		notFeature         string
	)
	fail := func(code, msg string) {
		if f.ID == "" && 0 <= idStart && idStart <= idEnd && idEnd <= len(p.blob) {
			f.ID = string(p.blob[idStart:idEnd]) // name the feature in its problem if the id was read
		}
		f.Err = &Problem{Index: index, ID: f.ID, Code: code, Message: msg}
		f.Geometry = nil
		if code == CodeInvalidGeometry || code == CodeInvalidCoordinates {
			// The rest of the feature was read: its properties stay, so that the problem can
			// name the feature by its id or code property, and a rejected-features file keep them.
			f.Err.Field = "geometry"
			return
		}
		clear(p.props)
		clear(p.raw)
		f.Raw = nil
	}
	s.WS()
	if !s.Consume('{') {
		if s.Skip() && s.AtEnd() {
			fail(CodeInvalidFeature, "the record is not a JSON object")
		} else {
			fail(CodeInvalidJSON, s.ErrMsg("the record is not valid JSON"))
		}
		return
	}
	s.WS()
	if !s.Consume('}') {
		for {
			s.WS()
			key, ok := p.key()
			if !ok || !s.Colon() {
				fail(CodeInvalidJSON, s.ErrMsg("bad object key"))
				return
			}
			switch key {
			case "type":
				if s.Peek() != '"' {
					if !s.Skip() {
						fail(CodeInvalidJSON, s.ErrMsg("bad value"))
						return
					}
					notFeature = "type is not a string"
					break
				}
				v, ok := p.stringValue()
				if !ok {
					fail(CodeInvalidJSON, s.ErrMsg("bad type string"))
					return
				}
				typ = v
			case "id":
				switch c := s.Peek(); {
				case c == '"':
					raw, esc, ok := s.String()
					if !ok {
						fail(CodeInvalidJSON, s.ErrMsg("bad id string"))
						return
					}
					idStart = len(p.blob)
					p.blob = jsonscan.AppendUnquoted(p.blob, raw, esc)
					idEnd = len(p.blob)
				case c == '-' || c >= '0' && c <= '9':
					num, ok := s.Number()
					if !ok {
						fail(CodeInvalidJSON, s.ErrMsg("bad id number"))
						return
					}
					idStart = len(p.blob)
					p.blob = append(p.blob, num...)
					idEnd = len(p.blob)
				case c == 'n':
					if !s.Literal("null") {
						fail(CodeInvalidJSON, s.ErrMsg("bad literal"))
						return
					}
					idStart, idEnd = -1, -1
				default:
					if !s.Skip() {
						fail(CodeInvalidJSON, s.ErrMsg("bad id"))
						return
					}
					notFeature = "id is neither a string nor a number"
				}
			case "geometry":
				geomStart = s.Pos
				if !s.Skip() {
					fail(CodeInvalidJSON, s.ErrMsg("bad geometry"))
					return
				}
				geomEnd = s.Pos
			case "properties":
				if !p.properties() {
					if s.Err() != "" {
						fail(CodeInvalidJSON, s.ErrMsg("bad properties"))
						return
					}
					notFeature = "properties is neither an object nor null"
				}
			default:
				if !s.Skip() {
					fail(CodeInvalidJSON, s.ErrMsg("bad value"))
					return
				}
			}
			s.WS()
			if s.Consume(',') {
				continue
			}
			if s.Consume('}') {
				break
			}
			fail(CodeInvalidJSON, s.ErrMsg("expected , or }"))
			return
		}
	}
	if !s.AtEnd() {
		fail(CodeInvalidJSON, s.ErrMsg("data after the feature object"))
		return
	}
	// One string holds the id and every property value, so a feature costs one allocation.
	all := string(p.blob)
	if idStart >= 0 {
		f.ID = all[idStart:idEnd]
	}
	for _, sp := range p.spans {
		p.props[sp.key] = all[sp.start:sp.end]
		if sp.raw {
			p.raw[sp.key] = true
		} else if len(p.raw) > 0 {
			delete(p.raw, sp.key) // a later string overrides an earlier duplicate
		}
	}
	if len(p.raw) > 0 {
		f.Raw = p.raw
	}
	switch {
	case typ != "Feature":
		if typ == "" {
			fail(CodeInvalidFeature, "the object has no \"type\": \"Feature\"")
		} else {
			fail(CodeInvalidFeature, fmt.Sprintf("type is %q, want \"Feature\"", typ))
		}
		return
	case notFeature != "":
		fail(CodeInvalidFeature, notFeature)
		return
	}
	if geomStart >= 0 {
		g, prob := p.geometry(data[geomStart:geomEnd], 0)
		if prob != nil {
			fail(prob.Code, prob.Message)
			f.Err.Hint = prob.Hint
			return
		}
		f.Geometry = g
	}
}

// key reads an object key and returns it as an interned string.
func (p *featureParser) key() (string, bool) {
	raw, esc, ok := p.s.String()
	if !ok {
		return "", false
	}
	if esc || !utf8.Valid(raw) {
		p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], raw, true)
		raw = p.scratch
	}
	if k, ok := p.keys[string(raw)]; ok {
		return k, true
	}
	k := string(raw)
	if len(p.keys) < maxKeyIntern {
		p.keys[k] = k
	}
	return k, true
}

// stringValue reads a string value into a new string (for the rare small values we inspect).
func (p *featureParser) stringValue() (string, bool) {
	raw, esc, ok := p.s.String()
	if !ok {
		return "", false
	}
	if !esc {
		switch string(raw) { // common values without an allocation
		case "Feature":
			return "Feature", true
		}
	}
	p.scratch = jsonscan.AppendUnquoted(p.scratch[:0], raw, esc)
	return string(p.scratch), true
}

// properties reads the properties member. It returns false with s.Err() empty when the value
// is well-formed JSON but not an object or null.
func (p *featureParser) properties() bool {
	s := &p.s
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '{':
	default:
		s.Skip()
		return false
	}
	s.Pos++
	s.WS()
	if s.Consume('}') {
		return true
	}
	for {
		s.WS()
		key, ok := p.key()
		if !ok || !s.Colon() {
			return false
		}
		start := len(p.blob)
		isString := s.Peek() == '"'
		switch c := s.Peek(); {
		case c == '"':
			raw, esc, ok := s.String()
			if !ok {
				return false
			}
			p.blob = jsonscan.AppendUnquoted(p.blob, raw, esc)
		case c == '-' || c >= '0' && c <= '9':
			num, ok := s.Number()
			if !ok {
				return false
			}
			p.blob = append(p.blob, num...)
		case c == 't':
			if !s.Literal("true") {
				return false
			}
			p.blob = append(p.blob, "true"...)
		case c == 'f':
			if !s.Literal("false") {
				return false
			}
			p.blob = append(p.blob, "false"...)
		case c == 'n':
			if !s.Literal("null") {
				return false
			}
			start = -1
		default: // an object or array: its compact JSON text
			from := s.Pos
			if !s.Skip() {
				return false
			}
			buf := bytes.NewBuffer(p.blob)
			if err := json.Compact(buf, s.Data[from:s.Pos]); err != nil {
				s.Fail("bad nested value")
				return false
			}
			p.blob = buf.Bytes()
			if v := p.blob[start:]; !utf8.Valid(v) { // as for strings: invalid UTF-8 becomes U+FFFD
				p.blob = append(p.blob[:start], bytes.ToValidUTF8(v, []byte("\uFFFD"))...)
			}
		}
		if start >= 0 {
			p.spans = append(p.spans, propSpan{key, start, len(p.blob), !isString})
		} else { // null: absent, also overriding an earlier duplicate key
			p.spans = append(p.spans, propSpan{key, -1, -1, false})
		}
		s.WS()
		if s.Consume(',') {
			continue
		}
		if s.Consume('}') {
			p.dropNulls()
			return true
		}
		s.Fail("expected , or }")
		return false
	}
}

// dropNulls removes null properties and earlier duplicates they override.
func (p *featureParser) dropNulls() {
	hasNull := false
	for _, sp := range p.spans {
		if sp.start < 0 {
			hasNull = true
			break
		}
	}
	if !hasNull {
		return
	}
	out := p.spans[:0]
	for i, sp := range p.spans {
		if sp.start < 0 {
			continue
		}
		overridden := false
		for _, later := range p.spans[i+1:] {
			if later.key == sp.key && later.start < 0 {
				overridden = true
			}
		}
		if !overridden {
			out = append(out, sp)
		}
	}
	p.spans = out
}
