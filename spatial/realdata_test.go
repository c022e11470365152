package spatial_test

// The real-data proof: OpenStreetMap street furniture (../../shared/data/osm, ODbL:
// © OpenStreetMap contributors) is converted to census files by internal/osmcensus, imported
// through registry.Service into a bolt store, and every answer of the index is checked
// against a brute force written here: an exact point-in-polygon scan over all cells for
// CellAt, and a haversine sort over all components of the class for Nearest.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/geojson"

	"citygrid/internal/osmcensus"
	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
)

// raceEnabled reports whether the test binary was built with -race, which makes the
// brute-force Nearest checks several times slower: they then run on a smaller sample.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// realDataPath returns the path of a file in the shared data folder, a sibling of the module
// root (from this package directory: ../../shared/data). When it is absent the test is
// skipped, except under CI=true, where missing data is a failure.
func realDataPath(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "shared", "data"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real data %s is required under CI=true: %v", p, err)
		}
		t.Skipf("real data %s is not available (it lives in the shared/ folder beside the module root): %v", p, err)
	}
	return p
}

// refCell is a cell as written in cells.geojson, for the brute force.
type refCell struct {
	code  registry.GridCode
	poly  orb.MultiPolygon
	bound orb.Bound
}

// refComp is a component as written in components.ndjson, with what the store made of it.
type refComp struct {
	id    registry.ComponentCode
	class string
	point orb.Point
	key   registry.Key      // assigned by the store
	cell  registry.GridCode // as stored by the import (computed by the index at import time)
}

// realCensus is an OSM extract converted, imported and indexed.
type realCensus struct {
	dbPath   string
	conv     osmcensus.Result
	cells    []refCell
	byWest   []int   // indexes into cells by west edge (bound.Min[0])
	maxWidth float64 // of the widest cell's bound, degrees
	comps    []refComp
	byClass  map[string][]int // indexes into comps
	classes  []string         // sorted
	st       *bolt.Store
	idx      *spatial.Index
}

