package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// The component fields a census feature may carry, in export order.
const (
	compID int8 = iota
	compLegacyID
	compClass
	compLegacyClass
	compName
	compStatus
	compSupervisor
	compOwner
	compMaintainer
	compCensusDate
	compChangeDate
	compSource
	compNote
	compFieldCount

	compGeometry int8 = -1 // problem field "geometry"
	compNoField  int8 = -2 // problem about the whole feature
)

// compFieldNames are the import (and export) names, indexed by field.
var compFieldNames = [compFieldCount]string{
	"id", "legacy_id", "class", "legacy_class", "name", "status", "supervisor", "owner", "maintainer",
	"census_date", "change_date", "source", "note",
}

// compFieldOf maps a property name, ignoring ASCII case, to its field: our names, the
// GB/T 47678.5-2026 Table 2 abbreviations and the names of the Suzhou legacy component API.
// A switch rather than a map: it is called for every property of every feature, and
// hashing showed up as the largest cost of DecodeComponent.
func compFieldOf(k string) (int8, bool) {
	var buf [32]byte
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
	switch string(buf[:len(k)]) {
	case "id", "glbjbsm", "objid", "编码", "代码", "标识码", "部件编码", "部件标识码", "管理部件标识码":
		return compID, true
	case "legacy_id":
		return compLegacyID, true
	case "class", "类别", "部件类别", "小类代码", "类别代码", "小类编码":
		return compClass, true
	case "legacy_class", "legacy_cla":
		return compLegacyClass, true
	case "name", "glbjmc", "objname", "名称", "部件名称", "管理部件名称":
		return compName, true
	case "status", "glbjzt", "objstate", "状态", "部件状态", "管理部件状态":
		return compStatus, true
	case "supervisor", "zgbmmc", "主管部门", "主管部门名称":
		return compSupervisor, true
	case "owner", "qsdwmc", "权属单位", "权属单位名称":
		return compOwner, true
	case "maintainer", "yhdwmc", "养护单位", "维护单位", "养护单位名称":
		return compMaintainer, true
	case "census_date", "csrq", "ordate", "census_dat", "初始日期", "普查日期":
		return compCensusDate, true
	case "change_date", "bgrq", "chdate", "change_dat", "变更日期":
		return compChangeDate, true
	case "source", "sjly", "datasource", "数据来源":
		return compSource, true
	case "note", "bz", "备注":
		return compNote, true
	}
	return 0, false
}

// compIgnoredOf reports whether a property name (ASCII case ignored) is neither a census field
// nor an attribute: what the store computes or owns (cell, key, version, updated,
// updated_by) and what the API and the export add for people to read (class_name,
// status_name, district, street, community, distance), so that a component exported or
// answered imports back as it was, without these as attributes. "attributes" is the member
// that holds the attributes themselves, ProblemsProperty what a rejected-features file adds.
func compIgnoredOf(k string) bool {
	switch strings.ToLower(k) {
	case "cell", "key", "version", "updated", "updated_by", "class_name", "status_name",
		"district", "street", "community", "distance", "attributes", ProblemsProperty:
		return true
	}
	return false
}

// reservedComponentProp reports whether n names a census field (or an alias of one) or a
// property compIgnoredOf sets aside: such a name cannot be an attribute.
func reservedComponentProp(n string) bool {
	if _, ok := compFieldOf(n); ok {
		return true
	}
	return compIgnoredOf(n)
}

