package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// TestImportProblemNamesBadGeometry: a feature whose geometry is bad is still named by its id
// (components) or code (cells) in every reader, carries its QGIS feature number, and a
// swapped position gets a hint.
func TestImportProblemNamesBadGeometry(t *testing.T) {
	const id = "50010301037000001"
	swapped := `{"type":"Feature","properties":{"id":"` + id + `","class":"01037"},"geometry":{"type":"Point","coordinates":[29.56,106.55]}}`
	for _, tc := range []struct {
		name   string
		kind   registry.Census
		format registry.Format
		doc    string
		wantID string
		index  int
		hint   string
	}{
		{"geojson component", registry.CensusComponents, registry.FormatGeoJSON,
			`{"type":"FeatureCollection","features":[` + okLamp + `,` + swapped + `]}`, id, 1, "swapped"},
		{"ndjson component", registry.CensusComponents, registry.FormatNDJSON, okLamp + "\n" + swapped + "\n", id, 1, "swapped"},
		{"ndjson component, id in ObjID", registry.CensusComponents, registry.FormatNDJSON,
			`{"type":"Feature","properties":{"ObjID":"` + id + `","class":"01037"},"geometry":{"type":"Point","coordinates":[1,2,"x"]}}`, id, 0, ""},
		{"csv component", registry.CensusComponents, registry.FormatCSV,
			csvHeader + id + ",01037,lamp,intact,,29.56,106.55\n", id, 0, "swapped"},
		{"csv component, projected", registry.CensusComponents, registry.FormatCSV,
			csvHeader + ",01037,lamp,intact,,x,1\n" + id + ",01037,lamp,intact,,11861380,3445395\n", id, 1, "Web Mercator"},
		{"csv component, wkt", registry.CensusComponents, registry.FormatCSV,
			"id,class,wkt\n" + id + ",01037,POINT (29.56 106.55)\n", id, 0, "swapped"},
		{"csv component outside the grid, swapped in range", registry.CensusComponents, registry.FormatCSV,
			csvHeader + id + ",01037,lamp,intact,,29.5505,86.5705\n", id, 0, "swapped"},
		{"ndjson cell", registry.CensusCells, registry.FormatNDJSON,
			`{"type":"Feature","properties":{"code":"500103003001009"},"geometry":{"type":"Polygon","coordinates":[[[29.55,106.57],[29.56,106.57],[29.56,106.58],[29.55,106.57]]]}}`,
			"500103003001009", 0, "swapped"},
		{"geojson cell, code as feature id", registry.CensusCells, registry.FormatGeoJSON,
			`{"type":"FeatureCollection","features":[{"type":"Feature","id":"500103003001009","properties":{},"geometry":{"type":"Polygon","coordinates":[[[1,2],[3]]]}}]}`,
			"500103003001009", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if _, err := e.importCells(t, twoCells, registry.ModeStrict); err != nil {
				t.Fatal(err)
			}
			rep, err := e.svc.Import(context.Background(), tc.kind, strings.NewReader(tc.doc),
				registry.ImportOptions{Mode: registry.ModePartial, Format: tc.format, Actor: "t"})
			if err != nil && tc.index == 0 {
				if !strings.Contains(err.Error(), "rejected") {
					t.Fatal(err)
				}
			}
			var p *registry.Problem
			for i := range rep.Problems {
				if rep.Problems[i].Index == tc.index {
					p = &rep.Problems[i]
				}
			}
			if p == nil {
				t.Fatalf("no problem at index %d: %+v", tc.index, rep.Problems)
			}
			if p.ID != tc.wantID {
				t.Errorf("problem %+v: id %q, want %q", *p, p.ID, tc.wantID)
			}
			if p.Feature() != tc.index+1 {
				t.Errorf("feature number %d, want %d", p.Feature(), tc.index+1)
			}
			if tc.hint != "" && !strings.Contains(p.Hint, tc.hint) {
				t.Errorf("problem %+v: hint %q, want it to say %q", *p, p.Hint, tc.hint)
			}
		})
	}
}

