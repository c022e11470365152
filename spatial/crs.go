package spatial

import (
	"math"
	"strings"

	"citygrid/registry"

	"github.com/paulmach/orb"
)

// CRS names a geographic coordinate system a client may send or want back. The index itself
// always works in WGS84/CGCS2000 lon/lat; conversion happens at the edges (api, tiles).
type CRS uint8

const (
	// WGS84 is EPSG:4326.
	WGS84 CRS = iota
	// GCJ02 is the offset datum of Chinese map providers (Gaode/AutoNavi, Tencent).
	GCJ02
	// BD09 is Baidu's datum: a further shift on top of GCJ02.
	BD09
	// CGCS2000 is EPSG:4490, China's geodetic datum. Its coordinates are taken as WGS84's
	// as they are: the two differ by centimetres to decimetres and no official transformation
	// parameters exist. It is a CRS of its own only so that an answer can say which of the two
	// it was asked in (an export's crs member).
	CGCS2000
)

// String returns "wgs84", "cgcs2000", "gcj02" or "bd09", the names ParseCRS takes.
func (c CRS) String() string {
	switch c {
	case GCJ02:
		return "gcj02"
	case BD09:
		return "bd09"
	case CGCS2000:
		return "cgcs2000"
	}
	return "wgs84"
}

// Offset reports whether c's coordinates differ from WGS84's (GCJ02, BD09), that is whether
// ToWGS84 and FromWGS84 change a point in China.
func (c CRS) Offset() bool { return c == GCJ02 || c == BD09 }

// GeoJSONName is the name a GeoJSON crs member (the 2008 GeoJSON form,
// {"type":"name","properties":{"name":…}}) gives c in what citygrid writes: "" for WGS84,
// RFC 7946's default, which needs no member; EPSG's URN of 4490 for CGCS2000; and
// urn:citygrid:crs:gcj02 or urn:citygrid:crs:bd09 for the datums of Chinese map providers,
// which have no EPSG code. citygrid's census readers take them back (a census import in
// gcj02 or bd09 converts them); GDAL and QGIS read the last two as WGS84 lon/lat.
func (c CRS) GeoJSONName() string {
	switch c {
	case GCJ02, BD09:
		return "urn:citygrid:crs:" + c.String()
	case CGCS2000:
		return "urn:ogc:def:crs:EPSG::4490"
	}
	return ""
}

// FromWGS84Func returns the conversion of WGS84 points to c (FromWGS84), nil when c's
// coordinates are WGS84's as they are.
func (c CRS) FromWGS84Func() func(orb.Point) orb.Point {
	if !c.Offset() {
		return nil
	}
	return func(p orb.Point) orb.Point { return FromWGS84(p, c) }
}

// ParseCRS accepts "" and "wgs84"/"epsg:4326" (WGS84), "cgcs2000"/"epsg:4490" (CGCS2000),
// "gcj02"/"gcj-02" and "bd09"/"bd-09", case-insensitively. Anything else is
// registry.ErrInvalidCRS.
func ParseCRS(s string) (CRS, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "wgs84", "epsg:4326":
		return WGS84, nil
	case "cgcs2000", "epsg:4490":
		return CGCS2000, nil
	case "gcj02", "gcj-02":
		return GCJ02, nil
	case "bd09", "bd-09":
		return BD09, nil
	}
	return WGS84, registry.ErrInvalidCRS
}

// ResolveCRS resolves a coordinate system's name (ParseCRS's names, "" excepted) to a
// registry.CRS, the form a census import takes (registry.ImportOptions.ResolveCRS): its
// canonical name and its conversion to WGS84, nil for WGS84 and CGCS2000.
func ResolveCRS(name string) (registry.CRS, bool) {
	if strings.TrimSpace(name) == "" {
		return registry.CRS{}, false
	}
	c, err := ParseCRS(name)
	if err != nil {
		return registry.CRS{}, false
	}
	out := registry.CRS{Name: c.String()}
	if c.Offset() {
		out.ToWGS84 = func(p orb.Point) orb.Point { return ToWGS84(p, c) }
	}
	return out, true
}

// ToWGS84 converts a lon/lat point given in c to WGS84. GCJ02 (and the GCJ02 step of BD09) is
// inverted by fixed-point iteration to better than 1e-9° (round trips agree to well under
// 1 mm). Points outside China's box (lon 72.004–137.8347, lat 0.8293–55.8271, the box of
// googollee/eviltransform) are not offset.
func ToWGS84(p orb.Point, c CRS) orb.Point {
	switch c {
	case GCJ02:
		return gcjToWGS(p)
	case BD09:
		return gcjToWGS(bdToGCJ(p))
	}
	return p
}

