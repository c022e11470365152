package geojson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/paulmach/orb"

	"citygrid/geojson"
	"citygrid/registry"
)

// square is a closed counter-clockwise ring: a d° square with its south-west corner at (x, y).
func square(x, y, d float64) orb.Ring {
	return orb.Ring{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}
}

// reversed is r in the other direction (a hole's orientation).
func reversed(r orb.Ring) orb.Ring {
	out := make(orb.Ring, len(r))
	for i, p := range r {
		out[len(r)-1-i] = p
	}
	return out
}

// legacyClasses returns a legacy component class of cat that maps to a 2026 class, and that
// class.
func legacyClasses(t testing.TB, cat *registry.Catalog) (mapped, mapsTo string) {
	t.Helper()
	for _, c := range cat.List(registry.KindComponent, registry.StandardLegacy) {
		if c.MapsTo != "" {
			return c.Code, c.MapsTo
		}
	}
	t.Fatal("the catalogue has no legacy component class mapped to a 2026 class")
	return "", ""
}

// componentCodeText lets cmp compare and print ComponentCodes (unexported fields) as digits.
var componentCodeText = cmp.Transformer("ComponentCode", func(c registry.ComponentCode) string { return c.String() })

// exportRecords returns cells and components as a census would hold them, built through the
// decoders so that they are valid, with the store's fields (key, version, cell) set.
func exportRecords(t testing.TB, cat *registry.Catalog) ([]registry.Cell, []registry.Component) {
	t.Helper()
	mapped, mapsTo := legacyClasses(t, cat)
	cellFeatures := []*registry.Feature{
		{Geometry: orb.Polygon{square(106.123456789012345, 29.5, 0.001), reversed(square(106.1236, 29.5002, 0.0002))},
			Props: map[string]string{"code": "500103003001001", "name": "解放碑 \"1\" 号\n网格"}},
		{Geometry: orb.MultiPolygon{{square(106.2, 29.6, 0.001)}, {square(106.21, 29.6, 1e-7)}},
			Props: map[string]string{"code": "50010300300102"}},
	}
	var cells []registry.Cell
	for i, f := range cellFeatures {
		c, probs := registry.DecodeCell(f)
		if len(probs) > 0 {
			t.Fatalf("cell %d: %+v", i, probs)
		}
		c.Key, c.Version = registry.Key(i+1), int64(i+2)
		cells = append(cells, c)
	}
	compFeatures := []*registry.Feature{
		{Geometry: orb.Point{106.57712345678901, -29.55612345678901}, Props: map[string]string{
			"id": "50010301001000042", "class": "01001", "name": "供水井盖\u2028\t<&>", "status": "damaged",
			"supervisor": "渝中区城市管理局", "owner": "水务", "maintainer": "unit-water",
			"census_date": "2025-03-01", "change_date": "2025-04-02", "source": "实测", "note": "备注 \\ \"quoted\""}},
		{Geometry: orb.Point{-180, 90}, Props: map[string]string{"id": "500103" + mapped + "000007", "class": mapped}},
		{Geometry: orb.Point{0, 0}, Props: map[string]string{"class": mapsTo, "status": "removed"}},
	}
	var comps []registry.Component
	for i, f := range compFeatures {
		c, probs := registry.DecodeComponent(f, cat)
		if len(probs) > 0 {
			t.Fatalf("component %d: %+v", i, probs)
		}
		c.Key, c.Version, c.Cell = registry.Key(100+i), 1, "500103003001001"
		comps = append(comps, c)
	}
	return cells, comps
}

