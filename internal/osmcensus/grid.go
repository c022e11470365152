package osmcensus

import (
	"math"

	"github.com/paulmach/orb"
)

// metresPerDegree is the length of one degree of latitude (and of longitude at the
// equator) on the WGS84 semi-major axis sphere, as orb uses: 2π·6378137/360.
const metresPerDegree = 2 * math.Pi * 6378137 / 360

// Jitter bounds, as fractions of a cell side. Corner displacement plus edge bend stays below
// 0.5, so a cell never leaves its lattice neighbourhood and its ring cannot self-intersect
// (left/right edges stay within ±0.25 of their lattice line, top/bottom likewise).
const (
	cornerJitter = 0.10
	edgeBend     = 0.15
)

// lattice is the local metric grid: column i spans west+i·dLon … west+(i+1)·dLon, row j
// spans north−(j+1)·dLat … north−j·dLat. Vertex (i, j) is the north-west corner of cell (i, j).
type lattice struct {
	west, north float64 // degrees
	dLon, dLat  float64 // degrees per cell
	cols, rows  int
}

// newLattice covers b with cells of about size metres plus a margin of two cells all round
// (one would do but for rounding in cellOf), so the neighbours of every occupied cell exist
// in the lattice and have non-negative indexes.
func newLattice(b orb.Bound, size float64) lattice {
	lat0 := (b.Min[1] + b.Max[1]) / 2
	dLat := size / metresPerDegree
	dLon := dLat / math.Cos(lat0*math.Pi/180)
	l := lattice{west: b.Min[0] - 2*dLon, north: b.Max[1] + 2*dLat, dLon: dLon, dLat: dLat}
	l.cols = int(math.Floor((b.Max[0]-l.west)/dLon)) + 3
	l.rows = int(math.Floor((l.north-b.Min[1])/dLat)) + 3
	return l
}

// cellOf returns the lattice cell of p, ignoring the jitter.
func (l lattice) cellOf(p orb.Point) (i, j int) {
	return int(math.Floor((p[0] - l.west) / l.dLon)), int(math.Floor((l.north - p[1]) / l.dLat))
}

// bound is the extent of the unjittered lattice.
func (l lattice) bound() orb.Bound {
	return orb.Bound{
		Min: orb.Point{l.west, l.north - float64(l.rows)*l.dLat},
		Max: orb.Point{l.west + float64(l.cols)*l.dLon, l.north},
	}
}

// vertex is lattice vertex (i, j), displaced for about half of the vertices.
func (l lattice) vertex(i, j int) orb.Point {
	x, y := float64(i), float64(j)
	if h := hash(i, j, 1); h&1 == 1 {
		x += cornerJitter * (2*unit(hash(i, j, 2)) - 1)
		y += cornerJitter * (2*unit(hash(i, j, 3)) - 1)
	}
	return l.at(x, y)
}

// hmid is the extra vertex bending the edge from vertex (i, j) east to (i+1, j), if any.
func (l lattice) hmid(i, j int) (orb.Point, bool) {
	if hash(i, j, 4)%4 != 0 {
		return orb.Point{}, false
	}
	a, b := l.vertex(i, j), l.vertex(i+1, j)
	bend := edgeBend * (2*unit(hash(i, j, 5)) - 1) * l.dLat
	return round(orb.Point{(a[0] + b[0]) / 2, (a[1]+b[1])/2 + bend}), true
}

// vmid is the extra vertex bending the edge from vertex (i, j) south to (i, j+1), if any.
func (l lattice) vmid(i, j int) (orb.Point, bool) {
	if hash(i, j, 6)%4 != 0 {
		return orb.Point{}, false
	}
	a, b := l.vertex(i, j), l.vertex(i, j+1)
	bend := edgeBend * (2*unit(hash(i, j, 7)) - 1) * l.dLon
	return round(orb.Point{(a[0]+b[0])/2 + bend, (a[1] + b[1]) / 2}), true
}

// at converts fractional lattice coordinates to a rounded lon/lat.
func (l lattice) at(x, y float64) orb.Point {
	return round(orb.Point{l.west + x*l.dLon, l.north - y*l.dLat})
}

// ring is cell (i, j)'s closed exterior ring, counter-clockwise (RFC 7946): south-west,
// south-east, north-east, north-west, with the bends of its edges in between. Neighbours
// compute shared vertices identically, so shared edges match bit for bit.
func (l lattice) ring(i, j int) orb.Ring {
	sw, se, ne, nw := l.vertex(i, j+1), l.vertex(i+1, j+1), l.vertex(i+1, j), l.vertex(i, j)
	r := orb.Ring{sw}
	if m, ok := l.hmid(i, j+1); ok {
		r = append(r, m)
	}
	r = append(r, se)
	if m, ok := l.vmid(i+1, j); ok {
		r = append(r, m)
	}
	r = append(r, ne)
	if m, ok := l.hmid(i, j); ok {
		r = append(r, m)
	}
	r = append(r, nw)
	if m, ok := l.vmid(i, j); ok {
		r = append(r, m)
	}
	return append(r, sw)
}

// round snaps p to 1e-7 degrees (about 1 cm, OSM's own precision), so the written decimal
// text parses back to exactly the same float64 the ring was built from.
func round(p orb.Point) orb.Point {
	return orb.Point{math.Round(p[0]*1e7) / 1e7, math.Round(p[1]*1e7) / 1e7}
}

// hash is splitmix64 of a lattice position and a purpose, so the grid is the same on every run.
func hash(i, j, kind int) uint64 {
	z := uint64(uint32(i))<<32 | uint64(uint32(j))
	z += uint64(kind) * 0x9e3779b97f4a7c15
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
