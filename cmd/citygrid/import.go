package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"citygrid/geojson"
	"citygrid/ogr"
	"citygrid/registry"
	"citygrid/spatial"
)

// importConfig holds the flags of `citygrid import`.
type importConfig struct {
	Store    storeFlags  // -pg (CITYGRID_PG_URL) or -db (CITYGRID_DB)
	Classes  catalogFlag // -classes, CITYGRID_CLASSES
	Kind     string      // -kind cells|components|units|rules
	Mode     string      // -mode strict|partial|replace
	Format   string      // -format geojson|ndjson|csv|tsv; "" detects from the name and content
	Encoding string      // -encoding utf-8|gbk|gb18030|utf-16 of a CSV/TSV or a Shapefile's .dbf; "" detects it
	Layer    string      // -layer NAME of a GeoPackage (or a Shapefile in a zip)
	Actor    string      // -actor, recorded in the component history
	CRS      string      // -crs wgs84|cgcs2000|gcj02|bd09; "" the file's crs member, else WGS84
	Area     string      // -area: the district, street or community a grid revision (-mode replace) replaces
	Cells    cellFlags   // -max-cell-area, -boundaries, -boundaries-crs
	DryRun   bool        // -dry-run: check and report, store nothing
	Rejected string      // -rejected FILE: write the refused features there as GeoJSON
}

func (c *importConfig) register(fs *flag.FlagSet) {
	c.Store.register(fs, "embedded store file, created when missing")
	c.Classes.register(fs)
	fs.StringVar(&c.Kind, "kind", "", "what the files hold: cells, components, units or rules")
	fs.StringVar(&c.Mode, "mode", "strict", "strict: any invalid feature rejects the whole file; partial: store the valid features; replace: the file is the whole set (rules; cells of -area)")
	fs.StringVar(&c.Area, "area", "", "with -kind cells -mode replace: the grid code prefix (district 6 digits, street 9, community 12) whose grid the file replaces")
	c.Cells.register(fs)
	fs.StringVar(&c.Format, "format", "", "geojson, ndjson, csv or tsv (cells and components); default: from the file name and content (.shp, .gpkg and .zip are read with GDAL's ogr2ogr)")
	fs.StringVar(&c.Encoding, "encoding", "", "utf-8, gbk, gb18030 or utf-16: the text encoding of a CSV/TSV (or utf-8, gbk, gb18030 of a Shapefile's .dbf without .cpg); default: detected")
	fs.StringVar(&c.Layer, "layer", "", "the layer of a GeoPackage (default: its first layer with a geometry), or the Shapefile of a zip holding several")
	fs.StringVar(&c.Actor, "actor", envOr("USER", "cli"), "who imports, recorded in the history")
	fs.StringVar(&c.CRS, "crs", "", "coordinate system of the files' coordinates (cells, components, units' areas): wgs84, cgcs2000, gcj02 or bd09; default: a GeoJSON crs member, else wgs84")
	fs.BoolVar(&c.DryRun, "dry-run", false, "check every file and print the report of what would change; store nothing")
	fs.StringVar(&c.Rejected, "rejected", "", "write the refused features (cells, components) with their problems to this GeoJSON `file`, to fix and import again")
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg importConfig
	fs := newFlagSet("import", stderr)
	cfg.register(fs)
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
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
	if registry.Census(cfg.Kind) == registry.CensusCells && mode == registry.ModeReplace {
		if err := registry.CheckRevisionArea(cfg.Area); err != nil {
			return &usageError{"import: -area: " + err.(*registry.Error).Message}
		}
		if len(paths) > 1 {
			return &usageError{"import: a grid revision (-mode replace) takes one file: the area's whole new grid"}
		}
	} else if cfg.Area != "" {
		return &usageError{"import: -area is for a grid revision: -kind cells -mode replace"}
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
	kind := registry.Census(cfg.Kind)
	if cfg.Rejected != "" && kind != registry.CensusCells && kind != registry.CensusComponents {
		return &usageError{fmt.Sprintf("import: -rejected is for cells and components, not %s", kind)}
	}

	crs, err := importCRS(cfg.CRS, registry.Census(cfg.Kind))
	if err != nil {
		return err
	}

	cat, err := cfg.Classes.load()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if cfg.DryRun && cfg.Store.DB != "" {
		// A dry run creates no store: against a file that does not exist yet it checks the
		// census against an empty one, in a temporary directory removed afterwards.
		if _, err := os.Stat(cfg.Store.DB); errors.Is(err, os.ErrNotExist) {
			tmp, err := os.MkdirTemp("", "citygrid-dry-run-")
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer os.RemoveAll(tmp)
			cfg.Store.DB = filepath.Join(tmp, "dry-run.db")
		}
	}
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
	if err := cfg.Cells.apply("import", svc); err != nil {
		return err
	}

	var rejects *rejectedFile
	if cfg.Rejected != "" {
		if rejects, err = createRejected(cfg.Rejected, crsDatum(crs)); err != nil {
			return err
		}
		defer rejects.abandon()
	}
	failed := 0
	for _, path := range paths {
		opt := registry.ImportOptions{Mode: mode, Actor: cfg.Actor, Format: registry.Format(cfg.Format), Name: path,
			CRS: crs, ResolveCRS: spatial.ResolveCRS, Area: cfg.Area, DryRun: cfg.DryRun, Encoding: enc}
		gis := ogr.Options{Layer: cfg.Layer, Encoding: enc}
		if rejects != nil {
			opt.Rejected = rejects.w.WriteRejected
		}
		rep, err := importPath(ctx, svc, kind, path, opt, gis, stderr)
		rejected := errors.Is(err, registry.ErrImportRejected) || errors.Is(err, registry.ErrEmptyCensus)
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
	if rejects != nil {
		if err := rejects.close(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("import: %d of %d file(s) had rejected features", failed, len(paths))}
	}
	return nil
}

// importCRS checks -crs and returns its canonical name ("" when not given). A rules document
// has no coordinates to convert: -crs with it is a usage error.
func importCRS(name string, kind registry.Census) (string, error) {
	if name == "" {
		return "", nil
	}
	if kind == registry.CensusRules {
		return "", &usageError{"import: -crs is for cells, components and units; a rules document has no coordinates to convert"}
	}
	crs, err := spatial.ParseCRS(name)
	if err != nil {
		return "", &usageError{fmt.Sprintf("import: -crs %q: want wgs84, cgcs2000, gcj02 or bd09", name)}
	}
	return crs.String(), nil
}

// rejectedFile is the -rejected file: one GeoJSON FeatureCollection with the refused features
// of every file imported, written as they are found (never held in memory).
type rejectedFile struct {
	f    *os.File
	w    *geojson.CensusWriter
	done bool
}

func createRejected(path string, d geojson.Datum) (*rejectedFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("import: -rejected: %w", err)
	}
	return &rejectedFile{f: f, w: geojson.NewCensusWriterIn(f, d)}, nil
}

// close ends the collection and the file.
func (r *rejectedFile) close() error {
	r.done = true
	err := r.w.Close()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("import: -rejected %s: %w", r.f.Name(), err)
	}
	return nil
}

