package main

import (
	"flag"
	"fmt"
	"math"
	"os"

	"citygrid/registry"
	"citygrid/spatial"
)

// cellFlags are the cell sanity checks that `citygrid import` and `citygrid serve` share.
type cellFlags struct {
	MaxCellArea   float64 // -max-cell-area, km²; 0: the default (1 km²); negative: no limit
	Boundaries    string  // -boundaries: a GeoJSON file of district outlines with adcode properties
	BoundariesCRS string  // -boundaries-crs: the datum of -boundaries
}

func (c *cellFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&c.MaxCellArea, "max-cell-area", registry.DefaultMaxCellArea/1e6,
		"the largest grid cell accepted, in km² (cell_too_large above it); a negative value: no limit")
	fs.StringVar(&c.Boundaries, "boundaries", "",
		"GeoJSON FeatureCollection of district outlines with adcode properties (e.g. DataV's): a cell whose centre lies outside its district's outline gets the warning cell_outside_district; without it no boundary check happens")
	fs.StringVar(&c.BoundariesCRS, "boundaries-crs", "gcj02",
		"the datum of -boundaries: wgs84, cgcs2000, gcj02 (DataV and AutoNavi files) or bd09")
}

// apply sets the checks on svc, loading the boundaries file. Bad values are usage errors.
func (c *cellFlags) apply(cmd string, svc *registry.Service) error {
	switch {
	case math.IsNaN(c.MaxCellArea) || math.IsInf(c.MaxCellArea, 0):
		return &usageError{fmt.Sprintf("%s: -max-cell-area %v: want a number of km²", cmd, c.MaxCellArea)}
	case c.MaxCellArea < 0:
		svc.MaxCellArea = -1
	default:
		svc.MaxCellArea = c.MaxCellArea * 1e6 // 0 keeps the default
	}
	if c.Boundaries == "" {
		return nil
	}
	crs, err := spatial.ParseCRS(c.BoundariesCRS)
	if err != nil {
		return &usageError{fmt.Sprintf("%s: -boundaries-crs %q: want wgs84, cgcs2000, gcj02 or bd09", cmd, c.BoundariesCRS)}
	}
	f, err := os.Open(c.Boundaries)
	if err != nil {
		return fmt.Errorf("%s: -boundaries: %w", cmd, err)
	}
	defer f.Close()
	b, err := spatial.LoadBoundaries(f, crs)
	if err != nil {
		return fmt.Errorf("%s: -boundaries %s: %w", cmd, c.Boundaries, err)
	}
	svc.Boundaries = b
	return nil
}
