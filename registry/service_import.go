package registry

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
)

// ImportOptions tune a census import.
type ImportOptions struct {
	Mode     Mode
	Actor    string         // who imports; recorded in the history
	Progress func(read int) // called every few thousand features with the number read and checked so far, and once at the end of reading
	Storing  func(n int)    // called when checking is over and the n valid records are being written (not in a dry run)
	Format   Format         // of cells and components; "" detects it from Name and the content
	Name     string         // the file's name, whose extension tells the format when Format is ""
	// CRS names the coordinate system of the input's coordinates (cells and components) as
	// the caller was asked for it (-crs, ?crs=): wgs84, cgcs2000, gcj02 or bd09, resolved by
	// ResolveCRS. "" when none was asked: a GeoJSON crs member decides, else WGS84. The
	// coordinates are converted to WGS84 as they are read, before any check sees them.
	CRS string
	// ResolveCRS resolves a coordinate system's name (CRS, or one a file's crs member gives
	// beyond EPSG:4326, EPSG:4490 and CRS84) to its conversion to WGS84: registry does no
	// datum arithmetic of its own (spatial.ResolveCRS does). nil: only WGS84 and CGCS2000
	// are known, anything else is refused with invalid_crs.
	ResolveCRS func(name string) (CRS, bool)
	// Area is the grid code prefix (district, street or community) a grid revision replaces:
	// cells with Mode ModeReplace only.
	Area string
	// Rejected, when set, is called with every feature of a cells or components census that
	// is refused, as read (f and its Props are valid only during the call; Geometry is nil
	// when it could not be read), with all its problems, even beyond the report's cap. A
	// feature refused after reading (an overlapping cell) comes rebuilt from what was decoded.
	// An error stops the import. Callers spool the features (citygrid import -rejected, the
	// census route's ?rejected=geojson).
	Rejected func(f *Feature, probs []Problem) error
	// DryRun checks and counts without writing: the report is the one a real import would
	// give (created, updated, unchanged, deleted, every problem), with DryRun set and Stored
	// false; nothing is stored, no history or change-feed entry is made.
	DryRun   bool
	Encoding Encoding // of a CSV/TSV (any kind); "" detects it (DecodeText). JSON is UTF-8.
}

const progressEvery = 4096

// formatHeadBytes is how much of an input Import reads to detect its format.
const formatHeadBytes = 4096

// Census names what a census document holds; a Report's Kind is its text.
type Census string

const (
	CensusCells      Census = "cells"      // grid cells (GeoJSON, NDJSON or CSV)
	CensusComponents Census = "components" // components (GeoJSON, NDJSON or CSV)
	CensusUnits      Census = "units"      // a units document (JSON)
	CensusRules      Census = "rules"      // a rules document (JSON): the whole ordered rule set
)

// Valid reports whether k is one of the four census kinds.
func (k Census) Valid() bool {
	switch k {
	case CensusCells, CensusComponents, CensusUnits, CensusRules:
		return true
	}
	return false
}

// Import reads a census document of kind k from r and stores it (importCells,
// importComponents, importUnits or importRules). The format of cells and components is
// opt.Format, or when that is empty the one DetectFormat tells from opt.Name and the first
// bytes of r (an Invalid error "invalid_input" when it cannot). It returns ErrImportRejected
// (with the report) when nothing was stored because of invalid input, and an Invalid error
// "invalid_kind" for an unknown kind.
func (s *Service) Import(ctx context.Context, k Census, r io.Reader, opt ImportOptions) (Report, error) {
	if err := CheckActor(opt.Actor); err != nil {
		return Report{Kind: string(k), Mode: modeOr(opt.Mode)}, fmt.Errorf("import %s: %w", k, err)
	}
	if opt.Mode == ModeReplace && k != CensusRules && k != CensusCells {
		return Report{Kind: string(k), Mode: opt.Mode}, Errorf(Invalid, CodeInvalidMode,
			"mode replace is for rules and cells (with an area) only, not %s", k)
	}
	if opt.Area != "" && k != CensusCells {
		return Report{Kind: string(k), Mode: modeOr(opt.Mode)}, Errorf(Invalid, CodeInvalidArea,
			"an area is given only to revise the grid (cells, mode replace), not with %s", k)
	}
	if !k.Valid() {
		return Report{Kind: string(k), Mode: modeOr(opt.Mode)}, Errorf(Invalid, CodeInvalidKind,
			"census kinds are cells, components, units and rules, not %q", string(k))
	}
	r, enc := decodeCensusText(r, opt)
	if (k == CensusCells || k == CensusComponents) && opt.Format == "" {
		br := bufio.NewReaderSize(r, 256<<10) // readFeatures reads through it, not through another
		head, _ := br.Peek(formatHeadBytes)   // a short input gives less, with an error that does not matter here
		f, err := DetectFormat(opt.Name, head)
		if err != nil {
			return Report{Kind: string(k), Mode: modeOr(opt.Mode)}, err
		}
		r, opt.Format = br, f
	}
	var rep Report
	var err error
	switch k {
	case CensusCells:
		rep, err = s.importCells(ctx, r, opt)
	case CensusComponents:
		rep, err = s.importComponents(ctx, r, opt)
	case CensusUnits:
		rep, err = s.importUnits(ctx, r, opt)
	case CensusRules:
		rep, err = s.importRules(ctx, r, opt)
	}
	if enc == EncodingGB18030 && opt.Encoding == EncodingAuto {
		rep.Warnings = append([]Problem{{Index: -1, Code: CodeEncodingDetected,
			Message: "the file is not UTF-8: it was read as GB18030 (GBK); name its encoding (-encoding, ?encoding=) if it is another"}}, rep.Warnings...)
	}
	return rep, err
}