// importRealData converts the extract src into t.TempDir(), imports it in strict mode into
// a fresh bolt store through registry.Service and checks the import reports.
func importRealData(t testing.TB, src string) *realCensus {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	start := time.Now()
	// citygrid refuses a district that is not in the 2023 administrative code table
	// (unknown_district), so the extract borrows 渝中区's code instead of the fictitious 990001.
	conv, err := osmcensus.Convert(ctx, src, dir, osmcensus.Options{District: "500103"})
	if err != nil {
		t.Fatalf("osmcensus.Convert(%s) error: %v", src, err)
	}
	rc := &realCensus{dbPath: filepath.Join(dir, "citygrid.db"), conv: conv, byClass: map[string][]int{}}
	rc.cells = readRefCells(t, filepath.Join(dir, osmcensus.CellsFile))
	rc.comps = readRefComps(t, filepath.Join(dir, osmcensus.ComponentsFile))
	for i, c := range rc.cells {
		rc.byWest = append(rc.byWest, i)
		rc.maxWidth = max(rc.maxWidth, c.bound.Max[0]-c.bound.Min[0])
	}
	slices.SortFunc(rc.byWest, func(a, b int) int { return cmp.Compare(rc.cells[a].bound.Min[0], rc.cells[b].bound.Min[0]) })
	if len(rc.cells) != conv.Cells || len(rc.comps) != conv.Components {
		t.Fatalf("files hold %d cells, %d components; Convert reported %d, %d", len(rc.cells), len(rc.comps), conv.Cells, conv.Components)
	}
	for i, c := range rc.comps {
		rc.byClass[c.class] = append(rc.byClass[c.class], i)
	}
	for cl, ix := range rc.byClass {
		rc.classes = append(rc.classes, cl)
		if len(ix) != conv.PerClass[cl] {
			t.Errorf("components.ndjson has %d of class %s, Convert reported %d", len(ix), cl, conv.PerClass[cl])
		}
	}
	slices.Sort(rc.classes)
	t.Logf("converted %s: %d cells, %d components in %v", filepath.Base(src), len(rc.cells), len(rc.comps), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	st, err := bolt.Open(rc.dbPath, bolt.Options{})
	if err != nil {
		t.Fatalf("bolt.Open(%s) error: %v", rc.dbPath, err)
	}
	rc.st = st
	t.Cleanup(func() { rc.st.Close() })
	rc.idx = spatial.New(spatial.Options{})
	svc := registry.NewService(st, rc.idx, registry.DefaultCatalog(), nil)

	rep := importFile(t, func(f *os.File) (registry.Report, error) {
		return svc.Import(ctx, registry.CensusCells, f, registry.ImportOptions{Mode: registry.ModeStrict, Actor: "realdata-test", Format: registry.FormatGeoJSON})
	}, filepath.Join(dir, osmcensus.CellsFile))
	if rep.Created != len(rc.cells) || rep.Updated != 0 || rep.Total != len(rc.cells) {
		t.Fatalf("ImportCells report: total %d created %d updated %d, want %d, %d, 0", rep.Total, rep.Created, rep.Updated, len(rc.cells), len(rc.cells))
	}
	rep = importFile(t, func(f *os.File) (registry.Report, error) {
		return svc.Import(ctx, registry.CensusComponents, f, registry.ImportOptions{Mode: registry.ModeStrict, Actor: "realdata-test", Format: registry.FormatNDJSON})
	}, filepath.Join(dir, osmcensus.ComponentsFile))
	if rep.Created != len(rc.comps) || rep.Updated != 0 || rep.Total != len(rc.comps) {
		t.Fatalf("ImportComponents report: total %d created %d updated %d, want %d, %d, 0", rep.Total, rep.Created, rep.Updated, len(rc.comps), len(rc.comps))
	}
	t.Logf("imported into bolt and indexed in %v", time.Since(start).Round(time.Millisecond))

	// The store's view of every component: the keys the index answers with, and the cell the
	// import computed, which must match the brute force as much as CellAt does.
	pos := make(map[registry.ComponentCode]int, len(rc.comps))
	for i, c := range rc.comps {
		pos[c.id] = i
	}
	n := 0
	err = st.ForEachComponent(ctx, func(c *registry.Component) error {
		i, ok := pos[c.ID]
		if !ok {
			return fmt.Errorf("stored component %s is not in components.ndjson", c.ID)
		}
		ref := &rc.comps[i]
		if c.Point != ref.point || c.Class != ref.class || c.Status != registry.StatusIntact || c.Source != osmcensus.Source || c.Key == 0 {
			return fmt.Errorf("stored component %s = point %v class %s status %v source %q key %d, want point %v class %s intact, source %q, a key",
				c.ID, c.Point, c.Class, c.Status, c.Source, c.Key, ref.point, ref.class, osmcensus.Source)
		}
		ref.key, ref.cell = c.Key, c.Cell
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("ForEachComponent: %v", err)
	}
	if n != len(rc.comps) {
		t.Fatalf("store holds %d components, want %d", n, len(rc.comps))
	}
	return rc
}

// importFile runs one strict import of path and requires it to succeed without problems.
func importFile(t testing.TB, run func(*os.File) (registry.Report, error), path string) registry.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := run(f)
	if err != nil || len(rep.Problems) > 0 || rep.Rejected > 0 || !rep.Stored {
		var sb strings.Builder
		for i, p := range rep.Problems {
			if i == 10 {
				fmt.Fprintf(&sb, "\n  … %d more", len(rep.Problems)-i)
				break
			}
			fmt.Fprintf(&sb, "\n  #%d %s %s %s: %s", p.Index, p.ID, p.Field, p.Code, p.Message)
		}
		t.Fatalf("import %s: error %v, stored %v, rejected %d, problems:%s", filepath.Base(path), err, rep.Stored, rep.Rejected, sb.String())
	}
	return rep
}

func readRefCells(t testing.TB, path string) []refCell {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	cells := make([]refCell, 0, len(fc.Features))
	for i, f := range fc.Features {
		code, _ := f.Properties["code"].(string)
		var mp orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			mp = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			mp = g
		default:
			t.Fatalf("%s feature %d: geometry %T, want a polygon", path, i, f.Geometry)
		}
		cells = append(cells, refCell{code: registry.GridCode(code), poly: mp, bound: mp.Bound()})
	}
	return cells
}

