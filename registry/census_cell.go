package registry

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxCellNameRunes bounds a cell's name, like a component's name.
const maxCellNameRunes = 100

// DecodeCell validates one census feature as a unit grid cell (单元网格).
//
// Properties (names are matched case-insensitively):
//
//	code   required, the 15-character GB/T 47678.3 code or a legacy 14-digit code (ParseGridCode);
//	       when absent, the feature "id" is used
//	name   optional, at most 100 characters
//	area, key, version   ignored: the area is computed, key and version belong to the store
//
// The geometry must be a Polygon or MultiPolygon in WGS84/CGCS2000 lon/lat and pass
// ValidatePolygonal; the returned Cell holds it as a MultiPolygon normalised to RFC 7946
// orientation, with Area its geodesic area in m². Key, Version and Updated are left zero.
// On failure it returns a zero Cell and every problem found, each carrying f.Index and the
// feature's code; codes: missing_field, invalid_grid_code, conflicting_values, too_long,
// invalid_encoding, the reader's f.Err code, and those of ValidatePolygonal.
func DecodeCell(f *Feature) (Cell, []Problem) {
	var code, name, codeKey string
	var probs []Problem
	id := strings.TrimSpace(f.ID)
	for k, v := range f.Props {
		fld, ok := lookupField(k, cellFields)
		if !ok {
			continue
		}
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		switch fld {
		case cellCode:
			code, codeKey = v, k
		case cellName:
			name = v
		}
	}
	ref := code
	if ref == "" {
		ref = id
	}
	add := func(field, pcode, format string, args ...any) {
		probs = append(probs, Problem{Index: f.Index, ID: ref, Field: field, Code: pcode, Message: fmt.Sprintf(format, args...)})
	}
	if f.Err != nil {
		p := *f.Err
		p.Index = f.Index
		if p.ID == "" {
			p.ID = ref
		}
		return Cell{}, []Problem{p}
	}
	var c Cell
	switch {
	case code == "" && id == "":
		add("code", CodeMissingField, "the cell code is missing (property code)")
	case code != "" && id != "" && code != id:
		add("code", CodeConflictingValues, "feature id %q and property %s %q differ", id, codeKey, code)
	default:
		g, err := ParseGridCode(ref)
		if err != nil {
			add("code", CodeInvalidGridCode, "%q: %s%s", ref, ErrInvalidGridCode.Message, excelHint(ref))
		}
		c.Code = g
	}
	if !utf8.ValidString(name) {
		add("name", CodeInvalidEncoding, "name is not valid UTF-8 (save the file as UTF-8, or name its encoding: -encoding gbk, ?encoding=gbk)")
	} else if n := utf8.RuneCountInString(name); n > maxCellNameRunes {
		add("name", CodeTooLong, "name has %d characters, at most %d are allowed", n, maxCellNameRunes)
	}
	c.Name = name
	if f.Geometry == nil {
		add("geometry", CodeMissingField, "the cell has no geometry")
	} else {
		mp, gp := ValidatePolygonal(f.Geometry)
		for _, p := range gp {
			p.Index, p.ID = f.Index, ref
			probs = append(probs, p)
		}
		c.Geometry = mp
	}
	if len(probs) > 0 {
		return Cell{}, probs
	}
	c.Area = GeodesicArea(c.Geometry)
	return c, nil
}

const (
	cellCode int8 = iota
	cellName
)

var cellFields = map[string]int8{
	"code": cellCode, "name": cellName,
	// The Chinese column names of a grid table (GB/T 47678.3 单元网格标识码) and their short forms.
	"单元网格标识码": cellCode, "网格编码": cellCode, "网格代码": cellCode, "网格标识码": cellCode, "编码": cellCode, "代码": cellCode, "标识码": cellCode,
	"网格名称": cellName, "单元网格名称": cellName, "名称": cellName,
}

// cellSetAside are the properties of a cell that are neither read nor worth a warning: what
// the store computes or owns and what answers and exports add (so an export imports back
// without warnings), and the problems of a rejected-features file.
var cellSetAside = map[string]int8{
	"area": 1, "key": 1, "version": 1, "updated": 1, "district": 1, "street": 1, "community": 1,
	"status": 1, "retired": 1, ProblemsProperty: 1,
}

// ignoredCellProps counts the properties of a cells census that no cell keeps (a QGIS fid, a
// drawing tool's perimeter…): name → the first feature with it and how many have it.
type ignoredCellProps map[string]*unitNamed

func (ig ignoredCellProps) add(f *Feature) {
	for k := range f.Props {
		if _, ok := lookupField(k, cellFields); ok {
			continue
		}
		if _, ok := lookupField(k, cellSetAside); ok {
			continue
		}
		if n := ig[k]; n != nil {
			n.count++
		} else if len(ig) < 100 {
			ig[k] = &unitNamed{index: f.Index, count: 1}
		}
	}
}

// warn adds one cell_property_ignored warning per property, at the first feature having it.
func (ig ignoredCellProps) warn(rep *Report) {
	names := make([]string, 0, len(ig))
	for k := range ig {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		n := ig[k]
		rep.Warn(n.index, "", k, CodeCellPropertyIgnored,
			"property %q (in %d feature(s)) is not kept: a cell keeps its code, name and geometry only", k, n.count)
	}
}

// lookupField finds a property name in table, whose keys are lower case, ignoring ASCII case
// and without allocating (the map lookup on a converted byte slice does not copy).
func lookupField(k string, table map[string]int8) (int8, bool) {
	var buf [40]byte
	if len(k) > len(buf) {
		return 0, false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	v, ok := table[string(buf[:len(k)])]
	return v, ok
}
