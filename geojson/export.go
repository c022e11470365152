package geojson

import (
	"context"
	"fmt"
	"io"

	"citygrid/registry"
)

// CellSource streams every stored cell in key order; registry.Store satisfies it.
type CellSource interface {
	ForEachCell(ctx context.Context, fn func(*registry.Cell) error) error
}

// ComponentSource streams every stored component in key order; registry.Store satisfies it.
type ComponentSource interface {
	ForEachComponent(ctx context.Context, fn func(*registry.Component) error) error
}

// ExportCells writes every active cell of src (the current grid; retired cells are left out)
// to w as one FeatureCollection in the census form (CensusWriter) and returns how many it
// wrote. The collection is complete only when the error is nil.
func ExportCells(ctx context.Context, w io.Writer, src CellSource) (int, error) {
	return ExportCellsIn(ctx, w, src, Datum{})
}

// ExportCellsIn is ExportCells in datum d: a crs member names it, and every point is
// converted to it (see Datum).
func ExportCellsIn(ctx context.Context, w io.Writer, src CellSource, d Datum) (int, error) {
	cw := NewCensusWriterIn(w, d)
	n := 0
	err := src.ForEachCell(ctx, func(c *registry.Cell) error {
		if c.Status == registry.CellRetired {
			return nil
		}
		n++
		return cw.WriteCell(c)
	})
	if err != nil {
		return n, fmt.Errorf("export cells: %w", err)
	}
	return n, cw.Close()
}

// ExportComponents writes every component of src to w as one FeatureCollection in the census
// form (CensusWriter), with the class names of cat, retired (removed) ones only with
// includeRemoved, and returns how many it wrote. The collection is complete only when the
// error is nil.
func ExportComponents(ctx context.Context, w io.Writer, src ComponentSource, cat *registry.Catalog, includeRemoved bool) (int, error) {
	return ExportComponentsIn(ctx, w, src, cat, includeRemoved, Datum{})
}

// ExportComponentsIn is ExportComponents in datum d: a crs member names it, and every point
// is converted to it (see Datum).
func ExportComponentsIn(ctx context.Context, w io.Writer, src ComponentSource, cat *registry.Catalog, includeRemoved bool, d Datum) (int, error) {
	cw := NewCensusWriterIn(w, d)
	n := 0
	err := src.ForEachComponent(ctx, func(c *registry.Component) error {
		if c.Status == registry.StatusRemoved && !includeRemoved {
			return nil
		}
		n++
		return cw.WriteComponent(c, ClassName(cat, c))
	})
	if err != nil {
		return n, fmt.Errorf("export components: %w", err)
	}
	return n, cw.Close()
}
