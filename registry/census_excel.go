package registry

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// What a spreadsheet program does to codes saved as numbers: a class loses its leading zero
// (01037 → 1037), and a long identifier or grid code is written in scientific notation
// (50010301037000001 → 5.00103E+16, its last digits gone for good).

// PadClassCode fixes, in place, the class of a census feature that lost its leading zeros
// in a spreadsheet: when the class property (any of its names) is 1 to 4 digits that the
// catalogue does not know as written, and exactly one of its zero-padded forms (4 or 5
// digits) is a catalogue class, the property takes that form. It returns the warning to
// report (class_code_padded), or nil when nothing was changed. An ambiguous class, or one
// the catalogue knows as written, is left for DecodeComponent to judge.
func PadClassCode(f *Feature, cat *Catalog) *Problem {
	for k, v := range f.Props {
		if fld, ok := compFieldOf(k); !ok || fld != compClass {
			continue
		}
		text := strings.TrimSpace(v)
		if len(text) == 0 || len(text) > 4 || !digitsOnly(text) {
			continue
		}
		if _, _, err := cat.ResolveComponentClass(text); err == nil || errors.Is(err, ErrUnmappedClass) {
			continue
		}
		var found []string
		for _, n := range [...]int{4, 5} {
			if len(text) >= n {
				continue
			}
			padded := strings.Repeat("0", n-len(text)) + text
			if _, _, err := cat.ResolveComponentClass(padded); err == nil || errors.Is(err, ErrUnmappedClass) {
				found = append(found, padded)
			}
		}
		if len(found) != 1 {
			continue
		}
		f.Props[k] = found[0]
		return &Problem{Index: f.Index, ID: csvRowID(f.Props), Field: "class", Code: CodeClassCodePadded,
			Message: fmt.Sprintf("class %s read as %s: it lost its leading zero (format the column as text before saving)", text, found[0])}
	}
	return nil
}

// maxPaddedWarnings is how many class_code_padded warnings an import lists one by one; a
// sheet whose whole class column lost its zeros gets one more warning counting the rest.
const maxPaddedWarnings = 100

// paddedClasses collects an import's class_code_padded warnings, up to maxPaddedWarnings.
type paddedClasses struct{ n int }

// add reports w (from PadClassCode; nil is nothing) in rep, or counts it past the limit.
func (pc *paddedClasses) add(rep *Report, w *Problem) {
	if w == nil {
		return
	}
	pc.n++
	if pc.n <= maxPaddedWarnings {
		rep.Warnings = append(rep.Warnings, *w)
	}
}

// finish adds the warning that counts the padded classes not listed.
func (pc *paddedClasses) finish(rep *Report) {
	if more := pc.n - maxPaddedWarnings; more > 0 {
		rep.Warn(-1, "", "class", CodeClassCodePadded, "%d more classes lost their leading zero and were read with it (the first %d are listed)", more, maxPaddedWarnings)
	}
}

// scientific matches a number in scientific notation, as a spreadsheet writes a long code.
var scientific = regexp.MustCompile(`^[+-]?\d+(\.\d+)?[eE][+-]?\d+$`)

// excelHint explains a code that a spreadsheet wrote in scientific notation; "" for others.
func excelHint(s string) string {
	if scientific.MatchString(strings.TrimSpace(s)) {
		return " (a spreadsheet wrote the code as a number in scientific notation and dropped its last digits: format the column as text and export it again)"
	}
	return ""
}