// abandon ends the file if close was not reached (an import failed): what was written stays
// a valid collection.
func (r *rejectedFile) abandon() {
	if !r.done {
		_ = r.close()
	}
}

// importPath imports one census file through svc, with a progress bar on stderr when it is a
// terminal. A Shapefile, GeoPackage or zip (of cells or components) is converted by ogr2ogr
// (package ogr) with gis and read as GeoJSONSeq.
func importPath(ctx context.Context, svc *registry.Service, kind registry.Census, path string, opt registry.ImportOptions, gis ogr.Options, stderr io.Writer) (registry.Report, error) {
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
		if isTerminal(stderr) {
			bar := newRecordBar(stderr, path, 0)
			defer bar.finish()
			opt = bar.options(opt)
		}
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
	if isTerminal(stderr) {
		var size int64
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		bar := newRecordBar(stderr, path, size)
		defer bar.finish()
		r, opt = bar.p.Reader(f), bar.options(opt)
	}
	return svc.Import(ctx, kind, r, opt)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// recordBar shows an import's progress in records: records checked, their rate, and an ETA
// against the total estimated from the bytes read so far; then the records being stored.
type recordBar struct {
	bar  *progressbar.ProgressBar
	p    *registry.Progress
	path string
}

func newRecordBar(w io.Writer, path string, size int64) *recordBar {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("import "+path+": checking"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return &recordBar{bar: bar, p: registry.NewProgress(size), path: path}
}

// options returns opt with the bar following its progress.
func (b *recordBar) options(opt registry.ImportOptions) registry.ImportOptions {
	opt.Progress = func(int) {
		s := b.p.Snapshot()
		if s.Estimated > 0 {
			b.bar.ChangeMax64(s.Estimated)
		}
		_ = b.bar.Set64(s.Records)
	}
	opt.Storing = func(n int) {
		b.bar.Describe(fmt.Sprintf("import %s: storing %d records", b.path, n))
	}
	return b.p.Options(opt)
}

func (b *recordBar) finish() {
	b.p.Finish()
	_ = b.bar.Finish() // clears the bar's line
}

// printReport writes a validation report: one row per problem, then one per warning (0-based
// index, 1-based feature number as QGIS counts it, id, field, code, message and hint), then
// the totals.
func printReport(w io.Writer, name string, rep *registry.Report) {
	crs := ""
	if rep.CRS != "" && rep.CRS != "wgs84" {
		crs = ", coordinates read in " + rep.CRS
	}
	fmt.Fprintf(w, "%s: %s, %s mode%s\n", name, rep.Kind, rep.Mode, crs)
	printProblems(w, "PROBLEM", rep.Problems)
	printProblems(w, "WARNING", rep.Warnings)
	stored := "nothing stored"
	switch {
	case rep.DryRun:
		stored = "dry run, nothing stored"
	case rep.Stored:
		stored = "stored"
	case rep.Valid > 0 && rep.Unchanged == rep.Valid:
		stored = "nothing changed"
	}
	extra := ""
	if rep.Deleted > 0 {
		extra += fmt.Sprintf(", deleted %d", rep.Deleted)
	}
	if rep.Retired > 0 {
		extra += fmt.Sprintf(", retired %d", rep.Retired)
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
	fmt.Fprintf(tw, "INDEX\tFEATURE\tID\tFIELD\t%s\tMESSAGE\n", what)
	for _, p := range ps {
		idx, num := strconv.Itoa(p.Index), strconv.Itoa(p.Feature())
		if p.Index < 0 {
			idx, num = "-", "-" // the whole input
		}
		msg := p.Message
		if p.Hint != "" {
			msg += " (" + p.Hint + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", idx, num, dash(p.ID), dash(p.Field), p.Code, oneLine(msg))
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

// crsDatum is the datum a file named by -crs (a canonical name, "" for none) is written back
// in: the zero Datum (WGS84, no crs member) for none or WGS84.
func crsDatum(name string) geojson.Datum {
	if name == "" {
		return geojson.Datum{}
	}
	crs, err := spatial.ParseCRS(name)
	if err != nil {
		return geojson.Datum{}
	}
	return geojson.DatumOf(crs)
}
