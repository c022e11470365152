package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Attributes are the properties of a component outside the census standard, kept with it so
// that nothing a city's file carries is dropped: 材质 (material), 规格 (size), a QGIS fid, any
// column or property the census reader does not know. The value is the canonical text of a
// JSON object, "" when there are none: names sorted (bytewise), each value compact JSON with
// numbers as written (one with an exponent in plain decimal) and strings unescaped but for
// what JSON requires.
//
// Why JSON values in one canonical string: a GeoJSON file's properties have types (a fid is a
// number, a flag a boolean) and a CSV's columns are text (a 规格 of "0800" keeps its zero), so
// each value keeps the type it came with and an export writes it back as it came; the string
// keeps Component comparable with ==, costs the many components without attributes nothing,
// and is what both stores hold (bolt: a string; PostgreSQL: jsonb, whose own key order and
// number forms ParseAttributes undoes). Names are sorted, not kept in input order, because a
// jsonb column does not keep that order either and both stores must answer the same.
type Attributes string

// Limits on a component's attributes. Past them a census feature is rejected with
// too_many_attributes (count or total size) or too_long (a name or a value).
const (
	MaxAttributes         = 64      // names per component
	MaxAttributeNameLen   = 64      // characters of a name
	MaxAttributeValueSize = 1 << 10 // bytes of a value's JSON text
	MaxAttributesSize     = 8 << 10 // bytes of the whole JSON object
)

// Attribute is one name and its value as JSON text.
type Attribute struct {
	Name  string
	Value json.RawMessage
}

// List returns the attributes in name order; nil when there are none or the text is not a
// JSON object (never the case for Attributes made by this package).
func (a Attributes) List() []Attribute {
	if a == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(a)))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []Attribute
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		out = append(out, Attribute{Name: name, Value: v})
	}
	return out
}

// Get returns the JSON text of the attribute name.
func (a Attributes) Get(name string) (json.RawMessage, bool) {
	for _, at := range a.List() {
		if at.Name == name {
			return at.Value, true
		}
	}
	return nil, false
}

// MakeAttributes checks list and returns its canonical form. A name given twice keeps its
// last value; a value that is JSON null removes the name (as in a JSON merge patch). Errors
// are Invalid: invalid_attribute (an empty name, one that is not UTF-8 or holds control
// characters, one that is a census property, or a value that is not JSON), too_long (a name
// or a value over its limit), too_many_attributes.
func MakeAttributes(list []Attribute) (Attributes, error) {
	if len(list) == 0 {
		return "", nil
	}
	m := make(map[string]json.RawMessage, len(list))
	for _, at := range list {
		if err := checkAttributeName(at.Name); err != nil {
			return "", err
		}
		v, err := canonicalJSON(at.Value)
		if err != nil {
			return "", Errorf(Invalid, CodeInvalidAttribute, "attribute %q: the value is not JSON: %v", at.Name, err)
		}
		if string(v) == "null" {
			delete(m, at.Name)
			continue
		}
		if len(v) > MaxAttributeValueSize {
			return "", Errorf(Invalid, CodeTooLong, "attribute %q: the value has %d bytes (as JSON), at most %d are allowed", at.Name, len(v), MaxAttributeValueSize)
		}
		m[at.Name] = v
	}
	if len(m) > MaxAttributes {
		return "", Errorf(Invalid, CodeTooManyAttributes, "%d attributes, at most %d are allowed", len(m), MaxAttributes)
	}
	if len(m) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(n))
		b.WriteByte(':')
		b.Write(m[n])
	}
	b.WriteByte('}')
	if b.Len() > MaxAttributesSize {
		return "", Errorf(Invalid, CodeTooManyAttributes, "the attributes take %d bytes as JSON, at most %d are allowed", b.Len(), MaxAttributesSize)
	}
	return Attributes(b.String()), nil
}

// ParseAttributes reads attributes from the text of a JSON object (a store's column, an API
// body's "attributes" member) and returns their canonical form; null or "" is none. Errors
// as MakeAttributes, and invalid_attribute when text is not a JSON object.
func ParseAttributes(text []byte) (Attributes, error) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 || string(text) == "null" {
		return "", nil
	}
	list, err := attributeList(text)
	if err != nil {
		return "", err
	}
	return MakeAttributes(list)
}

// attributeList splits the JSON object text into its members, in order (null values kept).
func attributeList(text []byte) ([]Attribute, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, Errorf(Invalid, CodeInvalidAttribute, "attributes must be a JSON object of names and values")
	}
	var list []Attribute
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, Errorf(Invalid, CodeInvalidAttribute, "attributes: %v", err)
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, Errorf(Invalid, CodeInvalidAttribute, "attribute %q: %v", name, err)
		}
		list = append(list, Attribute{Name: name, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, Errorf(Invalid, CodeInvalidAttribute, "attributes: %v", err)
	}
	if dec.More() {
		return nil, Errorf(Invalid, CodeInvalidAttribute, "attributes: data after the object")
	}
	return list, nil
}

// StringAttribute is an attribute whose value is the text s (a CSV column).
func StringAttribute(name, s string) Attribute {
	return Attribute{Name: name, Value: jsonString(s)}
}

// checkAttributeName applies the rules for a name.
func checkAttributeName(n string) error {
	switch {
	case strings.TrimSpace(n) == "":
		return Errorf(Invalid, CodeInvalidAttribute, "an attribute has an empty name")
	case !utf8.ValidString(n):
		return Errorf(Invalid, CodeInvalidEncoding, "attribute name %q is not valid UTF-8 (save the file as UTF-8)", n)
	case utf8.RuneCountInString(n) > MaxAttributeNameLen:
		return Errorf(Invalid, CodeTooLong, "attribute name %q has %d characters, at most %d are allowed", n, utf8.RuneCountInString(n), MaxAttributeNameLen)
	case strings.IndexFunc(n, unicode.IsControl) >= 0:
		return Errorf(Invalid, CodeInvalidAttribute, "attribute name %q holds a control character", n)
	case reservedComponentProp(n):
		return Errorf(Invalid, CodeInvalidAttribute, "%q is a component property, not an attribute: give it as a property", n)
	}
	return nil
}

// jsonString is s as a JSON string, without escaping <, > and &.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// canonicalJSON returns the canonical text of one JSON value: compact, object keys sorted,
// strings re-encoded, numbers as written unless they have an exponent.
func canonicalJSON(v []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the value")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(canonicalNumbers(x)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// canonicalNumbers rewrites numbers with an exponent in plain decimal (as PostgreSQL's jsonb
// answers them), recursively.
func canonicalNumbers(x any) any {
	switch v := x.(type) {
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, "eE") {
			return v
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return v
		}
		return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
	case map[string]any:
		for k, e := range v {
			v[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = canonicalNumbers(e)
		}
	}
	return x
}
