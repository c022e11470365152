package registry

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
)

// The 2026 table is generated from the shared machine-readable directory; the legacy tables are
// written by hand from docs/standards.md §3.4–3.5 (see the comment lines at the top of each file).
//go:generate go run ./internal/gencatalog -json ../../shared/data/standards/gb47678-5-2026.json -digest ../../shared/docs/standards.md -out data/gb47678-5-2026.tsv

//go:embed data/gb47678-5-2026.tsv data/legacy-components.tsv data/legacy-events.tsv
var catalogFiles embed.FS

// catalogTables lists the embedded tables and the standard each one holds.
var catalogTables = []struct {
	file string
	std  Standard
}{
	{"data/gb47678-5-2026.tsv", StandardGB2026},
	{"data/legacy-components.tsv", StandardLegacy},
	{"data/legacy-events.tsv", StandardLegacy},
}

// catalogHeader is the first non-comment line of every table.
const catalogHeader = "kind\tcode\tname\tmaps_to\tno_counterpart\tuncertain\tnote"

const numKinds = 2

// catalogData holds the catalogue, split by kind (kindIndex) because codes are only unique
// within a kind. Class values hold only strings and bools, so copying the maps and slices makes
// a fully independent catalogue.
type catalogData struct {
	classes [numKinds]map[string]Class // code → class; 5-digit and 4-digit codes never collide
	sorted  [numKinds][]Class          // the same classes, sorted by code
	majors  [numKinds][]Class          // major classes (2-digit codes), sorted by code, then standard
}

func kindIndex(k ClassKind) int {
	switch k {
	case KindComponent:
		return 0
	case KindEvent:
		return 1
	}
	return -1
}

// nationalCatalog parses the embedded tables once. The tables are part of the binary and
// checked by the tests, so a parse error is a build defect and panics.
var nationalCatalog = sync.OnceValue(func() *Catalog {
	c, err := parseCatalog()
	if err != nil {
		panic("registry: embedded class catalogue: " + err.Error())
	}
	return c
})

// DefaultCatalog returns a fresh catalogue of the embedded national tables: the GB/T 47678.5-2026
// directory, the legacy 4-digit tables and the legacy → 2026 mapping. Each call returns an
// independent copy, so AddLocal on one catalogue never shows in another.
func DefaultCatalog() *Catalog { return nationalCatalog().clone() }

func (c *Catalog) clone() *Catalog {
	n := &Catalog{}
	for i := range numKinds {
		n.classes[i] = maps.Clone(c.classes[i])
		n.sorted[i] = slices.Clone(c.sorted[i])
		n.majors[i] = slices.Clone(c.majors[i])
	}
	return n
}

// Lookup returns the class of kind with code: 5 digits for GB/T 47678.5-2026 and 5-digit local
// classes, 4 digits for legacy and legacy-style local classes. Major classes are not looked up
// here (see Majors).
func (c *Catalog) Lookup(kind ClassKind, code string) (Class, bool) {
	k := kindIndex(kind)
	if k < 0 {
		return Class{}, false
	}
	cl, ok := c.classes[k][code]
	return cl, ok
}

// List returns the classes of kind in standard std ("" for every standard), sorted by code as
// strings (so with std "" legacy 0101 sorts after 01009). Major classes are not included (see
// Majors). The slice is the caller's to keep or change; nil for an unknown kind.
func (c *Catalog) List(kind ClassKind, std Standard) []Class {
	k := kindIndex(kind)
	if k < 0 {
		return nil
	}
	return filterStandard(c.sorted[k], std)
}

// Majors returns the major classes (2-digit Code; Name and MajorName are the major's name) of
// kind in standard std ("" for every standard), sorted by code, then standard. The 2026 and
// legacy tables number their majors differently, so "01" appears once per standard. Local majors
// are those used by local classes, one per distinct (code, name) pair.
func (c *Catalog) Majors(kind ClassKind, std Standard) []Class {
	k := kindIndex(kind)
	if k < 0 {
		return nil
	}
	return filterStandard(c.majors[k], std)
}

