package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"citygrid/internal/jsonscan"
)

// readGeoJSON walks the top-level object with a json.Decoder, token by token. At the
// "features" array it hands the rest of the stream to an elementReader, which frames one
// feature at a time with the same strict scanner the feature parser uses: framing with
// Decoder.Decode would scan every feature twice more with encoding/json's slower state
// machine (BenchmarkReadFeaturesGeoJSON keeps that path as its baseline). After the array a
// new Decoder takes over the remaining members, so the whole array is never in memory.
//
// onCRS takes the raw value of a top-level "crs" member, wherever it stands; an error from
// it stops the stream.
func readGeoJSON(r io.Reader, onCRS func(json.RawMessage) error, fn func(*Feature) error) error {
	dec := json.NewDecoder(r)
	base := int64(0) // input offset of dec's first byte, to report offsets after a hand-over
	stop := func(err error) error {
		off := base + dec.InputOffset()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Errorf(Invalid, CodeInvalidInput, "geojson: input ends early (offset %d)", off)
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return Errorf(Invalid, CodeInvalidInput, "geojson: %v (offset %d)", err, off)
		}
		return fmt.Errorf("read geojson: %w", err)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return Errorf(Invalid, CodeInvalidInput, "geojson: empty input")
		}
		return stop(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Errorf(Invalid, CodeInvalidInput, "geojson: the document is not a JSON object")
	}
	var (
		typ      string
		sawFeats bool
		members  map[string]json.RawMessage // non-"features" members, which make up a lone Feature
		p        = newFeatureParser()
		feat     Feature
		index    int
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return stop(err)
		}
		key, _ := tok.(string)
		switch key {
		case "type":
			if err := dec.Decode(&typ); err != nil {
				return stop(err)
			}
			if typ != "FeatureCollection" && typ != "Feature" {
				return Errorf(Invalid, CodeInvalidInput, "geojson: type %q is neither FeatureCollection nor Feature", typ)
			}
		case "features":
			if typ == "Feature" {
				return Errorf(Invalid, CodeInvalidInput, "geojson: a Feature has no features member")
			}
			sawFeats = true
			tok, err := dec.Token()
			if err != nil {
				return stop(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return Errorf(Invalid, CodeInvalidInput, "geojson: features is not an array")
			}
			er := newElementReader(io.MultiReader(dec.Buffered(), r), base+dec.InputOffset())
			_, err = er.each(func(elem []byte) error {
				p.parse(elem, index, &feat)
				index++
				return fn(&feat)
			})
			if err != nil {
				return err
			}
			// Hand the members after the array to a new Decoder, as the object "{" + rest.
			rest, off, err := er.restOfObject()
			if err != nil {
				return err
			}
			dec, base = json.NewDecoder(rest), off-1
			if _, err := dec.Token(); err != nil { // the "{" we put in front
				return stop(err)
			}
		default:
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return stop(err)
			}
			if key == "crs" {
				if err := onCRS(v); err != nil {
					return err
				}
			}
			if members == nil {
				members = make(map[string]json.RawMessage)
			}
			members[key] = v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return stop(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(Invalid, CodeInvalidInput, "geojson: data after the top-level object (offset %d)", base+dec.InputOffset())
	}
	switch {
	case typ == "Feature" && sawFeats:
		return Errorf(Invalid, CodeInvalidInput, "geojson: a Feature has no features member")
	case typ == "Feature":
		if members == nil {
			members = make(map[string]json.RawMessage)
		}
		members["type"] = json.RawMessage(`"Feature"`)
		b, err := json.Marshal(members)
		if err != nil {
			return fmt.Errorf("read geojson feature: %w", err)
		}
		p.parse(b, 0, &feat)
		return fn(&feat)
	case !sawFeats:
		return Errorf(Invalid, CodeInvalidInput, "geojson: neither a FeatureCollection with a features array nor a Feature")
	}
	return nil
}

// maxElementBytes bounds one feature of a FeatureCollection, like maxLineBytes one NDJSON line.
const maxElementBytes = maxLineBytes

// elementReader frames the elements of a JSON array read from a stream, just after its "[".
type elementReader struct {
	src  io.Reader
	buf  []byte // buf[off:] is read but not consumed
	off  int
	base int64 // input offset of buf[0]
	eof  bool
	err  error // a read error other than EOF
}

func newElementReader(src io.Reader, offset int64) *elementReader {
	return &elementReader{src: src, buf: make([]byte, 0, 256<<10), base: offset}
}

