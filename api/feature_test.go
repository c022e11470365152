package api

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"citygrid/registry"
	"citygrid/spatial"
)

// This file keeps the component and hit features as encoding/json wrote them from DTOs
// before componentFeature and appendHitFeature: the reference of TestComponentFeatureSameAsBaseline
// and the named baseline of BenchmarkComponentPage.

type componentPropsBaseline struct {
	ID          string    `json:"id"`
	LegacyID    string    `json:"legacy_id,omitempty"`
	Key         uint64    `json:"key"`
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

func (s *Server) componentFeatureBaseline(c *registry.Component, crs spatial.CRS) featureJSON {
	className := ""
	classCode := c.Class
	if classCode == "" {
		classCode = c.LegacyClass
	}
	if cl, ok := s.catalog.Lookup(registry.KindComponent, classCode); ok {
		className = cl.Name
	}
	return featureJSON{
		Type:     "Feature",
		ID:       c.ID.String(),
		Geometry: geojson.NewGeometry(spatial.FromWGS84(c.Point, crs)),
		Properties: componentPropsBaseline{
			ID: c.ID.String(), LegacyID: c.LegacyID.String(), Key: uint64(c.Key), Class: c.Class,
			LegacyClass: c.LegacyClass, ClassName: className, Name: c.Name, Status: c.Status.String(),
			StatusName: c.Status.Chinese(), Supervisor: c.Supervisor, Owner: c.Owner,
			Maintainer: c.Maintainer, Cell: string(c.Cell), CensusDate: dateBaseline(c.CensusDate),
			ChangeDate: dateBaseline(c.ChangeDate), Source: c.Source, Note: c.Note,
			Version: c.Version, Updated: c.Updated.UTC(), UpdatedBy: c.UpdatedBy,
		},
	}
}

type hitPropsBaseline struct {
	ID         string  `json:"id"`
	Key        uint64  `json:"key"`
	Class      string  `json:"class"`
	Status     string  `json:"status"`
	Cell       string  `json:"cell"`
	Maintainer string  `json:"maintainer"`
	Distance   float64 `json:"distance"`
}

func hitFeatureBaseline(h *spatial.Hit) featureJSON {
	return featureJSON{
		Type:     "Feature",
		ID:       h.ID.String(),
		Geometry: geojson.NewGeometry(h.Point),
		Properties: hitPropsBaseline{
			ID: h.ID.String(), Key: uint64(h.Key), Class: h.Class, Status: h.Status.String(),
			Cell: string(h.Cell), Maintainer: h.Maintainer, Distance: h.Distance,
		},
	}
}

// oddStrings are texts an encoder can get wrong.
var oddStrings = []string{"", "井盖", `a"b\c`, "tab\there\nline\r\x00\x1f", "<script>&amp;</script>",
	"\u2028\u2029", "bad \xff\xfe utf-8 \xe6\x97", "emoji 🚰 and 𠀀", "路灯 No.7 (东侧)", "\x7f"}

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
		c.Updated = time.Time{} // year 1: strconv's layout path
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

// sameJSON fails unless got is valid JSON with the same tokens as want, in the same order:
// the same members in the same order, numbers written alike (exponent form included),
// strings equal once decoded (encoding/json also escapes <, > and & as \u003c…; the
// hand-written encoder, like registry.AppendJSONString, does not need to).
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	if !json.Valid(got) {
		t.Fatalf("not valid JSON: %s", got)
	}
	if g, w := jsonTokens(t, got), jsonTokens(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func jsonTokens(t *testing.T, b []byte) []any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers compared as written
	var out []any
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%v in %s", err, b)
		}
		out = append(out, tok)
	}
}

// TestComponentFeatureSameAsBaseline: the hand-written features read back as the same JSON
// values as encoding/json's from the DTOs, member for member and in the same order, across
// odd strings, legacy codes, zero dates, time zones, exponent-form coordinates and CRSs.
func TestComponentFeatureSameAsBaseline(t *testing.T) {
	s := &Server{catalog: registry.DefaultCatalog(), wgs84: spatial.WGS84}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		c := randomComponent(t, r, i+1)
		crs := []spatial.CRS{spatial.WGS84, spatial.GCJ02, spatial.BD09}[i%3]
		want, err := json.Marshal(s.componentFeatureBaseline(&c, crs))
		if err != nil {
			t.Fatal(err)
		}
		f := s.toComponentFeature(&c, crs)
		got := f.appendJSON(nil)
		sameJSON(t, got, want)
		// As a member of another answer (history, the change feed), through MarshalJSON.
		viaMarshal, err := json.Marshal(struct{ F componentFeature }{f})
		if err != nil {
			t.Fatal(err)
		}
		wantWrapped, _ := json.Marshal(struct{ F json.RawMessage }{want})
		sameJSON(t, viaMarshal, wantWrapped)

		h := spatial.Hit{Key: c.Key, ID: c.ID, Class: c.Class, Status: c.Status, Cell: c.Cell,
			Maintainer: c.Maintainer, Point: c.Point, Distance: r.Float64() * math.Pow(10, float64(r.IntN(12)-6))}
		want, err = json.Marshal(hitFeatureBaseline(&h))
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, appendHitFeature(nil, &h), want)
	}
}

// BenchmarkComponentPage encodes a page of 400 components (about a 500 m box of the bench
// city) as GET /api/v1/components answers it, against the named baseline "baseline":
// encoding/json over the DTOs, as before componentFeature.
func BenchmarkComponentPage(b *testing.B) {
	s := &Server{catalog: registry.DefaultCatalog(), wgs84: spatial.WGS84}
	r := rand.New(rand.NewPCG(5, 6))
	comps := make([]registry.Component, 400)
	for i := range comps {
		c := randomComponent(b, r, i+1)
		c.Name, c.Supervisor, c.Owner, c.Maintainer = "路灯 "+strconv.Itoa(i), "区城市管理局", "区城市管理局", "路灯管理所"
		c.Source, c.Note, c.UpdatedBy = "实测", "", "import"
		comps[i] = c
	}
	b.Run("api", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			out = append(out[:0], `{"type":"FeatureCollection","features":[`...)
			for i := range comps {
				if i > 0 {
					out = append(out, ',')
				}
				f := s.toComponentFeature(&comps[i], s.wgs84)
				out = f.appendJSON(out)
			}
			out = append(out, `],"next":null}`...)
		}
		b.SetBytes(int64(len(out)))
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			features := make([]featureJSON, len(comps))
			for i := range comps {
				features[i] = s.componentFeatureBaseline(&comps[i], s.wgs84)
			}
			var err error
			if out, err = json.Marshal(newPage(features, 0)); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(out)))
	})
}
