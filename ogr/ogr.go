// Package ogr reads the files GIS staff export from QGIS and ArcGIS — an ESRI Shapefile (a
// .shp with its .dbf, .shx, .prj and .cpg beside it, or all of them in a .zip) and a
// GeoPackage (.gpkg) — by converting them with GDAL's ogr2ogr (Debian package gdal-bin)
// into newline-delimited GeoJSON (GeoJSONSeq, without RS separators), which the registry's
// census readers take as registry.FormatNDJSON.
//
// It is an adapter, as the stores are: it runs a program (os/exec) and so stays out of the
// domain packages; cmd/citygrid and api call it.
//
// The coordinate system: ogr2ogr's GeoJSONSeq driver writes RFC 7946 WGS84 lon/lat, so a
// layer whose .prj (or GeoPackage SRS) names another system that PROJ can transform (a
// projected CGCS2000 Gauss-Krüger zone such as EPSG:4523, UTM, …) arrives as lon/lat; a
// layer without a coordinate system is passed as it is (its coordinates must then be lon/lat,
// in the datum the importer names); a system PROJ cannot transform is refused with
// invalid_crs.
//
// Attribute text: GDAL honours a Shapefile's .cpg (and the .dbf's language driver byte);
// when neither names an encoding, Open looks at the .dbf's bytes: valid UTF-8 is read as
// UTF-8, anything else as GB18030 (GBK), which is what a Chinese office's .dbf without .cpg
// holds. Options.Encoding overrides both.
package ogr

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"citygrid/registry"
)

// Container is the kind of file ogr2ogr is given.
type Container string

const (
	Shapefile  Container = "shp"  // a .shp beside its .dbf, .shx, .prj, .cpg
	GeoPackage Container = "gpkg" // a GeoPackage (SQLite) file
	Zip        Container = "zip"  // a zip archive holding a Shapefile (or a GeoPackage)
)

var (
	zipMagic    = []byte("PK\x03\x04")
	sqliteMagic = []byte("SQLite format 3\x00")
)

// Detect tells from a file's name (extension .shp, .gpkg, .zip) or, failing that, its first
// bytes (a zip's local header "PK\x03\x04", SQLite's "SQLite format 3\0") whether it is a file
// ogr converts. head may be short or nil.
func Detect(name string, head []byte) (Container, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".shp":
		return Shapefile, true
	case ".gpkg":
		return GeoPackage, true
	case ".zip":
		return Zip, true
	}
	switch {
	case bytes.HasPrefix(head, zipMagic):
		return Zip, true
	case bytes.HasPrefix(head, sqliteMagic):
		return GeoPackage, true
	}
	return "", false
}

// Options tune a conversion.
type Options struct {
	// Layer names the layer of a GeoPackage (or the Shapefile, by its base name, in a zip
	// holding several); "" takes the first layer with a geometry.
	Layer string
	// Encoding is the Shapefile attribute encoding: "utf-8", "gbk" or "gb18030"; "" follows
	// the .cpg, else the .dbf's language driver byte, else the .dbf's bytes (see the package
	// comment). GeoPackages are UTF-8 and ignore it.
	Encoding registry.Encoding
	// Program is the ogr2ogr to run; "" looks it up in PATH. Its ogrinfo is looked up beside
	// it, then in PATH.
	Program string
}

// errMissing is the error when GDAL's programs are not installed.
func errMissing(prog string) error {
	return registry.Errorf(registry.Unavailable, registry.CodeConverterMissing,
		"%s (GDAL) is needed to read Shapefiles and GeoPackages but is not installed: install the Debian package gdal-bin (apt-get install gdal-bin)", prog)
}