// fill reads more input. When the unconsumed bytes fill more than half the buffer, the
// buffer doubles, so a large element is rescanned only a logarithmic number of times.
func (er *elementReader) fill() bool {
	if er.eof || er.err != nil {
		return false
	}
	unread := len(er.buf) - er.off
	if er.off > 0 {
		copy(er.buf, er.buf[er.off:])
		er.base += int64(er.off)
		er.buf, er.off = er.buf[:unread], 0
	}
	if unread > cap(er.buf)/2 {
		nb := make([]byte, unread, 2*cap(er.buf))
		copy(nb, er.buf)
		er.buf = nb
	}
	for empty := 0; len(er.buf) < cap(er.buf); {
		n, err := er.src.Read(er.buf[len(er.buf):cap(er.buf)])
		er.buf = er.buf[:len(er.buf)+n]
		if n == 0 && err == nil {
			if empty++; empty == 100 {
				er.err = io.ErrNoProgress // as bufio.Reader does
				break
			}
		}
		if err == io.EOF {
			er.eof = true
			break
		}
		if err != nil {
			er.err = err
			break
		}
		if n > 0 && len(er.buf)-unread >= 4096 {
			break // enough to go on; don't block waiting to fill a slow stream's whole buffer
		}
	}
	return len(er.buf) > unread
}

// next skips whitespace and returns the next byte without consuming it; ok is false at the
// end of input.
func (er *elementReader) next() (byte, bool) {
	for {
		for er.off < len(er.buf) {
			switch c := er.buf[er.off]; c {
			case ' ', '\t', '\n', '\r':
				er.off++
			default:
				return c, true
			}
		}
		if !er.fill() {
			return 0, false
		}
	}
}

func (er *elementReader) syntaxError(msg string, at int) error {
	if er.err != nil {
		return fmt.Errorf("read geojson: %w", er.err)
	}
	return Errorf(Invalid, CodeInvalidInput, "geojson: %s (offset %d)", msg, er.base+int64(at))
}

// each calls fn with every element of the array, up to and including its "]".
func (er *elementReader) each(fn func([]byte) error) (int, error) {
	n := 0
	c, ok := er.next()
	if !ok {
		return n, er.syntaxError("input ends inside the features array", er.off)
	}
	if c == ']' {
		er.off++
		return n, nil
	}
	for {
		elem, err := er.element()
		if err != nil {
			return n, err
		}
		n++
		if err := fn(elem); err != nil {
			return n, err
		}
		c, ok := er.next()
		switch {
		case !ok:
			return n, er.syntaxError("input ends inside the features array", er.off)
		case c == ',':
			er.off++
		case c == ']':
			er.off++
			return n, nil
		default:
			return n, er.syntaxError(fmt.Sprintf("expected , or ] after feature %d", n-1), er.off)
		}
	}
}

// element returns the next complete JSON value; it is valid until the next call.
func (er *elementReader) element() ([]byte, error) {
	for {
		data := er.buf[er.off:]
		s := jsonscan.Scanner{MaxDepth: maxJSONDepth, Data: data}
		ok := s.Skip()
		// A value that ends exactly at the end of the buffer may go on (a number), one that
		// failed at the end of the buffer may be complete once more is read.
		if ok && (s.Pos < len(data) || er.eof) {
			er.off += s.Pos
			return data[:s.Pos], nil
		}
		if (ok || s.Pos >= len(data)) && !er.eof && er.err == nil {
			if len(data) > maxElementBytes {
				return nil, er.syntaxError(fmt.Sprintf("a feature is larger than %d bytes", maxElementBytes), er.off)
			}
			if !er.fill() && !er.eof {
				return nil, er.syntaxError("read stalled", er.off)
			}
			continue
		}
		return nil, er.syntaxError(s.ErrMsg("bad feature"), er.off)
	}
}

// restOfObject returns the input after the array as the text of an object, "{" + the
// remaining members, and the offset that "{" stands for.
func (er *elementReader) restOfObject() (io.Reader, int64, error) {
	c, ok := er.next()
	if !ok {
		return nil, 0, er.syntaxError("input ends after the features array", er.off)
	}
	switch c {
	case '}':
	case ',':
		er.off++
		if c, ok := er.next(); !ok || c != '"' {
			return nil, 0, er.syntaxError("expected a member name after ,", er.off)
		}
	default:
		return nil, 0, er.syntaxError("expected , or } after the features array", er.off)
	}
	off := er.base + int64(er.off)
	return io.MultiReader(strings.NewReader("{"), bytes.NewReader(er.buf[er.off:]), er.src), off, nil
}
