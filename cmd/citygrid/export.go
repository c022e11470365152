package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"citygrid/geojson"
	"citygrid/spatial"
)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	var sf storeFlags
	sf.register(fs, "embedded store file")
	kind := fs.String("kind", "", "cells or components")
	out := fs.String("o", "", "output file; default standard output")
	removed := fs.Bool("include-removed", false, "also export retired (removed) components")
	crsName := fs.String("crs", "wgs84", "coordinate system of the output: wgs84, cgcs2000, gcj02 or bd09 (other than wgs84, a crs member names it)")
	var classes catalogFlag // the class names written with components
	classes.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := sf.resolve(fs, "export"); err != nil {
		return err
	}
	switch {
	case *kind != "cells" && *kind != "components":
		return &usageError{fmt.Sprintf("export: -kind %q: want cells or components", *kind)}
	case len(pos) > 0:
		return &usageError{fmt.Sprintf("export takes no arguments, got %q", pos)}
	}
	crs, err := spatial.ParseCRS(*crsName)
	if err != nil {
		return &usageError{fmt.Sprintf("export: -crs %q: want wgs84, cgcs2000, gcj02 or bd09", *crsName)}
	}
	datum := geojson.DatumOf(crs)
	if sf.DB != "" {
		if _, err := os.Stat(sf.DB); err != nil {
			return fmt.Errorf("export: %w", err) // do not create an empty store by exporting it
		}
	}
	cat, err := classes.load()
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	write := func(w io.Writer) (int, error) {
		if *kind == "cells" {
			return geojson.ExportCellsIn(ctx, w, st, datum)
		}
		return geojson.ExportComponentsIn(ctx, w, st, cat, *removed, datum)
	}
	if *out == "" {
		bw := bufio.NewWriterSize(stdout, 256<<10)
		if _, err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	n, err := writeFileAtomic(*out, write)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d %s to %s\n", n, *kind, *out)
	return nil
}

// writeFileAtomic writes path through a temporary file in the same directory, renamed into
// place only when complete, so a failed export never leaves a truncated file behind.
func writeFileAtomic(path string, write func(io.Writer) (int, error)) (int, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())              // after a successful rename this is a no-op error
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600; an export is an ordinary file
		tmp.Close()
		return 0, err
	}
	bw := bufio.NewWriterSize(tmp, 256<<10)
	n, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}