func readRefComps(t testing.TB, path string) []refComp {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var comps []refComp
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		feat, err := geojson.UnmarshalFeature(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		p, ok := feat.Geometry.(orb.Point)
		if !ok {
			t.Fatalf("%s:%d: geometry %T, want a point", path, line, feat.Geometry)
		}
		idText, _ := feat.Properties["id"].(string)
		id, err := registry.ParseComponentCode(idText)
		if err != nil {
			t.Fatalf("%s:%d: id %q: %v", path, line, idText, err)
		}
		class, _ := feat.Properties["class"].(string)
		comps = append(comps, refComp{id: id, class: class, point: p})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return comps
}

// --- brute force -------------------------------------------------------------------------

// orient is the sign of (b−a)×(p−a): +1 when p is left of a→b, −1 right, 0 on the line. It
// is exact: a float evaluation decides when it is clearly away from zero (the bound is ~30
// times Shewchuk's for this expression), otherwise rational arithmetic on the exact float
// values does.
func orient(a, b, p orb.Point) int {
	l := (b[0] - a[0]) * (p[1] - a[1])
	r := (b[1] - a[1]) * (p[0] - a[0])
	det, bound := l-r, 1e-14*(math.Abs(l)+math.Abs(r))
	switch {
	case det > bound:
		return 1
	case det < -bound:
		return -1
	}
	rat := func(x float64) *big.Rat { return new(big.Rat).SetFloat64(x) }
	sub := func(x, y float64) *big.Rat { return new(big.Rat).Sub(rat(x), rat(y)) }
	el := new(big.Rat).Mul(sub(b[0], a[0]), sub(p[1], a[1]))
	er := new(big.Rat).Mul(sub(b[1], a[1]), sub(p[0], a[0]))
	return el.Cmp(er)
}

// ringLocate is an exact crossing-number test: on reports p on the ring (edges closed),
// otherwise in reports p strictly inside.
func ringLocate(r orb.Ring, p orb.Point) (in, on bool) {
	n := len(r)
	for i := 0; i < n; i++ {
		a, b := r[i], r[(i+1)%n]
		if min(a[0], b[0]) <= p[0] && p[0] <= max(a[0], b[0]) && min(a[1], b[1]) <= p[1] && p[1] <= max(a[1], b[1]) && orient(a, b, p) == 0 {
			return false, true
		}
		if (a[1] > p[1]) != (b[1] > p[1]) {
			lo, hi := a, b
			if a[1] > b[1] {
				lo, hi = b, a
			}
			if orient(lo, hi, p) > 0 { // p left of the upward edge: the edge crosses p's eastward ray
				in = !in
			}
		}
	}
	return in, false
}

// closedContains reports whether p is in the closure of mp (interior or boundary, holes'
// boundaries included).
func closedContains(mp orb.MultiPolygon, p orb.Point) bool {
	for _, poly := range mp {
		in, on := ringLocate(poly[0], p)
		if on {
			return true
		}
		if !in {
			continue
		}
		inside := true
		for _, h := range poly[1:] {
			hin, hon := ringLocate(h, p)
			if hon {
				return true
			}
			if hin {
				inside = false
				break
			}
		}
		if inside {
			return true
		}
	}
	return false
}

// bruteCellAt finds every cell whose closed polygon contains p: the answer is the smallest
// code among them, "" when there is none; all lists them, for messages. Cells are scanned in
// order of their west edge, and only those whose west edge lies between p's longitude minus
// the widest cell and p's longitude can reach p: the others are skipped without a test.
func (rc *realCensus) bruteCellAt(p orb.Point) (best registry.GridCode, all []registry.GridCode) {
	lo, _ := slices.BinarySearchFunc(rc.byWest, p[0]-rc.maxWidth, func(i int, x float64) int { return cmp.Compare(rc.cells[i].bound.Min[0], x) })
	for _, i := range rc.byWest[lo:] {
		c := &rc.cells[i]
		if c.bound.Min[0] > p[0] {
			break
		}
		if p[0] > c.bound.Max[0] || p[1] < c.bound.Min[1] || p[1] > c.bound.Max[1] {
			continue
		}
		if closedContains(c.poly, p) {
			all = append(all, c.code)
			if best == "" || c.code < best {
				best = c.code
			}
		}
	}
	return best, all
}

// refHit is one brute-force nearest result.
type refHit struct {
	comp int // index into rc.comps
	dist float64
}

// bruteNearest sorts every component of class by haversine distance from p (ties by key)
// and keeps the first k. Since the great-circle distance is at least R·|Δlat|, a component
// whose latitude alone puts it beyond the current k-th distance cannot enter the list and
// its haversine is skipped; the margin covers rounding, so the result is the full sort's.
func (rc *realCensus) bruteNearest(p orb.Point, class string, k int) []refHit {
	less := func(a, b refHit) bool {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(rc.comps[a.comp].key, rc.comps[b.comp].key)) < 0
	}
	const radPerDeg = math.Pi / 180
	// hits stays sorted and at most k long: an insertion sort of every candidate.
	hits := make([]refHit, 0, k)
	for _, i := range rc.byClass[class] {
		q := rc.comps[i].point
		if len(hits) == k && orb.EarthRadius*math.Abs(p[1]-q[1])*radPerDeg > hits[k-1].dist*(1+1e-9) {
			continue
		}
		h := refHit{i, geo.DistanceHaversine(p, q)}
		if len(hits) == k && !less(h, hits[k-1]) {
			continue
		}
		j := len(hits)
		if j < k {
			hits = append(hits, h)
		}
		for ; j > 0 && less(h, hits[j-1]); j-- {
			if j < k {
				hits[j] = hits[j-1]
			}
		}
		hits[j] = h
	}
	return hits
}

// --- checks ------------------------------------------------------------------------------

// mismatches collects disagreements and reports the first few in full.
type mismatches struct {
	t     testing.TB
	label string
	n     int
}

func (m *mismatches) add(format string, args ...any) {
	m.t.Helper()
	m.n++
	if m.n <= 10 {
		m.t.Errorf("%s: "+format, append([]any{m.label}, args...)...)
	}
}

func (m *mismatches) done(checked int) {
	m.t.Helper()
	if m.n > 0 {
		m.t.Errorf("%s: %d of %d checks disagree with the brute force", m.label, m.n, checked)
	}
}

