package geojson

import (
	"slices"
	"strconv"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/project"

	"citygrid/registry"
)

// ProblemsProperty is the property under which WriteRejected lists a feature's problems
// (registry.ProblemsProperty). The census decoders ignore it, so a fixed file imports again.
const ProblemsProperty = registry.ProblemsProperty

// WriteRejected writes a census feature that an import refused, as it was read, with its
// problems: the feature "id", the geometry (null when it could not be read, or has a
// non-finite coordinate), every property as a string (numbers in their JSON text, the form
// the census readers hold them in), and under ProblemsProperty an array of
// {"index","feature","code","field","message","hint"} objects (feature: the 1-based number
// QGIS shows; field and hint left out when empty). Properties are written in name order; a
// ProblemsProperty the feature already had (a rejected file imported again) is replaced.
// Features of this kind and of WriteCell/WriteComponent may share one collection. A writer made
// for a Datum (NewCensusWriterIn) writes the geometry in it: the census readers hand over
// WGS84, and a rejected file goes back in the datum the import was asked to read.
func (gw *CensusWriter) WriteRejected(f *registry.Feature, probs []registry.Problem) error {
	if err := gw.check(); err != nil {
		return err
	}
	b := gw.begin()
	b = append(b, `{"type":"Feature"`...)
	if f.ID != "" {
		b = append(b, `,"id":`...)
		b = AppendString(b, f.ID)
	}
	b = append(b, `,"geometry":`...)
	g := f.Geometry
	if g != nil && gw.datum.Projection != nil { // back to the datum the import read
		g = project.Geometry(orb.Clone(g), orb.Projection(gw.datum.Projection))
	}
	b = appendAnyGeometry(b, g)
	b = append(b, `,"properties":{`...)
	keys := make([]string, 0, len(f.Props))
	for k := range f.Props {
		if k != ProblemsProperty {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = AppendString(b, k)
		b = append(b, ':')
		b = AppendString(b, f.Props[k])
		b = append(b, ',')
	}
	b = AppendString(b, ProblemsProperty)
	b = append(b, ":["...)
	for i, p := range probs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(p.Index), 10)
		b = append(b, `,"feature":`...)
		b = strconv.AppendInt(b, int64(p.Feature()), 10)
		b = append(b, `,"code":`...)
		b = AppendString(b, p.Code)
		b = appendStringProp(b, "field", p.Field)
		b = append(b, `,"message":`...)
		b = AppendString(b, p.Message)
		b = appendStringProp(b, "hint", p.Hint)
		b = append(b, '}')
	}
	b = append(b, "]}}"...)
	return gw.flushFeature(b)
}

// appendAnyGeometry appends g as a GeoJSON geometry object, or null for nil, a type GeoJSON
// has no object for, or a non-finite coordinate.
func appendAnyGeometry(b []byte, g orb.Geometry) []byte {
	if g == nil || !finiteGeometry(g) {
		return append(b, "null"...)
	}
	switch g := g.(type) {
	case orb.Point:
		b = append(b, `{"type":"Point","coordinates":`...)
		b = appendPosition(b, g)
	case orb.MultiPoint:
		b = append(b, `{"type":"MultiPoint","coordinates":`...)
		b = appendPositions(b, g)
	case orb.LineString:
		b = append(b, `{"type":"LineString","coordinates":`...)
		b = appendPositions(b, g)
	case orb.MultiLineString:
		b = append(b, `{"type":"MultiLineString","coordinates":[`...)
		for i, l := range g {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPositions(b, l)
		}
		b = append(b, ']')
	case orb.Ring:
		return appendAnyGeometry(b, orb.Polygon{g})
	case orb.Polygon:
		b = append(b, `{"type":"Polygon","coordinates":[`...)
		for i, r := range g {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPositions(b, r)
		}
		b = append(b, ']')
	case orb.MultiPolygon:
		b = append(b, `{"type":"MultiPolygon","coordinates":`...)
		b = appendMultiPolygon(b, g)
	case orb.Collection:
		b = append(b, `{"type":"GeometryCollection","geometries":[`...)
		for i, x := range g {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAnyGeometry(b, x)
		}
		b = append(b, ']')
	default:
		return append(b, "null"...)
	}
	return append(b, '}')
}

func appendPositions(b []byte, ps []orb.Point) []byte {
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPosition(b, p)
	}
	return append(b, ']')
}

// finiteGeometry reports whether every coordinate of g is finite.
func finiteGeometry(g orb.Geometry) bool {
	ok := true
	visit(g, func(p orb.Point) {
		if !finitePoint(p) {
			ok = false
		}
	})
	return ok
}

func visit(g orb.Geometry, fn func(orb.Point)) {
	switch g := g.(type) {
	case orb.Point:
		fn(g)
	case orb.MultiPoint:
		for _, p := range g {
			fn(p)
		}
	case orb.LineString:
		for _, p := range g {
			fn(p)
		}
	case orb.Ring:
		for _, p := range g {
			fn(p)
		}
	case orb.MultiLineString:
		for _, l := range g {
			visit(l, fn)
		}
	case orb.Polygon:
		for _, r := range g {
			visit(r, fn)
		}
	case orb.MultiPolygon:
		for _, p := range g {
			visit(p, fn)
		}
	case orb.Collection:
		for _, x := range g {
			visit(x, fn)
		}
	}
}

// appendStringProp appends ,"name":"v" when v is not empty.
func appendStringProp(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendString(b, v)
}
