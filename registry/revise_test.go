package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/planar"

	"citygrid/fixtures"
	"citygrid/registry"
	"citygrid/spatial"
)

// demoEnv is a test env holding a small demo city (渝中区, fixtures) and the city itself.
func demoEnv(t *testing.T) (*testEnv, *fixtures.City) {
	t.Helper()
	city, err := fixtures.Generate(fixtures.Config{Seed: 1, Cells: 400, Components: 6000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := city.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t)
	ctx := context.Background()
	for _, f := range []struct {
		kind registry.Census
		name string
	}{{registry.CensusCells, fixtures.CellsFile}, {registry.CensusUnits, fixtures.UnitsFile}, {registry.CensusRules, fixtures.RulesFile}, {registry.CensusComponents, fixtures.ComponentsFile}} {
		r, err := os.Open(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.svc.Import(ctx, f.kind, r, registry.ImportOptions{Name: f.name, Actor: "census"})
		r.Close()
		if err != nil || len(rep.Problems) > 0 {
			t.Fatalf("import %s: %v, %+v", f.kind, err, rep.Problems)
		}
	}
	return e, city
}

// cellFeature is an NDJSON cell feature.
func cellFeature(code registry.GridCode, name string, mp orb.MultiPolygon) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"Feature","properties":{"code":%q,"name":%q},"geometry":{"type":"MultiPolygon","coordinates":[`, code, name)
	for i, p := range mp {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, r := range p {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for k, pt := range r {
				if k > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "[%v,%v]", pt[0], pt[1])
			}
			b.WriteByte(']')
		}
		b.WriteByte(']')
	}
	b.WriteString("]}}\n")
	return b.String()
}

// split cuts mp along the meridian 30 m west of its east edge into a west and an east part;
// ok is false when a part is not a valid cell (a cut through a concave cell can leave one).
func split(mp orb.MultiPolygon) (west, east orb.MultiPolygon, ok bool) {
	bd := mp.Bound()
	cut := bd.Max[0] - 30/(111320*0.87) // 30 m at 29.5°N
	if cut <= bd.Min[0] {
		return nil, nil, false
	}
	west = clip.MultiPolygon(orb.Bound{Min: bd.Min, Max: orb.Point{cut, bd.Max[1]}}, orb.Clone(mp).(orb.MultiPolygon))
	east = clip.MultiPolygon(orb.Bound{Min: orb.Point{cut, bd.Min[1]}, Max: bd.Max}, orb.Clone(mp).(orb.MultiPolygon))
	for _, part := range []orb.MultiPolygon{west, east} {
		if len(part) != 1 {
			return nil, nil, false
		}
		if _, probs := registry.ValidatePolygonal(part); len(probs) > 0 {
			return nil, nil, false
		}
	}
	return west, east, true
}

func rect(minLon, minLat, maxLon, maxLat float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{minLon, minLat}, {maxLon, minLat}, {maxLon, maxLat}, {minLon, maxLat}, {minLon, minLat}}}}
}

// redraw is a revision of one community of the demo city: every cell that splits cleanly is
// split in a west part (its own code) and an east part 30 m wide (a new code); the
// community's last cell is drawn again under a new code (its code retires); the other cells
// are kept.
type redraw struct {
	area      string
	file      string
	old       []registry.Cell
	recoded   registry.Cell // the cell whose code retires
	recodedTo registry.GridCode
	splits    int
}

func newRedraw(t *testing.T, city *fixtures.City) redraw {
	t.Helper()
	counts := map[string]int{}
	for _, c := range city.Cells {
		if _, _, ok := split(c.Geometry); ok {
			counts[string(c.Code[:12])]++
		}
	}
	var rd redraw
	for _, c := range city.Cells { // the first community with at least 4 cells that split
		if counts[string(c.Code[:12])] >= 4 {
			rd.area = string(c.Code[:12])
			break
		}
	}
	if rd.area == "" {
		t.Fatal("no community of the demo city has 4 cells that split")
	}
	serial := 900
	next := func() registry.GridCode {
		serial++
		return registry.GridCode(fmt.Sprintf("%s%03d", rd.area, serial))
	}
	var b strings.Builder
	for _, c := range city.Cells {
		if string(c.Code[:12]) == rd.area {
			rd.old = append(rd.old, c)
		}
	}
	for i, c := range rd.old {
		west, east, ok := split(c.Geometry)
		switch {
		case i == len(rd.old)-1:
			rd.recoded, rd.recodedTo = c, next()
			b.WriteString(cellFeature(rd.recodedTo, c.Name+"(新)", c.Geometry))
		case ok:
			b.WriteString(cellFeature(c.Code, c.Name, west))
			b.WriteString(cellFeature(next(), c.Name+"东", east))
			rd.splits++
		default:
			b.WriteString(cellFeature(c.Code, c.Name, c.Geometry))
		}
	}
	rd.file = b.String()
	return rd
}

func (e *testEnv) revise(t *testing.T, area, ndjson string) (registry.Report, error) {
	t.Helper()
	return e.svc.Import(context.Background(), registry.CensusCells, strings.NewReader(ndjson),
		registry.ImportOptions{Mode: registry.ModeReplace, Area: area, Format: registry.FormatNDJSON, Actor: "gis-wang"})
}

// TestGridRevisionDemoCity redraws one community of the demo city and revises it: the cells
// are stored, retired and created in one go, every component of the community lies in the new
// cell that contains it, lookups answer the new cells and no retired one, and nothing outside
// the community changes. Without mode replace the same file is refused as overlapping, as it
// was before grid revisions existed.
func TestGridRevisionDemoCity(t *testing.T) {
	e, city := demoEnv(t)
	ctx := context.Background()
	rd := newRedraw(t, city)
	if rd.splits < 3 {
		t.Fatalf("only %d cells split", rd.splits)
	}
	before := map[string]registry.Component{}
	if err := e.store.ForEachComponent(ctx, func(c *registry.Component) error { before[c.ID.String()] = *c; return nil }); err != nil {
		t.Fatal(err)
	}

	rep, err := e.importCells(t, rd.file, registry.ModeStrict)
	if !errors.Is(err, registry.ErrImportRejected) || !slices.ContainsFunc(rep.Problems, func(p registry.Problem) bool { return p.Code == registry.CodeOverlappingCells }) {
		t.Fatalf("the redrawn grid without mode replace = %+v, %v; want refused as overlapping", rep, err)
	}

	rep, err = e.revise(t, rd.area, rd.file)
	if err != nil {
		t.Fatalf("revision: %v (%+v)", err, rep.Problems)
	}
	t.Logf("revision of %s (%d cells, %d split): %+v", rd.area, len(rd.old), rd.splits, rep)
	unchanged := len(rd.old) - 1 - rd.splits
	if !rep.Stored || rep.Created != rd.splits+1 || rep.Updated != rd.splits || rep.Unchanged != unchanged || rep.Retired != 1 || rep.Moved == 0 {
		t.Errorf("report %+v; want %d created, %d updated, %d unchanged, 1 retired, some moved", rep, rd.splits+1, rd.splits, unchanged)
	}

	// Every component sits in the cell that contains its point; those that changed cell are
	// exactly the ones the report counts, with a new version and the history to say so.
	moved := 0
	err = e.store.ForEachComponent(ctx, func(c *registry.Component) error {
		b := before[c.ID.String()]
		if string(b.Cell[:12]) != rd.area {
			if c.Version != b.Version || c.Cell != b.Cell {
				t.Errorf("component %s outside the area changed: cell %s→%s version %d→%d", c.ID, b.Cell, c.Cell, b.Version, c.Version)
			}
			return nil
		}
		at, err := e.idx.CellAt(c.Point)
		if err != nil || at.Code != c.Cell {
			t.Errorf("component %s: stored in %s, CellAt answers %v, %v", c.ID, c.Cell, at, err)
		}
		if c.Cell != b.Cell {
			moved++
			if c.Version != b.Version+1 || c.UpdatedBy != "gis-wang" {
				t.Errorf("moved component %s: version %d (was %d), by %q", c.ID, c.Version, b.Version, c.UpdatedBy)
			}
		} else if c.Version != b.Version {
			t.Errorf("component %s did not move but its version went %d→%d", c.ID, b.Version, c.Version)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if moved != rep.Moved {
		t.Errorf("%d components changed cell, the report says %d", moved, rep.Moved)
	}

	// The retired cell: readable, retired, with its history; lookups on its ground answer the
	// cell that replaced it.
	old, err := e.svc.Cell(ctx, rd.recoded.Code)
	if err != nil || old.Status != registry.CellRetired || old.Retired.IsZero() {
		t.Errorf("retired cell = %+v, %v", old, err)
	}
	inside := planarInterior(t, rd.recoded.Geometry)
	if at, err := e.idx.CellAt(inside); err != nil || at.Code != rd.recodedTo {
		t.Errorf("CellAt(%v) in the retired cell's ground = %v, %v; want %s", inside, at, err, rd.recodedTo)
	}
	hist, err := e.svc.CellHistory(ctx, rd.recoded.Code)
	if err != nil || len(hist) != 2 || hist[1].Op != registry.OpRetire || hist[1].Actor != "gis-wang" {
		t.Errorf("history of the retired cell = %+v, %v; want create, retire by gis-wang", hist, err)
	}
	for _, c := range city.Cells { // no lookup answers a retired cell
		if at, err := e.idx.CellAt(planarInterior(t, c.Geometry)); err == nil && at.Status == registry.CellRetired {
			t.Errorf("CellAt answers the retired cell %s", at.Code)
		}
	}
	// Cells outside the area are untouched.
	for _, c := range city.Cells {
		if string(c.Code[:12]) == rd.area {
			continue
		}
		if got, ok := e.idx.Cell(c.Code); !ok || got.Version != 1 || got.Status != registry.CellActive {
			t.Errorf("cell %s outside the area: %+v, %v", c.Code, got, ok)
			break
		}
	}

	// The same revision again changes nothing.
	rep, err = e.revise(t, rd.area, rd.file)
	if err != nil || rep.Stored || rep.Unchanged != len(rd.old)+rd.splits || rep.Retired != 0 || rep.Moved != 0 {
		t.Errorf("repeated revision = %+v, %v; want everything unchanged", rep, err)
	}
	// A plain import of a retired code is refused; a revision brings it back.
	rep, err = e.importCells(t, cellFeature(rd.recoded.Code, "回来", rect(106.40, 29.40, 106.401, 29.401)), registry.ModeStrict)
	if !errors.Is(err, registry.ErrImportRejected) || len(rep.Problems) != 1 || rep.Problems[0].Code != registry.CodeCellRetired {
		t.Errorf("plain import of a retired code = %+v, %v; want cell_retired", rep, err)
	}
}

// planarInterior is a point well inside mp's first polygon.
func planarInterior(t *testing.T, mp orb.MultiPolygon) orb.Point {
	t.Helper()
	c, _ := planar.CentroidArea(mp[0])
	if !planar.PolygonContains(mp[0], c) {
		b := mp[0].Bound()
		for i := 1; i < 20; i++ {
			for j := 1; j < 20; j++ {
				p := orb.Point{b.Min[0] + (b.Max[0]-b.Min[0])*float64(i)/20, b.Min[1] + (b.Max[1]-b.Min[1])*float64(j)/20}
				if planar.PolygonContains(mp[0], p) {
					return p
				}
			}
		}
		t.Fatalf("no interior point found in %v", mp[0])
	}
	return c
}

func TestGridRevisionRefusals(t *testing.T) {
	e, city := demoEnv(t)
	rd := newRedraw(t, city)
	// Dropping a cell without drawing another over it strands its components.
	lines := strings.SplitAfter(rd.file, "\n")
	withoutRecoded := strings.Join(lines[:len(lines)-2], "")
	for _, tc := range []struct {
		name, area, file, code string
	}{
		{"no area", "", rd.file, registry.CodeInvalidArea},
		{"area of 7 digits", rd.area[:7], rd.file, registry.CodeInvalidArea},
		{"cell outside the area", rd.area[:9] + "999", rd.file, registry.CodeCellOutsideArea},
		{"stranded component", rd.area, withoutRecoded, registry.CodeStrandedComponent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c0, n0 := e.count(t)
			rep, err := e.revise(t, tc.area, tc.file)
			got := registry.ErrorCode(err)
			if !errors.Is(err, registry.ErrImportRejected) {
				if got != tc.code {
					t.Errorf("revision = %v; want %s", err, tc.code)
				}
			} else if !slices.ContainsFunc(rep.Problems, func(p registry.Problem) bool { return p.Code == tc.code }) {
				t.Errorf("problems %+v; want %s", rep.Problems, tc.code)
			}
			if c, n := e.count(t); c != c0 || n != n0 || rep.Stored {
				t.Errorf("a refused revision stored something: %d→%d cells, %d→%d components, %+v", c0, c, n0, n, rep)
			}
			if cell, ok := e.idx.Cell(rd.recoded.Code); !ok || cell.Status != registry.CellActive || cell.Version != 1 {
				t.Errorf("after a refused revision, cell %s = %+v", rd.recoded.Code, cell)
			}
		})
	}
	// Mode replace is for cells and rules, not components.
	_, err := e.svc.Import(context.Background(), registry.CensusComponents, strings.NewReader(""),
		registry.ImportOptions{Mode: registry.ModeReplace, Area: rd.area, Format: registry.FormatCSV})
	if registry.ErrorCode(err) != registry.CodeInvalidMode {
		t.Errorf("components in mode replace: %v; want invalid_mode", err)
	}
}

func TestCellSanityChecks(t *testing.T) {
	e := newTestEnv(t)
	big := cellFeature("500103003001001", "two km", rect(106.50, 29.50, 106.52, 29.52)) // about 4 km²
	rep, err := e.importCells(t, big, registry.ModeStrict)
	if !errors.Is(err, registry.ErrImportRejected) || len(rep.Problems) != 1 || rep.Problems[0].Code != registry.CodeCellTooLarge {
		t.Errorf("a 4 km² cell = %+v, %v; want cell_too_large", rep, err)
	}
	e.svc.MaxCellArea = 5e6
	if rep, err := e.importCells(t, big, registry.ModeStrict); err != nil || rep.Created != 1 {
		t.Errorf("a 4 km² cell under a 5 km² limit = %+v, %v; want created", rep, err)
	}
	rep, err = e.importCells(t, cellFeature("500199003001001", "no such district", rect(106.60, 29.50, 106.601, 29.501)), registry.ModeStrict)
	if !errors.Is(err, registry.ErrImportRejected) || len(rep.Problems) != 1 || rep.Problems[0].Code != registry.CodeUnknownDistrict {
		t.Errorf("district 500199 = %+v, %v; want unknown_district", rep, err)
	}
	f := &registry.Feature{Index: 0, Props: map[string]string{"code": "500199003001002"}, Geometry: rect(106.60, 29.50, 106.601, 29.501)[0]}
	if _, err := e.svc.PutCell(context.Background(), f, 0, "gis-wang"); registry.ErrorCode(err) != registry.CodeUnknownDistrict {
		t.Errorf("PutCell of district 500199: %v; want unknown_district", err)
	}
}

// TestCellOutsideDistrict loads the real DataV boundaries of Chongqing (GCJ-02) and imports
// the demo city's cells (WGS84): a cell of 渝中区 drawn in 渝北区 gets the warning, the others
// do not, and the warning refuses nothing.
func TestCellOutsideDistrict(t *testing.T) {
	f, err := os.Open(sharedStandardsFile(t, "data/boundaries/chongqing_500000_districts_datav.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := spatial.LoadBoundaries(f, spatial.GCJ02)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 38 {
		t.Errorf("%d districts, want 38", b.Len())
	}
	city, err := fixtures.Generate(fixtures.Config{Seed: 1, Cells: 400, Components: 0})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t)
	e.svc.Boundaries = b
	var file strings.Builder
	for _, c := range city.Cells {
		file.WriteString(cellFeature(c.Code, c.Name, c.Geometry))
	}
	// 渝北区 (500112): around its government at 106.631, 29.718 (WGS84).
	stray := registry.GridCode("500103001999001")
	file.WriteString(cellFeature(stray, "跑到渝北的网格", rect(106.631, 29.718, 106.632, 29.719)))
	rep, err := e.importCells(t, file.String(), registry.ModeStrict)
	if err != nil || rep.Created != len(city.Cells)+1 {
		t.Fatalf("import = %+v, %v", rep, err)
	}
	var warned []string
	for _, w := range rep.Warnings {
		if w.Code == registry.CodeCellOutsideDistrict {
			warned = append(warned, w.ID)
		}
	}
	if !slices.Contains(warned, string(stray)) {
		t.Errorf("the cell in 渝北区 got no cell_outside_district warning: %+v", rep.Warnings)
	}
	if len(warned) > len(city.Cells)/20 {
		t.Errorf("%d of %d demo cells are warned as outside 渝中区: %v", len(warned)-1, len(city.Cells), warned[:min(5, len(warned))])
	}
	t.Logf("%d demo cells warned (the demo city's outline only approximates 渝中区)", len(warned)-1)
}

func TestLoadBoundariesRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      "{",
		"no districts":  `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":500000},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`,
		"point feature": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":"500103"},"geometry":{"type":"Point","coordinates":[0,0]}}]}`,
	} {
		if _, err := spatial.LoadBoundaries(strings.NewReader(in), spatial.WGS84); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestFollowGridRevision: a node that follows the change feed applies another node's grid
// revision: the retired cell stops answering, the new one answers, the moved components carry
// their new cell, and the index is as a fresh load would make it.
func TestFollowGridRevision(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a, b := newNode(t, st, nil), newNode(t, st, nil)
	if _, err := a.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells), registry.ImportOptions{Format: registry.FormatNDJSON, Actor: "census"}); err != nil {
		t.Fatal(err)
	}
	csv := csvHeader + ",01037,路灯,intact,,106.5705,29.5505\n"
	if rep, err := a.svc.Import(ctx, registry.CensusComponents, strings.NewReader(csv), registry.ImportOptions{Format: registry.FormatCSV, Actor: "census"}); err != nil || rep.Created != 1 {
		t.Fatalf("components: %+v, %v", rep, err)
	}
	b.followSynced(t, st, nil, 5*time.Millisecond)
	// Cell 001 is drawn again as 003; 002 is kept.
	rev := square("500103003001003", 106.570, 29.550) + "\n" + square("500103003001002", 106.571, 29.550) + "\n"
	rep, err := a.svc.Import(ctx, registry.CensusCells, strings.NewReader(rev), registry.ImportOptions{Mode: registry.ModeReplace,
		Area: "500103003001", Format: registry.FormatNDJSON, Actor: "gis-wang"})
	if err != nil || rep.Retired != 1 || rep.Moved != 1 || rep.Created != 1 || rep.Unchanged != 1 {
		t.Fatalf("revision = %+v, %v", rep, err)
	}
	waitApplied(t, b, lastSeq(t, st), 5*time.Second)
	if at, err := b.idx.CellAt(orb.Point{106.5705, 29.5505}); err != nil || at.Code != "500103003001003" {
		t.Errorf("follower CellAt = %v, %v; want the new cell", at, err)
	}
	if c, ok := b.idx.Cell("500103003001001"); !ok || c.Status != registry.CellRetired {
		t.Errorf("follower's cell 001 = %+v, %v; want retired", c, ok)
	}
	inStep(t, "after a grid revision", b, st)
}

// TestUnchangedCellsReimport: importing cells equal to the stored ones (or PUTting one) writes
// nothing: no version, no history entry, no feed entry; a changed name is one update.
func TestUnchangedCellsReimport(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	seq := lastSeq(t, e.store)
	for _, mode := range []registry.Mode{registry.ModeStrict, registry.ModePartial} {
		rep, err := e.importCells(t, twoCells, mode)
		if err != nil || rep.Unchanged != 2 || rep.Created+rep.Updated != 0 || rep.Stored {
			t.Errorf("%s re-import = %+v, %v; want 2 unchanged, nothing stored", mode, rep, err)
		}
	}
	stored, ok := e.idx.Cell("500103003001001")
	if !ok {
		t.Fatal("cell 500103003001001 is not indexed")
	}
	f := &registry.Feature{Props: map[string]string{"code": "500103003001001", "name": "cell 500103003001001"},
		Geometry: orb.Clone(stored.Geometry)}
	got, err := e.svc.PutCell(ctx, f, 0, "gis-wang")
	if err != nil || got.Version != 1 {
		t.Errorf("PUT of the same cell = version %d, %v; want version 1", got.Version, err)
	}
	if s := lastSeq(t, e.store); s != seq {
		t.Errorf("the change feed moved from %d to %d on unchanged writes", seq, s)
	}
	if h, err := e.svc.CellHistory(ctx, "500103003001001"); err != nil || len(h) != 1 {
		t.Errorf("history after unchanged writes: %d entries, %v; want 1", len(h), err)
	}
	renamed := strings.Replace(twoCells, `"name":"cell 500103003001002"`, `"name":"改名"`, 1)
	rep, err := e.importCells(t, renamed, registry.ModeStrict)
	if err != nil || rep.Updated != 1 || rep.Unchanged != 1 {
		t.Errorf("import with one renamed cell = %+v, %v; want 1 updated, 1 unchanged", rep, err)
	}
	h, err := e.svc.CellHistory(ctx, "500103003001002")
	if err != nil || len(h) != 2 || !slices.Equal(registry.ChangedCellFields(h[1].Before, h[1].After), []string{"name"}) {
		t.Errorf("history of the renamed cell: %+v, %v; want a second entry changing name", h, err)
	}
}

// TestLookupsDuringRevision: lookups go on while a grid revision runs, and a point of the
// revised area always answers a cell (the old one or the new one, never none): the index
// swaps the retired and the new cells in one step.
func TestLookupsDuringRevision(t *testing.T) {
	e, city := demoEnv(t)
	rd := newRedraw(t, city)
	var pts []orb.Point
	for _, c := range rd.old {
		pts = append(pts, planarInterior(t, c.Geometry))
	}
	done := make(chan struct{})
	result := make(chan [2]int)
	go func() {
		misses, n := 0, 0
		for {
			select {
			case <-done:
				result <- [2]int{misses, n}
				return
			default:
			}
			for _, p := range pts {
				n++
				if _, err := e.idx.CellAt(p); err != nil {
					misses++
				}
			}
		}
	}()
	rep, err := e.revise(t, rd.area, rd.file)
	close(done)
	if r := <-result; r[0] != 0 || r[1] == 0 {
		t.Errorf("%d of %d lookups in the revised area found no cell during the revision", r[0], r[1])
	}
	if err != nil || !rep.Stored {
		t.Fatalf("revision = %+v, %v", rep, err)
	}
}