// okLamp is a valid street lamp (class 01037) in the first cell of twoCells.
const okLamp = `{"type":"Feature","properties":{"class":"01037"},"geometry":{"type":"Point","coordinates":[106.5705,29.5505]}}`

// lastSeq is the store's change-feed position.
func (e *testEnv) lastSeq(t *testing.T) uint64 {
	t.Helper()
	seq, err := e.store.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func (e *testEnv) importDoc(t *testing.T, k registry.Census, doc string, opt registry.ImportOptions) (registry.Report, error) {
	t.Helper()
	if opt.Actor == "" {
		opt.Actor = "surveyor-1"
	}
	return e.svc.Import(context.Background(), k, strings.NewReader(doc), opt)
}

const lamps = csvHeader +
	"50010301037000001,01037,lamp 1,intact,lamps,106.5705,29.5505\n" +
	"50010301037000002,01037,lamp 2,intact,lamps,106.5706,29.5506\n" +
	",01037,lamp 3,intact,lamps,106.5715,29.5505\n"

// TestImportDryRun: a dry run of every kind reports what a real run would (counts and
// problems), with DryRun set, and stores nothing: no record, no feed entry.
func TestImportDryRun(t *testing.T) {
	units := `{"units":[{"id":"yz","name":"渝中区数字化城市管理中心","type":"district_centre","districts":["500103"]},{"id":"lamps","name":"路灯管理所","type":"public_service_unit","parent":"yz"}]}`
	rules := `{"rules":[{"id":"r1","order":1,"class":"01","area":"500103003","unit":"lamps"}]}`
	changed := strings.Replace(lamps, "lamp 2", "lamp two", 1)
	for _, tc := range []struct {
		name    string
		kind    registry.Census
		before  []string // documents imported first: cells, units, rules, components
		doc     string
		format  registry.Format
		mode    registry.Mode
		want    [4]int // created, updated, unchanged, rejected
		wantErr error
	}{
		{"cells into an empty store", registry.CensusCells, nil, twoCells, registry.FormatNDJSON, "", [4]int{2, 0, 0, 0}, nil},
		{"cells again", registry.CensusCells, []string{twoCells}, twoCells, registry.FormatNDJSON, "", [4]int{0, 0, 2, 0}, nil}, // equal cells: unchanged
		{"units", registry.CensusUnits, []string{twoCells}, units, "", "", [4]int{2, 0, 0, 0}, nil},
		{"rules", registry.CensusRules, []string{twoCells, units}, rules, "", "", [4]int{1, 0, 0, 0}, nil},
		{"components", registry.CensusComponents, []string{twoCells}, lamps, registry.FormatCSV, "", [4]int{3, 0, 0, 0}, nil},
		{"components again, one changed", registry.CensusComponents, []string{twoCells, lamps}, changed, registry.FormatCSV, "", [4]int{1, 1, 1, 0}, nil},
		{"components, strict with a bad one", registry.CensusComponents, []string{twoCells}, lamps + ",01037,bad,intact,,200,29\n", registry.FormatCSV, "", [4]int{0, 0, 0, 1}, registry.ErrImportRejected},
		{"components, partial with a bad one", registry.CensusComponents, []string{twoCells}, lamps + ",01037,bad,intact,,200,29\n", registry.FormatCSV, registry.ModePartial, [4]int{3, 0, 0, 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			for _, doc := range tc.before {
				k, f := registry.CensusCells, registry.FormatNDJSON
				switch doc {
				case units:
					k, f = registry.CensusUnits, ""
				case lamps:
					k, f = registry.CensusComponents, registry.FormatCSV
				}
				if _, err := e.importDoc(t, k, doc, registry.ImportOptions{Format: f}); err != nil {
					t.Fatalf("importing %s first: %v", k, err)
				}
			}
			seq := e.lastSeq(t)
			cells, comps := e.count(t)
			opt := registry.ImportOptions{Format: tc.format, Mode: tc.mode}
			opt.DryRun = true
			dry, err := e.importDoc(t, tc.kind, tc.doc, opt)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("dry run: %v, want %v", err, tc.wantErr)
			}
			got := [4]int{dry.Created, dry.Updated, dry.Unchanged, dry.Rejected}
			if got != tc.want {
				t.Errorf("dry run counts (created, updated, unchanged, rejected) = %v, want %v", got, tc.want)
			}
			if tc.wantErr == nil && !dry.DryRun || dry.Stored {
				t.Errorf("dry run report: DryRun %v, Stored %v; want true, false", dry.DryRun, dry.Stored)
			}
			if s := e.lastSeq(t); s != seq {
				t.Errorf("the feed moved from %d to %d in a dry run", seq, s)
			}
			if c, p := e.count(t); c != cells || p != comps {
				t.Errorf("after the dry run the store holds %d cells, %d components; want %d, %d", c, p, cells, comps)
			}
			if tc.kind == registry.CensusRules && len(e.idx.Rules()) != 0 {
				t.Errorf("a dry run of rules set %d rules", len(e.idx.Rules()))
			}
			// The real run counts the same.
			opt.DryRun = false
			real, err := e.importDoc(t, tc.kind, tc.doc, opt)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("real run: %v, want %v", err, tc.wantErr)
			}
			if got := [4]int{real.Created, real.Updated, real.Unchanged, real.Rejected}; got != tc.want || real.DryRun {
				t.Errorf("real run counts = %v (dry run %v), want %v", got, real.DryRun, tc.want)
			}
			if len(real.Problems) != len(dry.Problems) {
				t.Errorf("real run has %d problems, the dry run %d", len(real.Problems), len(dry.Problems))
			}
		})
	}
}