func filterStandard(cls []Class, std Standard) []Class {
	var out []Class
	for _, cl := range cls {
		if std == "" || cl.Standard == std {
			out = append(out, cl)
		}
	}
	return out
}

// ResolveComponentClass turns a component class code as found in census data into the
// GB/T 47678.5-2026 class (current) and the legacy class it came from (legacy, "" for 5-digit
// input):
//   - a known 5-digit class: (code, "", nil);
//   - a legacy 4-digit class with a counterpart: (mapped, code, nil);
//   - a legacy 4-digit class without one: ("", code, ErrUnmappedClass);
//   - 4 or 5 digits not in the catalogue: ErrUnknownClass; anything else: ErrInvalidClass.
//
// Local extension classes resolve like national ones. The returned strings are the catalogue's
// own, so a million imported components share them. It does not allocate.
func (c *Catalog) ResolveComponentClass(code string) (current, legacy string, err error) {
	return c.resolve(0, code)
}

// ResolveEventClass is ResolveComponentClass for event/matter classes (事件 / 管理事项). Legacy
// events whose 2026 counterpart is ambiguous or missing return ErrUnmappedClass.
func (c *Catalog) ResolveEventClass(code string) (current, legacy string, err error) {
	return c.resolve(1, code)
}

func (c *Catalog) resolve(k int, code string) (current, legacy string, err error) {
	if !classCodeOK(code) {
		return "", "", ErrInvalidClass
	}
	cl, ok := c.classes[k][code]
	switch {
	case !ok:
		return "", "", ErrUnknownClass
	case len(cl.Code) == 5:
		return cl.Code, "", nil
	case cl.MapsTo == "":
		return "", cl.Code, ErrUnmappedClass
	}
	return cl.MapsTo, cl.Code, nil
}

// CheckLookupClass checks the class of a lookup (GET/POST /api/v1/lookup): "" (no class), or a
// 5-digit or legacy 4-digit code the catalogue knows, of a component or an event (matter)
// class, national or local. Anything else is an *Error with code invalid_class whose message
// names the code: a well-formed code outside the catalogue would otherwise be routed as an
// unknown class, silently, to the district centre.
func (c *Catalog) CheckLookupClass(code string) error {
	if code == "" {
		return nil
	}
	if !classCodeOK(code) {
		return Errorf(Invalid, CodeInvalidClass, "class %q: %s", code, ErrInvalidClass.Message)
	}
	for k := range c.classes {
		if _, ok := c.classes[k][code]; ok {
			return nil
		}
	}
	return Errorf(Invalid, CodeInvalidClass, "class %s is not in the class catalogue (GB/T 47678.5-2026, legacy or local; see /api/v1/classes)", code)
}

// CheckFilterClass checks one class of a component filter (?class= of the listings and of
// nearest): a 2-digit major class of components, or a 5-digit or legacy 4-digit component
// class the catalogue knows, national or local. Anything else is an *Error with code
// invalid_class whose message names the code.
func (c *Catalog) CheckFilterClass(code string) error {
	k := kindIndex(KindComponent)
	switch {
	case len(code) == 2 && allDigits(code):
		for _, m := range c.majors[k] {
			if m.Code == code {
				return nil
			}
		}
		return Errorf(Invalid, CodeInvalidClass, "class %s is not a major component class of the catalogue (see /api/v1/classes)", code)
	case classCodeOK(code):
		if _, ok := c.classes[k][code]; ok {
			return nil
		}
		return Errorf(Invalid, CodeInvalidClass, "class %s is not a component class of the catalogue (GB/T 47678.5-2026, legacy or local; see /api/v1/classes)", code)
	}
	return Errorf(Invalid, CodeInvalidClass, "class %q: each class must be a 2-digit major class or a 4- or 5-digit class code", code)
}

