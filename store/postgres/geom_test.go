package postgres_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"testing"

	"citygrid/registry"
	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"

	"github.com/paulmach/orb"
	geom "github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
)

// awkward are coordinates whose decimal text does not round-trip naively: the last bit of
// each must survive the store.
var awkward = []float64{
	116.39999999999999, 116.4, math.Nextafter(116.4, 200), 39.900000000000006,
	0.1 + 0.2, 1e-300, math.Copysign(0, -1), -73.98765432109876, 180, -90, math.SmallestNonzeroFloat64,
}

func bitsEqual(a, b orb.Point) bool {
	return math.Float64bits(a[0]) == math.Float64bits(b[0]) && math.Float64bits(a[1]) == math.Float64bits(b[1])
}

func TestPointEWKBMatchesGoGeom(t *testing.T) {
	for _, x := range awkward {
		p := orb.Point{x, awkward[len(awkward)-1-int(math.Abs(x))%len(awkward)]}
		want, err := ewkb.Marshal(geom.NewPointFlat(geom.XY, []float64{p[0], p[1]}).SetSRID(4490), binary.LittleEndian)
		if err != nil {
			t.Fatal(err)
		}
		if got := postgres.PointEWKB(p); !bytes.Equal(got, want) {
			t.Errorf("PointEWKB(%v) = %x, want %x (go-geom)", p, got, want)
		}
		back, err := postgres.DecodePoint(want)
		if err != nil || !bitsEqual(back, p) {
			t.Errorf("DecodePoint(EWKB of %v) = %v, %v; want the same bits", p, back, err)
		}
	}
	// Shapes off the fast path go through go-geom: big-endian, and with a Z.
	xdr, _ := ewkb.Marshal(geom.NewPointFlat(geom.XY, []float64{116.1, 39.2}).SetSRID(4490), binary.BigEndian)
	xyz, _ := ewkb.Marshal(geom.NewPointFlat(geom.XYZ, []float64{116.1, 39.2, 50}).SetSRID(4490), binary.LittleEndian)
	for name, b := range map[string][]byte{"big-endian": xdr, "xyz": xyz} {
		if got, err := postgres.DecodePoint(b); err != nil || got != (orb.Point{116.1, 39.2}) {
			t.Errorf("DecodePoint(%s) = %v, %v; want [116.1 39.2]", name, got, err)
		}
	}
	if _, err := postgres.DecodePoint([]byte{1, 2, 3}); err == nil {
		t.Error("DecodePoint(3 bytes) succeeded, want an error")
	}
}

// TestGeometryRoundTrip stores awkward coordinates in a cell (MultiPolygon), a unit area and a
// component point, and in a history before-image (jsonb), and checks every float64 bit.
func TestGeometryRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, pgtest.NewDB(t))

	var ring orb.Ring
	for i, x := range awkward {
		ring = append(ring, orb.Point{x, awkward[(i+3)%len(awkward)]})
	}
	ring = append(ring, ring[0])
	mp := orb.MultiPolygon{{ring}, {{{1, 2}, {3, 4}, {5, 7}, {1, 2}}, {{1.5, 2.5}, {2, 3}, {2.5, 3.5}, {1.5, 2.5}}}}

	cells, err := s.PutCells(ctx, []registry.Cell{{Code: "110105001001001", Geometry: mp, Area: 1e-7 + 1}}, "t")
	if err != nil {
		t.Fatalf("PutCells: %v", err)
	}
	back, err := s.Cell(ctx, cells[0].Code)
	if err != nil {
		t.Fatalf("Cell: %v", err)
	}
	checkMultiPolygon(t, "cell geometry", mp, back.Geometry)
	if math.Float64bits(back.Area) != math.Float64bits(1e-7+1) {
		t.Errorf("cell area = %v, want %v", back.Area, 1e-7+1)
	}

	if _, err := s.PutUnits(ctx, []registry.Unit{{ID: "u", Area: mp}}, "test"); err != nil {
		t.Fatalf("PutUnits: %v", err)
	}
	us, err := s.Units(ctx)
	if err != nil || len(us) != 1 {
		t.Fatalf("Units = %v, %v", us, err)
	}
	checkMultiPolygon(t, "unit area", mp, us[0].Area)

	for i, x := range awkward {
		p := orb.Point{x, awkward[(i+5)%len(awkward)]}
		id, _ := registry.NewComponentCode("110105", "01001", i+1)
		c := registry.Component{ID: id, Class: "01001", Point: p, Cell: "110105001001001"}
		if _, err := s.PutComponents(ctx, []registry.Component{c}, nil, "t"); err != nil {
			t.Fatalf("PutComponents: %v", err)
		}
		c.Point = orb.Point{1, 1}
		if _, err := s.PutComponents(ctx, []registry.Component{c}, nil, "t"); err != nil {
			t.Fatalf("PutComponents(update): %v", err)
		}
		h, err := s.History(ctx, id)
		if err != nil || len(h) != 2 {
			t.Fatalf("History(%s) = %d entries, %v; want 2", id, len(h), err)
		}
		if !bitsEqual(h[1].Before.Point, p) || !bitsEqual(h[0].After.Point, p) {
			t.Errorf("before-image point = %v, want the bits of %v", h[1].Before.Point, p)
		}
	}
	var n int
	if err := s.ForEachComponent(ctx, func(c *registry.Component) error {
		n++
		if c.Point != (orb.Point{1, 1}) {
			t.Errorf("component %s point = %v, want [1 1]", c.ID, c.Point)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(awkward) {
		t.Errorf("ForEachComponent visited %d, want %d", n, len(awkward))
	}
}

func checkMultiPolygon(t testing.TB, what string, want, got orb.MultiPolygon) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d polygons, want %d", what, len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: polygon %d has %d rings, want %d", what, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if len(got[i][j]) != len(want[i][j]) {
				t.Fatalf("%s: ring %d.%d has %d points, want %d", what, i, j, len(got[i][j]), len(want[i][j]))
			}
			for k := range want[i][j] {
				if !bitsEqual(got[i][j][k], want[i][j][k]) {
					t.Errorf("%s: point %d.%d.%d = %v, want the bits of %v", what, i, j, k, got[i][j][k], want[i][j][k])
				}
			}
		}
	}
}
