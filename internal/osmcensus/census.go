package osmcensus

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"citygrid/registry"
)

// Source is the 数据来源 of every converted component.
const Source = "OpenStreetMap (ODbL)"

// Attribution is the notice ODbL requires next to data derived from OpenStreetMap.
const Attribution = "© OpenStreetMap contributors, data available under the Open Database License (ODbL) 1.0, https://www.openstreetmap.org/copyright\n"

// File names Convert writes into its directory.
const (
	CellsFile       = "cells.geojson"
	ComponentsFile  = "components.ndjson"
	AttributionFile = "ATTRIBUTION"
)

// Options tune the conversion; zero values take the defaults.
type Options struct {
	District  string            // 6-digit district of every cell and identifier; default "990001" (fictitious)
	CellSize  float64           // cell side in metres; default 100
	BlockCols int               // lattice columns per street code; default 20
	BlockRows int               // lattice rows per community code; default 20 (BlockCols·BlockRows ≤ 999)
	Catalog   *registry.Catalog // gives the component names; default registry.DefaultCatalog()
}

func (o Options) withDefaults() Options {
	if o.District == "" {
		o.District = "990001"
	}
	if o.CellSize == 0 {
		o.CellSize = 100
	}
	if o.BlockCols == 0 {
		o.BlockCols = 20
	}
	if o.BlockRows == 0 {
		o.BlockRows = 20
	}
	if o.Catalog == nil {
		o.Catalog = registry.DefaultCatalog()
	}
	return o
}

// Result tells what Convert wrote.
type Result struct {
	Cells      int
	Components int
	PerClass   map[string]int // components per class
	Extent     orb.Bound      // of the lattice the cells were drawn on (WGS84)
	Dir        string
}

// Convert reads the OSM extract src (see ReadFile), draws the grid and writes cells.geojson,
// components.ndjson and ATTRIBUTION into dir, which must exist.
func Convert(ctx context.Context, src, dir string, opt Options) (Result, error) {
	furn, err := ReadFile(ctx, src)
	if err != nil {
		return Result{}, fmt.Errorf("convert %s: %w", src, err)
	}
	cells, comps, ext, err := census(furn, opt)
	if err != nil {
		return Result{}, fmt.Errorf("convert %s: %w", src, err)
	}
	if err := write(dir, cells, comps); err != nil {
		return Result{}, fmt.Errorf("convert %s: %w", src, err)
	}
	res := Result{Cells: len(cells), Components: len(comps), PerClass: map[string]int{}, Extent: ext, Dir: dir}
	for _, c := range comps {
		res.PerClass[c.Class]++
	}
	return res, nil
}

// Census builds the grid cells and components for furn (in its order) without writing them.
// Cells carry Code, Name and Geometry; components ID, Class, Name, Point, Status, Source, Note
// and CensusDate (the UTC date of the node's last edit, when the extract has timestamps).
func Census(furn []Furniture, opt Options) ([]registry.Cell, []registry.Component, error) {
	cells, comps, _, err := census(furn, opt)
	return cells, comps, err
}

