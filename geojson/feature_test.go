package geojson_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"
	orbjson "github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/project"

	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
)

// This file keeps the features of the API as encoding/json wrote them from DTOs before they
// were written by hand: the reference of the differential tests below and the named baseline
// of BenchmarkComponentPage.

type featureBaseline struct {
	Type       string            `json:"type"`
	ID         string            `json:"id,omitempty"`
	Geometry   *orbjson.Geometry `json:"geometry"`
	Properties any               `json:"properties"`
}

type pageBaseline struct {
	Type     string            `json:"type"`
	Features []featureBaseline `json:"features"`
	Next     *string           `json:"next"`
}

type componentPropsBaseline struct {
	ID          string    `json:"id"`
	LegacyID    string    `json:"legacy_id,omitempty"`
	Class       string    `json:"class"`
	LegacyClass string    `json:"legacy_class,omitempty"`
	ClassName   string    `json:"class_name"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	StatusName  string    `json:"status_name"`
	Supervisor  string    `json:"supervisor"`
	Owner       string    `json:"owner"`
	Maintainer  string    `json:"maintainer"`
	Cell        string    `json:"cell"`
	District    string    `json:"district"`
	Street      string    `json:"street"`
	Community   string    `json:"community"`
	CensusDate  *string   `json:"census_date"`
	ChangeDate  *string   `json:"change_date"`
	Source      string    `json:"source"`
	Note        string    `json:"note"`
	Version     int64     `json:"version"`
	Updated     time.Time `json:"updated"`
	UpdatedBy   string    `json:"updated_by"`
}

func dateBaseline(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

func projected(p orb.Point, proj geojson.Projection) orb.Point {
	if proj == nil {
		return p
	}
	return proj(p)
}

func componentBaseline(c *registry.Component, className string, proj geojson.Projection) featureBaseline {
	return featureBaseline{
		Type:     "Feature",
		ID:       c.ID.String(),
		Geometry: orbjson.NewGeometry(projected(c.Point, proj)),
		Properties: componentPropsBaseline{
			ID: c.ID.String(), LegacyID: c.LegacyID.String(), Class: c.Class,
			LegacyClass: c.LegacyClass, ClassName: className, Name: c.Name, Status: c.Status.String(),
			StatusName: c.Status.Chinese(), Supervisor: c.Supervisor, Owner: c.Owner,
			Maintainer: c.Maintainer, Cell: string(c.Cell), District: c.Cell.District(), Street: c.Cell.Street(),
			Community: c.Cell.Community(), CensusDate: dateBaseline(c.CensusDate),
			ChangeDate: dateBaseline(c.ChangeDate), Source: c.Source, Note: c.Note,
			Version: c.Version, Updated: c.Updated.UTC(), UpdatedBy: c.UpdatedBy,
		},
	}
}

type hitPropsBaseline struct {
	ID         string  `json:"id"`
	Class      string  `json:"class"`
	Name       string  `json:"name"`
	Status     string  `json:"status"`
	Cell       string  `json:"cell"`
	Maintainer string  `json:"maintainer"`
	Distance   float64 `json:"distance"`
}

func hitBaseline(h *spatial.Hit, name string, proj geojson.Projection) featureBaseline {
	return featureBaseline{
		Type:     "Feature",
		ID:       h.ID.String(),
		Geometry: orbjson.NewGeometry(projected(h.Point, proj)),
		Properties: hitPropsBaseline{
			ID: h.ID.String(), Class: h.Class, Name: name, Status: h.Status.String(),
			Cell: string(h.Cell), Maintainer: h.Maintainer, Distance: math.Round(h.Distance*100) / 100,
		},
	}
}

type cellPropsBaseline struct {
	Code      string     `json:"code"`
	Name      string     `json:"name"`
	District  string     `json:"district"`
	Street    string     `json:"street"`
	Community string     `json:"community"`
	Area      float64    `json:"area"`
	Status    string     `json:"status"`
	Retired   *time.Time `json:"retired,omitempty"`
	Version   int64      `json:"version"`
	Updated   time.Time  `json:"updated"`
}

func cellBaseline(c *registry.Cell, proj geojson.Projection) featureBaseline {
	var g orb.Geometry = c.Geometry
	if proj != nil {
		g = project.Geometry(orb.Clone(g), orb.Projection(proj))
	}
	var retired *time.Time
	if !c.Retired.IsZero() {
		t := c.Retired.UTC()
		retired = &t
	}
	return featureBaseline{
		Type:     "Feature",
		ID:       string(c.Code),
		Geometry: orbjson.NewGeometry(g),
		Properties: cellPropsBaseline{
			Code: string(c.Code), Name: c.Name, District: c.Code.District(),
			Street: c.Code.Street(), Community: c.Code.Community(), Area: math.Round(c.Area*100) / 100, Status: c.Status.String(),
			Retired: retired, Version: c.Version, Updated: c.Updated.UTC(),
		},
	}
}

// oddStrings are texts an encoder can get wrong. \b and \f are left out: encoding/json writes
// them \b and \f, AppendString \u0008 and \u000c (the same strings, see FuzzAppendString).
var oddStrings = []string{"", "井盖", `a"b\c`, "tab\there\nline\r\x00\x1f", "<script>&amp;</script>",
	"\u2028\u2029", "bad \xff\xfe utf-8 \xe6\x97", "emoji 🚰 and 𠀀", "路灯 No.7 (东侧)", "\x7f"}