// checkCellAt compares idx.CellAt with the brute force at every point; wantInside says the
// points must all lie in some cell (component points do: osmcensus covers them).
func checkCellAt(t testing.TB, rc *realCensus, idx *spatial.Index, label string, pts []orb.Point, wantInside bool) (inside int) {
	t.Helper()
	m := &mismatches{t: t, label: label}
	for _, p := range pts {
		want, all := rc.bruteCellAt(p)
		if want == "" && wantInside {
			m.add("point %v lies in no cell of cells.geojson (osmcensus left it uncovered)", p)
			continue
		}
		got, err := idx.CellAt(p)
		switch {
		case want == "":
			if !errors.Is(err, registry.ErrOutsideGrid) {
				m.add("CellAt(%v) = %v, %v, want ErrOutsideGrid (no cell contains it)", p, cellCode(got), err)
			}
		case err != nil:
			m.add("CellAt(%v) error %v, want %s (containing cells %v)", p, err, want, all)
		case got.Code != want:
			m.add("CellAt(%v) = %s, want %s (containing cells %v)", p, got.Code, want, all)
		default:
			inside++
		}
	}
	m.done(len(pts))
	return inside
}

func cellCode(c *registry.Cell) registry.GridCode {
	if c == nil {
		return ""
	}
	return c.Code
}

// nearestQuery is one Nearest call to check.
type nearestQuery struct {
	p     orb.Point
	class string
}

// checkNearest compares idx.Nearest(p, class, k, radius) with the brute force for each
// radius (0: unlimited). It returns the hits per radius.
func checkNearest(t testing.TB, rc *realCensus, idx *spatial.Index, label string, qs []nearestQuery, k int, radii ...float64) (hits []int) {
	t.Helper()
	hits = make([]int, len(radii))
	ms := make([]*mismatches, len(radii))
	for r, radius := range radii {
		ms[r] = &mismatches{t: t, label: fmt.Sprintf("%s k=%d radius=%gm", label, k, radius)}
	}
	for _, q := range qs {
		all := rc.bruteNearest(q.p, q.class, k)
		for r, radius := range radii {
			hits[r] += compareNearest(ms[r], rc, idx, q, k, radius, all)
		}
	}
	for _, m := range ms {
		m.done(len(qs))
	}
	return hits
}

// compareNearest checks one Nearest call against all, the brute force's k nearest without a
// radius: the same keys in the same order, each hit's fields as stored and its distance the
// haversine one. The k nearest within a radius are the k nearest overall cut at the radius,
// so one brute-force list serves every radius. It returns the number of hits.
func compareNearest(m *mismatches, rc *realCensus, idx *spatial.Index, q nearestQuery, k int, radius float64, all []refHit) int {
	m.t.Helper()
	want := all
	if radius > 0 {
		n := 0
		for n < len(all) && all[n].dist <= radius {
			n++
		}
		want = all[:n]
	}
	got, err := idx.Nearest(q.p, spatial.Filter{Classes: []string{q.class}}, k, radius)
	if err != nil {
		m.add("Nearest(%v, %s, %d, %g) error: %v", q.p, q.class, k, radius, err)
		return 0
	}
	if !slices.EqualFunc(got, want, func(g spatial.Hit, w refHit) bool { return g.Key == rc.comps[w.comp].key }) {
		m.add("Nearest(%v, %s, %d, %g) = %s, want %s", q.p, q.class, k, radius, fmtHits(got), fmtRefHits(rc, want))
		return len(got)
	}
	for i, h := range got {
		c := &rc.comps[want[i].comp]
		if h.ID != c.id || h.Class != c.class || h.Point != c.point || h.Cell != c.cell || h.Status != registry.StatusIntact || h.Maintainer != "" {
			m.add("Nearest(%v, %s, %d, %g)[%d] = %+v, want id %s class %s point %v cell %s intact, no maintainer", q.p, q.class, k, radius, i, h, c.id, c.class, c.point, c.cell)
		}
		if math.Abs(h.Distance-want[i].dist) > 1e-6 {
			m.add("Nearest(%v, %s, %d, %g)[%d].Distance = %.9f m, want %.9f m (haversine)", q.p, q.class, k, radius, i, h.Distance, want[i].dist)
		}
	}
	return len(got)
}

func fmtHits(hs []spatial.Hit) string {
	var sb strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&sb, " %d@%.6fm", h.Key, h.Distance)
	}
	return "[" + strings.TrimSpace(sb.String()) + "]"
}

func fmtRefHits(rc *realCensus, hs []refHit) string {
	var sb strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&sb, " %d@%.6fm", rc.comps[h.comp].key, h.dist)
	}
	return "[" + strings.TrimSpace(sb.String()) + "]"
}

// irregularCells counts the cells that are not axis-aligned rectangles.
func (rc *realCensus) irregularCells() int {
	n := 0
	for _, c := range rc.cells {
		r := c.poly[0][0]
		rect := len(c.poly) == 1 && len(c.poly[0]) == 1 && len(r) == 5
		for i := 0; rect && i+1 < len(r); i++ {
			rect = r[i][0] == r[i+1][0] || r[i][1] == r[i+1][1]
		}
		if !rect {
			n++
		}
	}
	return n
}

