package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"citygrid/ogr"
	"citygrid/registry"
	"citygrid/spatial"
)

// importConfig holds the flags of `citygrid import`.
type importConfig struct {
	Store    storeFlags  // -pg (CITYGRID_PG_URL) or -db (CITYGRID_DB)
	Classes  catalogFlag // -classes, CITYGRID_CLASSES
	Kind     string      // -kind cells|components|units|rules
	Mode     string      // -mode strict|partial
	Format   string      // -format geojson|ndjson|csv|tsv; "" detects from the name and content
	Actor    string      // -actor, recorded in the component history
	Encoding string      // -encoding utf-8|gbk|gb18030|utf-16 of a CSV/TSV or a Shapefile's .dbf; "" detects it
	Layer    string      // -layer NAME of a GeoPackage (or a Shapefile in a zip)
}

func (c *importConfig) register(fs *flag.FlagSet) {
	c.Store.register(fs, "embedded store file, created when missing")
	c.Classes.register(fs)
	fs.StringVar(&c.Kind, "kind", "", "what the files hold: cells, components, units or rules")
	fs.StringVar(&c.Mode, "mode", "strict", "strict: any invalid feature rejects the whole file; partial: store the valid features")
	fs.StringVar(&c.Format, "format", "", "geojson, ndjson, csv or tsv (cells and components); default: from the file name and content (.shp, .gpkg and .zip are read with GDAL's ogr2ogr)")
	fs.StringVar(&c.Encoding, "encoding", "", "utf-8, gbk, gb18030 or utf-16: the text encoding of a CSV/TSV (or utf-8, gbk, gb18030 of a Shapefile's .dbf without .cpg); default: detected")
	fs.StringVar(&c.Layer, "layer", "", "the layer of a GeoPackage (default: its first layer with a geometry), or the Shapefile of a zip holding several")
	fs.StringVar(&c.Actor, "actor", envOr("USER", "cli"), "who imports, recorded in the history")
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg importConfig
	fs := newFlagSet("import", stderr)
	cfg.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	paths := fs.Args()
	if err := cfg.Store.resolve(fs, "import"); err != nil {
		return err
	}
	switch {
	case !registry.Census(cfg.Kind).Valid():
		return &usageError{fmt.Sprintf("import: -kind %q: want cells, components, units or rules", cfg.Kind)}
	case len(paths) == 0:
		return &usageError{"import: name at least one file"}
	}
	mode, err := registry.ParseMode(cfg.Mode)
	if err != nil {
		return &usageError{"import: -mode: " + err.(*registry.Error).Message}
	}
	switch registry.Format(cfg.Format) {
	case "", registry.FormatGeoJSON, registry.FormatNDJSON, registry.FormatCSV, registry.FormatTSV:
	default:
		return &usageError{fmt.Sprintf("import: -format %q: want geojson, ndjson, csv or tsv", cfg.Format)}
	}
	enc, err := registry.ParseEncoding(cfg.Encoding)
	if err != nil {
		return &usageError{"import: -encoding: " + err.(*registry.Error).Message}
	}

	cat, err := cfg.Classes.load()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := cfg.Store.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	idx := spatial.New(spatial.Options{})
	if err := idx.Load(ctx, st); err != nil {
		return err
	}
	svc := registry.NewService(st, importIndex{idx}, cat, log)

	failed := 0
	for _, path := range paths {
		opt := registry.ImportOptions{Mode: mode, Actor: cfg.Actor, Format: registry.Format(cfg.Format), Name: path, Encoding: enc}
		gis := ogr.Options{Layer: cfg.Layer, Encoding: enc}
		var bar *progressbar.ProgressBar
		if isTerminal(stderr) {
			bar = newBar(stderr, path)
		}
		rep, err := importPath(ctx, svc, registry.Census(cfg.Kind), path, opt, gis, bar)
		if bar != nil {
			_ = bar.Finish() // clears the bar's line
		}
		rejected := errors.Is(err, registry.ErrImportRejected)
		if err != nil && !rejected {
			return fmt.Errorf("import %s: %w", path, err)
		}
		printReport(stdout, path, &rep)
		if rejected || rep.Rejected > 0 {
			failed++
			if mode != registry.ModePartial {
				break // later files may depend on this one (components on cells, rules on units)
			}
		}
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("import: %d of %d file(s) had rejected features", failed, len(paths))}
	}
	return nil
}

