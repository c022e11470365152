package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// fakeResolve is a ResolveCRS whose offset datums are easy to check: gcj02 subtracts
// 0.01° of longitude on the way to WGS84, bd09 0.02°.
func fakeResolve(name string) (CRS, bool) {
	shift := func(d float64) func(orb.Point) orb.Point {
		return func(p orb.Point) orb.Point { return orb.Point{p[0] - d, p[1]} }
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "wgs84", "epsg:4326":
		return CRS{Name: "wgs84"}, true
	case "cgcs2000", "epsg:4490":
		return CRS{Name: "cgcs2000"}, true
	case "gcj02":
		return CRS{Name: "gcj02", ToWGS84: shift(0.01)}, true
	case "bd09":
		return CRS{Name: "bd09", ToWGS84: shift(0.02)}, true
	}
	return CRS{}, false
}

func crsMember(name string) string {
	return `"crs":{"type":"name","properties":{"name":"` + name + `"}}`
}

const crsFeatures = `"features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[106.5,29.5]},"properties":{}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.5,29.5],[106.6,29.5],[106.6,29.6],[106.5,29.5]]]},"properties":{}}]`

func TestReadCensusCRS(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		format   Format
		asked    string
		resolve  func(string) (CRS, bool)
		wantLon  float64 // of the first point, once read
		wantWarn string  // a warning code, if any
		wantErr  string  // a message fragment of an invalid_crs error
	}{
		{name: "no crs, none asked", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, wantLon: 106.5},
		{name: "gcj02 asked", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, asked: "gcj02", wantLon: 106.49},
		{name: "bd09 asked", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, asked: "bd09", wantLon: 106.48},
		{name: "cgcs2000 asked", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, asked: "cgcs2000", wantLon: 106.5},
		{name: "unknown asked", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, asked: "epsg:3857", wantErr: `crs "epsg:3857"`},
		{name: "gcj02 asked without a resolver", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, asked: "gcj02", resolve: nilResolve, wantErr: `crs "gcj02"`},
		{name: "wgs84 asked without a resolver", in: `{"type":"FeatureCollection",` + crsFeatures + `}`, asked: "wgs84", resolve: nilResolve, wantLon: 106.5},

		// The spellings of a lon/lat crs member (GDAL writes the first).
		{name: "CRS84 URN", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:OGC:1.3:CRS84") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "CRS84 URN without version", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:OGC::CRS84") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "EPSG:4326", in: `{"type":"FeatureCollection",` + crsMember("EPSG:4326") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "EPSG::4326 URN (lat/lon in the registry, lon/lat in GeoJSON as GDAL reads it)", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:EPSG::4326") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "EPSG 4326 URN with a version", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:EPSG:6.6:4326") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "EPSG 4326 http URI", in: `{"type":"FeatureCollection",` + crsMember("http://www.opengis.net/def/crs/EPSG/0/4326") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "EPSG 4490 URN", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:EPSG::4490") + `,` + crsFeatures + `}`, wantLon: 106.5},
		{name: "EPSG:4490 with cgcs2000 asked", in: `{"type":"FeatureCollection",` + crsMember("EPSG:4490") + `,` + crsFeatures + `}`, asked: "cgcs2000", wantLon: 106.5},
		{name: "EPSG:4490 with wgs84 asked: the same lon/lat", in: `{"type":"FeatureCollection",` + crsMember("EPSG:4490") + `,` + crsFeatures + `}`, asked: "wgs84", wantLon: 106.5},

		// A lon/lat member gives way to an offset datum asked, with a warning.
		{name: "CRS84 with gcj02 asked", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:OGC:1.3:CRS84") + `,` + crsFeatures + `}`, asked: "gcj02", wantLon: 106.49, wantWarn: CodeCRSOverridden},
		{name: "CRS84 after the features with bd09 asked", in: `{"type":"FeatureCollection",` + crsFeatures + `,` + crsMember("urn:ogc:def:crs:OGC:1.3:CRS84") + `}`, asked: "bd09", wantLon: 106.48, wantWarn: CodeCRSOverridden},

		// citygrid's own names for the offset datums (its exports in gcj02 and bd09).
		{name: "citygrid gcj02 member", in: `{"type":"FeatureCollection",` + crsMember("urn:citygrid:crs:gcj02") + `,` + crsFeatures + `}`, wantLon: 106.49},
		{name: "citygrid gcj02 member, gcj02 asked", in: `{"type":"FeatureCollection",` + crsMember("urn:citygrid:crs:gcj02") + `,` + crsFeatures + `}`, asked: "gcj02", wantLon: 106.49},
		{name: "bare bd09 member", in: `{"type":"FeatureCollection",` + crsMember("BD09") + `,` + crsFeatures + `}`, wantLon: 106.48},
		{name: "citygrid gcj02 member, wgs84 asked", in: `{"type":"FeatureCollection",` + crsMember("urn:citygrid:crs:gcj02") + `,` + crsFeatures + `}`, asked: "wgs84", wantErr: "asked for crs wgs84"},
		{name: "citygrid gcj02 member, bd09 asked", in: `{"type":"FeatureCollection",` + crsMember("urn:citygrid:crs:gcj02") + `,` + crsFeatures + `}`, asked: "bd09", wantErr: "asked for crs bd09"},
		{name: "citygrid gcj02 member after the features", in: `{"type":"FeatureCollection",` + crsFeatures + `,` + crsMember("urn:citygrid:crs:gcj02") + `}`, wantErr: "comes after the features"},
		{name: "citygrid member without a resolver", in: `{"type":"FeatureCollection",` + crsMember("urn:citygrid:crs:gcj02") + `,` + crsFeatures + `}`, resolve: nilResolve, wantErr: `"urn:citygrid:crs:gcj02"`},

		// Anything else is refused, naming it.
		{name: "Web Mercator", in: `{"type":"FeatureCollection",` + crsMember("urn:ogc:def:crs:EPSG::3857") + `,` + crsFeatures + `}`, wantErr: `"urn:ogc:def:crs:EPSG::3857"`},
		{name: "CGCS2000 Gauss-Krüger zone", in: `{"type":"FeatureCollection",` + crsMember("EPSG:4545") + `,` + crsFeatures + `}`, asked: "gcj02", wantErr: `"EPSG:4545"`},
		{name: "an unknown name", in: `{"type":"FeatureCollection",` + crsMember("Xian 1980") + `,` + crsFeatures + `}`, wantErr: `"Xian 1980"`},
		{name: "4326 of another authority", in: `{"type":"FeatureCollection",` + crsMember("ESRI:4326") + `,` + crsFeatures + `}`, wantErr: `"ESRI:4326"`},

		// Members RFC 7946 says to ignore.
		{name: "null crs", in: `{"type":"FeatureCollection","crs":null,` + crsFeatures + `}`, asked: "gcj02", wantLon: 106.49},
		{name: "linked crs", in: `{"type":"FeatureCollection","crs":{"type":"link","properties":{"href":"x.prj"}},` + crsFeatures + `}`, wantLon: 106.5},

		// NDJSON and CSV take only the option.
		{name: "ndjson gcj02", format: FormatNDJSON, in: `{"type":"Feature","geometry":{"type":"Point","coordinates":[106.5,29.5]},"properties":{}}` + "\n", asked: "gcj02", wantLon: 106.49},
		{name: "csv lon/lat gcj02", format: FormatCSV, in: "id,lon,lat\n1,106.5,29.5\n", asked: "gcj02", wantLon: 106.49},
		{name: "csv wkt bd09", format: FormatCSV, in: "id,wkt\n1,POINT(106.5 29.5)\n", asked: "bd09", wantLon: 106.48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := tt.format
			if format == "" {
				format = FormatGeoJSON
			}
			resolve := tt.resolve
			if resolve == nil {
				resolve = fakeResolve
			} else if isNilResolve(resolve) {
				resolve = nil
			}
			var rep Report
			var geoms []orb.Geometry
			err := readCensus(strings.NewReader(tt.in), ImportOptions{Format: format, CRS: tt.asked, ResolveCRS: resolve}, &rep,
				func(f *Feature) error {
					if f.Err != nil {
						t.Fatalf("feature %d: %v", f.Index, f.Err)
					}
					geoms = append(geoms, orb.Clone(f.Geometry))
					return nil
				})
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalidCRS || !strings.Contains(e.Message, tt.wantErr) {
					t.Fatalf("err = %v; want invalid_crs containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(geoms) == 0 {
				t.Fatal("no feature read")
			}
			p, ok := geoms[0].(orb.Point)
			if !ok || !near(p[0], tt.wantLon) || p[1] != 29.5 {
				t.Errorf("first point %v; want lon %v lat 29.5", geoms[0], tt.wantLon)
			}
			if len(geoms) > 1 { // the polygon: every vertex is converted like the point
				d := 106.5 - tt.wantLon
				for _, q := range geoms[1].(orb.Polygon)[0] {
					if !near(q[0], 106.5-d) && !near(q[0], 106.6-d) {
						t.Errorf("polygon vertex %v; want lon 106.5 or 106.6 less %v", q, d)
					}
				}
			}
			var codes []string
			for _, w := range rep.Warnings {
				codes = append(codes, w.Code)
				if w.Index != -1 || w.Field != "crs" {
					t.Errorf("warning %+v: want index -1, field crs", w)
				}
			}
			if got := strings.Join(codes, ","); got != tt.wantWarn {
				t.Errorf("warnings %q; want %q", got, tt.wantWarn)
			}
		})
	}
}