// Open starts converting the file at path (a .shp, .gpkg or .zip; as Detect tells, by name
// or content) and returns the features as GeoJSONSeq to read as registry.FormatNDJSON. The
// conversion streams: ogr2ogr runs while the caller reads. If ogr2ogr fails, the reader
// returns its error (with what ogr2ogr wrote to stderr) in place of io.EOF, so a cut-off
// conversion is never taken for a complete file. Cancelling ctx kills the process; Close
// does too, and waits for it. Errors: Unavailable converter_missing (no ogr2ogr), Invalid
// invalid_input (not a file ogr reads, no such layer, a zip without a Shapefile), Invalid
// invalid_crs (a coordinate system ogr2ogr cannot transform to WGS84).
func Open(ctx context.Context, path string, opt Options) (*Reader, error) {
	prog, info, err := programs(opt.Program)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ogr: %w", err)
	}
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	f.Close()
	kind, ok := Detect(path, head[:n])
	if !ok {
		return nil, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "%s is not a Shapefile, GeoPackage or zip", filepath.Base(path))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("ogr: %w", err)
	}
	src := source{kind: kind, path: abs}
	var cleanup func()
	if ext := "." + string(kind); kind != Shapefile && !strings.EqualFold(filepath.Ext(abs), ext) {
		// GDAL tells a GeoPackage and a /vsizip/ archive by their extension; a spooled
		// upload has none: GDAL opens a link that has it.
		dir, err := os.MkdirTemp("", "citygrid-ogr-*")
		if err != nil {
			return nil, fmt.Errorf("ogr: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		link := filepath.Join(dir, "upload"+ext)
		if err := os.Symlink(abs, link); err != nil {
			cleanup()
			return nil, fmt.Errorf("ogr: %w", err)
		}
		src.path = link
	}
	if kind == Zip {
		if err := src.inZip(opt.Layer); err != nil {
			if cleanup != nil {
				cleanup()
			}
			return nil, err
		}
	}
	if src.gdal == "" {
		src.gdal = src.path
	}
	done := func() {
		if cleanup != nil {
			cleanup()
		}
	}
	args := []string{"-f", "GeoJSONSeq", "/vsistdout/", src.gdal}
	guessed := false
	if src.isShapefile() {
		enc, err := src.encoding(opt.Encoding)
		if err != nil {
			done()
			return nil, err
		}
		if enc != "" {
			args = append(args, "-oo", "ENCODING="+enc)
		}
		guessed = opt.Encoding == registry.EncodingAuto && enc == "GB18030"
	}
	layer := opt.Layer
	if kind == GeoPackage || kind == Zip && !src.isShapefile() {
		if kind == Zip && strings.EqualFold(strings.TrimSuffix(filepath.Base(src.entry), filepath.Ext(src.entry)), layer) {
			layer = "" // it named the GeoPackage in the zip
		}
		name, err := pickLayer(ctx, info, src.gdal, layer)
		if err != nil {
			done()
			return nil, err
		}
		args = append(args, name)
	} else if layer != "" && kind == Shapefile && !strings.EqualFold(layer, strings.TrimSuffix(filepath.Base(src.path), filepath.Ext(src.path))) {
		done()
		return nil, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "layer %q: the Shapefile %s has one layer, %s", layer,
			filepath.Base(src.path), strings.TrimSuffix(filepath.Base(src.path), filepath.Ext(src.path)))
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		done()
		return nil, fmt.Errorf("ogr: %w", err)
	}
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		done()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, errMissing("ogr2ogr")
		}
		return nil, fmt.Errorf("ogr: start ogr2ogr: %w", err)
	}
	return &Reader{ctx: ctx, cmd: cmd, out: stdout, stderr: stderr, name: filepath.Base(path), cleanup: done, guessed: guessed}, nil
}

// programs finds ogr2ogr and ogrinfo.
func programs(prog string) (ogr2ogr, ogrinfo string, err error) {
	if prog == "" {
		prog = "ogr2ogr"
	}
	ogr2ogr, err = exec.LookPath(prog)
	if err != nil {
		return "", "", errMissing(prog)
	}
	ogrinfo = filepath.Join(filepath.Dir(ogr2ogr), "ogrinfo")
	if _, err := os.Stat(ogrinfo); err != nil {
		if ogrinfo, err = exec.LookPath("ogrinfo"); err != nil {
			return "", "", errMissing("ogrinfo")
		}
	}
	return ogr2ogr, ogrinfo, nil
}

// source is what ogr2ogr opens.
type source struct {
	kind  Container
	path  string // the file on disk
	gdal  string // what GDAL opens: the path, or /vsizip/path/entry
	entry string // in a zip: the .shp or .gpkg entry
}

func (s *source) isShapefile() bool {
	return s.kind == Shapefile || s.kind == Zip && strings.EqualFold(filepath.Ext(s.entry), ".shp")
}

