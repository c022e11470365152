package spatial

import (
	"math"

	"github.com/paulmach/orb"
)

func deg2rad(d float64) float64 { return d * math.Pi / 180.0 }

// haversine is orb/geo.DistanceHaversine(p, q) with cos(p's latitude) precomputed: the same
// operations in the same order, so the results are bit-identical. Metres on a sphere of
// radius orb.EarthRadius.
func haversine(p orb.Point, cosP float64, q orb.Point) float64 {
	dLat := deg2rad(p[1] - q[1])
	dLon := deg2rad(p[0] - q[0])
	dLat2Sin := math.Sin(dLat / 2)
	dLon2Sin := math.Sin(dLon / 2)
	a := dLat2Sin*dLat2Sin + math.Cos(deg2rad(q[1]))*cosP*dLon2Sin*dLon2Sin
	return 2.0 * orb.EarthRadius * math.Atan2(math.Sqrt(a), math.Sqrt(1-a))
}

// haversineA is the "a" term of the haversine formula, sin²(Δφ/2) + cos φp cos φq sin²(Δλ/2),
// computed exactly as haversine computes it. The distance 2R·atan2(√a, √(1−a)) grows with a,
// so a orders points by distance without the inverse trigonometry.
func haversineA(p orb.Point, cosP float64, q orb.Point) float64 {
	dLat := deg2rad(p[1] - q[1])
	dLon := deg2rad(p[0] - q[0])
	dLat2Sin := math.Sin(dLat / 2)
	dLon2Sin := math.Sin(dLon / 2)
	return dLat2Sin*dLat2Sin + math.Cos(deg2rad(q[1]))*cosP*dLon2Sin*dLon2Sin
}

// distanceOfA turns a haversine "a" into metres, bit-identical to haversine.
func distanceOfA(a float64) float64 {
	return 2.0 * orb.EarthRadius * math.Atan2(math.Sqrt(a), math.Sqrt(1-a))
}

// lbShrink keeps lower bounds below the exact value despite rounding.
const lbShrink = 1 - 1e-9

// rectBound ranks lon/lat rectangles for a best-first search from p: lowerA is a lower bound
// of haversineA from p to any point of the rectangle, computed without trigonometric calls
// (it runs for every R-tree node and item the search meets). Each factor of
// a = sin²(Δφ/2) + cos φp · cos φq · sin²(Δλ/2) is bounded from below over the rectangle:
// Δφ is at least the latitude gap and Δλ at least the longitude gap (sin(x/2) grows on
// [0°, 180°]), cos φq is at least the cosine of the rectangle's largest |latitude|, and
// sin x ≥ x − x³/6, cos δ ≥ 1 − δ²/2, sin δ ≤ δ for x, δ ≥ 0.
type rectBound struct {
	lon, lat      float64 // p, degrees
	absLatRad     float64
	cosP, sinAbsP float64
}

func newRectBound(p orb.Point) rectBound {
	r := deg2rad(p[1])
	return rectBound{lon: p[0], lat: p[1], absLatRad: math.Abs(r), cosP: math.Cos(r), sinAbsP: math.Abs(math.Sin(r))}
}

func (q *rectBound) lowerA(minx, miny, maxx, maxy float64) float64 {
	var dlat float64
	if q.lat < miny {
		dlat = miny - q.lat
	} else if q.lat > maxy {
		dlat = q.lat - maxy
	}
	s1 := sinLower(dlat * (math.Pi / 360))
	a := s1 * s1
	var dlon float64
	if q.lon < minx {
		dlon = lonGap(q.lon, minx)
		if g := lonGap(q.lon, maxx); g < dlon {
			dlon = g
		}
	} else if q.lon > maxx {
		dlon = lonGap(q.lon, maxx)
		if g := lonGap(q.lon, minx); g < dlon {
			dlon = g
		}
	}
	if dlon > 0 {
		// cos of the largest |latitude| in the rectangle, from below
		m := math.Abs(maxy)
		if am := math.Abs(miny); am > m {
			m = am
		}
		d := m*(math.Pi/180) - q.absLatRad
		cq := q.cosP * (1 - d*d/2)
		if d > 0 {
			cq -= q.sinAbsP * d
		}
		if cq > 0 {
			s2 := sinLower(dlon * (math.Pi / 360))
			a += q.cosP * cq * s2 * s2
		}
	}
	return a * lbShrink
}

// sinLower is a lower bound of sin x for x in [0, π/2].
func sinLower(x float64) float64 {
	if s := x - x*x*x/6; s > 0 {
		return s
	}
	return 0
}

// lonGap is the angle between two longitudes in [-180, 180], in [0, 180] degrees.
func lonGap(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > 180 {
		d = 360 - d
	}
	return d
}

// radiusBound is a lon/lat box that holds every point within r metres (haversine) of p:
// outside it, one of the bounds of rectLowerBound already exceeds r.
func radiusBound(p orb.Point, r float64) orb.Bound {
	ang := r / orb.EarthRadius
	dlat := ang*180/math.Pi*(1+1e-9) + 1e-12
	b := orb.Bound{
		Min: orb.Point{-180, math.Max(-90, p[1]-dlat)},
		Max: orb.Point{180, math.Min(90, p[1]+dlat)},
	}
	cosP := math.Cos(deg2rad(p[1]))
	s := math.Sin(math.Min(ang, math.Pi/2))
	if ang >= math.Pi/2 || s >= cosP {
		return b // near a pole or a huge radius: every longitude
	}
	dlon := math.Asin(s/cosP)*180/math.Pi*(1+1e-9) + 1e-12
	if p[0]-dlon < -180 || p[0]+dlon > 180 {
		return b // crosses the antimeridian: keep every longitude rather than split the box
	}
	b.Min[0], b.Max[0] = p[0]-dlon, p[0]+dlon
	return b
}