// TestImportUnchangedComponents: importing the same components again changes nothing: no
// version, no history entry, no feed entry; the report counts them unchanged.
func TestImportUnchangedComponents(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	// With ids, so that the second import names the same records; dates, legacy fields too.
	doc := "id,class,name,status,maintainer,census_date,lon,lat\n" +
		"50010301037000001,01037,lamp 1,intact,lamps,2025-03-01,106.5705,29.5505\n" +
		"5001030101000004,0101,cover 4,damaged,,20250302,106.5706,29.5506\n"
	first, err := e.importDoc(t, registry.CensusComponents, doc, registry.ImportOptions{Format: registry.FormatCSV})
	if err != nil || first.Created != 2 {
		t.Fatalf("first import = %+v, %v", first, err)
	}
	id, _ := registry.ParseComponentCode("50010301037000001")
	before, err := e.svc.Component(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	seq := e.lastSeq(t)
	again, err := e.importDoc(t, registry.CensusComponents, doc, registry.ImportOptions{Format: registry.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	if again.Unchanged != 2 || again.Created != 0 || again.Updated != 0 || again.Stored {
		t.Errorf("re-import = created %d, updated %d, unchanged %d; want 0, 0, 2", again.Created, again.Updated, again.Unchanged)
	}
	if s := e.lastSeq(t); s != seq {
		t.Errorf("the feed moved from %d to %d on an unchanged re-import", seq, s)
	}
	after, err := e.svc.Component(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || !after.Updated.Equal(before.Updated) {
		t.Errorf("unchanged component went from version %d (%v) to %d (%v)", before.Version, before.Updated, after.Version, after.Updated)
	}
	if h, err := e.svc.History(ctx, id); err != nil || len(h) != 1 {
		t.Errorf("history = %d entries, %v; want 1", len(h), err)
	}
	// One field changed: that one is updated, the other stays.
	third, err := e.importDoc(t, registry.CensusComponents, strings.Replace(doc, "lamp 1", "lamp one", 1), registry.ImportOptions{Format: registry.FormatCSV})
	if err != nil || third.Updated != 1 || third.Unchanged != 1 {
		t.Fatalf("import with one change = %+v, %v; want 1 updated, 1 unchanged", third, err)
	}
	if s := e.lastSeq(t); s != seq+1 {
		t.Errorf("feed after one change = %d, want %d", s, seq+1)
	}
}

func TestSameStoredComponent(t *testing.T) {
	id, _ := registry.ParseComponentCode("50010301001000004")
	legacy, _ := registry.ParseComponentCode("5001030101000004")
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }
	stored := registry.Component{Key: 7, ID: id, LegacyID: legacy, Class: "01001", LegacyClass: "0101", Name: "井盖",
		Point: orb.Point{106.5, 29.5}, Status: registry.StatusIntact, Cell: "500103003001001", CensusDate: day(1),
		Version: 3, Updated: day(9), UpdatedBy: "a"}
	for _, tc := range []struct {
		name string
		edit func(c *registry.Component)
		same bool
	}{
		{"as decoded, without store fields", func(c *registry.Component) { c.Key, c.Version, c.Updated, c.UpdatedBy = 0, 0, time.Time{}, "" }, true},
		{"without its legacy identifiers", func(c *registry.Component) { c.LegacyID, c.LegacyClass = registry.ComponentCode{}, "" }, true},
		{"named by its legacy id only", func(c *registry.Component) { c.ID = registry.ComponentCode{} }, true},
		{"date in another zone, same instant", func(c *registry.Component) { c.CensusDate = day(1).In(time.FixedZone("CST", 8*3600)) }, true},
		{"another name", func(c *registry.Component) { c.Name = "雨水井盖" }, false},
		{"moved", func(c *registry.Component) { c.Point[0] += 1e-7 }, false},
		{"another status", func(c *registry.Component) { c.Status = registry.StatusDamaged }, false},
		{"change date set", func(c *registry.Component) { c.ChangeDate = day(2) }, false},
		{"maintainer cleared", func(c *registry.Component) { c.Maintainer = "x" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := stored
			tc.edit(&c)
			if got := registry.SameStoredComponent(&stored, &c); got != tc.same {
				t.Errorf("SameStoredComponent = %v, want %v", got, tc.same)
			}
		})
	}
}

// TestImportEmptyCensus: a census without features is empty_census in every kind and format,
// and stores nothing.
func TestImportEmptyCensus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   registry.Census
		format registry.Format
		doc    string
	}{
		{"geojson cells", registry.CensusCells, registry.FormatGeoJSON, `{"type":"FeatureCollection","features":[]}`},
		{"ndjson cells", registry.CensusCells, registry.FormatNDJSON, "\n\n"},
		{"csv cells", registry.CensusCells, registry.FormatCSV, "code,wkt\n"},
		{"geojson components", registry.CensusComponents, registry.FormatGeoJSON, `{"type":"FeatureCollection","features":[]}`},
		{"ndjson components", registry.CensusComponents, registry.FormatNDJSON, ""},
		{"csv components", registry.CensusComponents, registry.FormatCSV, csvHeader},
		{"units", registry.CensusUnits, "", `{"units":[]}`},
		{"rules", registry.CensusRules, "", `{"rules":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			rep, err := e.importDoc(t, tc.kind, tc.doc, registry.ImportOptions{Format: tc.format})
			if !errors.Is(err, registry.ErrEmptyCensus) || registry.ErrorCode(err) != "empty_census" {
				t.Fatalf("Import(empty %s) = %+v, %v; want empty_census", tc.kind, rep, err)
			}
			if rep.Stored || rep.Total != 0 {
				t.Errorf("report %+v: want nothing stored, total 0", rep)
			}
		})
	}
}

// TestImportRejectedFeatures: ImportOptions.Rejected gets every refused feature once, with
// all its problems: as read for a problem found while reading, rebuilt from the decoded cell
// for one found after (an overlap), and beyond the report's cap.
func TestImportRejectedFeatures(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	e.svc.MaxProblems = 1
	doc := square("500103003001009", 106.5705, 29.5505) + "\n" + // overlaps both cells
		`{"type":"Feature","properties":{"code":"500103003001010","material":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}` + "\n" +
		square("500103003001011", 106.580, 29.550) + "\n"
	type got struct {
		index int
		code  string
		geom  bool
		probs []string
	}
	var rejected []got
	opt := registry.ImportOptions{Format: registry.FormatNDJSON, Mode: registry.ModePartial, Actor: "t",
		Rejected: func(f *registry.Feature, probs []registry.Problem) error {
			g := got{index: f.Index, code: f.Props["code"], geom: f.Geometry != nil}
			for _, p := range probs {
				g.probs = append(g.probs, p.Code)
			}
			rejected = append(rejected, g)
			return nil
		}}
	rep, err := e.svc.Import(context.Background(), registry.CensusCells, strings.NewReader(doc), opt)
	if err != nil || rep.Created != 1 || rep.Rejected != 2 || len(rep.Problems) != 1 {
		t.Fatalf("import = %+v, %v; want 1 created, 2 rejected, 1 problem in the capped report", rep, err)
	}
	want := []got{
		{1, "500103003001010", true, []string{"invalid_geometry_type"}},
		{0, "500103003001009", true, []string{"overlapping_cells", "overlapping_cells"}}, // it overlaps both cells
	}
	if fmt.Sprint(rejected) != fmt.Sprint(want) {
		t.Errorf("rejected features = %v, want %v", rejected, want)
	}
}

// TestImportDoesNotRestore: a census that names a retired component with another status does
// not bring it back (only a restore does): strict mode refuses the whole file with
// component_retired, partial mode stores the others and leaves the retired one as it is.
func TestImportDoesNotRestore(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	doc := "id,class,name,status,lon,lat\n" +
		"50010301037000001,01037,lamp 1,intact,106.5705,29.5505\n" +
		"50010301037000002,01037,lamp 2,intact,106.5706,29.5506\n"
	if rep, err := e.importDoc(t, registry.CensusComponents, doc, registry.ImportOptions{Format: registry.FormatCSV}); err != nil || rep.Created != 2 {
		t.Fatalf("first import = %+v, %v", rep, err)
	}
	id := registry.MustParseComponentCode("50010301037000001")
	if _, err := e.svc.RetireComponent(ctx, id, 0, "surveyor-1", "demolished"); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(doc, "lamp 2,", "lamp 2 (renamed),", 1)
	for _, mode := range []registry.Mode{registry.ModeStrict, registry.ModePartial} {
		var rejected []string // the features handed to Rejected: index, id, codes
		reject := func(f *registry.Feature, probs []registry.Problem) error {
			for _, p := range probs {
				rejected = append(rejected, fmt.Sprintf("%d:%s:%s", f.Index, f.Props["id"], p.Code))
			}
			return nil
		}
		rep, err := e.importDoc(t, registry.CensusComponents, changed, registry.ImportOptions{Format: registry.FormatCSV, Mode: mode, Rejected: reject})
		if got := strings.Join(rejected, ","); got != "0:50010301037000001:component_retired" {
			t.Errorf("%s: rejected features %s, want the retired one with component_retired", mode, got)
		}
		var codes []string
		for _, p := range rep.Problems {
			codes = append(codes, fmt.Sprintf("%d:%s", p.Index, p.Code))
		}
		if got := strings.Join(codes, ","); got != "0:component_retired" {
			t.Errorf("%s: problems %s, want 0:component_retired", mode, got)
		}
		wantStored := mode == registry.ModePartial
		if rep.Stored != wantStored || (mode == registry.ModeStrict) != errors.Is(err, registry.ErrImportRejected) {
			t.Errorf("%s: stored %v, err %v; want stored %v", mode, rep.Stored, err, wantStored)
		}
		c, err := e.svc.Component(ctx, id)
		if err != nil || c.Status != registry.StatusRemoved {
			t.Errorf("%s: the retired component after the import = %v, %v; want it still removed", mode, c.Status, err)
		}
	}
	c2, _ := e.svc.Component(ctx, registry.MustParseComponentCode("50010301037000002"))
	if c2.Name != "lamp 2 (renamed)" {
		t.Errorf("lamp 2 = %q after the partial import, want it renamed", c2.Name)
	}
}

// TestImportCellPropertiesIgnored: a property no cell keeps (a QGIS fid, a perimeter) is a
// cell_property_ignored warning, one per name with its count; the computed properties an
// export writes are set aside without one; the cells are stored all the same.
func TestImportCellPropertiesIgnored(t *testing.T) {
	e := newTestEnv(t)
	doc := strings.ReplaceAll(twoCells, `"properties":{`, `"properties":{"fid":1,"Perimeter":"400","area":"1","district":"500103",`)
	doc = strings.Replace(doc, `"fid":1`, `"fid":2,"材质":"x"`, 1)
	rep, err := e.importCells(t, doc, "")
	if err != nil || rep.Created != 2 {
		t.Fatalf("import = %+v, %v; want 2 created", rep, err)
	}
	var got []string
	for _, w := range rep.Warnings {
		if w.Code != "cell_property_ignored" {
			t.Errorf("unexpected warning %+v", w)
			continue
		}
		got = append(got, fmt.Sprintf("%d:%s:%s", w.Index, w.Field, w.Message))
	}
	want := []string{
		`0:Perimeter:property "Perimeter" (in 2 feature(s)) is not kept: a cell keeps its code, name and geometry only`,
		`0:fid:property "fid" (in 2 feature(s)) is not kept: a cell keeps its code, name and geometry only`,
		`0:材质:property "材质" (in 1 feature(s)) is not kept: a cell keeps its code, name and geometry only`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRevisionWarnsEmptiedRuleAreas: a grid revision that leaves a rule's area without an
// active cell warns rule_area_empty (in a dry run too); rules whose area keeps cells do not.
func TestRevisionWarnsEmptiedRuleAreas(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	units := `{"units":[{"id":"yz","name":"渝中区数字化城市管理中心","type":"district_centre","districts":["500103"]}]}`
	rules := `{"rules":[{"id":"gone","order":1,"class":"01","area":"500103003001002","unit":"yz"},` +
		`{"id":"kept","order":2,"class":"01","area":"500103003001001","unit":"yz"},` +
		`{"id":"district","order":3,"class":"01","area":"500103","unit":"yz"}]}`
	for _, d := range []struct {
		k   registry.Census
		doc string
	}{{registry.CensusUnits, units}, {registry.CensusRules, rules}} {
		if _, err := e.importDoc(t, d.k, d.doc, registry.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	oneCell := square("500103003001001", 106.570, 29.550) + "\n"
	for _, dry := range []bool{true, false} {
		rep, err := e.importDoc(t, registry.CensusCells, oneCell, registry.ImportOptions{Format: registry.FormatNDJSON,
			Mode: registry.ModeReplace, Area: "500103003001", DryRun: dry})
		if err != nil || rep.Retired != 1 {
			t.Fatalf("revision (dry run %v) = %+v, %v; want 1 retired", dry, rep, err)
		}
		var got []string
		for _, w := range rep.Warnings {
			got = append(got, w.Code+":"+w.ID)
		}
		if strings.Join(got, ",") != "rule_area_empty:gone" {
			t.Errorf("dry run %v: warnings %v, want rule_area_empty:gone only", dry, got)
		}
	}
}