// componentPoints returns every component's point, in file order.
func (rc *realCensus) componentPoints() []orb.Point {
	pts := make([]orb.Point, len(rc.comps))
	for i, c := range rc.comps {
		pts[i] = c.point
	}
	return pts
}

// randomPoints returns n points uniform in the cells' lattice extent, rounded to OSM's 1e-7°.
func (rc *realCensus) randomPoints(rng *rand.Rand, n int) []orb.Point {
	b := rc.conv.Extent
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{
			math.Round((b.Min[0]+rng.Float64()*(b.Max[0]-b.Min[0]))*1e7) / 1e7,
			math.Round((b.Min[1]+rng.Float64()*(b.Max[1]-b.Min[1]))*1e7) / 1e7,
		}
	}
	return pts
}

// boundaryPoints returns points exactly on cell boundaries: every vertex of the sampled
// cells' rings, and the midpoint of each axis-parallel edge (exactly on it in floating point
// too). Such points lie in two or more closed cells, so they test the smallest-code rule.
func (rc *realCensus) boundaryPoints(every int) []orb.Point {
	var pts []orb.Point
	for ci := 0; ci < len(rc.cells); ci += every {
		r := rc.cells[ci].poly[0][0]
		for i := 0; i+1 < len(r); i++ {
			a, b := r[i], r[i+1]
			pts = append(pts, a)
			if a[0] == b[0] || a[1] == b[1] {
				pts = append(pts, orb.Point{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2})
			}
		}
	}
	return pts
}

// nearEdgePoints returns, for each edge of the sampled cells' rings, the points a third and
// two thirds along it rounded to OSM's 1e-7°: within a centimetre of the edge, often on the
// other side of it, sometimes exactly on it.
func (rc *realCensus) nearEdgePoints(every int) []orb.Point {
	var pts []orb.Point
	for ci := 0; ci < len(rc.cells); ci += every {
		r := rc.cells[ci].poly[0][0]
		for i := 0; i+1 < len(r); i++ {
			a, b := r[i], r[i+1]
			for _, f := range []float64{1.0 / 3, 2.0 / 3} {
				pts = append(pts, orb.Point{
					math.Round((a[0]+f*(b[0]-a[0]))*1e7) / 1e7,
					math.Round((a[1]+f*(b[1]-a[1]))*1e7) / 1e7,
				})
			}
		}
	}
	return pts
}

// nearestSample picks component points: up to perClass of each class (all of a small one),
// then random others up to n, so rare classes are queried as well as trees.
func (rc *realCensus) nearestSample(rng *rand.Rand, n, perClass int) []nearestQuery {
	var qs []nearestQuery
	taken := make([]bool, len(rc.comps))
	for _, cl := range rc.classes {
		ix := slices.Clone(rc.byClass[cl])
		rng.Shuffle(len(ix), func(i, j int) { ix[i], ix[j] = ix[j], ix[i] })
		for _, i := range ix[:min(perClass, len(ix))] {
			qs = append(qs, nearestQuery{rc.comps[i].point, cl})
			taken[i] = true
		}
	}
	for _, i := range rng.Perm(len(rc.comps)) {
		if len(qs) >= n {
			break
		}
		if !taken[i] {
			qs = append(qs, nearestQuery{rc.comps[i].point, rc.comps[i].class})
		}
	}
	return qs
}

// randomQueries pairs random points with classes in turn, so every class is asked for.
func (rc *realCensus) randomQueries(rng *rand.Rand, n int) []nearestQuery {
	pts := rc.randomPoints(rng, n)
	qs := make([]nearestQuery, n)
	for i, p := range pts {
		qs[i] = nearestQuery{p, rc.classes[i%len(rc.classes)]}
	}
	return qs
}

// tieQuery is a query point at exactly the same haversine distance from two components of
// a class, with a k that cuts between them: only the one with the smaller key may be returned.
type tieQuery struct {
	q      nearestQuery
	k      int     // the tie's first rank + 1
	radius float64 // the tie distance: a radius that includes both (radius is inclusive)
}