// projections are those of ?crs=: none (WGS84), GCJ-02 and BD-09.
var projections = []geojson.Projection{
	nil,
	func(p orb.Point) orb.Point { return spatial.FromWGS84(p, spatial.GCJ02) },
	func(p orb.Point) orb.Point { return spatial.FromWGS84(p, spatial.BD09) },
}

// randomTime is a time in a random zone, now and then the zero time, year 9999 or a whole second.
func randomTime(r *rand.Rand) time.Time {
	switch r.IntN(20) {
	case 0:
		return time.Time{} // year 1: the layout path of appendTime
	case 1:
		return time.Date(9999, 12, 31, 23, 59, 59, 100, time.UTC)
	}
	return time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(time.FixedZone("CST", 8*3600))
}

// randomComponent draws a component whose every field varies, strings from oddStrings.
func randomComponent(t testing.TB, r *rand.Rand, key int) registry.Component {
	t.Helper()
	pick := func() string { return oddStrings[r.IntN(len(oddStrings))] }
	classes := [][2]string{{"01101", ""}, {"01101", "0101"}, {"", "0199"}, {"99999", ""}, {"02301", "0201"}}
	cl := classes[r.IntN(len(classes))]
	id, err := registry.NewComponentCode("500103", "01101", 1+r.IntN(99999))
	if err != nil {
		t.Fatal(err)
	}
	c := registry.Component{
		Key: registry.Key(key), ID: id, Class: cl[0], LegacyClass: cl[1], Name: pick(),
		Point:  orb.Point{106 + r.Float64(), 29 + r.Float64()},
		Status: registry.Status(r.IntN(6)), Supervisor: pick(), Owner: pick(), Maintainer: pick(),
		Cell: registry.GridCode("500103001001" + strconv.Itoa(100+r.IntN(900))), Source: pick(), Note: pick(),
		Version: r.Int64N(1 << 40), UpdatedBy: pick(),
		Updated: time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(time.FixedZone("CST", 8*3600)),
	}
	if r.IntN(2) == 0 {
		c.CensusDate = time.Date(2000+r.IntN(30), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	}
	if r.IntN(3) == 0 {
		c.ChangeDate = time.Date(2020+r.IntN(10), 5, 17, 0, 0, 0, 0, time.UTC)
	}
	if r.IntN(3) == 0 {
		if c.LegacyID, err = registry.ParseComponentCode("5001030101" + strconv.Itoa(100000+r.IntN(900000))); err != nil {
			t.Fatal(err)
		}
	}
	switch r.IntN(20) {
	case 0:
		c.Updated = time.Time{} // year 1: the layout path of appendTime
	case 1:
		c.Updated = time.Date(9999, 12, 31, 23, 59, 59, 100, time.UTC)
	}
	switch r.IntN(8) {
	case 0:
		c.Point = orb.Point{1e-7, -3.5e-9} // exponent form in encoding/json
	case 1:
		c.Point = orb.Point{-180, 90}
	}
	return c
}

// randomCell draws a cell whose every field varies: codes of every length (and none), names
// from oddStrings, one to three polygons with holes, coordinates and areas in plain and in
// exponent form, and now and then nil geometry parts.
func randomCell(r *rand.Rand, key int) registry.Cell {
	codes := []string{"500103003001001", "50010300300102", "500103", "", "5001030\"1\\01"}
	c := registry.Cell{
		Key: registry.Key(key), Code: registry.GridCode(codes[r.IntN(len(codes))]),
		Name: oddStrings[r.IntN(len(oddStrings))], Version: r.Int64N(1 << 40), Updated: randomTime(r),
		Area: r.Float64() * math.Pow(10, float64(r.IntN(30)-8)),
	}
	if r.IntN(10) == 0 {
		c.Area = 0
	}
	coord := func(base float64) float64 {
		switch r.IntN(30) {
		case 0:
			return 1e-7 * r.Float64()
		case 1:
			return 0
		}
		return base + r.Float64()/100
	}
	for range 1 + r.IntN(3) {
		var poly orb.Polygon
		for range 1 + r.IntN(2) {
			ring := make(orb.Ring, 4+r.IntN(5))
			for i := range ring {
				ring[i] = orb.Point{coord(106.5), coord(29.5)}
			}
			ring[len(ring)-1] = ring[0]
			poly = append(poly, ring)
		}
		c.Geometry = append(c.Geometry, poly)
	}
	switch r.IntN(30) {
	case 0:
		c.Geometry = nil
	case 1:
		c.Geometry = append(c.Geometry, nil)
	case 2:
		c.Geometry[0] = append(c.Geometry[0], nil)
	}
	return c
}

// sameAsEncodingJSON fails unless got is the JSON want holds, written alike: with <, > and &
// escaped as encoding/json escapes them (AppendString leaves them alone), got is want, byte
// for byte.
func sameAsEncodingJSON(t *testing.T, got []byte, want any) {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatalf("not valid JSON: %s", got)
	}
	var escaped bytes.Buffer
	json.HTMLEscape(&escaped, got)
	if !bytes.Equal(escaped.Bytes(), w) {
		t.Fatalf("got  %s\nwant %s", got, w)
	}
}

