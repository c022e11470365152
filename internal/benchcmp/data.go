package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/paulmach/orb"

	"citygrid/fixtures"
	"citygrid/registry"
)

// dataset is the one generated city every measurement of a run uses, with its query points
// and their true cells.
type dataset struct {
	City   *fixtures.City
	Points []orb.Point
	Truth  []truth // one per point
	Dir    string  // the fixture files: cells.geojson, components.csv, units.json, rules.json
	// PointsFile holds the points as "lon,lat" lines (shortest round-trip decimals, so the
	// servers parse back the very same float64s).
	PointsFile string
}

// truth is the brute-force answer for one query point.
type truth struct {
	Code registry.GridCode // "" outside every cell
	// Boundary: the point lies on the boundary of Code's cell (exactly).
	Boundary bool
	// Closures counts the cells whose closed polygon contains the point (≥ 2 only on shared
	// edges and vertices).
	Closures int
}

// dataParams identify a cached data set. Fingerprint hashes the generated data, so a
// changed generator invalidates the points and their truth; Writers hashes the source of the
// packages that write the files, so a changed file format rewrites the files.
type dataParams struct {
	Cells, Components, Points int
	Seed, PointSeed           int64
	Fingerprint               string
	Writers                   string
}

// pointSeed seeds fixtures.QueryPoints; any fixed value will do.
const pointSeed = 20260101

// prepareData generates the city in memory (fast and deterministic) and reuses the files,
// points and truth under dir when their stamp matches; otherwise it writes them afresh.
func prepareData(dir string, cells, components, points int, seed int64, logf func(string, ...any)) (*dataset, error) {
	cfg := fixtures.BenchConfig()
	cfg.Cells, cfg.Components, cfg.Seed = cells, components, seed
	if cells < 7*200 { // BenchConfig's seven districts need 200 cells each
		cfg.Districts = cfg.Districts[:1]
	}
	city, err := fixtures.Generate(cfg)
	if err != nil {
		return nil, fmt.Errorf("generate city: %w", err)
	}
	want := dataParams{Cells: cells, Components: components, Points: points, Seed: seed, PointSeed: pointSeed,
		Fingerprint: fingerprint(city), Writers: sourceHash("fixtures", "registry")}
	ds := &dataset{City: city, Dir: filepath.Join(dir, "fx"), PointsFile: filepath.Join(dir, "points.csv")}
	ds.Points = fixtures.QueryPoints(city, points, pointSeed)
	stampPath := filepath.Join(dir, "data.json")
	truthPath := filepath.Join(dir, "truth.csv")
	var have dataParams
	if b, err := os.ReadFile(stampPath); err == nil && json.Unmarshal(b, &have) == nil {
		sameData := have.Cells == want.Cells && have.Components == want.Components && have.Points == want.Points &&
			have.Seed == want.Seed && have.PointSeed == want.PointSeed && have.Fingerprint == want.Fingerprint
		if sameData {
			ds.Truth, err = readTruth(truthPath, points)
		}
		if sameData && err == nil && have.Writers == want.Writers {
			logf("data set: reusing %s (%d cells, %d components, %d points)", dir, len(city.Cells), len(city.Components), points)
			return ds, nil
		}
	}
	_ = os.Remove(stampPath)
	if ds.Truth == nil {
		logf("data set: writing %s and computing the truth (%d cells, %d components, %d points)", dir, len(city.Cells), len(city.Components), points)
	} else {
		logf("data set: rewriting the files in %s (the writers' source changed); the truth stands", dir)
	}
	if err := os.MkdirAll(ds.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := city.WriteFiles(ds.Dir); err != nil {
		return nil, fmt.Errorf("write fixtures: %w", err)
	}
	if err := writePoints(ds.PointsFile, ds.Points); err != nil {
		return nil, err
	}
	if ds.Truth == nil {
		ds.Truth = bruteForce(city.Cells, ds.Points, 2)
		if err := writeTruth(truthPath, ds.Truth); err != nil {
			return nil, err
		}
	}
	b, _ := json.MarshalIndent(want, "", "  ")
	if err := os.WriteFile(stampPath, b, 0o644); err != nil {
		return nil, err
	}
	return ds, nil
}

// fingerprint hashes what the measurements depend on: cell codes and vertices, component
// IDs and points.
func fingerprint(c *fixtures.City) string {
	h := fnv.New64a()
	var b [8]byte
	f := func(x float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
		h.Write(b[:])
	}
	for i := range c.Cells {
		h.Write([]byte(c.Cells[i].Code))
		for _, pg := range c.Cells[i].Geometry {
			for _, r := range pg {
				for _, p := range r {
					f(p[0])
					f(p[1])
				}
			}
		}
	}
	for i := range c.Components {
		h.Write([]byte(c.Components[i].ID.String()))
		f(c.Components[i].Point[0])
		f(c.Components[i].Point[1])
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// sourceHash hashes the non-test Go files of the packages at dirs (relative to the module
// root, the working directory); "" when none can be read.
func sourceHash(dirs ...string) string {
	h := fnv.New64a()
	n := 0
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.go"))
		slices.Sort(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			h.Write([]byte(f))
			h.Write(b)
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

func formatCoord(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func writePoints(path string, pts []orb.Point) error {
	var sb strings.Builder
	for _, p := range pts {
		sb.WriteString(formatCoord(p[0]))
		sb.WriteByte(',')
		sb.WriteString(formatCoord(p[1]))
		sb.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

func writeTruth(path string, ts []truth) error {
	var sb strings.Builder
	sb.WriteString("code,boundary,closures\n")
	for _, t := range ts {
		fmt.Fprintf(&sb, "%s,%t,%d\n", t.Code, t.Boundary, t.Closures)
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

func readTruth(path string, n int) ([]truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	ts := make([]truth, 0, n)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		b, err1 := strconv.ParseBool(parts[1])
		k, err2 := strconv.Atoi(parts[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ts = append(ts, truth{Code: registry.GridCode(parts[0]), Boundary: b, Closures: k})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ts) != n {
		return nil, fmt.Errorf("%s: %d lines, want %d", path, len(ts), n)
	}
	return ts, nil
}

// bruteForce finds each point's cell by testing it against every cell (bounding box first,
// then the exact closed point-in-polygon), on workers goroutines. Among the cells whose
// closure contains the point the smallest code wins, citygrid's documented rule.
func bruteForce(cells []registry.Cell, pts []orb.Point, workers int) []truth {
	bounds := make([]orb.Bound, len(cells))
	for i := range cells {
		bounds[i] = cells[i].Geometry.Bound()
	}
	out := make([]truth, len(pts))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(pts); i += workers {
				out[i] = locateBrute(cells, bounds, pts[i])
			}
		})
	}
	wg.Wait()
	return out
}

func locateBrute(cells []registry.Cell, bounds []orb.Bound, p orb.Point) truth {
	var t truth
	var locs []location
	var codes []registry.GridCode
	for j := range bounds {
		b := &bounds[j]
		if p[0] < b.Min[0] || p[0] > b.Max[0] || p[1] < b.Min[1] || p[1] > b.Max[1] {
			continue
		}
		if loc := locateMultiPolygon(cells[j].Geometry, p); loc != outside {
			codes = append(codes, cells[j].Code)
			locs = append(locs, loc)
		}
	}
	t.Closures = len(codes)
	if len(codes) == 0 {
		return t
	}
	k := slices.Index(codes, slices.Min(codes))
	t.Code, t.Boundary = codes[k], locs[k] == onBoundary
	return t
}
