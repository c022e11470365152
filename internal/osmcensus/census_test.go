package osmcensus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"

	"citygrid/internal/osmcensus"
	"citygrid/registry"
)

// A hand-written OSM XML document: two lamps, a hydrant, a crossing (skipped), an untagged
// way node and a way (ignored).
const sampleXML = `<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
 <node id="30" lat="47.1410000" lon="9.5210000" version="2" timestamp="2019-05-01T10:00:00Z">
  <tag k="highway" v="street_lamp"/>
 </node>
 <node id="10" lat="47.1400000" lon="9.5200000" version="1" timestamp="2020-02-03T23:30:00Z">
  <tag k="emergency" v="fire_hydrant"/>
  <tag k="fire_hydrant:type" v="pillar"/>
 </node>
 <node id="20" lat="47.1405000" lon="9.5205000" version="1" timestamp="2021-01-01T00:00:00Z">
  <tag k="highway" v="crossing"/>
 </node>
 <node id="40" lat="47.1415000" lon="9.5215000" version="1" timestamp="2022-07-08T12:00:00Z">
  <tag k="highway" v="street_lamp"/>
  <tag k="lamp_mount" v="straight_mast"/>
 </node>
 <node id="50" lat="47.1420000" lon="9.5220000" version="1"/>
 <way id="60" version="1">
  <nd ref="10"/><nd ref="50"/>
  <tag k="highway" v="residential"/>
 </way>
</osm>`

func TestReadXML(t *testing.T) {
	got, err := osmcensus.ReadXML(context.Background(), strings.NewReader(sampleXML))
	if err != nil {
		t.Fatalf("ReadXML error: %v", err)
	}
	want := []osmcensus.Furniture{
		{Node: 10, Class: "01013", Point: orb.Point{9.52, 47.14}, Time: time.Date(2020, 2, 3, 23, 30, 0, 0, time.UTC)},
		{Node: 30, Class: "01037", Point: orb.Point{9.521, 47.141}, Time: time.Date(2019, 5, 1, 10, 0, 0, 0, time.UTC)},
		{Node: 40, Class: "01037", Point: orb.Point{9.5215, 47.1415}, Time: time.Date(2022, 7, 8, 12, 0, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadXML(sample) mismatch (-want +got):\n%s", diff)
	}
}

func TestReadXMLBroken(t *testing.T) {
	_, err := osmcensus.ReadXML(context.Background(), strings.NewReader(`<osm><node id="1" lat="47" lon="9"><tag k="highway" v="street_lamp"/>`))
	if err == nil {
		t.Errorf("ReadXML(truncated document) error = nil, want an error")
	}
}

func TestCensus(t *testing.T) {
	furn := []osmcensus.Furniture{
		{Node: 10, Class: "01013", Point: orb.Point{9.52, 47.14}, Time: time.Date(2020, 2, 3, 23, 30, 0, 0, time.UTC)},
		{Node: 30, Class: "01037", Point: orb.Point{9.521, 47.141}},
		{Node: 40, Class: "01037", Point: orb.Point{9.5215, 47.1415}},
		// 5 km east and 5 km south: other streets and communities
		{Node: 50, Class: "01037", Point: orb.Point{9.586, 47.095}},
	}
	cells, comps, err := osmcensus.Census(furn, osmcensus.Options{})
	if err != nil {
		t.Fatalf("Census error: %v", err)
	}
	wantIDs := []string{"99000101013000001", "99000101037000001", "99000101037000002", "99000101037000003"}
	for i, c := range comps {
		if c.ID.String() != wantIDs[i] {
			t.Errorf("component %d ID = %s, want %s", i, c.ID, wantIDs[i])
		}
		if c.Point != furn[i].Point || c.Class != furn[i].Class || c.Status != registry.StatusIntact || c.Source != osmcensus.Source {
			t.Errorf("component %d = %+v, want point %v class %s intact from %s", i, c, furn[i].Point, furn[i].Class, osmcensus.Source)
		}
		if want := "osm node " + strconv.FormatInt(int64(furn[i].Node), 10); c.Note != want {
			t.Errorf("component %d Note = %q, want %q", i, c.Note, want)
		}
	}
	if want := time.Date(2020, 2, 3, 0, 0, 0, 0, time.UTC); !comps[0].CensusDate.Equal(want) {
		t.Errorf("CensusDate = %v, want %v", comps[0].CensusDate, want)
	}
	if !comps[1].CensusDate.IsZero() {
		t.Errorf("CensusDate without timestamp = %v, want zero", comps[1].CensusDate)
	}
	if comps[1].Name != "路灯" {
		t.Errorf("Name = %q, want 路灯", comps[1].Name)
	}

	// Three points share a 3x3 neighbourhood, the fourth is far away: at least 9+9 cells,
	// no more than 3·9+9, each coded 990001 + street + community + serial.
	if len(cells) < 18 || len(cells) > 36 {
		t.Errorf("len(cells) = %d, want 18…36", len(cells))
	}
	streets, comms := map[string]bool{}, map[string]bool{}
	seen := map[registry.GridCode]bool{}
	for _, c := range cells {
		if _, err := registry.ParseGridCode(string(c.Code)); err != nil || c.Code.District() != "990001" || c.Code.Legacy() {
			t.Errorf("cell code %q: %v, want a 15-character code of district 990001", c.Code, err)
		}
		if serial := string(c.Code[12:]); serial < "001" || serial > "400" {
			t.Errorf("cell %s serial %s, want 001…400 (20x20 blocks)", c.Code, serial)
		}
		if seen[c.Code] {
			t.Errorf("cell code %s appears twice", c.Code)
		}
		seen[c.Code] = true
		streets[c.Code.Street()] = true
		comms[c.Code.Community()] = true
		if len(c.Geometry) != 1 || len(c.Geometry[0]) != 1 || !c.Geometry[0][0].Closed() {
			t.Errorf("cell %s geometry %v, want one polygon with a closed ring", c.Code, c.Geometry)
		}
	}
	if len(streets) < 2 || len(comms) < 2 {
		t.Errorf("%d streets, %d communities, want points 5 km apart in different blocks", len(streets), len(comms))
	}

	again, _, err := osmcensus.Census(furn, osmcensus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cells, again); diff != "" {
		t.Errorf("Census is not deterministic (-first +second):\n%s", diff)
	}
}

func TestCensusErrors(t *testing.T) {
	lamp := []osmcensus.Furniture{{Node: 1, Class: "01037", Point: orb.Point{9.5, 47.1}}}
	tests := []struct {
		name string
		furn []osmcensus.Furniture
		opt  osmcensus.Options
	}{
		{"no furniture", nil, osmcensus.Options{}},
		{"unknown class", []osmcensus.Furniture{{Node: 1, Class: "01016", Point: orb.Point{9.5, 47.1}}}, osmcensus.Options{}},
		{"district too short", lamp, osmcensus.Options{District: "99001"}},
		{"blocks above 999 cells", lamp, osmcensus.Options{BlockCols: 40, BlockRows: 25}},
		{"negative cell size", lamp, osmcensus.Options{CellSize: -1}},
		{"extent above 999 streets", []osmcensus.Furniture{lamp[0], {Node: 2, Class: "01037", Point: orb.Point{10.5, 47.1}}}, osmcensus.Options{CellSize: 1, BlockCols: 1, BlockRows: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := osmcensus.Census(tt.furn, tt.opt); err == nil {
				t.Errorf("Census(%s) error = nil, want an error", tt.name)
			}
		})
	}
}

// berlinPath is the Berlin extract in the shared data folder (../../../shared/data from this
// package); the test skips without it, and fails under CI=true.
func berlinPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "data", "osm", "berlin-siegessaeule.osm.gz")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real data %s is required under CI=true: %v", p, err)
		}
		t.Skipf("real data %s is not available: %v", p, err)
	}
	return p
}