// TestComponentSameAsEncodingJSON: AppendComponent writes what encoding/json wrote from the
// DTOs, member for member and byte for byte (but for <, > and &), across odd strings, legacy
// codes, zero dates, time zones, exponent-form coordinates and projections.
func TestComponentSameAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		c := randomComponent(t, r, i+1)
		className := oddStrings[r.IntN(len(oddStrings))]
		proj := projections[i%len(projections)]
		sameAsEncodingJSON(t, geojson.AppendComponent(nil, &c, className, proj), componentBaseline(&c, className, proj))
	}
}

// TestHitSameAsEncodingJSON: AppendHit writes what encoding/json wrote from the DTO, distances
// from 1e-6 to 1e6 metres included, rounded to the centimetre.
func TestHitSameAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		c := randomComponent(t, r, i+1)
		h := spatial.Hit{Key: c.Key, ID: c.ID, Class: c.Class, Status: c.Status, Cell: c.Cell,
			Maintainer: c.Maintainer, Point: c.Point, Distance: r.Float64() * math.Pow(10, float64(r.IntN(12)-6))}
		proj := projections[i%len(projections)]
		name := oddStrings[r.IntN(len(oddStrings))]
		sameAsEncodingJSON(t, geojson.AppendHit(nil, (*geojson.Hit)(&h), name, proj), hitBaseline(&h, name, proj))
	}
}

// TestCellSameAsEncodingJSON: AppendCell writes what encoding/json wrote from the DTO over an
// orb geometry (projected on a copy), and leaves the cell as it was.
func TestCellSameAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 2000 {
		c := randomCell(r, i+1)
		before := c.Geometry.Clone()
		proj := projections[i%len(projections)]
		if c.Geometry == nil && proj != nil {
			// The DTOs wrote "geometry":null here (orb.Clone of a nil MultiPolygon is nil),
			// but {"type":"MultiPolygon","coordinates":null} without a projection; no stored
			// cell lacks a geometry, and AppendCell writes the latter in both cases.
			continue
		}
		sameAsEncodingJSON(t, geojson.AppendCell(nil, &c, proj), cellBaseline(&c, proj))
		if !reflect.DeepEqual(before, c.Geometry) {
			t.Fatalf("AppendCell changed the cell's geometry: %v, was %v", c.Geometry, before)
		}
	}
}

