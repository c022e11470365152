package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	geom "github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
)

// srid is CGCS2000 geographic (EPSG:4490): lon/lat in degrees, the datum of every stored
// geometry. It agrees with WGS84 to well within a metre, so citygrid's WGS84 coordinates are
// stored as they are.
const srid = 4490

// EWKB layout constants (PostGIS ZMSgeoms.txt).
const (
	ewkbPoint    = 1
	ewkbSRIDFlag = 0x20000000
	ewkbNDR      = 1 // little-endian
)

var errGeometry = errors.New("malformed geometry")

// multiPolygonEWKB encodes mp as EWKB with SRID 4490; nil for an empty multipolygon (stored
// as NULL).
func multiPolygonEWKB(mp orb.MultiPolygon) ([]byte, error) {
	if len(mp) == 0 {
		return nil, nil
	}
	var flat []float64
	endss := make([][]int, len(mp))
	for i, p := range mp {
		ends := make([]int, len(p))
		for j, r := range p {
			for _, pt := range r {
				flat = append(flat, pt[0], pt[1])
			}
			ends[j] = len(flat)
		}
		endss[i] = ends
	}
	g := geom.NewMultiPolygonFlat(geom.XY, flat, endss).SetSRID(srid)
	b, err := ewkb.Marshal(g, binary.LittleEndian)
	if err != nil {
		return nil, fmt.Errorf("encode multipolygon: %w", err)
	}
	return b, nil
}

// decodeMultiPolygon decodes EWKB of a MultiPolygon (or a Polygon) into an orb.MultiPolygon;
// nil bytes (SQL NULL) give nil.
func decodeMultiPolygon(b []byte) (orb.MultiPolygon, error) {
	if b == nil {
		return nil, nil
	}
	g, err := ewkb.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("decode multipolygon: %w", err)
	}
	var mp *geom.MultiPolygon
	switch g := g.(type) {
	case *geom.MultiPolygon:
		mp = g
	case *geom.Polygon:
		mp = geom.NewMultiPolygon(g.Layout())
		if err := mp.Push(g); err != nil {
			return nil, fmt.Errorf("decode multipolygon: %w", err)
		}
	default:
		return nil, fmt.Errorf("decode multipolygon: got %T: %w", g, errGeometry)
	}
	if mp.Empty() {
		return nil, nil
	}
	flat, stride := mp.FlatCoords(), mp.Stride()
	// One backing array for every point, as the bolt store does: a city has many cells.
	pts := make([]orb.Point, len(flat)/stride)
	for i := range pts {
		pts[i] = orb.Point{flat[i*stride], flat[i*stride+1]}
	}
	out := make(orb.MultiPolygon, mp.NumPolygons())
	start := 0
	for i, ends := range mp.Endss() {
		out[i] = make(orb.Polygon, len(ends))
		for j, end := range ends {
			out[i][j] = orb.Ring(pts[start/stride : end/stride : end/stride])
			start = end
		}
	}
	return out, nil
}

// appendPointEWKB appends p as little-endian EWKB with SRID 4490. It writes the same bytes as
// ewkb.Marshal of a geom.Point (a test checks it) without its three allocations: a
// million-component import encodes a million points.
func appendPointEWKB(b []byte, p orb.Point) []byte {
	b = append(b, ewkbNDR)
	b = binary.LittleEndian.AppendUint32(b, ewkbPoint|ewkbSRIDFlag)
	b = binary.LittleEndian.AppendUint32(b, srid)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p[0]))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(p[1]))
}

// decodePoint decodes the EWKB of a 2D point as PostGIS sends it. Other shapes (Z/M
// dimensions, big-endian) go through ewkb.Unmarshal.
func decodePoint(b []byte) (orb.Point, error) {
	if len(b) == 25 && b[0] == ewkbNDR && binary.LittleEndian.Uint32(b[1:]) == ewkbPoint|ewkbSRIDFlag {
		return orb.Point{
			math.Float64frombits(binary.LittleEndian.Uint64(b[9:])),
			math.Float64frombits(binary.LittleEndian.Uint64(b[17:])),
		}, nil
	}
	if b == nil {
		return orb.Point{}, nil
	}
	g, err := ewkb.Unmarshal(b)
	if err != nil {
		return orb.Point{}, fmt.Errorf("decode point: %w", err)
	}
	p, ok := g.(*geom.Point)
	if !ok || p.Empty() {
		return orb.Point{}, fmt.Errorf("decode point: got %T: %w", g, errGeometry)
	}
	return orb.Point{p.X(), p.Y()}, nil
}