// nilResolve marks a test case without a ResolveCRS.
func nilResolve(string) (CRS, bool) { return CRS{}, false }

func isNilResolve(f func(string) (CRS, bool)) bool {
	_, ok := f("wgs84")
	return !ok
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestReadFeaturesCRSUnchanged: ReadFeatures, which converts nothing, keeps refusing every crs
// member that is not lon/lat, citygrid's offset datums included.
func TestReadFeaturesCRSUnchanged(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"urn:ogc:def:crs:OGC:1.3:CRS84", true},
		{"EPSG:4490", true},
		{"urn:citygrid:crs:gcj02", false},
		{"EPSG:3857", false},
	} {
		err := ReadFeatures(strings.NewReader(`{"type":"FeatureCollection",`+crsMember(tt.name)+`,`+crsFeatures+`}`), FormatGeoJSON,
			func(*Feature) error { return nil })
		if (err == nil) != tt.ok || err != nil && ErrorCode(err) != CodeInvalidCRS {
			t.Errorf("%s: err = %v; want ok %v (else invalid_crs)", tt.name, err, tt.ok)
		}
	}
}

func FuzzLonLatCRSName(f *testing.F) {
	for _, s := range []string{"urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", "urn:ogc:def:crs:EPSG::4490", "CRS84", "x:4326", "/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := lonLatCRSName(s)
		switch got {
		case "":
		case "wgs84":
			if !strings.Contains(strings.ToUpper(s), "4326") && !strings.Contains(strings.ToUpper(s), "CRS84") {
				t.Fatalf("lonLatCRSName(%q) = wgs84 without 4326 or CRS84 in it", s)
			}
		case "cgcs2000":
			if !strings.Contains(s, "4490") {
				t.Fatalf("lonLatCRSName(%q) = cgcs2000 without 4490 in it", s)
			}
		default:
			t.Fatalf("lonLatCRSName(%q) = %q", s, got)
		}
	})
}

