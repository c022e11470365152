package main

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"citygrid/fixtures"
	"citygrid/registry"
)

func TestOrient(t *testing.T) {
	up := math.Nextafter(0.2, 1)
	tests := []struct {
		name    string
		a, b, p orb.Point
		want    int
	}{
		{"left", orb.Point{0, 0}, orb.Point{1, 0}, orb.Point{0.5, 1}, 1},
		{"right", orb.Point{0, 0}, orb.Point{1, 0}, orb.Point{0.5, -1}, -1},
		{"collinear beyond b", orb.Point{0, 0}, orb.Point{1, 1}, orb.Point{3, 3}, 0},
		// On y = x exactly, whatever the decimal literals round to.
		{"collinear, inexact decimals", orb.Point{0.1, 0.1}, orb.Point{0.3, 0.3}, orb.Point{0.2, 0.2}, 0},
		// One ulp off y = x, near the float filter's bound.
		{"one ulp left", orb.Point{0.1, 0.1}, orb.Point{0.3, 0.3}, orb.Point{0.2, up}, 1},
		{"one ulp right", orb.Point{0.1, 0.1}, orb.Point{0.3, 0.3}, orb.Point{up, 0.2}, -1},
		// Kettner et al.'s classroom example: (b−a)×(p−a) evaluated in float64 is 0 for these,
		// though only the last point lies on y = x.
		{"naive float says collinear, left", orb.Point{12, 12}, orb.Point{24, 24}, orb.Point{0.5, 0.5 + 0x1p-53}, 1},
		{"naive float says collinear, right", orb.Point{12, 12}, orb.Point{24, 24}, orb.Point{0.5 + 4*0x1p-53, 0.5}, -1},
		{"on the line", orb.Point{12, 12}, orb.Point{24, 24}, orb.Point{0.5 + 3*0x1p-53, 0.5 + 3*0x1p-53}, 0},
		{"city coordinates, collinear", orb.Point{106.5, 29.5}, orb.Point{106.75, 29.75}, orb.Point{106.625, 29.625}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := orient(tt.a, tt.b, tt.p); got != tt.want {
				t.Errorf("orient(%v, %v, %v) = %d, want %d", tt.a, tt.b, tt.p, got, tt.want)
			}
		})
	}
}

// square is the closed ring of the axis-aligned square [x0, x1] × [y0, y1], counter-clockwise.
func square(x0, y0, x1, y1 float64) orb.Ring {
	return orb.Ring{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

func TestLocatePolygon(t *testing.T) {
	// A 4 × 4 square with a 2 × 2 hole in the middle, and a diamond, whose vertices lie on
	// the horizontal lines the crossing-number ray follows.
	holed := orb.Polygon{square(0, 0, 4, 4), square(1, 1, 3, 3)}
	diamond := orb.Polygon{{{2, 0}, {4, 2}, {2, 4}, {0, 2}, {2, 0}}}
	tests := []struct {
		name string
		pg   orb.Polygon
		p    orb.Point
		want location
	}{
		{"inside the ring, outside the hole", holed, orb.Point{0.5, 2}, inside},
		{"in the hole", holed, orb.Point{2, 2}, outside},
		{"on the hole's edge", holed, orb.Point{1, 2}, onBoundary},
		{"on the hole's vertex", holed, orb.Point{3, 3}, onBoundary},
		{"on the outer edge", holed, orb.Point{4, 0.5}, onBoundary},
		{"on the outer vertex", holed, orb.Point{0, 0}, onBoundary},
		{"outside, level with an edge", holed, orb.Point{5, 0}, outside},
		{"outside, level with the top", holed, orb.Point{-1, 4}, outside},
		{"outside", holed, orb.Point{-1, 2}, outside},
		{"diamond centre, ray through the right vertex", diamond, orb.Point{2, 2}, inside},
		{"diamond, left of the left vertex", diamond, orb.Point{-1, 2}, outside},
		{"diamond vertex", diamond, orb.Point{4, 2}, onBoundary},
		{"diamond edge midpoint", diamond, orb.Point{3, 1}, onBoundary},
		{"diamond, just inside the edge", diamond, orb.Point{3, math.Nextafter(1, 2)}, inside},
		{"diamond, just outside the edge", diamond, orb.Point{3, math.Nextafter(1, 0)}, outside},
		{"empty polygon", orb.Polygon{}, orb.Point{0, 0}, outside},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := locatePolygon(tt.pg, tt.p); got != tt.want {
				t.Errorf("locatePolygon(%v, %v) = %v, want %v", tt.pg, tt.p, got, tt.want)
			}
		})
	}
}