// classCodeOK reports whether code is 4 or 5 ASCII digits.
func classCodeOK(code string) bool {
	if len(code) != 4 && len(code) != 5 {
		return false
	}
	return allDigits(code)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AddLocal adds a city's extension class, so cities extend the catalogue as data, without a
// rebuild. cl.Standard must be StandardLocal or empty (it is set to StandardLocal). The code is 5
// digits (2026 layout) or 4 digits (legacy layout); Major, when empty, is taken from the code,
// and MajorName, when empty, from the national major of the same layout (else from a local class of
// the same major). A 4-digit class may map
// to a 5-digit class of the same kind (MapsTo); a 4-digit component class without MapsTo gets
// NoCounterpart. Errors: invalid_class (Invalid) for a malformed class, unknown_class (Invalid)
// when MapsTo is not a 5-digit class of the catalogue, class_exists (Conflict) when the kind
// already has the code, national or local. AddLocal must not run concurrently with other methods.
func (c *Catalog) AddLocal(cl Class) error {
	cl, err := checkLocal(cl)
	if err != nil {
		return err
	}
	k := kindIndex(cl.Kind)
	if old, ok := c.classes[k][cl.Code]; ok {
		return Errorf(Conflict, CodeClassExists, "%s class %s already exists (%s, %s)", cl.Kind, cl.Code, old.Standard, old.Name)
	}
	if cl.MapsTo != "" {
		if t, ok := c.classes[k][cl.MapsTo]; !ok || len(t.Code) != 5 {
			return Errorf(Invalid, CodeUnknownClass, "local class %s maps to %s, which is not a 5-digit %s class of the catalogue", cl.Code, cl.MapsTo, cl.Kind)
		}
	}
	if cl.Kind == KindComponent && len(cl.Code) == 4 && cl.MapsTo == "" {
		cl.NoCounterpart = true
	}
	if cl.MajorName == "" {
		cl.MajorName = c.majorName(k, cl.Major, len(cl.Code))
	}

	if c.classes[k] == nil {
		c.classes[k] = make(map[string]Class)
	}
	c.classes[k][cl.Code] = cl
	i, _ := slices.BinarySearchFunc(c.sorted[k], cl.Code, func(e Class, code string) int { return strings.Compare(e.Code, code) })
	c.sorted[k] = slices.Insert(c.sorted[k], i, cl)

	m := Class{Kind: cl.Kind, Standard: StandardLocal, Code: cl.Major, Name: cl.MajorName, Major: cl.Major, MajorName: cl.MajorName}
	if !slices.Contains(c.majors[k], m) {
		c.majors[k] = append(c.majors[k], m)
		slices.SortStableFunc(c.majors[k], compareMajors)
	}
	return nil
}

// majorName is the name of the national major with code major in the standard whose class codes
// have length codeLen, else of a local major with that code, else "".
func (c *Catalog) majorName(k int, major string, codeLen int) string {
	std := StandardGB2026
	if codeLen == 4 {
		std = StandardLegacy
	}
	local := ""
	for _, m := range c.majors[k] {
		switch {
		case m.Code != major:
		case m.Standard == std:
			return m.Name
		case m.Standard == StandardLocal && local == "":
			local = m.Name
		}
	}
	return local
}

func compareMajors(a, b Class) int {
	if c := strings.Compare(a.Code, b.Code); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Standard), string(b.Standard)); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// checkLocal validates the parts of a local class that do not depend on the catalogue and
// fills Standard and Major.
func checkLocal(cl Class) (Class, *Error) {
	if kindIndex(cl.Kind) < 0 {
		return cl, Errorf(Invalid, CodeInvalidClass, "class kind %q is not %q or %q", cl.Kind, KindComponent, KindEvent)
	}
	if !classCodeOK(cl.Code) {
		return cl, Errorf(Invalid, CodeInvalidClass, "local class code %q must be 5 digits (GB/T 47678.5 layout) or 4 digits (legacy layout)", cl.Code)
	}
	switch cl.Standard {
	case "":
		cl.Standard = StandardLocal
	case StandardLocal:
	default:
		return cl, Errorf(Invalid, CodeInvalidClass, "local class %s has standard %q, want %q", cl.Code, cl.Standard, StandardLocal)
	}
	if strings.TrimSpace(cl.Name) == "" || strings.ContainsAny(cl.Name+cl.MajorName, "\t\r\n") {
		return cl, Errorf(Invalid, CodeInvalidClass, "local class %s needs a one-line name", cl.Code)
	}
	switch cl.Major {
	case "":
		cl.Major = cl.Code[:2]
	case cl.Code[:2]:
	default:
		return cl, Errorf(Invalid, CodeInvalidClass, "local class %s has major %q; the major is the code's first two digits", cl.Code, cl.Major)
	}
	if cl.MapsTo != "" && (len(cl.Code) != 4 || len(cl.MapsTo) != 5 || !allDigits(cl.MapsTo)) {
		return cl, Errorf(Invalid, CodeInvalidClass, "local class %s: only a 4-digit class can map, and only to a 5-digit class (maps_to %q)", cl.Code, cl.MapsTo)
	}
	if cl.NoCounterpart && (cl.MapsTo != "" || len(cl.Code) != 4) {
		return cl, Errorf(Invalid, CodeInvalidClass, "local class %s: no_counterpart is only for unmapped 4-digit classes", cl.Code)
	}
	return cl, nil
}

