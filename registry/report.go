package registry

// Mode says what a census import does with invalid features.
type Mode string

const (
	ModeStrict  Mode = "strict"  // default: any invalid feature → nothing stored
	ModePartial Mode = "partial" // store the valid features, report the rest
	ModeReplace Mode = "replace" // strict, and the document replaces a whole set (rules; cells of an area)
)

// ParseMode accepts "", "strict", "partial" and "replace".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "strict":
		return ModeStrict, nil
	case "partial":
		return ModePartial, nil
	case "replace":
		return ModeReplace, nil
	}
	return "", Errorf(Invalid, CodeInvalidMode, "mode must be strict, partial or replace, not %q", s)
}

// Problem is one line of a validation report.
type Problem struct {
	Index   int    // 0-based feature (or document entry) index in the input; -1 for the whole input
	ID      string // the feature's id or code, when it had one (even when its geometry is bad)
	Field   string // "geometry", "code", "class", …; "" for the whole feature
	Code    string // stable snake_case problem code, e.g. "unclosed_ring"
	Message string
	Hint    string // what the input looks like instead, when it can be told (swapped or projected coordinates); may be ""
}

// Feature is the problem's feature number as QGIS counts it: 1-based (Index+1), the row of
// the attribute table in file order, and the OGR/QGIS feature id of a CSV layer (a CSV's data
// line number minus one: the header is line 1). 0 for a problem about the whole input.
func (p Problem) Feature() int {
	if p.Index < 0 {
		return 0
	}
	return p.Index + 1
}

// Err is the problem as the error a single write answers with: Invalid, with the problem's
// code, and its field before the message (and its hint after).
func (p Problem) Err() *Error {
	msg := p.Message
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	if p.Hint != "" {
		msg += " (" + p.Hint + ")"
	}
	return &Error{Kind: Invalid, Code: p.Code, Message: msg}
}

// Report is the outcome of a census import.
type Report struct {
	Kind      string // cells, components, units, rules
	Mode      Mode
	Total     int  // features read
	Valid     int  // features that passed validation
	Created   int  // records stored as new
	Updated   int  // existing records replaced
	Deleted   int  // stored records removed because the document replaces the whole set (rules)
	Rejected  int  // features refused
	Unchanged int  // valid records equal to the stored ones, left as they are (no new version)
	Moved     int  // components moved to another cell by a grid revision
	Retired   int  // cells retired by a grid revision (mode replace)
	Stored    bool // whether anything was written
	DryRun    bool // the import only checked and counted: nothing was written
	Problems  []Problem
	Warnings  []Problem // findings that refuse nothing (a fixed-up class code, a cell outside its district…)
	CRS       string    // the coordinate system the coordinates were read in (ImportOptions.CRS or the file's crs member): wgs84, cgcs2000, gcj02 or bd09; "" for rules
}

// Warn appends a warning.
func (r *Report) Warn(index int, id, field, code, format string, args ...any) {
	r.Warnings = append(r.Warnings, Problem{Index: index, ID: id, Field: field, Code: code, Message: sprintf(format, args...)})
}

// Add appends a problem.
func (r *Report) Add(index int, id, field, code, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Index: index, ID: id, Field: field, Code: code, Message: sprintf(format, args...)})
}