// decodeCensusText turns a CSV or TSV census (of any kind) into UTF-8 text (DecodeText, with
// opt.Encoding); JSON, GeoJSON and GeoJSONSeq pass as they are. It returns the encoding read.
func decodeCensusText(r io.Reader, opt ImportOptions) (io.Reader, Encoding) {
	switch opt.Format {
	case FormatGeoJSON, FormatNDJSON:
		return r, EncodingUTF8
	case FormatCSV, FormatTSV:
		return DecodeText(r, opt.Encoding)
	}
	br := bufio.NewReaderSize(r, encodingSample)
	head, _ := br.Peek(formatHeadBytes)
	if looksJSON(head) {
		return br, EncodingUTF8
	}
	return DecodeText(br, opt.Encoding)
}

// problemSink collects problems per feature index, capped in the report.
type problemSink struct {
	rep      *Report
	max      int
	rejected map[int]bool
	rejects  func(*Feature, []Problem) error // ImportOptions.Rejected
	late     map[int][]Problem               // problems found after reading, by feature index, for rejects
}

func newSink(rep *Report, max int) *problemSink {
	return &problemSink{rep: rep, max: max, rejected: map[int]bool{}}
}

func (ps *problemSink) add(p Problem) {
	if p.Index >= 0 {
		ps.rejected[p.Index] = true
	}
	if ps.max <= 0 || len(ps.rep.Problems) < ps.max {
		ps.rep.Problems = append(ps.rep.Problems, p)
	}
}

// reject adds the problems of feature f and hands f to ImportOptions.Rejected.
func (ps *problemSink) reject(f *Feature, probs ...Problem) error {
	ps.addAll(probs)
	if ps.rejects == nil {
		return nil
	}
	return ps.rejects(f, probs)
}

// addLate adds a problem of a feature found after reading; flushLate then hands the feature
// to ImportOptions.Rejected.
func (ps *problemSink) addLate(p Problem) {
	ps.add(p)
	if ps.rejects != nil && p.Index >= 0 {
		if ps.late == nil {
			ps.late = make(map[int][]Problem)
		}
		ps.late[p.Index] = append(ps.late[p.Index], p)
	}
}

// flushLate hands every feature with problems from addLate, in input order, to
// ImportOptions.Rejected; feature rebuilds the feature at an input index.
func (ps *problemSink) flushLate(feature func(index int) *Feature) error {
	idx := make([]int, 0, len(ps.late))
	for i := range ps.late {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		if err := ps.rejects(feature(i), ps.late[i]); err != nil {
			return err
		}
	}
	ps.late = nil
	return nil
}

func (ps *problemSink) addAll(ps2 []Problem) {
	for _, p := range ps2 {
		ps.add(p)
	}
}

// finish decides whether the valid part may be stored: strict mode stores nothing when any
// feature was rejected (or a whole-input problem was found); an empty census stores nothing
// (rejectedErr then answers ErrEmptyCensus).
func (ps *problemSink) finish(total int) (store bool) {
	rep := ps.rep
	sortProblems(rep.Problems)
	rep.Total = total
	rep.Rejected = len(ps.rejected)
	rep.Valid = total - rep.Rejected
	whole := false
	for _, p := range rep.Problems {
		if p.Index < 0 {
			whole = true
		}
	}
	if whole {
		return false
	}
	if rep.Mode != ModePartial && rep.Rejected > 0 {
		return false
	}
	return rep.Valid > 0
}

// rejectedErr is the error of an import that stores nothing: ErrEmptyCensus for a census
// without features, ErrImportRejected when features were refused, nil otherwise.
func rejectedErr(rep *Report) error {
	if rep.Total == 0 && len(rep.Problems) == 0 {
		return ErrEmptyCensus
	}
	if rep.Stored || len(rep.Problems) == 0 && rep.Rejected == 0 {
		return nil
	}
	if rep.Mode == ModePartial && rep.Valid > 0 {
		return nil
	}
	return ErrImportRejected
}

// write is where every census import writes: write runs the store write of n records and the
// index update (through commit), unless the import is a dry run, which stops here with
// nothing written and rep.DryRun set. The counts of rep must be final before write is
// called: a dry run reports what a real run would. On success rep.Stored is set.
func (s *Service) write(rep *Report, opt ImportOptions, n int, write func() error) error {
	if opt.DryRun {
		rep.DryRun = true
		return nil
	}
	if n == 0 {
		return nil // every valid record is unchanged: nothing to write, Stored stays false
	}
	if opt.Storing != nil {
		opt.Storing(n)
	}
	if err := s.commit(write); err != nil {
		return err
	}
	rep.Stored = true
	return nil
}

// interner shares repeated strings (units, sources, names) between imported records.
type interner map[string]string

func (in interner) get(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < 1<<16 {
		in[s] = s
	}
	return s
}

func modeOr(m Mode) Mode {
	if m == "" {
		return ModeStrict
	}
	return m
}

// sortProblems orders a report's problems by feature index (stable for equal indexes).
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Index < ps[j].Index })
}