// TestCollectionSameAsEncodingJSON: collections and pages, empty or not, with a cursor or
// without, are what encoding/json wrote.
func TestCollectionSameAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	cells := make([]registry.Cell, 3)
	for i := range cells {
		cells[i] = randomCell(r, i+1)
	}
	feature := func(b []byte, i int) []byte { return geojson.AppendCell(b, &cells[i], nil) }
	for _, tt := range []struct {
		name string
		n    int
		next string
	}{
		{"empty last page", 0, ""},
		{"one feature, last page", 1, ""},
		{"three features and a cursor", 3, "AAAAAAAAAAE"},
		{"a cursor that needs escaping", 2, `a"b<c`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := pageBaseline{Type: "FeatureCollection", Features: []featureBaseline{}}
			for i := range tt.n {
				want.Features = append(want.Features, cellBaseline(&cells[i], nil))
			}
			if tt.next != "" {
				want.Next = &tt.next
			}
			sameAsEncodingJSON(t, geojson.AppendPage([]byte{}, tt.n, feature, tt.next), want)

			collection := struct {
				Type     string            `json:"type"`
				Features []featureBaseline `json:"features"`
			}{want.Type, want.Features}
			sameAsEncodingJSON(t, geojson.AppendCollection(nil, tt.n, feature), collection)
		})
	}
}

// BenchmarkComponentPage encodes a page of 400 components (about a 500 m box of the bench
// city) as GET /api/v1/components answers it, class names looked up in the catalogue, against
// the named baseline "baseline": encoding/json over the DTOs, as before the features were
// written by hand.
func BenchmarkComponentPage(b *testing.B) {
	cat := registry.DefaultCatalog()
	r := rand.New(rand.NewPCG(5, 6))
	comps := make([]registry.Component, 400)
	for i := range comps {
		c := randomComponent(b, r, i+1)
		c.Name, c.Supervisor, c.Owner, c.Maintainer = "路灯 "+strconv.Itoa(i), "区城市管理局", "区城市管理局", "路灯管理所"
		c.Source, c.Note, c.UpdatedBy = "实测", "", "import"
		comps[i] = c
	}
	className := func(c *registry.Component) string {
		code := c.Class
		if code == "" {
			code = c.LegacyClass
		}
		cl, _ := cat.Lookup(registry.KindComponent, code)
		return cl.Name
	}
	b.Run("api", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			out = geojson.AppendPage(out[:0], len(comps), func(b []byte, i int) []byte {
				return geojson.AppendComponent(b, &comps[i], className(&comps[i]), nil)
			}, "")
		}
		b.SetBytes(int64(len(out)))
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			page := pageBaseline{Type: "FeatureCollection", Features: make([]featureBaseline, len(comps))}
			for i := range comps {
				page.Features[i] = componentBaseline(&comps[i], className(&comps[i]), nil)
			}
			var err error
			if out, err = json.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(out)))
	})
}

// BenchmarkCellPage encodes a page of 400 cells as GET /api/v1/cells answers it, against the
// named baseline "baseline": encoding/json over the DTOs and orb's geometry, as before.
func BenchmarkCellPage(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	cells := make([]registry.Cell, 400)
	for i := range cells {
		c := randomCell(r, i+1)
		c.Code, c.Name = "500103001001"+registry.GridCode(strconv.Itoa(100+i)), "七星岗街道龙泉街社区"+strconv.Itoa(i)+"网格"
		for c.Geometry == nil || c.Geometry[0] == nil || c.Geometry[len(c.Geometry)-1] == nil {
			c.Geometry = randomCell(r, i+1).Geometry
		}
		cells[i] = c
	}
	b.Run("api", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			out = geojson.AppendPage(out[:0], len(cells), func(b []byte, i int) []byte {
				return geojson.AppendCell(b, &cells[i], nil)
			}, "")
		}
		b.SetBytes(int64(len(out)))
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			page := pageBaseline{Type: "FeatureCollection", Features: make([]featureBaseline, len(cells))}
			for i := range cells {
				page.Features[i] = cellBaseline(&cells[i], nil)
			}
			var err error
			if out, err = json.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(out)))
	})
}