func TestConvertBerlin(t *testing.T) {
	dir := t.TempDir()
	res, err := osmcensus.Convert(context.Background(), berlinPath(t), dir, osmcensus.Options{})
	if err != nil {
		t.Fatalf("Convert error: %v", err)
	}
	// SOURCES.md §2: 237 furniture nodes, of which 20 crossings and 5 give_way are skipped;
	// every other one carries exactly one mapped tag.
	want := map[string]int{"04003": 117, "01037": 47, "02014": 20, "01013": 10, "04007": 8, "02004": 6, "03001": 2, "02021": 1, "02010": 1}
	if diff := cmp.Diff(want, res.PerClass); diff != "" {
		t.Errorf("PerClass mismatch (-SOURCES.md +got):\n%s", diff)
	}
	if res.Components != 212 {
		t.Errorf("Components = %d, want 212", res.Components)
	}

	b, err := os.ReadFile(filepath.Join(dir, osmcensus.CellsFile))
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			ID         string                `json:"id"`
			Geometry   struct{ Type string } `json:"geometry"`
			Properties map[string]string     `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("cells.geojson: %v", err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != res.Cells {
		t.Errorf("cells.geojson is a %q of %d features, want a FeatureCollection of %d", fc.Type, len(fc.Features), res.Cells)
	}
	for _, f := range fc.Features {
		if f.Geometry.Type != "Polygon" || f.Properties["code"] != f.ID || f.Properties["name"] == "" {
			t.Errorf("cell feature %+v, want a Polygon with code = id and a name", f)
			break
		}
	}

	cf, err := os.Open(filepath.Join(dir, osmcensus.ComponentsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	lines := 0
	ids := map[string]bool{}
	sc := bufio.NewScanner(cf)
	for sc.Scan() {
		lines++
		var f struct {
			Type       string                `json:"type"`
			ID         string                `json:"id"`
			Geometry   struct{ Type string } `json:"geometry"`
			Properties map[string]string     `json:"properties"`
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("components.ndjson line %d: %v", lines, err)
		}
		p := f.Properties
		if f.Type != "Feature" || f.Geometry.Type != "Point" || p["id"] != f.ID || !strings.HasPrefix(f.ID, "990001"+p["class"]) ||
			p["status"] != "intact" || p["source"] != osmcensus.Source || !strings.HasPrefix(p["note"], "osm node ") {
			t.Errorf("components.ndjson line %d = %s, want an intact OSM Point feature of district 990001", lines, sc.Text())
		}
		if _, err := time.Parse(time.DateOnly, p["census_date"]); err != nil {
			t.Errorf("components.ndjson line %d census_date %q: %v", lines, p["census_date"], err)
		}
		if ids[f.ID] {
			t.Errorf("components.ndjson line %d: id %s repeated", lines, f.ID)
		}
		ids[f.ID] = true
	}
	if lines != res.Components {
		t.Errorf("components.ndjson has %d lines, want %d", lines, res.Components)
	}
	attr, err := os.ReadFile(filepath.Join(dir, osmcensus.AttributionFile))
	if err != nil || !strings.Contains(string(attr), "OpenStreetMap contributors") {
		t.Errorf("ATTRIBUTION = %q, %v, want the ODbL notice", attr, err)
	}
}

func TestReadFileUnknownExtension(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := osmcensus.ReadFile(context.Background(), p); err == nil {
		t.Errorf("ReadFile(%s) error = nil, want an unknown-extension error", p)
	}
}