// tieQueries finds exact distance ties in the data: for two components of a class on the same
// meridian (or parallel), the point half-way between them is often bit-for-bit equidistant
// under orb/geo.DistanceHaversine. Real positions have no duplicates, so this is how the
// "ties by key" rule is exercised. At most n are returned, among the 64 nearest of their class.
func (rc *realCensus) tieQueries(n int) []tieQuery {
	type line struct {
		class string
		axis  int
		v     float64
	}
	groups := map[line][]int{}
	for i, c := range rc.comps {
		for axis := 0; axis < 2; axis++ {
			l := line{c.class, axis, c.point[axis]}
			groups[l] = append(groups[l], i)
		}
	}
	lines := make([]line, 0, len(groups))
	for l, ix := range groups {
		if len(ix) > 1 {
			lines = append(lines, l)
		}
	}
	slices.SortFunc(lines, func(a, b line) int {
		return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.axis, b.axis), cmp.Compare(a.v, b.v))
	})
	var out []tieQuery
	for _, l := range lines {
		ix := groups[l]
		for x := 0; x < len(ix) && len(out) < n; x++ {
			for y := x + 1; y < len(ix) && len(out) < n; y++ {
				a, b := rc.comps[ix[x]], rc.comps[ix[y]]
				p := a.point
				p[1-l.axis] = (a.point[1-l.axis] + b.point[1-l.axis]) / 2
				d := geo.DistanceHaversine(p, a.point)
				if d != geo.DistanceHaversine(p, b.point) {
					continue
				}
				all := rc.bruteNearest(p, l.class, 64)
				for r := 0; r+1 < len(all); r++ {
					if all[r].dist == d && all[r+1].dist == d {
						out = append(out, tieQuery{nearestQuery{p, l.class}, r + 1, d})
						break
					}
				}
			}
		}
	}
	return out
}

// checkTies checks each tie query with k cutting the tie (unlimited, and at the tie distance
// as radius, which is inclusive) and with k one larger at that radius (both tied components).
func checkTies(t testing.TB, rc *realCensus, idx *spatial.Index, label string, ties []tieQuery) {
	t.Helper()
	m := &mismatches{t: t, label: label}
	for _, tq := range ties {
		all := rc.bruteNearest(tq.q.p, tq.q.class, tq.k+1)
		compareNearest(m, rc, idx, tq.q, tq.k, 0, all[:tq.k])
		compareNearest(m, rc, idx, tq.q, tq.k, tq.radius, all[:tq.k])
		compareNearest(m, rc, idx, tq.q, tq.k+1, tq.radius, all)
	}
	m.done(3 * len(ties))
}

// checkStoredCells requires the cell the import stored for each component to be the brute
// force's answer too.
func checkStoredCells(t testing.TB, rc *realCensus) {
	t.Helper()
	m := &mismatches{t: t, label: "stored Component.Cell"}
	for _, c := range rc.comps {
		if want, all := rc.bruteCellAt(c.point); c.cell != want {
			m.add("component %s at %v stored in cell %s, want %s (containing cells %v)", c.id, c.point, c.cell, want, all)
		}
	}
	m.done(len(rc.comps))
}

// reopen closes the store, opens it again and loads a fresh index from it, as a restart does.
func (rc *realCensus) reopen(t testing.TB) *spatial.Index {
	t.Helper()
	if err := rc.st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st, err := bolt.Open(rc.dbPath, bolt.Options{})
	if err != nil {
		t.Fatalf("bolt.Open(%s) after close: %v", rc.dbPath, err)
	}
	rc.st = st
	idx := spatial.New(spatial.Options{})
	if err := idx.Load(context.Background(), st); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !idx.Ready() {
		t.Fatalf("Ready() = false after Load")
	}
	if s := idx.Stats(); s.Cells != len(rc.cells) || s.Components != len(rc.comps) {
		t.Fatalf("Stats() after Load = %+v, want %d cells, %d components", s, len(rc.cells), len(rc.comps))
	}
	return idx
}

// tagCount is a SOURCES.md §2 count of nodes carrying an OSM tag, and the classes the
// osmcensus table maps it to.
type tagCount struct {
	tag     string
	n       int
	classes []string
}

// checkPlausible holds the per-class counts against SOURCES.md: a class can only lose nodes
// to an earlier row of the mapping table (a node has one class), so its count is at most the
// sum of its tags' counts, and at least 90% of it. The total lies between the furniture
// nodes minus the skipped markings and all furniture nodes.
func checkPlausible(t testing.TB, perClass map[string]int, counts []tagCount, furniture, skipped int) {
	t.Helper()
	total := 0
	for _, n := range perClass {
		total += n
	}
	if total < furniture-skipped || total > furniture {
		t.Errorf("%d components, want %d…%d (SOURCES.md: %d furniture nodes, %d crossings/give_way/stop)", total, furniture-skipped, furniture, furniture, skipped)
	}
	sum := map[string]int{} // classes joined with "+" → SOURCES count
	tags := map[string][]string{}
	for _, tc := range counts {
		key := strings.Join(tc.classes, "+")
		sum[key] += tc.n
		tags[key] = append(tags[key], tc.tag)
	}
	for key, n := range sum {
		got := 0
		for _, cl := range strings.Split(key, "+") {
			got += perClass[cl]
		}
		if lo := n * 9 / 10; got < lo || got > n {
			t.Errorf("classes %s: %d components, want %d…%d (SOURCES.md: %d nodes with %s)", key, got, lo, n, n, strings.Join(tags[key], " or "))
		}
	}
	mapped := map[string]bool{}
	for _, tc := range counts {
		for _, cl := range tc.classes {
			mapped[cl] = true
		}
	}
	for cl, n := range perClass {
		if !mapped[cl] {
			t.Errorf("class %s: %d components, but no SOURCES.md tag maps to it", cl, n)
		}
	}
	t.Logf("components per class: %v (total %d)", perClass, total)
}

