package geojson_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"citygrid/geojson"
	"citygrid/registry"
)

// TestWriteRejected: a rejected feature goes out as read, with its problems, and the census
// reader reads it back: same id, geometry and properties (the problems one aside).
func TestWriteRejected(t *testing.T) {
	prob := registry.Problem{Index: 4, ID: "x1", Field: "geometry", Code: "invalid_coordinates", Message: "bad \"point\"", Hint: "swapped"}
	for _, tc := range []struct {
		name     string
		f        registry.Feature
		wantGeom bool
	}{
		{"point", registry.Feature{Index: 4, ID: "x1", Geometry: orb.Point{106.5, 29.5}, Props: map[string]string{"class": "01037", "名称": "路灯 \\ 1"}}, true},
		{"no geometry", registry.Feature{Index: 4, ID: "x1", Props: map[string]string{"class": "01037"}}, false},
		{"non-finite", registry.Feature{Index: 4, Geometry: orb.Point{math.Inf(1), 1}, Props: map[string]string{}}, false},
		{"polygon", registry.Feature{Index: 4, Geometry: orb.Polygon{{{1, 1}, {2, 1}, {2, 2}, {1, 1}}}, Props: map[string]string{"code": "500103003001001"}}, true},
		{"multipolygon", registry.Feature{Index: 4, Geometry: orb.MultiPolygon{{{{1, 1}, {2, 1}, {2, 2}, {1, 1}}}}, Props: map[string]string{"code": "c"}}, true},
		{"linestring", registry.Feature{Index: 4, Geometry: orb.LineString{{1, 1}, {2, 2}}, Props: map[string]string{}}, true},
		{"old problems replaced", registry.Feature{Index: 4, Geometry: orb.Point{1, 2}, Props: map[string]string{geojson.ProblemsProperty: "[]", "a": "1"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := geojson.NewCensusWriter(&buf)
			if err := w.WriteRejected(&tc.f, []registry.Problem{prob, {Index: 4, Code: "missing_field", Message: "m"}}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Features []struct {
					Geometry   json.RawMessage
					Properties map[string]json.RawMessage
				}
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Features) != 1 {
				t.Fatalf("not one feature of JSON: %v\n%s", err, buf.String())
			}
			var probs []map[string]any
			if err := json.Unmarshal(doc.Features[0].Properties[geojson.ProblemsProperty], &probs); err != nil {
				t.Fatalf("problems: %v\n%s", err, buf.String())
			}
			if len(probs) != 2 || probs[0]["code"] != "invalid_coordinates" || probs[0]["feature"] != 5.0 ||
				probs[0]["hint"] != "swapped" || probs[0]["message"] != `bad "point"` || probs[1]["field"] != nil {
				t.Errorf("problems = %v", probs)
			}
			text := buf.String()
			var got registry.Feature
			err := registry.ReadFeatures(&buf, registry.FormatGeoJSON, func(f *registry.Feature) error {
				got = *f
				got.Props = map[string]string{}
				for k, v := range f.Props {
					if k != geojson.ProblemsProperty {
						got.Props[k] = v
					}
				}
				return nil
			})
			if err != nil || got.Err != nil {
				t.Fatalf("read back: %v, %+v", err, got.Err)
			}
			if got.ID != tc.f.ID {
				t.Errorf("id %q, want %q", got.ID, tc.f.ID)
			}
			if (got.Geometry != nil) != tc.wantGeom {
				t.Errorf("geometry %v, want one: %v", got.Geometry, tc.wantGeom)
			}
			if tc.wantGeom && !orb.Equal(got.Geometry, tc.f.Geometry) {
				t.Errorf("geometry %v, want %v", got.Geometry, tc.f.Geometry)
			}
			want := 0
			for k, v := range tc.f.Props {
				if k == geojson.ProblemsProperty {
					continue
				}
				want++
				if got.Props[k] != v {
					t.Errorf("property %s = %q, want %q", k, got.Props[k], v)
				}
			}
			if len(got.Props) != want || strings.Count(text, geojson.ProblemsProperty) != 1 {
				t.Errorf("properties %v, want %v (and one %s)", got.Props, tc.f.Props, geojson.ProblemsProperty)
			}
		})
	}
}

// TestWriteRejectedInDatum: a writer made for a datum writes the rejected feature's geometry
// (WGS84, as the readers hand it over) back in that datum, names the datum, and leaves the
// feature it was given as it was.
func TestWriteRejectedInDatum(t *testing.T) {
	shift := geojson.Projection(func(p orb.Point) orb.Point { return orb.Point{p[0] + 1, p[1] + 2} })
	f := registry.Feature{Index: 0, Geometry: orb.Polygon{{{1, 1}, {2, 1}, {2, 2}, {1, 1}}}, Props: map[string]string{"code": "c"}}
	var buf bytes.Buffer
	w := geojson.NewCensusWriterIn(&buf, geojson.Datum{Name: "urn:citygrid:crs:gcj02", Projection: shift})
	if err := w.WriteRejected(&f, []registry.Problem{{Index: 0, Code: "self_intersection", Message: "m"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		CRS struct {
			Properties struct{ Name string }
		}
		Features []struct {
			Geometry struct{ Coordinates [][][2]float64 }
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Features) != 1 {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if doc.CRS.Properties.Name != "urn:citygrid:crs:gcj02" {
		t.Errorf("crs member %q, want urn:citygrid:crs:gcj02", doc.CRS.Properties.Name)
	}
	if got := doc.Features[0].Geometry.Coordinates[0][0]; got != [2]float64{2, 3} {
		t.Errorf("first position %v, want [2 3] (converted to the datum)", got)
	}
	if f.Geometry.(orb.Polygon)[0][0] != (orb.Point{1, 1}) {
		t.Errorf("the feature's geometry changed to %v", f.Geometry)
	}
}