// decodeAttributes collects the attributes of a census feature: every property that is
// neither a field nor set aside (compIgnoredOf), with its JSON type (a CSV column's text is
// a string), and the members of an "attributes" object (what the API answers and the export
// writes; from a CSV column, its JSON text). A blank string is no value. A name given twice
// with different values is conflicting_values.
func decodeAttributes(f *Feature) (Attributes, *Problem) {
	var list []Attribute
	var seen map[string]json.RawMessage // made on the first attribute: most features have none
	bad := func(code, field, format string, args ...any) *Problem {
		return &Problem{Index: f.Index, Field: field, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	add := func(a Attribute) *Problem {
		if prev, ok := seen[a.Name]; ok {
			x, err1 := canonicalJSON(prev)
			y, err2 := canonicalJSON(a.Value)
			if err1 == nil && err2 == nil && !bytes.Equal(x, y) {
				return bad(CodeConflictingValues, "attributes", "attribute %q is given twice with different values, %s and %s", a.Name, prev, a.Value)
			}
			return nil
		}
		if seen == nil {
			seen = map[string]json.RawMessage{}
		}
		seen[a.Name] = a.Value
		list = append(list, a)
		return nil
	}
	for k, v := range f.Props {
		if _, ok := compFieldOf(k); ok {
			continue
		}
		if strings.EqualFold(k, "attributes") {
			text := strings.TrimSpace(v)
			if text == "" {
				continue
			}
			if !f.Raw[k] && !strings.HasPrefix(text, "{") {
				return "", bad(CodeInvalidAttribute, "attributes", "attributes must be an object of names and values, not %q", truncate(text, 40))
			}
			members, err := attributeList([]byte(text))
			if err != nil {
				return "", bad(ErrorCode(err), "attributes", "%s", err.(*Error).Message)
			}
			for _, m := range members {
				if string(bytes.TrimSpace(m.Value)) == "null" {
					continue
				}
				if p := add(m); p != nil {
					return "", p
				}
			}
			continue
		}
		if compIgnoredOf(k) {
			continue
		}
		a := StringAttribute(k, v)
		if f.Raw[k] {
			a.Value = json.RawMessage(v)
		} else if strings.TrimSpace(v) == "" {
			continue
		}
		if p := add(a); p != nil {
			return "", p
		}
	}
	if len(list) == 0 {
		return "", nil
	}
	attrs, err := MakeAttributes(list)
	if err != nil {
		e := err.(*Error)
		return "", bad(e.Code, "attributes", "%s", e.Message)
	}
	return attrs, nil
}

// truncate is s cut to at most n runes, with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// compFields is compFieldOf as a map from lower-cased names (for callers that need to list
// or canonicalise names; TestCompFieldOf keeps the two in step).
var compFields = func() map[string]int8 {
	m := map[string]int8{
		"glbjbsm": compID, "objid": compID,
		"glbjmc": compName, "objname": compName,
		"glbjzt": compStatus, "objstate": compStatus,
		"csrq": compCensusDate, "ordate": compCensusDate,
		"bgrq": compChangeDate, "chdate": compChangeDate,
		"sjly": compSource, "datasource": compSource,
		"bz":     compNote,
		"zgbmmc": compSupervisor,
		"qsdwmc": compOwner,
		"yhdwmc": compMaintainer,
	}
	for n, f := range compChineseNames {
		m[n] = f
	}
	for i, n := range compFieldNames {
		m[n] = int8(i)
	}
	return m
}()

// compChineseNames are the Chinese column names (GB/T 47678.5-2026 Table 2's field names
// and the short forms offices use) and the Shapefile truncations (10 characters) that
// compFieldOf accepts besides the names above.
var compChineseNames = map[string]int8{
	"编码": compID, "代码": compID, "标识码": compID, "部件编码": compID, "部件标识码": compID, "管理部件标识码": compID,
	"类别": compClass, "部件类别": compClass, "小类代码": compClass, "类别代码": compClass, "小类编码": compClass,
	"legacy_cla": compLegacyClass,
	"名称":         compName, "部件名称": compName, "管理部件名称": compName,
	"状态": compStatus, "部件状态": compStatus, "管理部件状态": compStatus,
	"主管部门": compSupervisor, "主管部门名称": compSupervisor,
	"权属单位": compOwner, "权属单位名称": compOwner,
	"养护单位": compMaintainer, "维护单位": compMaintainer, "养护单位名称": compMaintainer,
	"census_dat": compCensusDate, "初始日期": compCensusDate, "普查日期": compCensusDate,
	"change_dat": compChangeDate, "变更日期": compChangeDate,
	"数据来源": compSource,
	"备注":   compNote,
}

// compLimits are the longest values in characters (runes): Table 2's limits, except the
// name, which Table 2 caps at 30 but real names with a location run longer.
var compLimits = [compFieldCount]int{
	compName:       100,
	compSupervisor: 100,
	compOwner:      100,
	compMaintainer: 100,
	compSource:     30,
	compNote:       1000,
}

// CheckNote applies the census rule for a component's note (UTF-8, at most 1,000
// characters) to a note that comes another way, such as with a retirement. Errors are
// Invalid, with the census problem codes invalid_encoding and too_long.
func CheckNote(note string) error {
	if !utf8.ValidString(note) {
		return Errorf(Invalid, CodeInvalidEncoding, "note is not valid UTF-8")
	}
	if n, max := utf8.RuneCountInString(note), compLimits[compNote]; n > max {
		return Errorf(Invalid, CodeTooLong, "note has %d characters, at most %d are allowed", n, max)
	}
	return nil
}

// DecodeComponent validates one census feature as a managed component (管理部件) against the
// class catalogue cat.
//
// The geometry must be a Point in WGS84/CGCS2000 lon/lat. Properties (names matched
// case-insensitively; the GB/T 47678.5-2026 Table 2 abbreviation and the Suzhou legacy name
// are accepted as aliases):
//
//	id            GLBJBSM ObjID     optional; 17 digits, or a legacy 16; the feature "id" works too
//	class                           required; 5-digit GB/T 47678.5-2026 class or a legacy 4-digit one
//	legacy_id                       optional; the 16-digit identifier a converted component came with
//	legacy_class                    optional; the 4-digit class it came with (must map to class)
//	name          GLBJMC ObjName    optional, ≤ 100 characters; default: the class name
//	status        GLBJZT ObjState   optional; intact/damaged/lost/abandoned/removed or 完好/破损/丢失/废弃/移除; default intact
//	supervisor    ZGBMMC            optional, ≤ 100 characters (主管部门)
//	owner         QSDWMC            optional, ≤ 100 characters (权属单位)
//	maintainer    YHDWMC            optional, ≤ 100 characters (养护单位)
//	census_date   CSRQ ORDate       optional; YYYY-MM-DD, YYYYMMDD or RFC 3339
//	change_date   BGRQ CHDate       optional; same formats
//	source        SJLY DataSource   optional, ≤ 30 characters (实测, 地形图, …)
//	note          BZ Note           optional, ≤ 1000 characters
//	cell, key, version              ignored: the cell is computed from the point, the rest belongs to the store
//	updated, updated_by, class_name, status_name, street, community, distance
//	                                ignored: the store's, or what the API and the export add to read
//	attributes                      optional object: attributes, as the API answers them
//	any other name                  an attribute (Component.Attributes), with its JSON type
//
// Attributes are capped (MaxAttributes, MaxAttributeNameLen, MaxAttributeValueSize,
// MaxAttributesSize): too_many_attributes, too_long; invalid_attribute for an "attributes"
// value that is not an object.
//
// Dates are kept as UTC midnight of the calendar date written (an RFC 3339 time gives its own
// local date). A legacy class that maps to a 2026 class gives Class = the mapped class and
// LegacyClass = the original; a legacy 16-digit id with it is converted to the 17-digit form
// (ID) and kept in LegacyID. The id's class digits must be the given class. Cell is left
// empty for the caller to compute from Point; Key, Version, Updated too.
//
// On failure it returns a zero Component and every problem found, each carrying f.Index and
// the feature's id. Codes: missing_field, invalid_geometry_type, invalid_coordinates,
// invalid_class, unknown_class, unmapped_class (a legacy class without counterpart: the
// component is rejected), invalid_component_code, id_class_mismatch, legacy_id_mismatch,
// legacy_class_mismatch, conflicting_values, invalid_status, invalid_date, too_long,
// invalid_encoding, and the reader's f.Err code.
func DecodeComponent(f *Feature, cat *Catalog) (Component, []Problem) {
	var (
		vals  [compFieldCount]string
		keys  [compFieldCount]string
		probs []Problem
	)
	var conflicts []string
	others := false // a property that is no field: attributes to collect
	for k, v := range f.Props {
		fld, ok := compFieldOf(k)
		if !ok {
			others = true
			continue
		}
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if vals[fld] != "" && vals[fld] != v {
			a, b := keys[fld], k
			if b < a {
				a, b = b, a
			}
			conflicts = append(conflicts, fmt.Sprintf("%s %q and %s %q differ", a, f.Props[a], b, f.Props[b]))
			continue
		}
		vals[fld], keys[fld] = v, k
	}
	idText := vals[compID]
	if fid := strings.TrimSpace(f.ID); fid != "" {
		if idText != "" && idText != fid {
			conflicts = append(conflicts, fmt.Sprintf("feature id %q and property %s %q differ", fid, keys[compID], idText))
		}
		idText = fid // the feature id names the feature in problems
	}
	add := func(fld int8, code, format string, args ...any) {
		field := ""
		switch {
		case fld >= 0:
			field = compFieldNames[fld]
		case fld == compGeometry:
			field = "geometry"
		}
		probs = append(probs, Problem{Index: f.Index, ID: idText, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if f.Err != nil {
		p := *f.Err
		p.Index = f.Index
		if p.ID == "" {
			p.ID = idText
		}
		return Component{}, []Problem{p}
	}
	for _, m := range conflicts {
		add(compNoField, CodeConflictingValues, "%s", m)
	}

	var c Component
	switch g := f.Geometry.(type) {
	case orb.Point:
		if !ValidPoint(g) {
			p := geomProblem(CodeInvalidCoordinates, "point %s: %s", pointText(g), coordRangeMsg)
			add(compGeometry, p.Code, "%s", p.Message)
			probs[len(probs)-1].Hint = CoordHint(g[0], g[1])
		}
		c.Point = g
	case nil:
		add(compGeometry, CodeMissingField, "the component has no geometry, want a Point")
	default:
		add(compGeometry, CodeInvalidGeometryType, "geometry is a %s, want a Point", g.GeoJSONType())
	}

	// Class, then the identifiers that must agree with it.
	classText := vals[compClass]
	classOK := false
	if classText == "" {
		add(compClass, CodeMissingField, "the class is missing (property class)")
	} else {
		cur, legacy, err := cat.ResolveComponentClass(classText)
		if err != nil {
			add(compClass, classProblemCode(err), "%s", classProblemMessage(classText, err))
		} else {
			c.Class, c.LegacyClass, classOK = cur, legacy, true
		}
	}
	var id ComponentCode
	if idText != "" {
		var err error
		id, err = ParseComponentCode(idText)
		switch {
		case err != nil:
			add(compID, CodeInvalidComponentCode, "%q: %s%s", idText, ErrInvalidComponentCode.Message, excelHint(idText))
		case classText != "" && id.Class() != classText && !(classOK && sameClass(cat, id, &c)):
			add(compID, CodeIDClassMismatch, "identifier %s has class %s, but the class given is %s%s", idText, id.Class(), classText, mappingHint(cat, id.Class()))
			id = ComponentCode{}
		case !classOK:
			id = ComponentCode{}
		case id.Legacy():
			conv, err := id.WithClass(c.Class)
			if err != nil {
				add(compID, CodeInvalidComponentCode, "legacy identifier %s cannot take class %s", idText, c.Class)
			}
			c.ID, c.LegacyID = conv, id
		default:
			c.ID = id
		}
	}
	if lc := vals[compLegacyClass]; lc != "" && classOK {
		switch {
		case c.LegacyClass == "":
			cur, legacy, err := cat.ResolveComponentClass(lc)
			if err != nil || legacy != lc || cur != c.Class {
				add(compLegacyClass, CodeLegacyClassMismatch, "legacy class %s does not map to class %s", lc, c.Class)
			} else {
				c.LegacyClass = lc
			}
		case c.LegacyClass != lc:
			add(compLegacyClass, CodeLegacyClassMismatch, "legacy class %s differs from the class given, %s", lc, c.LegacyClass)
		}
	}
	if lt := vals[compLegacyID]; lt != "" && classOK {
		lid, err := ParseComponentCode(lt)
		switch {
		case err != nil || !lid.Legacy():
			add(compLegacyID, CodeInvalidComponentCode, "legacy_id %q is not a 16-digit legacy identifier", lt)
		case !c.LegacyID.IsZero():
			if lid != c.LegacyID {
				add(compLegacyID, CodeLegacyIDMismatch, "legacy_id %s differs from the legacy identifier given, %s", lt, c.LegacyID)
			}
		case lid.Class() != c.LegacyClass:
			add(compLegacyID, CodeIDClassMismatch, "legacy_id %s has class %s, but the legacy class is %q", lt, lid.Class(), c.LegacyClass)
		default:
			conv, err := lid.WithClass(c.Class)
			switch {
			case err != nil:
				add(compLegacyID, CodeInvalidComponentCode, "legacy_id %s cannot take class %s", lt, c.Class)
			case c.ID.IsZero():
				c.ID, c.LegacyID = conv, lid
			case c.ID != conv:
				add(compLegacyID, CodeLegacyIDMismatch, "legacy_id %s converts to %s, not to id %s", lt, conv, c.ID)
			default:
				c.LegacyID = lid
			}
		}
	}

	// Text fields.
	for fld := compName; fld < compFieldCount; fld++ {
		v := vals[fld]
		if v == "" {
			continue
		}
		if !utf8.ValidString(v) {
			add(fld, CodeInvalidEncoding, "%s is not valid UTF-8 (save the file as UTF-8, or name its encoding: -encoding gbk, ?encoding=gbk)", compFieldNames[fld])
			continue
		}
		if max := compLimits[fld]; max > 0 {
			if n := utf8.RuneCountInString(v); n > max {
				add(fld, CodeTooLong, "%s has %d characters, at most %d are allowed", compFieldNames[fld], n, max)
			}
		}
	}
	c.Name = vals[compName]
	if c.Name == "" && classOK {
		if cl, ok := cat.Lookup(KindComponent, c.Class); ok {
			c.Name = cl.Name
		}
	}
	st, err := ParseStatus(vals[compStatus])
	if err != nil {
		add(compStatus, CodeInvalidStatus, "%q: %s", vals[compStatus], ErrInvalidStatus.Message)
	}
	c.Status = st
	c.Supervisor = vals[compSupervisor]
	c.Owner = vals[compOwner]
	c.Maintainer = vals[compMaintainer]
	c.Source = vals[compSource]
	c.Note = vals[compNote]
	for _, d := range [...]struct {
		fld int8
		dst *time.Time
	}{{compCensusDate, &c.CensusDate}, {compChangeDate, &c.ChangeDate}} {
		v := vals[d.fld]
		if v == "" {
			continue
		}
		t, ok := parseCensusDate(v)
		if !ok {
			add(d.fld, CodeInvalidDate, "%s %q is not a date (YYYY-MM-DD, YYYYMMDD or RFC 3339)", compFieldNames[d.fld], v)
			continue
		}
		*d.dst = t
	}
	if others {
		if attrs, p := decodeAttributes(f); p != nil {
			p.ID = idText
			probs = append(probs, *p)
		} else {
			c.Attributes = attrs
		}
	}
	if len(probs) > 0 {
		return Component{}, probs
	}
	return c, nil
}

// classProblemCode turns a ResolveComponentClass error into a problem code.
func classProblemCode(err error) string {
	for _, s := range []*Error{ErrUnmappedClass, ErrUnknownClass, ErrInvalidClass} {
		if errors.Is(err, s) {
			return s.Code
		}
	}
	return ErrorCode(err)
}

func classProblemMessage(class string, err error) string {
	switch {
	case errors.Is(err, ErrUnmappedClass):
		return fmt.Sprintf("legacy class %s has no GB/T 47678.5-2026 counterpart; map it to a local class or reclassify the component", class)
	case errors.Is(err, ErrUnknownClass):
		return fmt.Sprintf("class %s is not in the catalogue", class)
	case errors.Is(err, ErrInvalidClass):
		return fmt.Sprintf("class %q: %s", class, ErrInvalidClass.Message)
	}
	return fmt.Sprintf("class %s: %v", class, err)
}

// parseCensusDate accepts YYYY-MM-DD, YYYYMMDD and RFC 3339, returning UTC midnight of the
// calendar date written. The two date-only forms, nearly every census row, skip time.Parse.
func parseCensusDate(s string) (time.Time, bool) {
	var y, m, d int
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		y, m, d = atoiDigits(s[:4]), atoiDigits(s[5:7]), atoiDigits(s[8:])
	case len(s) == 8:
		y, m, d = atoiDigits(s[:4]), atoiDigits(s[4:6]), atoiDigits(s[6:])
	default:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, false
		}
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
	}
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 2025-02-30 normalises to March
		return time.Time{}, false
	}
	return t, true
}

// atoiDigits returns the value of an all-digit s, or -1.
func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// sameClass reports whether identifier id, whose class digits differ from the class given,
// names the same class through the catalogue's legacy → 2026 mapping: a legacy 16-digit
// identifier whose 4-digit class maps to c.Class (the 2026 class given, or the one a legacy
// class given maps to), or a 2026 identifier whose class is c.Class (a legacy class was given
// that maps to it). A legacy identifier's class becomes c.LegacyClass when none was given; one
// that differs from the legacy class given is not the same class.
func sameClass(cat *Catalog, id ComponentCode, c *Component) bool {
	cur, legacy, err := cat.ResolveComponentClass(id.Class())
	if err != nil || cur != c.Class {
		return false
	}
	if legacy != "" && c.LegacyClass != "" && legacy != c.LegacyClass {
		return false
	}
	if legacy != "" {
		c.LegacyClass = legacy
	}
	return true
}

// mappingHint says, in an id_class_mismatch message, what the identifier's class maps to.
func mappingHint(cat *Catalog, class string) string {
	cur, legacy, err := cat.ResolveComponentClass(class)
	if err != nil || legacy == "" {
		return ""
	}
	return fmt.Sprintf(" (legacy class %s maps to %s)", legacy, cur)
}