func TestCensusWriterRoundTrip(t *testing.T) {
	cat := registry.DefaultCatalog()
	cells, comps := exportRecords(t, cat)
	// What an import does not take from input: the store's key and version, the computed cell.
	storeFields := cmp.Options{
		cmpopts.IgnoreFields(registry.Cell{}, "Key", "Version", "Updated"),
		cmpopts.IgnoreFields(registry.Component{}, "Key", "Version", "Updated", "UpdatedBy", "Cell"),
		componentCodeText,
	}

	t.Run("cells", func(t *testing.T) {
		var buf bytes.Buffer
		w := geojson.NewCensusWriter(&buf)
		for i := range cells {
			if err := w.WriteCell(&cells[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(buf.Bytes()) {
			t.Fatalf("export is not valid JSON:\n%s", buf.String())
		}
		var got []registry.Cell
		err := registry.ReadFeatures(bytes.NewReader(buf.Bytes()), registry.FormatGeoJSON, func(f *registry.Feature) error {
			if f.ID != f.Props["code"] {
				t.Errorf("feature %d: id %q, code property %q", f.Index, f.ID, f.Props["code"])
			}
			c, probs := registry.DecodeCell(f)
			if len(probs) > 0 {
				t.Fatalf("re-import of cell %d: %+v", f.Index, probs)
			}
			got = append(got, c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cells, got, storeFields); diff != "" {
			t.Errorf("export → import of cells (-exported +imported):\n%s", diff)
		}
	})

	t.Run("components", func(t *testing.T) {
		var buf bytes.Buffer
		w := geojson.NewCensusWriter(&buf)
		for i := range comps {
			if err := w.WriteComponent(&comps[i], geojson.ClassName(cat, &comps[i])); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got []registry.Component
		err := registry.ReadFeatures(bytes.NewReader(buf.Bytes()), registry.FormatGeoJSON, func(f *registry.Feature) error {
			c, probs := registry.DecodeComponent(f, cat)
			if len(probs) > 0 {
				t.Fatalf("re-import of component %d: %+v", f.Index, probs)
			}
			got = append(got, c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(comps, got, storeFields); diff != "" {
			t.Errorf("export → import of components (-exported +imported):\n%s", diff)
		}
		if !comps[1].LegacyID.Legacy() || comps[1].LegacyClass == "" {
			t.Errorf("component 1 = %+v, want a converted legacy component to exercise legacy_id", comps[1])
		}
	})
}

func TestCensusWriterOutput(t *testing.T) {
	cat := registry.DefaultCatalog()
	_, comps := exportRecords(t, cat)
	var buf bytes.Buffer
	w := geojson.NewCensusWriter(&buf)
	if err := w.WriteComponent(&comps[0], geojson.ClassName(cat, &comps[0])); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Type     string
			ID       string
			Geometry struct {
				Type        string
				Coordinates []float64
			}
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &fc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, buf.String())
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 1 {
		t.Fatalf("export = %s, want a FeatureCollection of 1 feature", buf.String())
	}
	f := fc.Features[0]
	c := comps[0]
	// The properties of the API, street, community and class name included, no internal key.
	want := map[string]any{
		"id": c.ID.String(), "class": "01001", "class_name": geojson.ClassName(cat, &c), "name": c.Name,
		"status": "damaged", "status_name": "破损", "supervisor": c.Supervisor, "owner": c.Owner,
		"maintainer": c.Maintainer, "cell": "500103003001001", "district": "500103", "street": "500103003",
		"community": "500103003001", "census_date": "2025-03-01", "change_date": "2025-04-02", "source": "实测",
		"note": c.Note, "version": float64(1), "updated": "0001-01-01T00:00:00Z", "updated_by": "",
	}
	if diff := cmp.Diff(want, f.Properties); diff != "" {
		t.Errorf("exported properties (-want +got):\n%s", diff)
	}
	if want["class_name"] == "" {
		t.Error("class 01001 has no name in the catalogue")
	}
	// The export writes each feature exactly as the API answers it: one writer.
	api := geojson.AppendComponent(nil, &c, geojson.ClassName(cat, &c), nil)
	if !bytes.Contains(buf.Bytes(), api) {
		t.Errorf("export\n%s\ndoes not hold the API's feature\n%s", buf.String(), api)
	}
	if f.ID != c.ID.String() || f.Type != "Feature" || f.Geometry.Type != "Point" {
		t.Errorf("exported feature id %q type %q geometry %q", f.ID, f.Type, f.Geometry.Type)
	}
	if got := f.Geometry.Coordinates; len(got) != 2 || got[0] != c.Point[0] || got[1] != c.Point[1] {
		t.Errorf("exported coordinates %v, want exactly %v", got, c.Point)
	}
	coords := "[" + strconv.FormatFloat(c.Point[0], 'f', -1, 64) + "," + strconv.FormatFloat(c.Point[1], 'f', -1, 64) + "]"
	for _, s := range []string{coords, `\u2028`, `\t<&>`, `\\ \"quoted\"`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("export lacks %s:\n%s", s, buf.String())
		}
	}
}

func TestCensusWriterEmptyAndClosed(t *testing.T) {
	var buf bytes.Buffer
	w := geojson.NewCensusWriter(&buf)
	if buf.Len() != 0 {
		t.Errorf("NewCensusWriter wrote %q before any feature", buf.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []json.RawMessage
	}
	if err := json.Unmarshal(buf.Bytes(), &fc); err != nil || fc.Type != "FeatureCollection" || fc.Features == nil || len(fc.Features) != 0 {
		t.Errorf("empty export = %q (%v), want a FeatureCollection with an empty features array", buf.String(), err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := w.WriteCell(&registry.Cell{}); err == nil {
		t.Error("WriteCell after Close = nil, want an error")
	}
}

func TestCensusWriterRefusesNonFinite(t *testing.T) {
	var buf bytes.Buffer
	w := geojson.NewCensusWriter(&buf)
	if err := w.WriteComponent(&registry.Component{Point: orb.Point{math.NaN(), 0}}, ""); registry.ErrorCode(err) != "invalid_geometry" {
		t.Errorf("WriteComponent(NaN point) = %v, want invalid_geometry", err)
	}
	bad := registry.Cell{Code: "500103003001001", Geometry: orb.MultiPolygon{{{{0, 0}, {math.Inf(1), 0}, {1, 1}, {0, 0}}}}}
	if err := w.WriteCell(&bad); registry.ErrorCode(err) != "invalid_geometry" {
		t.Errorf("WriteCell(Inf) = %v, want invalid_geometry", err)
	}
	// The refused records left nothing behind: the collection is still valid and empty.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) || strings.Contains(buf.String(), "Feature\"") {
		t.Errorf("export after refused records = %q, want an empty collection", buf.String())
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestCensusWriterError(t *testing.T) {
	w := geojson.NewCensusWriter(&failWriter{n: 100})
	c := registry.Component{Point: orb.Point{1, 2}, Class: "01001", Note: strings.Repeat("x", 1000)}
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		err = w.WriteComponent(&c, "")
	}
	if err == nil {
		err = w.Close()
	}
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("writing 200 KB to a writer that takes 100 bytes: error = %v, want %v", err, errDiskFull)
	}
	if err2 := w.WriteComponent(&c, ""); !errors.Is(err2, errDiskFull) {
		t.Errorf("WriteComponent after a write error = %v, want the same error", err2)
	}
	if err2 := w.Close(); !errors.Is(err2, errDiskFull) {
		t.Errorf("Close after a write error = %v, want the same error", err2)
	}
}

func TestExportDatesInOwnLocation(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	c := registry.Component{Point: orb.Point{1, 2}, Class: "01001", CensusDate: time.Date(2025, 3, 1, 0, 0, 0, 0, shanghai)}
	var buf bytes.Buffer
	w := geojson.NewCensusWriter(&buf)
	if err := w.WriteComponent(&c, ""); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if !strings.Contains(buf.String(), `"census_date":"2025-03-01"`) {
		t.Errorf("export of a Shanghai-midnight date = %s, want census_date 2025-03-01", buf.String())
	}
}

// TestCensusWriterDatum: a writer in another datum names it in a crs member before the
// features, converts every point (of cells and of components), and an empty collection says
// its datum too; the zero Datum writes no crs member.
func TestCensusWriterDatum(t *testing.T) {
	shift := geojson.Projection(func(p orb.Point) orb.Point { return orb.Point{p[0] + 1, p[1] + 2} })
	cell := &registry.Cell{Code: "500103001001001", Geometry: orb.MultiPolygon{{square(106, 29, 0.001)}}}
	comp := &registry.Component{ID: registry.MustParseComponentCode("50010301001000001"), Class: "01001", Point: orb.Point{106.0005, 29.0005}}
	tests := []struct {
		name    string
		datum   geojson.Datum
		write   func(w *geojson.CensusWriter) error
		wantCRS string
		want    orb.Point // the first position written
	}{
		{"cell, zero datum", geojson.Datum{}, func(w *geojson.CensusWriter) error { return w.WriteCell(cell) }, "", orb.Point{106, 29}},
		{"cell in a datum", geojson.Datum{Name: "urn:citygrid:crs:gcj02", Projection: shift}, func(w *geojson.CensusWriter) error { return w.WriteCell(cell) }, "urn:citygrid:crs:gcj02", orb.Point{107, 31}},
		{"component in a datum", geojson.Datum{Name: "urn:ogc:def:crs:EPSG::4490", Projection: shift}, func(w *geojson.CensusWriter) error { return w.WriteComponent(comp, "") }, "urn:ogc:def:crs:EPSG::4490", orb.Point{107.0005, 31.0005}},
		{"empty collection in a datum", geojson.Datum{Name: "urn:citygrid:crs:bd09", Projection: shift}, func(*geojson.CensusWriter) error { return nil }, "urn:citygrid:crs:bd09", orb.Point{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := geojson.NewCensusWriterIn(&buf, tt.datum)
			if err := tt.write(w); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var fc struct {
				CRS *struct {
					Type       string
					Properties struct{ Name string }
				}
				Features []struct {
					Geometry struct{ Coordinates json.RawMessage }
				}
			}
			if err := json.Unmarshal(buf.Bytes(), &fc); err != nil {
				t.Fatalf("%v in %s", err, buf.String())
			}
			gotCRS := ""
			if fc.CRS != nil {
				if fc.CRS.Type != "name" {
					t.Errorf("crs type %q, want name", fc.CRS.Type)
				}
				gotCRS = fc.CRS.Properties.Name
			}
			if gotCRS != tt.wantCRS {
				t.Errorf("crs member %q, want %q:\n%s", gotCRS, tt.wantCRS, buf.String())
			}
			if tt.wantCRS != "" && strings.Index(buf.String(), `"crs"`) > strings.Index(buf.String(), `"features"`) {
				t.Errorf("the crs member follows the features:\n%s", buf.String())
			}
			if len(fc.Features) == 0 {
				return
			}
			// The first position, whatever the nesting.
			raw := strings.TrimLeft(string(fc.Features[0].Geometry.Coordinates), "[")
			parts := strings.SplitN(raw, ",", 3)
			x, _ := strconv.ParseFloat(parts[0], 64)
			y, _ := strconv.ParseFloat(strings.TrimRight(parts[1], "]"), 64)
			if math.Abs(x-tt.want[0]) > 1e-9 || math.Abs(y-tt.want[1]) > 1e-9 {
				t.Errorf("first position (%v, %v), want %v", x, y, tt.want)
			}
		})
	}
}