// inZip picks the Shapefile (or GeoPackage) of a zip: the one there is, or the one layer names.
func (s *source) inZip(layer string) error {
	zr, err := zip.OpenReader(s.path)
	if err != nil {
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "%s is not a readable zip: %v", filepath.Base(s.path), err)
	}
	defer zr.Close()
	var cands []string
	for _, f := range zr.File {
		base := filepath.Base(f.Name)
		if strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(base, "._") {
			continue
		}
		switch strings.ToLower(filepath.Ext(f.Name)) {
		case ".shp", ".gpkg":
			cands = append(cands, f.Name)
		}
	}
	// A layer names a Shapefile of the zip by its base name; a zip holding one GeoPackage
	// leaves the layer to the GeoPackage.
	var pick []string
	for _, c := range cands {
		if layer == "" || strings.EqualFold(strings.TrimSuffix(filepath.Base(c), filepath.Ext(c)), layer) {
			pick = append(pick, c)
		}
	}
	if len(pick) == 0 && len(cands) == 1 && strings.EqualFold(filepath.Ext(cands[0]), ".gpkg") {
		pick = cands
	}
	switch {
	case len(cands) == 0:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the zip %s holds no .shp or .gpkg", filepath.Base(s.path))
	case len(pick) == 0:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the zip %s holds no layer %q (it holds %s)", filepath.Base(s.path), layer, strings.Join(cands, ", "))
	case len(pick) > 1:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the zip %s holds %d layers (%s): name one with -layer (?layer=)", filepath.Base(s.path), len(pick), strings.Join(pick, ", "))
	}
	s.entry = pick[0]
	s.gdal = "/vsizip/" + s.path + "/" + s.entry
	return nil
}

// encoding decides the -oo ENCODING= of a Shapefile: the one asked for; else "" when the
// .cpg or the .dbf's language driver byte names one (GDAL follows them); else from the .dbf's
// bytes.
func (s *source) encoding(want registry.Encoding) (string, error) {
	switch want {
	case registry.EncodingUTF8:
		return "UTF-8", nil
	case registry.EncodingGBK:
		return "CP936", nil
	case registry.EncodingGB18030:
		return "GB18030", nil
	case registry.EncodingUTF16:
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "a .dbf is never UTF-16: name utf-8, gbk or gb18030")
	}
	open := func(ext string) (io.ReadCloser, error) { return s.sibling(ext) }
	if rc, err := open(".cpg"); err == nil {
		rc.Close()
		return "", nil
	}
	rc, err := open(".dbf")
	if err != nil {
		return "", nil // ogr2ogr says what is missing
	}
	defer rc.Close()
	return dbfEncoding(bufio.NewReaderSize(rc, 64<<10))
}

// sibling opens the file beside the Shapefile with extension ext (either case).
func (s *source) sibling(ext string) (io.ReadCloser, error) {
	if s.kind == Shapefile {
		stem := strings.TrimSuffix(s.path, filepath.Ext(s.path))
		for _, e := range []string{ext, strings.ToUpper(ext)} {
			if f, err := os.Open(stem + e); err == nil {
				return f, nil
			}
		}
		return nil, os.ErrNotExist
	}
	zr, err := zip.OpenReader(s.path)
	if err != nil {
		return nil, err
	}
	stem := strings.TrimSuffix(s.entry, filepath.Ext(s.entry))
	for _, f := range zr.File {
		if strings.EqualFold(f.Name, stem+ext) {
			rc, err := f.Open()
			if err != nil {
				zr.Close()
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{rc, closers{rc, zr}}, nil
		}
	}
	zr.Close()
	return nil, os.ErrNotExist
}

type closers []io.Closer

func (cs closers) Close() error {
	for _, c := range cs {
		c.Close()
	}
	return nil
}

// dbfSample is how much of a .dbf's records dbfEncoding looks at.
const dbfSample = 1 << 20

// dbfEncoding reads a .dbf header and up to dbfSample bytes of its records: "" when the
// language driver byte names a code page (GDAL follows it) or the records are ASCII,
// "UTF-8" when they are valid UTF-8, "GB18030" otherwise.
func dbfEncoding(r io.Reader) (string, error) {
	hdr := make([]byte, 32)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return "", nil // not a .dbf GDAL reads either; ogr2ogr says so
	}
	if hdr[29] != 0 {
		return "", nil
	}
	headerLen := int(hdr[8]) | int(hdr[9])<<8
	if headerLen > 32 {
		if _, err := io.CopyN(io.Discard, r, int64(headerLen-32)); err != nil {
			return "", nil
		}
	}
	buf, _ := io.ReadAll(io.LimitReader(r, dbfSample))
	return guessEncoding(buf, len(buf) == dbfSample), nil
}

// guessEncoding is "" for ASCII text, "UTF-8" for valid UTF-8, else "GB18030". A sample cut
// short (more follows) may end inside a character.
func guessEncoding(b []byte, more bool) string {
	i := bytes.IndexFunc(b, func(r rune) bool { return r >= utf8.RuneSelf })
	if i < 0 {
		return ""
	}
	b = b[i:]
	if more {
		for k := 0; k < utf8.UTFMax-1 && len(b) > 0 && !utf8.FullRune(b[max(0, len(b)-utf8.UTFMax):]); k++ {
			b = b[:len(b)-1]
		}
	}
	if utf8.Valid(b) {
		return "UTF-8"
	}
	return "GB18030"
}