// importPath imports one census file through svc. A Shapefile, GeoPackage or zip (of cells
// or components) is converted by ogr2ogr (package ogr) with gis and read as GeoJSONSeq. A nil
// bar shows no progress.
func importPath(ctx context.Context, svc *registry.Service, kind registry.Census, path string, opt registry.ImportOptions, gis ogr.Options, bar *progressbar.ProgressBar) (registry.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return registry.Report{Kind: string(kind)}, err
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if _, isGIS := ogr.Detect(path, head[:n]); isGIS && opt.Format == "" {
		if kind != registry.CensusCells && kind != registry.CensusComponents {
			return registry.Report{Kind: string(kind)}, &usageError{fmt.Sprintf("import: %s: a Shapefile or GeoPackage holds cells or components, not %s", path, kind)}
		}
		rc, err := ogr.Open(ctx, path, gis)
		if err != nil {
			return registry.Report{Kind: string(kind)}, err
		}
		defer rc.Close()
		opt.Format = registry.FormatNDJSON
		rep, err := svc.Import(ctx, kind, rc, opt)
		rep.Warnings = append(rc.Warnings(), rep.Warnings...)
		return rep, err
	}
	if gis.Layer != "" {
		return registry.Report{Kind: string(kind)}, &usageError{fmt.Sprintf("import: -layer is for a GeoPackage or a zip, and %s is neither", path)}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return registry.Report{Kind: string(kind)}, err
	}
	var r io.Reader = f
	if bar != nil {
		if fi, err := f.Stat(); err == nil {
			bar.ChangeMax64(fi.Size())
		}
		pr := progressbar.NewReader(f, bar)
		r = &pr
	}
	return svc.Import(ctx, kind, r, opt)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newBar(w io.Writer, path string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("import "+path),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000), // 100 ms
		progressbar.OptionClearOnFinish(),
	)
}

// printReport writes a validation report: one row per problem, then one per warning (feature
// index, id, field, code, message), then the totals.
func printReport(w io.Writer, name string, rep *registry.Report) {
	fmt.Fprintf(w, "%s: %s, %s mode\n", name, rep.Kind, rep.Mode)
	printProblems(w, "PROBLEM", rep.Problems)
	printProblems(w, "WARNING", rep.Warnings)
	stored := "nothing stored"
	switch {
	case rep.DryRun:
		stored = "dry run, nothing stored"
	case rep.Stored:
		stored = "stored"
	}
	extra := ""
	if rep.Deleted > 0 {
		extra += fmt.Sprintf(", deleted %d", rep.Deleted)
	}
	if rep.Moved > 0 {
		extra += fmt.Sprintf(", moved %d", rep.Moved)
	}
	fmt.Fprintf(w, "total %d, valid %d, rejected %d, created %d, updated %d, unchanged %d%s, problems %d, warnings %d: %s\n",
		rep.Total, rep.Valid, rep.Rejected, rep.Created, rep.Updated, rep.Unchanged, extra, len(rep.Problems), len(rep.Warnings), stored)
}

// printProblems writes ps as a table whose code column is headed what.
func printProblems(w io.Writer, what string, ps []registry.Problem) {
	if len(ps) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "FEATURE\tID\tFIELD\t%s\tMESSAGE\n", what)
	for _, p := range ps {
		idx := strconv.Itoa(p.Index)
		if p.Index < 0 {
			idx = "-" // the whole input
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", idx, dash(p.ID), dash(p.Field), p.Code, oneLine(p.Message))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\t", " ").Replace(s) }

// importIndex is the index of a one-shot import process. It does not index the components
// the process stores: nothing reads them from the index afterwards (validation reads cells,
// a process imports one kind, and the process exits), and indexing 1M components costs
// about a second.
type importIndex struct{ *spatial.Index }

func (importIndex) ApplyComponents([]registry.Component) {}
