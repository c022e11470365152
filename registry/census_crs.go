package registry

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/project"
)

// CRS is a coordinate system census coordinates may be in: its canonical name and its
// conversion to WGS84 lon/lat. registry does no datum arithmetic: the caller supplies CRS
// values through ImportOptions.ResolveCRS (spatial.ResolveCRS).
type CRS struct {
	Name    string                    // wgs84, cgcs2000, gcj02 or bd09
	ToWGS84 func(orb.Point) orb.Point // nil: the coordinates are WGS84 lon/lat as they are (wgs84, cgcs2000)
}

// importCRS is the coordinate system of one import: the one asked (ImportOptions.CRS),
// else the one a GeoJSON crs member names, else WGS84. It converts every feature's
// geometry to WGS84 before the decoders see it.
type importCRS struct {
	resolveFn func(string) (CRS, bool)
	asked     string // as asked, "" when not
	cur       CRS    // in effect
	read      bool   // a feature has been passed on in cur
	rep       *Report
}

func newImportCRS(opt ImportOptions, rep *Report) (*importCRS, error) {
	ic := &importCRS{resolveFn: opt.ResolveCRS, asked: strings.TrimSpace(opt.CRS), cur: CRS{Name: "wgs84"}, rep: rep}
	rep.CRS = ic.cur.Name
	if ic.asked == "" {
		return ic, nil
	}
	c, ok := ic.resolve(ic.asked)
	if !ok {
		return nil, Errorf(Invalid, CodeInvalidCRS, "crs %q: the census crs must be wgs84, cgcs2000, gcj02 or bd09", ic.asked)
	}
	ic.cur = c
	rep.CRS = c.Name
	return ic, nil
}

// resolve names a coordinate system through ResolveCRS; without one only WGS84 and
// CGCS2000 are known.
func (ic *importCRS) resolve(name string) (CRS, bool) {
	if ic.resolveFn != nil {
		return ic.resolveFn(name)
	}
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "wgs84", "cgcs2000":
		return CRS{Name: n}, true
	}
	return CRS{}, false
}

// member takes a GeoJSON crs member: the datum it names replaces WGS84 when none was asked;
// one that contradicts the datum asked is refused, except that a lon/lat member (EPSG:4326,
// EPSG:4490, CRS84) gives way to gcj02 or bd09 asked, with a warning: GCJ-02 and BD-09
// have no EPSG code, so GDAL and QGIS label files in them EPSG:4326 (CRS84).
func (ic *importCRS) member(raw json.RawMessage) error {
	name, ok := geoJSONCRSName(raw)
	if !ok {
		return nil
	}
	file, lonLat, err := ic.fileCRS(name)
	if err != nil {
		return err
	}
	switch {
	case file.Name == ic.cur.Name || file.ToWGS84 == nil && ic.cur.ToWGS84 == nil:
		// The same, or WGS84 and CGCS2000, which are read alike: the file names which.
		if ic.asked == "" {
			ic.cur = file
			ic.rep.CRS = file.Name
		}
		return nil
	case ic.asked != "" && lonLat:
		ic.rep.Warn(-1, "", "crs", CodeCRSOverridden,
			"the file's crs member names %s (lon/lat WGS84 or CGCS2000), but its coordinates were read as %s, as the import asked: GIS tools label GCJ-02 and BD-09 data EPSG:4326 because those datums have no EPSG code",
			name, ic.cur.Name)
		return nil
	case ic.asked != "":
		return Errorf(Invalid, CodeInvalidCRS, "geojson: the file's crs member names %s (%s), but the import asked for crs %s", name, file.Name, ic.asked)
	case ic.read:
		return Errorf(Invalid, CodeInvalidCRS, "geojson: the crs member %s (%s) comes after the features, which were read as WGS84; put it before them, or give the crs with the import", name, file.Name)
	}
	ic.cur = file
	ic.rep.CRS = file.Name
	return nil
}

// fileCRS resolves the name of a crs member: OGC's CRS84 and EPSG 4326 or 4490 in any of
// their spellings (lonLat true), or a datum ResolveCRS knows, bare or as
// urn:citygrid:crs:NAME (what citygrid's exports write for gcj02 and bd09).
func (ic *importCRS) fileCRS(name string) (c CRS, lonLat bool, err error) {
	if ll := lonLatCRSName(name); ll != "" {
		return CRS{Name: ll}, true, nil
	}
	n := strings.TrimSpace(name)
	if rest, ok := cutPrefixFold(n, "urn:citygrid:crs:"); ok {
		n = rest
	}
	if !strings.ContainsAny(n, ":/") {
		if c, ok := ic.resolve(n); ok {
			return c, false, nil
		}
	}
	return CRS{}, false, errForeignCRS(name)
}