// layerLine is a line of `ogrinfo -ro -q`: "1: name (Geometry Type)" or "1: name (None)".
var layerLine = regexp.MustCompile(`^\d+: (.+?)(?: \(([^()]*)\))?$`)

// pickLayer lists the vector layers of a dataset and returns want (checked) or the first
// layer with a geometry.
func pickLayer(ctx context.Context, ogrinfo, path, want string) (string, error) {
	cmd := exec.CommandContext(ctx, ogrinfo, "-ro", "-q", path)
	var stderr tailBuffer
	stderr.max = 8 << 10
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "ogrinfo cannot read %s: %s", filepath.Base(path), stderr.text(err))
	}
	var layers, spatial []string
	for _, line := range strings.Split(string(out), "\n") {
		m := layerLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		layers = append(layers, m[1])
		if m[2] != "None" {
			spatial = append(spatial, m[1])
		}
	}
	if want != "" {
		for _, l := range layers {
			if l == want && !strings.HasPrefix(l, "-") { // ogr2ogr would take it for an option
				return l, nil
			}
		}
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "%s has no layer %q (its layers: %s)", filepath.Base(path), want, strings.Join(layers, ", "))
	}
	if len(spatial) == 0 || strings.HasPrefix(spatial[0], "-") {
		return "", registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "%s has no layer with a geometry that ogr2ogr can be given by name", filepath.Base(path))
	}
	return spatial[0], nil
}

// Reader is the GeoJSONSeq output of a running ogr2ogr.
type Reader struct {
	ctx     context.Context
	cmd     *exec.Cmd
	out     io.ReadCloser
	stderr  *tailBuffer
	name    string
	cleanup func()

	once  sync.Once
	err   error // the outcome of Wait, once the output ended
	ended bool  // the output ended: Read returns err or io.EOF from now on

	guessed bool // the .dbf's encoding was guessed as GB18030 from its bytes
}

// Warnings are what the import report should say about the conversion: a .dbf read as
// GB18030 because nothing named its encoding (encoding_detected, index -1).
func (r *Reader) Warnings() []registry.Problem {
	if !r.guessed {
		return nil
	}
	return []registry.Problem{{Index: -1, Code: registry.CodeEncodingDetected,
		Message: fmt.Sprintf("%s has no .cpg and its .dbf is not UTF-8: its text was read as GB18030 (GBK); name its encoding (-encoding, ?encoding=) if it is another", r.name)}}
}

// Read reads the converted features. Once the output has ended it keeps returning the
// same outcome (io.EOF or ogr2ogr's error): a bufio.Reader reads again after an error.
func (r *Reader) Read(p []byte) (int, error) {
	if r.ended {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n, err := r.out.Read(p)
	if err == io.EOF {
		r.ended = true
		if werr := r.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// wait reaps the process once and turns a failure into an error naming the file.
func (r *Reader) wait() error {
	r.once.Do(func() {
		err := r.cmd.Wait()
		r.cleanup()
		switch {
		case err == nil:
		case r.ctx.Err() != nil:
			r.err = r.ctx.Err()
		default:
			msg := r.stderr.text(err)
			if r.stderr.contains("coordinate operations", "coordinate transformation") {
				r.err = registry.Errorf(registry.Invalid, registry.CodeInvalidCRS,
					"the coordinate system of %s (its .prj) cannot be transformed to WGS84 lon/lat: %s", r.name, msg)
				return
			}
			r.err = registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "ogr2ogr could not convert %s: %s", r.name, msg)
		}
	})
	return r.err
}

// Close stops the conversion if it still runs and releases what it holds.
func (r *Reader) Close() error {
	if r.cmd.ProcessState == nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	r.out.Close()
	_ = r.wait()
	return nil
}

// tailBuffer keeps the last max bytes written to it: ogr2ogr's stderr, for the error.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

// contains reports whether what was written holds any of subs.
func (t *tailBuffer) contains(subs ...string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, sub := range subs {
		if bytes.Contains(t.b, []byte(sub)) {
			return true
		}
	}
	return false
}

// text is the stderr's lines that are not warnings, on one line, or err's text when none.
func (t *tailBuffer) text(err error) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Warning ") || strings.HasPrefix(l, "-> ") || l == "FAILURE:" {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "; ")
}
