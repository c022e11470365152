package main

import (
	"math"
	"math/big"

	"github.com/paulmach/orb"
)

// The reference point-in-polygon of the correctness check: exact, closed, written apart from
// package spatial (and from orb/planar) so that it checks them rather than repeats them.
// Every decision is exact in the rationals the float64 coordinates stand for: comparisons
// of coordinates are exact in floating point, and the sign of the one determinant needed
// (orientation) falls back to big.Rat when the float filter cannot decide.

// location is where a point lies with respect to a ring or polygon.
type location uint8

const (
	outside location = iota
	onBoundary
	inside
)

func (l location) String() string {
	switch l {
	case onBoundary:
		return "boundary"
	case inside:
		return "inside"
	}
	return "outside"
}

// orientEps is Shewchuk's ccwerrboundA, (3 + 16ε)ε with ε = 2^-53: when |det| exceeds it
// times the sum of the absolute products, the float sign of the determinant is exact.
const orientEps = (3 + 16*0x1p-53) * 0x1p-53

// orient returns the sign (-1, 0, +1) of the cross product (b−a) × (p−a): +1 when p lies
// left of the directed line a→b, −1 right of it, 0 on it. The sign is exact.
func orient(a, b, p orb.Point) int {
	detLeft := (a[0] - p[0]) * (b[1] - p[1])
	detRight := (a[1] - p[1]) * (b[0] - p[0])
	det := detLeft - detRight
	if bound := orientEps * (math.Abs(detLeft) + math.Abs(detRight)); det > bound {
		return 1
	} else if -det > bound {
		return -1
	}
	return orientExact(a, b, p)
}

func orientExact(a, b, p orb.Point) int {
	r := func(f float64) *big.Rat { return new(big.Rat).SetFloat64(f) }
	ax, ay, bx, by, px, py := r(a[0]), r(a[1]), r(b[0]), r(b[1]), r(p[0]), r(p[1])
	left := new(big.Rat).Mul(new(big.Rat).Sub(ax, px), new(big.Rat).Sub(by, py))
	right := new(big.Rat).Mul(new(big.Rat).Sub(ay, py), new(big.Rat).Sub(bx, px))
	return left.Cmp(right)
}

// onSegment reports whether p lies on the closed segment a–b.
func onSegment(a, b, p orb.Point) bool {
	if p[0] < min(a[0], b[0]) || p[0] > max(a[0], b[0]) || p[1] < min(a[1], b[1]) || p[1] > max(a[1], b[1]) {
		return false
	}
	return orient(a, b, p) == 0
}

// locateRing locates p against a closed ring (first vertex repeated last, as registry keeps
// them; an unclosed ring is closed here) by the crossing number of a ray towards +x, edges
// taken half-open in y so that a vertex is counted once.
func locateRing(r orb.Ring, p orb.Point) location {
	n := len(r)
	if n == 0 {
		return outside
	}
	in := false
	for i := 0; i < n; i++ {
		a, b := r[i], r[(i+1)%n]
		if onSegment(a, b, p) {
			return onBoundary
		}
		if (a[1] > p[1]) != (b[1] > p[1]) {
			// The edge straddles the ray's line; it crosses the ray when p is left of the
			// edge directed upwards.
			o := orient(a, b, p)
			if b[1] < a[1] {
				o = -o
			}
			if o > 0 {
				in = !in
			}
		}
	}
	if in {
		return inside
	}
	return outside
}

// locatePolygon locates p against a polygon: the first ring is the exterior, the others holes.
// A point on a hole's edge is on the boundary.
func locatePolygon(pg orb.Polygon, p orb.Point) location {
	if len(pg) == 0 {
		return outside
	}
	loc := locateRing(pg[0], p)
	if loc != inside {
		return loc
	}
	for _, h := range pg[1:] {
		switch locateRing(h, p) {
		case onBoundary:
			return onBoundary
		case inside:
			return outside
		}
	}
	return inside
}

// locateMultiPolygon locates p against a multipolygon whose polygons do not overlap: inside
// one polygon is inside; otherwise on any polygon's boundary is on the boundary.
func locateMultiPolygon(mp orb.MultiPolygon, p orb.Point) location {
	loc := outside
	for _, pg := range mp {
		switch locatePolygon(pg, p) {
		case inside:
			return inside
		case onBoundary:
			loc = onBoundary
		}
	}
	return loc
}
