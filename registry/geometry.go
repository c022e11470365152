package registry

import (
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// bruteForceEdges is the ring size (in edges) up to which checking every pair of edges beats
// sorting them for a sweep (BenchmarkRingSelfIntersection; docs/benchmarks.md, "Figures behind the code"); grid
// cells of 10–40 vertices stay well below it.
const bruteForceEdges = 128

// ValidPoint reports whether p is a usable WGS84/CGCS2000 position: both ordinates finite,
// |lon| ≤ 180 and |lat| ≤ 90 (degrees). It is the one lon/lat check: the API's queries and batches,
// the spatial index and the census readers all use it.
func ValidPoint(p orb.Point) bool {
	return math.Abs(p[0]) <= 180 && math.Abs(p[1]) <= 90 // false for NaN too
}

// ValidatePolygonal checks a Polygon or MultiPolygon in lon/lat degrees and returns it as a
// MultiPolygon normalised to RFC 7946: a copy in which every exterior ring is counter-clockwise,
// every hole clockwise, and repeated consecutive positions are dropped. Rings are never closed
// silently. On any problem it returns a nil MultiPolygon and the problems, each with Field
// "geometry" and a message naming the polygon, ring and location; Index and ID are left for
// the caller to fill. Problem codes:
//
//	invalid_geometry_type  g is neither a Polygon nor a MultiPolygon (nil included)
//	empty_geometry         no polygons, or a polygon without rings
//	invalid_coordinates    a position is NaN, infinite or out of range
//	too_few_points         a ring has fewer than 4 positions (after dropping repeats)
//	unclosed_ring          a ring's first and last positions differ
//	self_intersection      two non-adjacent edges of a ring cross or touch, or adjacent edges fold back
//	zero_area              a ring encloses no area
//	hole_outside           a hole has a vertex outside its exterior ring or crosses it
//
// Edges are compared in planar lon/lat, which is exact enough for city-sized rings. Holes of
// one polygon are not checked against each other, nor the polygons of a MultiPolygon against
// each other (overlapping cells are found by the spatial index).
func ValidatePolygonal(g orb.Geometry) (orb.MultiPolygon, []Problem) {
	var polys []orb.Polygon
	multi := false
	switch g := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{g}
	case orb.MultiPolygon:
		polys, multi = g, true
	case nil:
		return nil, []Problem{geomProblem(CodeInvalidGeometryType, "geometry is missing, want Polygon or MultiPolygon")}
	default:
		return nil, []Problem{geomProblem(CodeInvalidGeometryType, "geometry is a %s, want Polygon or MultiPolygon", g.GeoJSONType())}
	}
	if len(polys) == 0 {
		return nil, []Problem{geomProblem(CodeEmptyGeometry, "MultiPolygon has no polygons")}
	}
	var probs []Problem
	out := make(orb.MultiPolygon, 0, len(polys))
	for pi, poly := range polys {
		if len(poly) == 0 {
			probs = append(probs, geomProblem(CodeEmptyGeometry, "%s has no rings", polyLabel(pi, multi)))
			continue
		}
		np := make(orb.Polygon, 0, len(poly))
		exteriorOK := true
		for ri, ring := range poly {
			label := ringLabel(pi, ri, multi)
			r, prob := checkRing(ring, label)
			if prob != nil {
				probs = append(probs, *prob)
				if ri == 0 {
					exteriorOK = false
				}
				continue
			}
			area := planarSignedArea(r)
			if (ri == 0) != (area > 0) {
				slices.Reverse(r)
			}
			if ri > 0 && exteriorOK {
				if at, bad := holeOutside(np[0], r); bad {
					probs = append(probs, geomProblem(CodeHoleOutside, "%s is not inside the exterior ring (at %s)", label, pointText(at)))
					continue
				}
			}
			np = append(np, r)
		}
		out = append(out, np)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return out, nil
}

// checkRing validates one ring and returns a copy without repeated consecutive positions.
func checkRing(ring orb.Ring, label string) (orb.Ring, *Problem) {
	for i, p := range ring {
		if !ValidPoint(p) {
			pr := geomProblem(CodeInvalidCoordinates, "%s position %d (%s): %s", label, i, pointText(p), coordRangeMsg)
			pr.Hint = CoordHint(p[0], p[1])
			return nil, &pr
		}
	}
	if len(ring) < 4 {
		pr := geomProblem(CodeTooFewPoints, "%s has %d positions, want at least 4 (3 corners and the closing position)", label, len(ring))
		return nil, &pr
	}
	if ring[0] != ring[len(ring)-1] {
		pr := geomProblem(CodeUnclosedRing, "%s is not closed: it starts at %s and ends at %s", label, pointText(ring[0]), pointText(ring[len(ring)-1]))
		return nil, &pr
	}
	r := make(orb.Ring, 0, len(ring))
	for _, p := range ring {
		if len(r) == 0 || r[len(r)-1] != p {
			r = append(r, p)
		}
	}
	if len(r) < 4 {
		pr := geomProblem(CodeTooFewPoints, "%s has %d distinct positions once repeats are dropped, want at least 4", label, len(r))
		return nil, &pr
	}
	if at, i, j, bad := ringSelfIntersection(r); bad {
		pr := geomProblem(CodeSelfIntersection, "%s intersects itself at %s (edges %d and %d)", label, pointText(at), i, j)
		return nil, &pr
	}
	if planarSignedArea(r) == 0 {
		pr := geomProblem(CodeZeroArea, "%s encloses no area", label)
		return nil, &pr
	}
	return r, nil
}

// GeodesicArea returns the area of mp in m² on a sphere of radius orb.EarthRadius
// (6,378,137 m), as geo.Area computes it: each polygon's exterior counts positive and its
// holes negative, whatever their orientation. Coordinates are lon/lat degrees. Against the
// WGS84 ellipsoid the sphere overstates areas by (1 − e²·sin²φ)²/(1 − e²) − 1: about 0.35 %
// at Chongqing's 30° N, 0.67 % at the equator; good enough for reporting cell sizes.
func GeodesicArea(mp orb.MultiPolygon) float64 {
	return geo.Area(mp)
}

func geomProblem(code, format string, args ...any) Problem {
	return Problem{Field: "geometry", Code: code, Message: sprintf(format, args...)}
}

func polyLabel(pi int, multi bool) string {
	if multi {
		return fmt.Sprintf("polygon %d", pi)
	}
	return "polygon"
}

func ringLabel(pi, ri int, multi bool) string {
	var r string
	if ri == 0 {
		r = "exterior ring"
	} else {
		r = fmt.Sprintf("hole %d", ri)
	}
	if multi {
		return fmt.Sprintf("%s of polygon %d", r, pi)
	}
	return r
}

func pointText(p orb.Point) string {
	return "(" + fmtCoord(p[0]) + " " + fmtCoord(p[1]) + ")"
}

// planarSignedArea is the shoelace area in degrees², positive for counter-clockwise rings.
// Coordinates are taken relative to the first position, which keeps the products small.
func planarSignedArea(r orb.Ring) float64 {
	if len(r) < 3 {
		return 0
	}
	x0, y0 := r[0][0], r[0][1]
	var sum float64
	for i := 0; i+1 < len(r); i++ {
		ax, ay := r[i][0]-x0, r[i][1]-y0
		bx, by := r[i+1][0]-x0, r[i+1][1]-y0
		sum += ax*by - bx*ay
	}
	return sum / 2
}

// orient is twice the signed area of triangle abc: > 0 when c is left of a→b.
func orient(a, b, c orb.Point) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

// onSegment reports whether p, known to be collinear with a–b, lies within the segment.
func onSegment(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

// segmentsMeet reports whether segments p1–p2 and p3–p4 share any point, and one such point.
func segmentsMeet(p1, p2, p3, p4 orb.Point) (orb.Point, bool) {
	d1, d2 := orient(p3, p4, p1), orient(p3, p4, p2)
	d3, d4 := orient(p1, p2, p3), orient(p1, p2, p4)
	if (d1 > 0 && d2 < 0 || d1 < 0 && d2 > 0) && (d3 > 0 && d4 < 0 || d3 < 0 && d4 > 0) {
		t := d1 / (d1 - d2)
		return orb.Point{p1[0] + t*(p2[0]-p1[0]), p1[1] + t*(p2[1]-p1[1])}, true
	}
	switch {
	case d1 == 0 && onSegment(p3, p4, p1):
		return p1, true
	case d2 == 0 && onSegment(p3, p4, p2):
		return p2, true
	case d3 == 0 && onSegment(p1, p2, p3):
		return p3, true
	case d4 == 0 && onSegment(p1, p2, p4):
		return p4, true
	}
	return orb.Point{}, false
}

// segmentsCross reports whether p1–p2 and p3–p4 cross at a point interior to both.
func segmentsCross(p1, p2, p3, p4 orb.Point) (orb.Point, bool) {
	d1, d2 := orient(p3, p4, p1), orient(p3, p4, p2)
	d3, d4 := orient(p1, p2, p3), orient(p1, p2, p4)
	if (d1 > 0 && d2 < 0 || d1 < 0 && d2 > 0) && (d3 > 0 && d4 < 0 || d3 < 0 && d4 > 0) {
		t := d1 / (d1 - d2)
		return orb.Point{p1[0] + t*(p2[0]-p1[0]), p1[1] + t*(p2[1]-p1[1])}, true
	}
	return orb.Point{}, false
}

// edgePair checks edges i < j of the closed ring r (edge k runs r[k]→r[k+1], m edges).
// Non-adjacent edges must not meet at all; adjacent ones only at their shared vertex, so a
// spike that folds back along itself counts as an intersection.
func edgePair(r orb.Ring, m, i, j int) (orb.Point, bool) {
	a, b := r[i], r[i+1]
	c, d := r[j], r[j+1]
	switch {
	case j == i+1: // share b == c
		return foldBack(a, b, d)
	case i == 0 && j == m-1: // share a == d
		return foldBack(c, a, b)
	}
	return segmentsMeet(a, b, c, d)
}

// foldBack reports whether the path a→b→c turns back on itself along a line.
func foldBack(a, b, c orb.Point) (orb.Point, bool) {
	if orient(a, b, c) != 0 {
		return orb.Point{}, false
	}
	if (b[0]-a[0])*(c[0]-b[0])+(b[1]-a[1])*(c[1]-b[1]) < 0 {
		return b, true
	}
	return orb.Point{}, false
}

// ringSelfIntersection finds two edges of the closed, repeat-free ring r that meet where they
// should not. Small rings compare every pair; larger ones sweep edges sorted by min lon.
func ringSelfIntersection(r orb.Ring) (at orb.Point, i, j int, found bool) {
	if len(r)-1 <= bruteForceEdges {
		return ringSelfIntersectionBrute(r)
	}
	return ringSelfIntersectionSweep(r)
}

func ringSelfIntersectionBrute(r orb.Ring) (orb.Point, int, int, bool) {
	m := len(r) - 1
	var stack [bruteForceEdges]edgeBox
	boxes := stack[:0]
	if m > len(stack) {
		boxes = make([]edgeBox, 0, m)
	}
	for i := 0; i < m; i++ {
		boxes = append(boxes, boxOf(r[i], r[i+1]))
	}
	for i := 0; i < m; i++ {
		e := boxes[i]
		for j := i + 1; j < m; j++ {
			f := boxes[j]
			if f.maxX < e.minX || f.minX > e.maxX || f.maxY < e.minY || f.minY > e.maxY {
				continue
			}
			if p, ok := edgePair(r, m, i, j); ok {
				return p, i, j, true
			}
		}
	}
	return orb.Point{}, 0, 0, false
}

type edgeBox struct{ minX, maxX, minY, maxY float64 }

func boxOf(a, b orb.Point) edgeBox {
	return edgeBox{math.Min(a[0], b[0]), math.Max(a[0], b[0]), math.Min(a[1], b[1]), math.Max(a[1], b[1])}
}

type sweepEdge struct {
	edgeBox
	i int
}

func ringSelfIntersectionSweep(r orb.Ring) (orb.Point, int, int, bool) {
	m := len(r) - 1
	edges := make([]sweepEdge, m)
	for i := 0; i < m; i++ {
		a, b := r[i], r[i+1]
		edges[i] = sweepEdge{boxOf(a, b), i}
	}
	slices.SortFunc(edges, func(x, y sweepEdge) int {
		switch {
		case x.minX < y.minX:
			return -1
		case x.minX > y.minX:
			return 1
		}
		return x.i - y.i
	})
	for k, e := range edges {
		for _, f := range edges[k+1:] {
			if f.minX > e.maxX {
				break
			}
			if f.maxY < e.minY || f.minY > e.maxY {
				continue
			}
			i, j := e.i, f.i
			if i > j {
				i, j = j, i
			}
			if p, ok := edgePair(r, m, i, j); ok {
				return p, i, j, true
			}
		}
	}
	return orb.Point{}, 0, 0, false
}

// pointInRing classifies p against the closed ring r: 1 inside, 0 on the boundary, -1 outside.
func pointInRing(r orb.Ring, p orb.Point) int {
	in := false
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		if orient(a, b, p) == 0 && onSegment(a, b, p) {
			return 0
		}
		if (a[1] > p[1]) != (b[1] > p[1]) {
			x := a[0] + (p[1]-a[1])*(b[0]-a[0])/(b[1]-a[1])
			if p[0] < x {
				in = !in
			}
		}
	}
	if in {
		return 1
	}
	return -1
}

// holeOutside reports where hole leaves the exterior ring ext: a vertex outside it, or a
// proper crossing of their edges. Touching the exterior at a point is allowed (OGC).
func holeOutside(ext, hole orb.Ring) (orb.Point, bool) {
	eb, hb := ext.Bound(), hole.Bound()
	for _, p := range hole {
		if !eb.Contains(p) || pointInRing(ext, p) < 0 {
			return p, true
		}
	}
	if !eb.Intersects(hb) {
		return hole[0], true
	}
	for i := 0; i+1 < len(hole); i++ {
		for j := 0; j+1 < len(ext); j++ {
			if p, ok := segmentsCross(hole[i], hole[i+1], ext[j], ext[j+1]); ok {
				return p, true
			}
		}
	}
	return orb.Point{}, false
}