func TestLocateMultiPolygon(t *testing.T) {
	mp := orb.MultiPolygon{{square(0, 0, 1, 1)}, {square(2, 0, 3, 1)}}
	tests := []struct {
		p    orb.Point
		want location
	}{
		{orb.Point{0.5, 0.5}, inside},
		{orb.Point{2.5, 0.5}, inside},
		{orb.Point{1.5, 0.5}, outside},
		{orb.Point{2, 0.5}, onBoundary},
	}
	for _, tt := range tests {
		if got := locateMultiPolygon(mp, tt.p); got != tt.want {
			t.Errorf("locateMultiPolygon(two squares, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestBruteForce(t *testing.T) {
	// B lies west of A; they share the edge x = 1. C touches A only at the vertex (2, 1).
	cells := []registry.Cell{
		{Code: "500103001001002", Geometry: orb.MultiPolygon{{square(1, 0, 2, 1)}}},
		{Code: "500103001001003", Geometry: orb.MultiPolygon{{square(0, 0, 1, 1)}}},
		{Code: "500103001001001", Geometry: orb.MultiPolygon{{square(2, 1, 3, 2)}}},
	}
	pts := []orb.Point{{0.5, 0.5}, {1, 0.5}, {2, 1}, {1.5, 0.5}, {5, 5}, {1, 1}}
	want := []truth{
		{Code: "500103001001003", Closures: 1},
		{Code: "500103001001002", Boundary: true, Closures: 2}, // shared edge: smallest code
		{Code: "500103001001001", Boundary: true, Closures: 2}, // shared vertex
		{Code: "500103001001002", Closures: 1},
		{},
		{Code: "500103001001002", Boundary: true, Closures: 2},
	}
	for _, workers := range []int{1, 2, 3} {
		got := bruteForce(cells, pts, workers)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("bruteForce(%d workers) mismatch (-want +got):\n%s", workers, diff)
		}
	}
}

// TestLocateAgreesWithPlanar checks the exact point-in-polygon against orb/planar, an
// independent implementation, on the points of the demo city (none lies on a boundary).
func TestLocateAgreesWithPlanar(t *testing.T) {
	cfg := fixtures.DefaultConfig()
	cfg.Cells, cfg.Components = 200, 0
	city, err := fixtures.Generate(cfg)
	if err != nil {
		t.Fatalf("fixtures.Generate: %v", err)
	}
	pts := fixtures.QueryPoints(city, 2000, 3)
	for i, p := range pts {
		for j := range city.Cells {
			mp := city.Cells[j].Geometry
			got := locateMultiPolygon(mp, p)
			if got == onBoundary {
				t.Fatalf("point %d %v on the boundary of %s: the test assumes none is", i, p, city.Cells[j].Code)
			}
			if want := planar.MultiPolygonContains(mp, p); (got == inside) != want {
				t.Errorf("locateMultiPolygon(%s, %v) = %v, planar.MultiPolygonContains = %t", city.Cells[j].Code, p, got, want)
			}
		}
	}
}

func TestTruthFileRoundTrip(t *testing.T) {
	ts := []truth{{Code: "500103001001001", Boundary: true, Closures: 2}, {}, {Code: "50010300100100", Closures: 1}}
	path := filepath.Join(t.TempDir(), "truth.csv")
	if err := writeTruth(path, ts); err != nil {
		t.Fatal(err)
	}
	got, err := readTruth(path, len(ts))
	if err != nil {
		t.Fatalf("readTruth: %v", err)
	}
	if diff := cmp.Diff(ts, got); diff != "" {
		t.Errorf("readTruth(writeTruth(ts)) mismatch (-want +got):\n%s", diff)
	}
	if _, err := readTruth(path, len(ts)+1); err == nil {
		t.Errorf("readTruth(%d lines, want %d) = nil error, want a count mismatch", len(ts), len(ts)+1)
	}
}