// localClassJSON is one entry of a local class file.
type localClassJSON struct {
	Kind      ClassKind `json:"kind"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	Major     string    `json:"major"`
	MajorName string    `json:"major_name"`
	MapsTo    string    `json:"maps_to"`
}

// LoadLocalClasses reads a city's extension classes: a JSON array of objects with the fields
// kind ("component" or "event"), code, name, major, major_name and maps_to (all strings; major,
// major_name and maps_to may be omitted). It checks each entry on its own (see AddLocal) and
// returns them with Standard StandardLocal, in file order, ready for AddLocal. Errors: invalid_input
// for malformed JSON or unknown fields, invalid_class for a malformed entry, class_exists when the
// file has a kind and code twice; messages name the entry's index.
func LoadLocalClasses(r io.Reader) ([]Class, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var in []localClassJSON
	if err := dec.Decode(&in); err != nil {
		return nil, Errorf(Invalid, CodeInvalidInput, "local classes: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(Invalid, CodeInvalidInput, "local classes: data after the JSON array")
	}
	out := make([]Class, 0, len(in))
	seen := make(map[[2]string]int, len(in))
	for i, e := range in {
		cl, err := checkLocal(Class{Kind: e.Kind, Standard: StandardLocal, Code: e.Code, Name: e.Name, Major: e.Major, MajorName: e.MajorName, MapsTo: e.MapsTo})
		if err != nil {
			return nil, Errorf(err.Kind, err.Code, "local classes[%d]: %s", i, err.Message)
		}
		key := [2]string{string(cl.Kind), cl.Code}
		if j, dup := seen[key]; dup {
			return nil, Errorf(Conflict, CodeClassExists, "local classes[%d]: %s class %s repeats entry %d", i, cl.Kind, cl.Code, j)
		}
		seen[key] = i
		out = append(out, cl)
	}
	return out, nil
}

// parseCatalog builds the national catalogue from the embedded tables and checks the legacy
// mapping against the 2026 directory.
func parseCatalog() (*Catalog, error) {
	c := &Catalog{}
	for i := range numKinds {
		c.classes[i] = make(map[string]Class)
	}
	for _, t := range catalogTables {
		data, err := catalogFiles.ReadFile(t.file)
		if err != nil {
			return nil, err
		}
		majors, classes, err := parseClassTable(data, t.std)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.file, err)
		}
		for _, m := range majors {
			k := kindIndex(m.Kind)
			c.majors[k] = append(c.majors[k], m)
		}
		for _, cl := range classes {
			k := kindIndex(cl.Kind)
			if _, dup := c.classes[k][cl.Code]; dup {
				return nil, fmt.Errorf("%s: %s class %s appears twice", t.file, cl.Kind, cl.Code)
			}
			c.classes[k][cl.Code] = cl
			c.sorted[k] = append(c.sorted[k], cl)
		}
	}
	for k := range numKinds {
		slices.SortFunc(c.sorted[k], func(a, b Class) int { return strings.Compare(a.Code, b.Code) })
		slices.SortFunc(c.majors[k], compareMajors)
		for _, cl := range c.sorted[k] {
			if cl.MapsTo == "" {
				continue
			}
			if t, ok := c.classes[k][cl.MapsTo]; !ok || t.Standard != StandardGB2026 {
				return nil, fmt.Errorf("%s class %s maps to %s, which is not a GB/T 47678.5-2026 class", cl.Kind, cl.Code, cl.MapsTo)
			}
		}
	}
	return c, nil
}

// parseClassTable parses one table: '#' comment lines, the header, then rows of
// kind, code, name, maps_to, no_counterpart, uncertain, note. A 2-digit code declares a major
// class whose name is the major name; it must come before the classes of that major.
// Classes of std StandardGB2026 have 5-digit codes, legacy ones 4 digits. Legacy component rows
// carry exactly one of maps_to and no_counterpart.
func parseClassTable(data []byte, std Standard) (majors, classes []Class, err error) {
	codeLen := 5
	if std == StandardLegacy {
		codeLen = 4
	}
	majorNames := map[[2]string]string{}
	header := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		if !header {
			if text != catalogHeader {
				return nil, nil, fmt.Errorf("line %d: header %q, want %q", line, text, catalogHeader)
			}
			header = true
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 7 {
			return nil, nil, fmt.Errorf("line %d: %d fields, want 7", line, len(f))
		}
		cl := Class{Kind: ClassKind(f[0]), Standard: std, Code: f[1], Name: f[2], MapsTo: f[3], Note: f[6]}
		if cl.NoCounterpart, err = parseFlag(f[4]); err == nil {
			cl.Uncertain, err = parseFlag(f[5])
		}
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		case kindIndex(cl.Kind) < 0:
			return nil, nil, fmt.Errorf("line %d: kind %q", line, cl.Kind)
		case cl.Name == "" || strings.Contains(cl.Name, "|"):
			return nil, nil, fmt.Errorf("line %d: class %s has no usable name (%q)", line, cl.Code, cl.Name)
		case !allDigits(cl.Code) || (len(cl.Code) != 2 && len(cl.Code) != codeLen):
			return nil, nil, fmt.Errorf("line %d: code %q is not 2 or %d digits", line, cl.Code, codeLen)
		}
		key := [2]string{f[0], cl.Code[:2]}
		if len(cl.Code) == 2 {
			if cl.MapsTo != "" || cl.NoCounterpart || cl.Uncertain {
				return nil, nil, fmt.Errorf("line %d: major %s carries class-only fields", line, cl.Code)
			}
			if _, dup := majorNames[key]; dup {
				return nil, nil, fmt.Errorf("line %d: %s major %s appears twice", line, cl.Kind, cl.Code)
			}
			majorNames[key] = cl.Name
			cl.Major, cl.MajorName = cl.Code, cl.Name
			majors = append(majors, cl)
			continue
		}
		var ok bool
		if cl.MajorName, ok = majorNames[key]; !ok {
			return nil, nil, fmt.Errorf("line %d: class %s comes before its major %s", line, cl.Code, key[1])
		}
		cl.Major = key[1]
		switch {
		case cl.MapsTo != "" && (std != StandardLegacy || len(cl.MapsTo) != 5 || !allDigits(cl.MapsTo)):
			return nil, nil, fmt.Errorf("line %d: class %s maps_to %q: only legacy classes map, to 5 digits", line, cl.Code, cl.MapsTo)
		case cl.NoCounterpart && (std != StandardLegacy || cl.MapsTo != ""):
			return nil, nil, fmt.Errorf("line %d: class %s: no_counterpart is only for unmapped legacy classes", line, cl.Code)
		case std == StandardLegacy && cl.Kind == KindComponent && cl.MapsTo == "" && !cl.NoCounterpart:
			return nil, nil, fmt.Errorf("line %d: legacy component class %s needs maps_to or no_counterpart", line, cl.Code)
		}
		classes = append(classes, cl)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if !header {
		return nil, nil, errors.New("no header")
	}
	return majors, classes, nil
}

func parseFlag(s string) (bool, error) {
	switch s {
	case "":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("flag %q is neither empty nor %q", s, "true")
}