func census(furn []Furniture, opt Options) ([]registry.Cell, []registry.Component, orb.Bound, error) {
	opt = opt.withDefaults()
	if len(opt.District) != 6 || opt.BlockCols*opt.BlockRows > 999 || opt.BlockCols <= 0 || opt.BlockRows <= 0 || opt.CellSize <= 0 {
		return nil, nil, orb.Bound{}, fmt.Errorf("census: bad options %+v", opt)
	}
	if len(furn) == 0 {
		return nil, nil, orb.Bound{}, fmt.Errorf("census: no street furniture")
	}
	b := furn[0].Point.Bound()
	for _, f := range furn {
		b = b.Extend(f.Point)
	}
	l := newLattice(b, opt.CellSize)

	type ij struct{ i, j int }
	want := map[ij]bool{}
	for _, f := range furn {
		i, j := l.cellOf(f.Point)
		for di := -1; di <= 1; di++ {
			for dj := -1; dj <= 1; dj++ {
				want[ij{i + di, j + dj}] = true
			}
		}
	}
	cells := make([]registry.Cell, 0, len(want))
	for k := range want {
		street, comm := k.i/opt.BlockCols+1, k.j/opt.BlockRows+1
		serial := k.j%opt.BlockRows*opt.BlockCols + k.i%opt.BlockCols + 1
		if street > 999 || comm > 999 {
			return nil, nil, orb.Bound{}, fmt.Errorf("census: extent too large for %g m cells in %dx%d blocks", opt.CellSize, opt.BlockCols, opt.BlockRows)
		}
		code, err := registry.ParseGridCode(opt.District + pad3(street) + pad3(comm) + pad3(serial))
		if err != nil {
			return nil, nil, orb.Bound{}, fmt.Errorf("census: cell %d,%d: %w", k.i, k.j, err)
		}
		cells = append(cells, registry.Cell{
			Code:     code,
			Name:     fmt.Sprintf("OSM grid column %d row %d", k.i, k.j),
			Geometry: orb.MultiPolygon{{l.ring(k.i, k.j)}},
		})
	}
	sort.Slice(cells, func(a, b int) bool { return cells[a].Code < cells[b].Code })

	serial := map[string]int{}
	comps := make([]registry.Component, 0, len(furn))
	for _, f := range furn {
		cl, ok := opt.Catalog.Lookup(registry.KindComponent, f.Class)
		if !ok {
			return nil, nil, orb.Bound{}, fmt.Errorf("census: class %s of node %d: %w", f.Class, f.Node, registry.ErrUnknownClass)
		}
		serial[f.Class]++
		id, err := registry.NewComponentCode(opt.District, f.Class, serial[f.Class])
		if err != nil {
			return nil, nil, orb.Bound{}, fmt.Errorf("census: node %d: %w", f.Node, err)
		}
		comps = append(comps, registry.Component{
			ID:     id,
			Class:  f.Class,
			Name:   cl.Name,
			Point:  f.Point,
			Status: registry.StatusIntact,
			Source: Source,
			Note:   "osm node " + strconv.FormatInt(int64(f.Node), 10),
			// The node's last edit is the closest OSM has to a census (survey) date.
			CensusDate: dateOf(f.Time),
		})
	}
	return cells, comps, l.bound(), nil
}

func write(dir string, cells []registry.Cell, comps []registry.Component) error {
	fc := geojson.NewFeatureCollection()
	for _, c := range cells {
		f := geojson.NewFeature(c.Geometry[0])
		f.ID = c.Code.String()
		f.Properties = geojson.Properties{"code": c.Code.String(), "name": c.Name}
		fc.Append(f)
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return fmt.Errorf("write cells: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CellsFile), b, 0o644); err != nil {
		return fmt.Errorf("write cells: %w", err)
	}

	out, err := os.Create(filepath.Join(dir, ComponentsFile))
	if err != nil {
		return fmt.Errorf("write components: %w", err)
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	for _, c := range comps {
		f := geojson.NewFeature(c.Point)
		f.ID = c.ID.String()
		f.Properties = geojson.Properties{
			"id":     c.ID.String(),
			"class":  c.Class,
			"name":   c.Name,
			"status": c.Status.String(),
			"source": c.Source,
			"note":   c.Note,
		}
		if !c.CensusDate.IsZero() {
			f.Properties["census_date"] = c.CensusDate.Format(time.DateOnly)
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("write components: %w", err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write components: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write components: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, AttributionFile), []byte(Attribution), 0o644); err != nil {
		return fmt.Errorf("write attribution: %w", err)
	}
	return nil
}

// dateOf is the UTC calendar date of t at midnight, zero for a zero t.
func dateOf(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func pad3(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}
