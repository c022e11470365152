package geojson

import (
	"math"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// The API form: cells, components and nearest hits as the HTTP API answers them. A page of
// components in a box is the map client's and the GIS desk's everyday query, and
// encoding/json over feature DTOs spent most of its time reflecting (docs/benchmarks.md, "Figures behind the code"),
// so features are appended by hand. Members, their order and their values are those the DTOs gave
// (TestComponentSameAsEncodingJSON and its siblings check it); strings differ only in leaving
// <, > and & unescaped (AppendString).

// Projection maps a stored lon/lat (WGS84) point to the coordinates of an answer, such as
// another datum asked for with ?crs=. A nil Projection leaves points as stored.
type Projection func(orb.Point) orb.Point

func (f Projection) apply(p orb.Point) orb.Point {
	if f == nil {
		return p
	}
	return f(p)
}

// AppendComponent appends c as a Feature, as the API answers it and the export writes it:
//
//	{"type":"Feature","id":"…","geometry":{"type":"Point","coordinates":[x,y]},"properties":{
//	 "id","legacy_id"?,"class","legacy_class"?,"class_name","name","status","status_name",
//	 "supervisor","owner","maintainer","cell","district","street","community","census_date",
//	 "change_date","source","note","attributes"?,"version","updated","updated_by"}}
//
// className is the catalogue's name of c's class (ClassName); district, street and community
// are the cell code's prefixes; dates are "YYYY-MM-DD" or null, updated is RFC 3339 in UTC.
// legacy_id, legacy_class and attributes (an object of the properties outside the standard)
// appear only when set. The store's internal key is not written.
func AppendComponent(b []byte, c *registry.Component, className string, proj Projection) []byte {
	b = appendFeatureHead(b, c.ID, proj.apply(c.Point))
	if !c.LegacyID.IsZero() {
		b = append(b, `,"legacy_id":"`...)
		b = c.LegacyID.AppendTo(b)
		b = append(b, '"')
	}
	b = appendMember(b, "class", c.Class)
	if c.LegacyClass != "" {
		b = appendMember(b, "legacy_class", c.LegacyClass)
	}
	b = appendMember(b, "class_name", className)
	b = appendMember(b, "name", c.Name)
	b = appendMember(b, "status", c.Status.String())
	b = appendMember(b, "status_name", c.Status.Chinese())
	b = appendMember(b, "supervisor", c.Supervisor)
	b = appendMember(b, "owner", c.Owner)
	b = appendMember(b, "maintainer", c.Maintainer)
	b = appendMember(b, "cell", string(c.Cell))
	b = appendMember(b, "district", c.Cell.District())
	b = appendMember(b, "street", c.Cell.Street())
	b = appendMember(b, "community", c.Cell.Community())
	b = append(b, `,"census_date":`...)
	b = appendDate(b, c.CensusDate)
	b = append(b, `,"change_date":`...)
	b = appendDate(b, c.ChangeDate)
	b = appendMember(b, "source", c.Source)
	b = appendMember(b, "note", c.Note)
	if c.Attributes != "" {
		b = append(b, `,"attributes":`...)
		b = append(b, c.Attributes...) // canonical JSON object text
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, c.Version, 10)
	b = append(b, `,"updated":`...)
	b = appendTime(b, c.Updated)
	b = appendMember(b, "updated_by", c.UpdatedBy)
	return append(b, "}}"...)
}

// Hit is a nearest-component answer: what the spatial index holds of a component, and its
// distance in metres from the query point. Its fields are spatial.Hit's, in the same order,
// so a *spatial.Hit converts to a *Hit without a copy.
type Hit struct {
	Key        registry.Key
	ID         registry.ComponentCode
	Class      string
	Status     registry.Status
	Point      orb.Point // lon/lat WGS84
	Cell       registry.GridCode
	Maintainer string
	Distance   float64 // metres
}

// AppendHit appends h as a Feature of the API:
//
//	{"type":"Feature","id":"…","geometry":{"type":"Point","coordinates":[x,y]},
//	 "properties":{"id","class","name","status","cell","maintainer","distance"}}
//
// name is the component's name (the index does not hold it); distance is in metres, rounded
// to the centimetre.
func AppendHit(b []byte, h *Hit, name string, proj Projection) []byte {
	b = appendFeatureHead(b, h.ID, proj.apply(h.Point))
	b = appendMember(b, "class", h.Class)
	b = appendMember(b, "name", name)
	b = appendMember(b, "status", h.Status.String())
	b = appendMember(b, "cell", string(h.Cell))
	b = appendMember(b, "maintainer", h.Maintainer)
	b = append(b, `,"distance":`...)
	b = appendNumber(b, RoundCM(h.Distance))
	return append(b, "}}"...)
}

// RoundCM rounds a distance in metres to the centimetre, as every answer gives distances.
func RoundCM(m float64) float64 { return math.Round(m*100) / 100 }

// ClassName is the name cat gives c's class, or its legacy class's when it has no 2026 class;
// "" when cat is nil or does not know it. AppendComponent writes it as class_name.
func ClassName(cat *registry.Catalog, c *registry.Component) string {
	if cat == nil {
		return ""
	}
	code := c.Class
	if code == "" {
		code = c.LegacyClass
	}
	if cl, ok := cat.Lookup(registry.KindComponent, code); ok {
		return cl.Name
	}
	return ""
}

// AppendCell appends c as a Feature, as the API answers it and the export writes it:
//
//	{"type":"Feature","id":"…","geometry":{"type":"MultiPolygon","coordinates":[…]},
//	 "properties":{"code","name","district","street","community","area","version","updated"}}
//
// area is in m² (geodesic) to 0.01, updated RFC 3339 in UTC; district, street and community
// are the code's prefixes. The store's internal key is not written. c is only read, so it may
// point into the index.
func AppendCell(b []byte, c *registry.Cell, proj Projection) []byte {
	b = append(b, `{"type":"Feature",`...)
	if c.Code != "" {
		b = append(b, `"id":`...)
		b = AppendString(b, string(c.Code))
		b = append(b, ',')
	}
	b = append(b, `"geometry":{"type":"MultiPolygon","coordinates":`...)
	b = appendPolygons(b, c.Geometry, proj)
	b = append(b, `},"properties":{"code":`...)
	b = AppendString(b, string(c.Code))
	b = appendMember(b, "name", c.Name)
	b = appendMember(b, "district", c.Code.District())
	b = appendMember(b, "street", c.Code.Street())
	b = appendMember(b, "community", c.Code.Community())
	b = append(b, `,"area":`...)
	b = appendNumber(b, math.Round(c.Area*100)/100)
	b = appendMember(b, "status", c.Status.String())
	if !c.Retired.IsZero() {
		b = append(b, `,"retired":`...)
		b = appendTime(b, c.Retired)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, c.Version, 10)
	b = append(b, `,"updated":`...)
	b = appendTime(b, c.Updated)
	return append(b, "}}"...)
}

// AppendCollection appends a FeatureCollection of n features, feature i appended by
// feature(b, i).
func AppendCollection(b []byte, n int, feature func(b []byte, i int) []byte) []byte {
	b = appendFeatures(b, n, feature)
	return append(b, '}')
}

// AppendPage appends one page of a listing: a FeatureCollection of n features, feature i
// appended by feature(b, i), with a "next" member (a foreign member, which RFC 7946 §6.1
// allows) holding the cursor of the next page, or null when next is "" (the last page).
func AppendPage(b []byte, n int, feature func(b []byte, i int) []byte, next string) []byte {
	b = appendFeatures(b, n, feature)
	b = append(b, `,"next":`...)
	if next == "" {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, next)
	}
	return append(b, '}')
}