var manholes = []string{"01001", "01002", "01003", "01005", "01007", "01010", "01011", "01023"}

func TestRealDataLiechtenstein(t *testing.T) {
	src := realDataPath(t, "osm", "liechtenstein-2024-03-04.osm.pbf")
	start := time.Now()
	rc := importRealData(t, src)

	// SOURCES.md §2, Liechtenstein.
	checkPlausible(t, rc.conv.PerClass, []tagCount{
		{"natural=tree", 12218, []string{"04002", "04003"}},
		{"highway=bus_stop", 378, []string{"02004"}},
		{"amenity=bench", 377, []string{"04007"}},
		{"barrier=bollard", 158, []string{"02021"}},
		{"amenity=waste_basket", 112, []string{"03005", "01059"}},
		{"amenity=recycling", 3, []string{"03005", "01059"}},
		{"highway=street_lamp", 87, []string{"01037"}},
		{"amenity=drinking_water", 59, []string{"01025"}},
		{"emergency=fire_hydrant", 31, []string{"01013"}},
		{"amenity=post_box", 29, []string{"01042"}},
		{"amenity=toilets", 29, []string{"03001"}},
		{"leisure=picnic_table", 29, []string{"04009"}},
		{"highway=traffic_signals", 26, []string{"02014"}},
		{"power=pole", 25, []string{"01030"}},
		{"amenity=bicycle_parking", 20, []string{"02027"}},
		{"man_made=manhole", 19, manholes},
		{"traffic_sign=*", 18, []string{"02010"}},
		{"amenity=telephone", 3, []string{"01041"}},
		{"man_made=street_cabinet", 1, []string{"01027", "01028"}},
	}, 14298, 611+65+5)
	if n := rc.conv.PerClass["04002"] + rc.conv.PerClass["04003"]; n < 12000 {
		t.Errorf("%d trees, want at least 12,000", n)
	}

	// Point-in-polygon must be exercised on irregular shapes, not only on boxes.
	if n := rc.irregularCells(); n < len(rc.cells)/2 {
		t.Errorf("%d of %d cells are not axis-aligned rectangles, want most", n, len(rc.cells))
	}

	rng := rand.New(rand.NewPCG(20240304, 1))
	lap := time.Now()
	inside := checkCellAt(t, rc, rc.idx, "CellAt(component)", rc.componentPoints(), true)
	checkStoredCells(t, rc)
	random := rc.randomPoints(rng, 2000)
	inRandom := checkCellAt(t, rc, rc.idx, "CellAt(random)", random, false)
	boundary := rc.boundaryPoints(7)
	checkCellAt(t, rc, rc.idx, "CellAt(boundary)", boundary, true)
	nearEdge := rc.nearEdgePoints(7)
	checkCellAt(t, rc, rc.idx, "CellAt(near edge)", nearEdge, false)
	t.Logf("CellAt: %d component points, %d random points (%d inside the grid), %d boundary and %d near-edge points checked; %v",
		inside, len(random), inRandom, len(boundary), len(nearEdge), time.Since(lap).Round(time.Millisecond))
	if inRandom == 0 || inRandom == len(random) {
		t.Errorf("%d of %d random points inside the grid, want some inside and some outside", inRandom, len(random))
	}

	lap = time.Now()
	nComp, nRandom, nTies := 2000, 2000, 500
	if raceEnabled() {
		nComp, nRandom, nTies = 1000, 1000, 100
	}
	qs := append(rc.nearestSample(rng, nComp, 60), rc.randomQueries(rng, nRandom)...)
	hits := checkNearest(t, rc, rc.idx, "Nearest", qs, 5, 0, 200)
	t.Logf("Nearest: %d component + %d random queries × radius 0 and 200 m (%d and %d hits) checked; %v",
		nComp, nRandom, hits[0], hits[1], time.Since(lap).Round(time.Millisecond))
	if hits[1] == 0 || hits[1] == hits[0] {
		t.Errorf("radius 200 m gave %d hits against %d unlimited, want fewer but some", hits[1], hits[0])
	}
	lap = time.Now()
	ties := rc.tieQueries(nTies)
	if len(ties) < nTies/2 {
		t.Errorf("found %d exact distance ties, want at least %d", len(ties), nTies/2)
	}
	checkTies(t, rc, rc.idx, "Nearest(tie)", ties)
	t.Logf("Nearest: %d exact distance ties cut by k and by radius checked; %v", len(ties), time.Since(lap).Round(time.Millisecond))

	// A restart: the same store file, a fresh index loaded from it, the same answers.
	lap = time.Now()
	idx := rc.reopen(t)
	var sample []orb.Point
	for i := 0; i < len(rc.comps); i += 5 {
		sample = append(sample, rc.comps[i].point)
	}
	checkCellAt(t, rc, idx, "after restart CellAt(component)", sample, true)
	checkCellAt(t, rc, idx, "after restart CellAt(random)", random[:500], false)
	checkNearest(t, rc, idx, "after restart Nearest", slices.Concat(qs[:300], qs[len(qs)-300:]), 5, 0, 200)
	checkTies(t, rc, idx, "after restart Nearest(tie)", ties[:min(50, len(ties))])
	t.Logf("restart: load and re-check in %v; whole test %v", time.Since(lap).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func TestRealDataBerlin(t *testing.T) {
	src := realDataPath(t, "osm", "berlin-siegessaeule.osm.gz")
	rc := importRealData(t, src)

	// SOURCES.md §2, Berlin Tiergarten.
	checkPlausible(t, rc.conv.PerClass, []tagCount{
		{"natural=tree", 117, []string{"04002", "04003"}},
		{"highway=street_lamp", 47, []string{"01037"}},
		{"highway=traffic_signals", 20, []string{"02014"}},
		{"emergency=fire_hydrant", 10, []string{"01013"}},
		{"amenity=bench", 8, []string{"04007"}},
		{"highway=bus_stop", 6, []string{"02004"}},
		{"amenity=toilets", 2, []string{"03001"}},
		{"barrier=bollard", 1, []string{"02021"}},
		{"traffic_sign=*", 1, []string{"02010"}},
	}, 237, 20+5)

	rng := rand.New(rand.NewPCG(20171004, 1))
	checkCellAt(t, rc, rc.idx, "CellAt(component)", rc.componentPoints(), true)
	checkStoredCells(t, rc)
	random := rc.randomPoints(rng, 1000)
	checkCellAt(t, rc, rc.idx, "CellAt(random)", random, false)
	checkCellAt(t, rc, rc.idx, "CellAt(boundary)", rc.boundaryPoints(1), true)
	checkCellAt(t, rc, rc.idx, "CellAt(near edge)", rc.nearEdgePoints(1), false)

	qs := append(rc.nearestSample(rng, len(rc.comps), len(rc.comps)), rc.randomQueries(rng, 500)...)
	checkNearest(t, rc, rc.idx, "Nearest", qs, 5, 0, 50, 200)
	checkNearest(t, rc, rc.idx, "Nearest", qs, 1000, 0, 100) // k above the class size: the whole class, sorted
	checkTies(t, rc, rc.idx, "Nearest(tie)", rc.tieQueries(100))

	idx := rc.reopen(t)
	checkCellAt(t, rc, idx, "after restart CellAt(component)", rc.componentPoints(), true)
	checkNearest(t, rc, idx, "after restart Nearest", qs, 5, 0, 200)
}

// TestRealDataSerialsAfterTheLast: on the Berlin census, one street lamp created with serial
// 999999 does not use its district's lamp serials up: the lamps created after it without an
// identifier take the lowest serials the census left free (issue 9).
func TestRealDataSerialsAfterTheLast(t *testing.T) {
	src := realDataPath(t, "osm", "berlin-siegessaeule.osm.gz")
	rc := importRealData(t, src)
	ctx := context.Background()
	svc := registry.NewService(rc.st, rc.idx, registry.DefaultCatalog(), nil)
	const lamp = "01037"
	lamps := rc.byClass[lamp]
	if len(lamps) < 10 {
		t.Fatalf("the census has %d street lamps, want at least 10", len(lamps))
	}
	at := rc.comps[lamps[0]]
	district := at.id.Admin()
	taken := map[int]bool{}
	for _, i := range lamps {
		if c := rc.comps[i]; c.id.Admin() == district {
			taken[c.id.Serial()] = true
		}
	}
	var want []int // the three lowest free serials
	for s := 1; len(want) < 3; s++ {
		if !taken[s] {
			want = append(want, s)
		}
	}
	feature := func(id string) *registry.Feature {
		return &registry.Feature{Index: -1, Geometry: at.point, Props: map[string]string{"class": lamp, "id": id}}
	}
	last := district + lamp + "999999"
	if taken[registry.MaxSerial] {
		t.Fatalf("the census already holds %s", last)
	}
	if _, err := svc.CreateComponent(ctx, feature(last), "realdata-test"); err != nil {
		t.Fatalf("CreateComponent(%s): %v", last, err)
	}
	for _, s := range want {
		c, err := svc.CreateComponent(ctx, feature(""), "realdata-test")
		if err != nil {
			t.Fatalf("CreateComponent(no id) after %s: %v, want serial %d", last, err, s)
		}
		if c.ID.Admin() != district || c.ID.Class() != lamp || c.ID.Serial() != s {
			t.Errorf("assigned %s, want district %s class %s serial %d (the lowest free)", c.ID, district, lamp, s)
		}
	}
}