func errForeignCRS(name string) error {
	return Errorf(Invalid, CodeInvalidCRS,
		"geojson: crs %q is not one citygrid reads (lon/lat EPSG:4326, EPSG:4490 or CRS84, or urn:citygrid:crs:gcj02 or :bd09); reproject the file to EPSG:4326, e.g. ogr2ogr -t_srs EPSG:4326", name)
}

// apply converts f's geometry to WGS84 in place.
func (ic *importCRS) apply(f *Feature) {
	ic.read = true
	if ic.cur.ToWGS84 != nil && f.Geometry != nil {
		f.Geometry = project.Geometry(f.Geometry, orb.Projection(ic.cur.ToWGS84))
	}
}

// readCensus reads the features of a census import of cells or components (ReadFeatures,
// in opt.Format) in the import's coordinate system, converted to WGS84, and honours a
// GeoJSON crs member; warnings go to rep.
func readCensus(r io.Reader, opt ImportOptions, rep *Report, fn func(*Feature) error) error {
	ic, err := newImportCRS(opt, rep)
	if err != nil {
		return err
	}
	return readFeaturesCRS(r, opt.Format, ic.member, func(f *Feature) error {
		ic.apply(f)
		return fn(f)
	})
}

// unitsToWGS84 converts the areas of a units document from the coordinate system the import
// asked for (a units document has no crs member of its own).
func unitsToWGS84(units []Unit, opt ImportOptions, rep *Report) error {
	ic, err := newImportCRS(opt, rep)
	if err != nil {
		return err
	}
	if ic.cur.ToWGS84 == nil {
		return nil
	}
	for i := range units {
		if len(units[i].Area) > 0 {
			units[i].Area = project.MultiPolygon(units[i].Area, orb.Projection(ic.cur.ToWGS84))
		}
	}
	return nil
}

// geoJSONCRSName returns the name of a crs member of the 2008 GeoJSON form
// {"type":"name","properties":{"name":…}}; ok is false for a member RFC 7946 says to ignore
// (null, linked, unreadable).
func geoJSONCRSName(raw json.RawMessage) (string, bool) {
	var crs struct {
		Type       string
		Properties struct{ Name string }
	}
	if json.Unmarshal(raw, &crs) != nil || crs.Type != "name" || strings.TrimSpace(crs.Properties.Name) == "" {
		return "", false
	}
	return crs.Properties.Name, true
}

// lonLatCRSName classifies the name of a lon/lat CRS in the spellings GIS tools write:
// "wgs84" for CRS84 (urn:ogc:def:crs:OGC:1.3:CRS84, …OGC::CRS84, OGC:CRS84) and EPSG 4326
// (EPSG:4326, urn:ogc:def:crs:EPSG::4326, …EPSG:6.6:4326, http://www.opengis.net/def/crs/EPSG/0/4326),
// "cgcs2000" for EPSG 4490 in the same spellings, "" for anything else. EPSG:4326 has
// lat/lon axis order in the EPSG registry, but GeoJSON files are lon/lat whatever they
// name (RFC 7946; GDAL reads and writes them so): so do the census readers.
func lonLatCRSName(name string) string {
	toks := strings.FieldsFunc(strings.ToUpper(strings.TrimSpace(name)), func(r rune) bool { return r == ':' || r == '/' })
	if len(toks) == 0 {
		return ""
	}
	last, auth := toks[len(toks)-1], ""
	for _, t := range toks[:len(toks)-1] {
		if t == "EPSG" || t == "OGC" {
			auth = t
		}
	}
	switch {
	case last == "CRS84" && (auth == "OGC" || len(toks) == 1):
		return "wgs84"
	case auth == "EPSG" && last == "4326":
		return "wgs84"
	case auth == "EPSG" && last == "4490":
		return "cgcs2000"
	}
	return ""
}

// checkGeoJSONCRS is the crs check of ReadFeatures, which converts nothing: a named crs other
// than lon/lat WGS84 or CGCS2000 is refused. QGIS and ArcGIS exports in a projected CRS (a
// Gauss-Krüger zone, Web Mercator) would otherwise fail feature by feature with
// invalid_coordinates, or worse, pass when small.
func checkGeoJSONCRS(raw json.RawMessage) error {
	name, ok := geoJSONCRSName(raw)
	if !ok || lonLatCRSName(name) != "" {
		return nil
	}
	return errForeignCRS(name)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