// TestReadCensusReportCRS: the report names the datum the coordinates were read in.
func TestReadCensusReportCRS(t *testing.T) {
	tests := []struct {
		member, asked, want string
	}{
		{"", "", "wgs84"},
		{"", "gcj02", "gcj02"},
		{"", "cgcs2000", "cgcs2000"},
		{"urn:ogc:def:crs:EPSG::4490", "", "cgcs2000"},
		{"urn:citygrid:crs:bd09", "", "bd09"},
		{"urn:ogc:def:crs:OGC:1.3:CRS84", "gcj02", "gcj02"},
	}
	for _, tt := range tests {
		in := `{"type":"FeatureCollection",` + crsFeatures + `}`
		if tt.member != "" {
			in = `{"type":"FeatureCollection",` + crsMember(tt.member) + `,` + crsFeatures + `}`
		}
		var rep Report
		err := readCensus(strings.NewReader(in), ImportOptions{Format: FormatGeoJSON, CRS: tt.asked, ResolveCRS: fakeResolve}, &rep,
			func(*Feature) error { return nil })
		if err != nil || rep.CRS != tt.want {
			t.Errorf("member %q, asked %q: report crs %q (%v), want %q", tt.member, tt.asked, rep.CRS, err, tt.want)
		}
	}
}
