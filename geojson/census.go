package geojson

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// CensusWriter streams cells or components to a GeoJSON FeatureCollection (RFC 7946), one
// feature per line, each as the API answers it (AppendCell, AppendComponent): the census
// readers of registry read the property names they know (code, name; id, legacy_id, class,
// legacy_class, name, status, supervisor, owner, maintainer, census_date, change_date, source,
// note, attributes) and ignore the computed ones, so an export imports back unchanged.
// Coordinates are WGS84/CGCS2000 lon/lat. Output is buffered (64 KiB) and the collection is
// complete only after Close. A CensusWriter is not safe for concurrent use.
//
// Coordinates are written as stored unless the writer was made for another Datum
// (NewCensusWriterIn): then each point goes through its Projection, and the collection names
// the datum in a crs member before its features.
type CensusWriter struct {
	w       *bufio.Writer
	datum   Datum
	buf     []byte
	started bool
	closed  bool
	err     error // the first write error; every later call returns it
}

// Datum is the coordinate system a census file is written in: the name of its GeoJSON crs
// member (the 2008 GeoJSON form, {"type":"name","properties":{"name":…}}; spatial's
// CRS.GeoJSONName gives it) and the conversion of stored WGS84 points to it. The zero Datum
// writes stored WGS84 lon/lat without a crs member, as RFC 7946 has it.
type Datum struct {
	Name       string     // "" writes no crs member
	Projection Projection // nil: points as stored
}

// Datumer is a coordinate system a Datum can be made of: spatial.CRS is one.
type Datumer interface {
	GeoJSONName() string                      // the crs member's name; "" for WGS84
	FromWGS84Func() func(orb.Point) orb.Point // nil for WGS84
}

// DatumOf is the Datum of c: its crs member's name and the conversion to it.
func DatumOf(c Datumer) Datum {
	return Datum{Name: c.GeoJSONName(), Projection: c.FromWGS84Func()}
}

// NewCensusWriter returns a writer of one FeatureCollection to w. Close does not close w.
func NewCensusWriter(w io.Writer) *CensusWriter {
	return NewCensusWriterIn(w, Datum{})
}

// NewCensusWriterIn returns a writer of one FeatureCollection in datum d to w.
func NewCensusWriterIn(w io.Writer, d Datum) *CensusWriter {
	return &CensusWriter{w: bufio.NewWriterSize(w, 64<<10), datum: d}
}

var errWriterClosed = errors.New("geojson: write after Close")

// WriteCell writes c as a Feature with a MultiPolygon geometry. A geometry with NaN or
// infinite coordinates is refused with a *registry.Error (invalid_geometry) and nothing is
// written.
func (gw *CensusWriter) WriteCell(c *registry.Cell) error {
	if err := gw.check(); err != nil {
		return err
	}
	if p, ok := nonFinite(c.Geometry); ok {
		return registry.Errorf(registry.Invalid, registry.CodeInvalidGeometry, "cell %s has a non-finite coordinate %s", c.Code, pointText(p))
	}
	b := gw.begin()
	b = AppendCell(b, c, gw.datum.Projection)
	return gw.flushFeature(b)
}

// WriteComponent writes c as a Feature with a Point geometry; className is the catalogue's name
// of its class (ClassName). A point with NaN or infinite coordinates is refused with a
// *registry.Error (invalid_geometry) and nothing is written.
func (gw *CensusWriter) WriteComponent(c *registry.Component, className string) error {
	if err := gw.check(); err != nil {
		return err
	}
	if !finitePoint(c.Point) {
		return registry.Errorf(registry.Invalid, registry.CodeInvalidGeometry, "component %s has a non-finite point %s", c.ID, pointText(c.Point))
	}
	b := gw.begin()
	b = AppendComponent(b, c, className, gw.datum.Projection)
	return gw.flushFeature(b)
}

// Close ends the FeatureCollection (an empty one if nothing was written) and flushes it to
// the underlying writer. Calling Close again does nothing and returns the first error, if any.
func (gw *CensusWriter) Close() error {
	if gw.closed {
		return gw.err
	}
	gw.closed = true
	if gw.err != nil {
		return gw.err
	}
	if !gw.started {
		gw.write(gw.head(nil))
	}
	gw.write([]byte("\n]}\n"))
	if gw.err == nil {
		if err := gw.w.Flush(); err != nil {
			gw.err = fmt.Errorf("write geojson: %w", err)
		}
	}
	return gw.err
}

func (gw *CensusWriter) check() error {
	if gw.err != nil {
		return gw.err
	}
	if gw.closed {
		return errWriterClosed
	}
	return nil
}

// begin returns the reused buffer holding what precedes the next feature.
func (gw *CensusWriter) begin() []byte {
	b := gw.buf[:0]
	if !gw.started {
		b = gw.head(b)
		b = append(b, '\n')
	} else {
		b = append(b, ",\n"...)
	}
	return b
}

// head appends the start of the collection, up to the "[" of its features.
func (gw *CensusWriter) head(b []byte) []byte {
	b = append(b, `{"type":"FeatureCollection",`...)
	if gw.datum.Name != "" {
		b = append(b, `"crs":{"type":"name","properties":{"name":`...)
		b = AppendString(b, gw.datum.Name)
		b = append(b, `}},`...)
	}
	return append(b, `"features":[`...)
}

func (gw *CensusWriter) flushFeature(b []byte) error {
	gw.buf = b
	gw.started = true
	gw.write(b)
	return gw.err
}

func (gw *CensusWriter) write(b []byte) {
	if gw.err != nil {
		return
	}
	if _, err := gw.w.Write(b); err != nil {
		gw.err = fmt.Errorf("write geojson: %w", err)
	}
}

func finitePoint(p orb.Point) bool {
	return !math.IsNaN(p[0]) && !math.IsInf(p[0], 0) && !math.IsNaN(p[1]) && !math.IsInf(p[1], 0)
}

func nonFinite(mp orb.MultiPolygon) (orb.Point, bool) {
	for _, poly := range mp {
		for _, r := range poly {
			for _, p := range r {
				if !finitePoint(p) {
					return p, true
				}
			}
		}
	}
	return orb.Point{}, false
}

func appendPosition(b []byte, p orb.Point) []byte {
	b = append(b, '[')
	b = strconv.AppendFloat(b, p[0], 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, p[1], 'f', -1, 64)
	return append(b, ']')
}

// AppendCensusMultiPolygon appends mp as a GeoJSON MultiPolygon geometry object in the
// census form (coordinates as CensusWriter writes them), for other writers of census files.
func AppendCensusMultiPolygon(b []byte, mp orb.MultiPolygon) []byte {
	b = append(b, `{"type":"MultiPolygon","coordinates":`...)
	b = appendMultiPolygon(b, mp)
	return append(b, '}')
}

func appendMultiPolygon(b []byte, mp orb.MultiPolygon) []byte {
	return appendMultiPolygonProj(b, mp, nil)
}

// appendMultiPolygonProj appends mp's coordinates, each point through proj.
func appendMultiPolygonProj(b []byte, mp orb.MultiPolygon, proj Projection) []byte {
	b = append(b, '[')
	for i, poly := range mp {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, r := range poly {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			for k, p := range r {
				if k > 0 {
					b = append(b, ',')
				}
				b = appendPosition(b, proj.apply(p))
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

func pointText(p orb.Point) string {
	return "(" + strconv.FormatFloat(p[0], 'g', -1, 64) + " " + strconv.FormatFloat(p[1], 'g', -1, 64) + ")"
}
