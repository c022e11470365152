package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"citygrid/fixtures"
	"citygrid/registry"
)

func runFixtures(_ context.Context, args []string, stdout, stderr io.Writer) error {
	def := fixtures.DefaultConfig()
	cfg := def
	fs := newFlagSet("fixtures", stderr)
	out := fs.String("out", "", "directory to write cells.geojson, components.csv, units.json and rules.json to")
	fs.IntVar(&cfg.Cells, "cells", def.Cells, "approximate number of grid cells (at least 200)")
	fs.IntVar(&cfg.Components, "components", def.Components, "number of components")
	fs.Int64Var(&cfg.Seed, "seed", def.Seed, "random seed; the same seed and counts give the same files")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *out == "":
		return &usageError{"fixtures: -out is required"}
	case len(pos) > 0:
		return &usageError{fmt.Sprintf("fixtures takes no arguments, got %q", pos)}
	}
	city, err := fixtures.Generate(cfg)
	if registry.ErrorCode(err) == "invalid_config" {
		return &usageError{"fixtures: " + err.(*registry.Error).Message}
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := city.WriteFiles(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote a city of %d cells, %d components, %d units and %d rules to %s\n",
		len(city.Cells), len(city.Components), len(city.Units), len(city.Rules), *out)
	return nil
}
