package spatial

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"citygrid/registry"
)

// Boundaries are administrative district outlines (a GeoJSON FeatureCollection of polygons with
// an adcode property, as the DataV files of Chinese map providers have), for the census check
// that a cell lies inside its district. It implements registry.DistrictBoundaries.
type Boundaries struct {
	byDistrict map[string]shape
}

var _ registry.DistrictBoundaries = (*Boundaries)(nil)

// maxBoundariesBytes bounds a boundaries file (the DataV file of all of China is about 20 MB).
const maxBoundariesBytes = 256 << 20

// LoadBoundaries reads a GeoJSON FeatureCollection whose features are Polygons or
// MultiPolygons with an "adcode" property (a 6-digit district code, number or string), in the
// datum crs (DataV files are GCJ-02), and converts them to WGS84. Features of the same adcode
// are joined; features whose adcode is not 6 digits (a province or city outline) are skipped.
// It fails on malformed JSON and when no district feature is found.
func LoadBoundaries(r io.Reader, crs CRS) (*Boundaries, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxBoundariesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read boundaries: %w", err)
	}
	if len(raw) > maxBoundariesBytes {
		return nil, fmt.Errorf("boundaries file over %d MiB", maxBoundariesBytes>>20)
	}
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		return nil, fmt.Errorf("boundaries: not a GeoJSON FeatureCollection: %w", err)
	}
	polys := map[string]orb.MultiPolygon{}
	for i, f := range fc.Features {
		code := adcode(f.Properties["adcode"])
		if len(code) != 6 || strings.HasSuffix(code, "00") {
			continue
		}
		var mp orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			mp = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			mp = g
		default:
			return nil, fmt.Errorf("boundaries: feature %d (adcode %s) is a %T, not a polygon", i, code, f.Geometry)
		}
		mp = orb.Clone(mp).(orb.MultiPolygon)
		for _, p := range mp {
			for _, ring := range p {
				for k := range ring {
					ring[k] = ToWGS84(ring[k], crs)
				}
			}
		}
		polys[code] = append(polys[code], mp...)
	}
	if len(polys) == 0 {
		return nil, fmt.Errorf("boundaries: no feature with a 6-digit district adcode")
	}
	b := &Boundaries{byDistrict: make(map[string]shape, len(polys))}
	for code, mp := range polys {
		b.byDistrict[code] = newShape(mp)
	}
	return b, nil
}

// adcode is a DataV adcode property (a JSON number or a string) as text.
func adcode(v any) string {
	switch x := v.(type) {
	case float64:
		if x >= 0 && x < 1e9 && x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
	case string:
		return strings.TrimSpace(x)
	}
	return ""
}

// Len returns the number of districts with a boundary.
func (b *Boundaries) Len() int { return len(b.byDistrict) }

// Inside reports whether p (WGS84) lies inside the district's boundary (closed); known is false
// when the file had no boundary for it.
func (b *Boundaries) Inside(district string, p orb.Point) (inside, known bool) {
	sh, ok := b.byDistrict[district]
	if !ok {
		return false, false
	}
	return sh.contains(p), true
}
