package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
)

// Components as GeoJSON Features, written by hand. A page of components in a box is the
// map client's and the GIS desk's everyday query; encoding/json spent about 60% of its time
// reflecting over the feature DTOs (docs/benchmarks.md). The members, their order and their
// values are those the DTOs gave (componentFeatureBaseline in the tests checks it).

// componentFeature is a stored component as a GeoJSON Feature:
//
//	{"type":"Feature","id":"…","geometry":{"type":"Point","coordinates":[x,y]},"properties":{…}}
//
// with the census properties (the import's property names, so that an exported feature can
// be re-imported). It marshals itself; appendJSON writes it into a buffer.
type componentFeature struct {
	c         *registry.Component
	className string
	point     orb.Point // in the answer's CRS
}

// toComponentFeature converts a stored component; its point is given in crs.
func (s *Server) toComponentFeature(c *registry.Component, crs spatial.CRS) componentFeature {
	classCode := c.Class
	if classCode == "" {
		classCode = c.LegacyClass
	}
	f := componentFeature{c: c, point: spatial.FromWGS84(c.Point, crs)}
	if cl, ok := s.catalog.Lookup(registry.KindComponent, classCode); ok {
		f.className = cl.Name
	}
	return f
}

// MarshalJSON makes a componentFeature a member of other JSON answers.
func (f componentFeature) MarshalJSON() ([]byte, error) {
	return f.appendJSON(make([]byte, 0, 640)), nil
}

func (f *componentFeature) appendJSON(b []byte) []byte {
	c := f.c
	b = appendFeatureHead(b, c.ID, f.point)
	if !c.LegacyID.IsZero() {
		b = append(b, `,"legacy_id":"`...)
		b = appendCode(b, c.LegacyID)
		b = append(b, '"')
	}
	b = append(b, `,"key":`...)
	b = strconv.AppendUint(b, uint64(c.Key), 10)
	b = appendMember(b, "class", c.Class)
	if c.LegacyClass != "" {
		b = appendMember(b, "legacy_class", c.LegacyClass)
	}
	b = appendMember(b, "class_name", f.className)
	b = appendMember(b, "name", c.Name)
	b = appendMember(b, "status", c.Status.String())
	b = appendMember(b, "status_name", c.Status.Chinese())
	b = appendMember(b, "supervisor", c.Supervisor)
	b = appendMember(b, "owner", c.Owner)
	b = appendMember(b, "maintainer", c.Maintainer)
	b = appendMember(b, "cell", string(c.Cell))
	b = append(b, `,"census_date":`...)
	b = appendDate(b, c.CensusDate)
	b = append(b, `,"change_date":`...)
	b = appendDate(b, c.ChangeDate)
	b = appendMember(b, "source", c.Source)
	b = appendMember(b, "note", c.Note)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, c.Version, 10)
	b = append(b, `,"updated":`...)
	b = appendTime(b, c.Updated)
	b = appendMember(b, "updated_by", c.UpdatedBy)
	return append(b, "}}"...)
}

// appendFeatureHead appends the start of a component's Feature, up to its first property:
//
//	{"type":"Feature","id":"…","geometry":{"type":"Point","coordinates":[x,y]},"properties":{"id":"…"
func appendFeatureHead(b []byte, id registry.ComponentCode, p orb.Point) []byte {
	b = append(b, `{"type":"Feature","id":"`...)
	lo := len(b)
	b = appendCode(b, id)
	hi := len(b)
	b = append(b, `","geometry":`...)
	b = appendPointGeometry(b, p)
	b = append(b, `,"properties":{"id":"`...)
	b = append(b, b[lo:hi]...)
	return append(b, '"')
}

// appendMember appends ,"name":"value" (name needs no escaping).
func appendMember(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return geojson.AppendString(b, value)
}

// appendPointGeometry appends {"type":"Point","coordinates":[x,y]}.
func appendPointGeometry(b []byte, p orb.Point) []byte {
	b = append(b, `{"type":"Point","coordinates":[`...)
	b = appendJSONFloat(b, p[0])
	b = append(b, ',')
	b = appendJSONFloat(b, p[1])
	return append(b, "]}"...)
}

// appendJSONFloat appends f as encoding/json writes a float64 (ES6 number formatting):
// plain notation, exponent form below 1e-6 and from 1e21. NaN and infinities, which JSON
// cannot hold and no stored coordinate is, become null.
func appendJSONFloat(b []byte, f float64) []byte {
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

// appendHitFeature appends a nearest-component answer as a GeoJSON Feature: what the index
// knows and the distance in metres.
func appendHitFeature(b []byte, h *spatial.Hit) []byte {
	b = appendFeatureHead(b, h.ID, h.Point)
	b = append(b, `,"key":`...)
	b = strconv.AppendUint(b, uint64(h.Key), 10)
	b = appendMember(b, "class", h.Class)
	b = appendMember(b, "status", h.Status.String())
	b = appendMember(b, "cell", string(h.Cell))
	b = appendMember(b, "maintainer", h.Maintainer)
	b = append(b, `,"distance":`...)
	b = appendJSONFloat(b, h.Distance)
	return append(b, "}}"...)
}

// writeFeatures answers status with a FeatureCollection of n features, each appended by
// feature; with next set, it is a page: a "next" member (the cursor, or null on the last
// page) and the Link rel="next" header.
func writeFeatures(c *gin.Context, status int, n int, feature func(b []byte, i int) []byte, page bool, next registry.Key) {
	bp := featurePool.Get().(*[]byte)
	b := append((*bp)[:0], `{"type":"FeatureCollection","features":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = feature(b, i)
	}
	b = append(b, ']')
	if page {
		b = append(b, `,"next":`...)
		if next == 0 {
			b = append(b, "null"...)
		} else {
			cur := encodeCursor(next)
			setNextLink(c, cur)
			b = geojson.AppendString(b, cur)
		}
	}
	b = append(b, '}')
	writeRaw(c, status, geoJSONContentTypes, b)
	if cap(b) <= maxPooledOut {
		*bp = b
		featurePool.Put(bp)
	}
}

// featurePool recycles the buffers of feature collections (a page of a few hundred
// components is a few hundred kilobytes).
var featurePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// writeFeature answers status with one feature.
func writeFeature(c *gin.Context, status int, f componentFeature) {
	writeRaw(c, status, geoJSONContentTypes, f.appendJSON(make([]byte, 0, 640)))
}

// geoJSONContentTypes is geoJSONContentType as a header value (see jsonContentType).
var geoJSONContentTypes = []string{geoJSONContentType}