// appendFeatures appends a FeatureCollection up to the end of its features array.
func appendFeatures(b []byte, n int, feature func(b []byte, i int) []byte) []byte {
	b = append(b, `{"type":"FeatureCollection","features":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = feature(b, i)
	}
	return append(b, ']')
}

// appendFeatureHead appends the start of a component's Feature, up to its first property:
//
//	{"type":"Feature","id":"…","geometry":{"type":"Point","coordinates":[x,y]},"properties":{"id":"…"
func appendFeatureHead(b []byte, id registry.ComponentCode, p orb.Point) []byte {
	b = append(b, `{"type":"Feature","id":"`...)
	lo := len(b)
	b = id.AppendTo(b)
	hi := len(b)
	b = append(b, `","geometry":{"type":"Point","coordinates":`...)
	b = appendPoint(b, p)
	b = append(b, `},"properties":{"id":"`...)
	b = append(b, b[lo:hi]...)
	return append(b, '"')
}

// appendMember appends ,"name":"value" (name needs no escaping).
func appendMember(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendString(b, value)
}

// appendPoint appends [x,y].
func appendPoint(b []byte, p orb.Point) []byte {
	b = append(b, '[')
	b = appendNumber(b, p[0])
	b = append(b, ',')
	b = appendNumber(b, p[1])
	return append(b, ']')
}

// appendPolygons appends the coordinates of mp, each point through proj; a nil slice at any
// level is null, as encoding/json writes it.
func appendPolygons(b []byte, mp orb.MultiPolygon, proj Projection) []byte {
	if mp == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, poly := range mp {
		if i > 0 {
			b = append(b, ',')
		}
		if poly == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, r := range poly {
			if j > 0 {
				b = append(b, ',')
			}
			if r == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for k, p := range r {
				if k > 0 {
					b = append(b, ',')
				}
				b = appendPoint(b, proj.apply(p))
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// appendNumber appends f as encoding/json writes a float64 (ES6 number formatting): plain
// notation, exponent form below 1e-6 and from 1e21. NaN and infinities, which JSON cannot
// hold and no stored value is, become null.
func appendNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		n := len(b)
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// e-09 → e-9, as encoding/json does
		if m := len(b) - n; m >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
		return b
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendDate appends "YYYY-MM-DD", or null for the zero time.
func appendDate(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.DateOnly)
	return append(b, '"')
}

// appendTime appends t in UTC as time.Time's MarshalJSON writes it (RFC 3339 with
// nanoseconds, trailing zeros dropped).
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = append2(append2(b, year/100), year%100)
	b = append2(append(b, '-'), int(month))
	b = append2(append(b, '-'), day)
	b = append2(append(b, 'T'), hour)
	b = append2(append(b, ':'), minute)
	b = append2(append(b, ':'), sec)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [9]byte
		for i := 8; i >= 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 9
		for frac[n-1] == '0' {
			n--
		}
		b = append(append(b, '.'), frac[:n]...)
	}
	return append(b, 'Z', '"')
}

// append2 appends v (0–99) as two digits.
func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