// FromWGS84 converts a WGS84 lon/lat point to c using the well-known public GCJ-02 formula
// (Krasovsky ellipsoid a = 6378245 m, e² = 0.00669342162296594323) and Baidu's BD-09 shift.
// Points outside China's box (see ToWGS84) are not offset.
func FromWGS84(p orb.Point, c CRS) orb.Point {
	switch c {
	case GCJ02:
		return wgsToGCJ(p)
	case BD09:
		return gcjToBD(wgsToGCJ(p))
	}
	return p
}

const (
	krasovskyA  = 6378245.0
	krasovskyEE = 0.00669342162296594323
	bdXPi       = math.Pi * 3000.0 / 180.0
	// inverseTol is where the fixed-point inversions stop: 1e-9° is about 0.1 mm.
	inverseTol = 1e-9
	maxIter    = 30
)

func outOfChina(p orb.Point) bool {
	return !(p[0] >= 72.004 && p[0] <= 137.8347 && p[1] >= 0.8293 && p[1] <= 55.8271)
}

// gcjDelta is the GCJ-02 offset (degrees) at a WGS84 point, without the China test.
func gcjDelta(p orb.Point) (dlon, dlat float64) {
	x, y := p[0]-105.0, p[1]-35.0
	xPi, yPi := x*math.Pi, y*math.Pi
	common := (20.0*math.Sin(6.0*xPi) + 20.0*math.Sin(2.0*xPi)) * 2.0 / 3.0
	sqrtAbsX := math.Sqrt(math.Abs(x))

	tLat := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*sqrtAbsX + common
	tLat += (20.0*math.Sin(yPi) + 40.0*math.Sin(yPi/3.0)) * 2.0 / 3.0
	tLat += (160.0*math.Sin(yPi/12.0) + 320.0*math.Sin(yPi/30.0)) * 2.0 / 3.0

	tLon := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*sqrtAbsX + common
	tLon += (20.0*math.Sin(xPi) + 40.0*math.Sin(xPi/3.0)) * 2.0 / 3.0
	tLon += (150.0*math.Sin(xPi/12.0) + 300.0*math.Sin(xPi/30.0)) * 2.0 / 3.0

	radLat := p[1] / 180.0 * math.Pi
	s := math.Sin(radLat)
	magic := 1 - krasovskyEE*s*s
	sqrtMagic := math.Sqrt(magic)
	dlat = (tLat * 180.0) / ((krasovskyA * (1 - krasovskyEE)) / (magic * sqrtMagic) * math.Pi)
	dlon = (tLon * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dlon, dlat
}

func wgsToGCJ(p orb.Point) orb.Point {
	if outOfChina(p) {
		return p
	}
	dlon, dlat := gcjDelta(p)
	return orb.Point{p[0] + dlon, p[1] + dlat}
}

// gcjToWGS solves wgsToGCJ(w) = g by fixed-point iteration. The offset changes slowly with
// position (its derivative is ~1e-5), so each round gains about five digits.
func gcjToWGS(g orb.Point) orb.Point {
	if outOfChina(g) {
		return g
	}
	w := g
	for i := 0; i < maxIter; i++ {
		dlon, dlat := gcjDelta(w)
		ex, ey := w[0]+dlon-g[0], w[1]+dlat-g[1]
		w[0] -= ex
		w[1] -= ey
		if math.Abs(ex) < inverseTol && math.Abs(ey) < inverseTol {
			break
		}
	}
	return w
}

func gcjToBD(g orb.Point) orb.Point {
	if outOfChina(g) {
		return g
	}
	x, y := g[0], g[1]
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bdXPi)
	return orb.Point{z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006}
}

// bdToGCJ starts from Baidu's published approximate inverse and refines it by fixed-point
// iteration, so BD09 round trips are as exact as GCJ02 ones.
func bdToGCJ(b orb.Point) orb.Point {
	if outOfChina(b) {
		return b
	}
	x, y := b[0]-0.0065, b[1]-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*bdXPi)
	g := orb.Point{z * math.Cos(theta), z * math.Sin(theta)}
	for i := 0; i < maxIter; i++ {
		f := gcjToBDRaw(g)
		ex, ey := f[0]-b[0], f[1]-b[1]
		if math.Abs(ex) < inverseTol && math.Abs(ey) < inverseTol {
			break
		}
		g[0] -= ex
		g[1] -= ey
	}
	return g
}

// gcjToBDRaw is gcjToBD without the China test, so the inversion is smooth at the border.
func gcjToBDRaw(g orb.Point) orb.Point {
	x, y := g[0], g[1]
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bdXPi)
	return orb.Point{z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006}
}
