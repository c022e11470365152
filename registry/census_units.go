package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxDocumentBytes bounds a units or rules document: a city has hundreds of units and rules,
// and a unit's service area polygon rarely exceeds a few hundred kilobytes.
const maxDocumentBytes = 64 << 20

// maxUnitTextRunes bounds a unit's name, phone and a rule's reason.
const maxUnitTextRunes = 200

// MaxIDLength bounds a unit or rule id, and so a reference to a unit (parent, supervisor, a
// rule's unit), in characters: a 统一社会信用代码 has 18, a slug rarely half of 64.
const MaxIDLength = 64

// DecodeUnits reads a units document: a JSON array of unit objects, or an object
// {"units": [...]}. Each unit object has the members
//
//	id          string, required, unique in the document (a 统一社会信用代码 or a short slug),
//	            ≤ 64 characters (MaxIDLength), as are parent and supervisor
//	name        string, required, ≤ 200 characters
//	type        string, required: city_centre, district_centre, admin_department,
//	            public_service_unit or district_government
//	parent      string, optional: id of the parent unit
//	supervisor  string, optional: id of the admin department that supervises the unit
//	districts   array of 6-digit district codes (GB/T 2260) the unit serves, optional
//	phone       string, optional: on-duty contact
//	area        GeoJSON Polygon or MultiPolygon (WGS84 lon/lat), optional: the unit's own
//	            service area, used by rules with "in_unit": true
//
// for example
//
//	{"units": [
//	  {"id": "cq-yz-cgj", "name": "渝中区城市管理局", "type": "admin_department", "districts": ["500103"]},
//	  {"id": "cq-yz-water", "name": "渝中区供水公司", "type": "public_service_unit",
//	   "supervisor": "cq-yz-cgj", "districts": ["500103"], "phone": "023-6300000"}
//	]}
//
// units[i] is the document's i-th entry, returned as far as it could be read even when it
// has problems, so problem indexes line up with it; callers store only entries without
// problems. A parent or supervisor that is an id in the document is checked here (no self
// reference, no parent cycle, a supervisor must be an admin_department); ids not in the
// document are left for the caller to check against the store: UnitRefs lists them. Other
// members are ignored. The error is non-nil (an *Error, invalid_input, invalid_encoding or
// too_large) only when the document as a whole cannot be read. Problem codes: invalid_entry,
// invalid_encoding (an entry that is not UTF-8), missing_field, duplicate_id,
// invalid_unit_type, invalid_district, invalid_reference, parent_cycle, invalid_supervisor,
// too_long, and for area those of ValidatePolygonal.
func DecodeUnits(r io.Reader) ([]Unit, []Problem, error) {
	entries, probs, err := readDocument(r, "units")
	if err != nil {
		return nil, nil, err
	}
	units := make([]Unit, len(entries))
	first := make(map[string]int, len(entries))
	gp := newFeatureParser()
	for i, raw := range entries {
		if raw == nil {
			continue // a CSV row that could not be read: its problem is in probs
		}
		var d struct {
			ID         string          `json:"id"`
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Parent     string          `json:"parent"`
			Supervisor string          `json:"supervisor"`
			Districts  []string        `json:"districts"`
			Phone      string          `json:"phone"`
			Area       json.RawMessage `json:"area"`
		}
		add := func(field, code, format string, args ...any) {
			probs = append(probs, Problem{Index: i, ID: d.ID, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
		}
		// json.Unmarshal would store invalid bytes as U+FFFD: under another id than was sent.
		if !utf8.Valid(raw) {
			add("", CodeInvalidEncoding, "unit %d is not valid UTF-8", i)
			continue
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			add("", CodeInvalidEntry, "unit %d is not a unit object: %v", i, err)
			continue
		}
		u := Unit{
			ID:         strings.TrimSpace(d.ID),
			Name:       strings.TrimSpace(d.Name),
			Parent:     strings.TrimSpace(d.Parent),
			Supervisor: strings.TrimSpace(d.Supervisor),
			Phone:      strings.TrimSpace(d.Phone),
		}
		d.ID = u.ID
		switch j, dup := first[u.ID]; {
		case u.ID == "":
			add("id", CodeMissingField, "unit %d has no id", i)
		case dup:
			add("id", CodeDuplicateID, "unit id %q already appears at entry %d", u.ID, j)
		default:
			first[u.ID] = i
		}
		checkUnitIDs(&u, add)
		if u.Name == "" {
			add("name", CodeMissingField, "unit %q has no name", u.ID)
		}
		checkText(u.Name, "name", maxUnitTextRunes, add)
		checkText(u.Phone, "phone", maxUnitTextRunes, add)
		if t := strings.TrimSpace(d.Type); t == "" {
			add("type", CodeMissingField, "unit %q has no type", u.ID)
		} else if ut, err := ParseUnitType(t); err != nil {
			add("type", ErrorCode(err), "%s", err.(*Error).Message)
		} else {
			u.Type = ut
		}
		for _, dc := range d.Districts {
			if !isDistrictCode(dc) {
				add("districts", CodeInvalidDistrict, "district %q is not a 6-digit district code", dc)
				continue
			}
			u.Districts = append(u.Districts, dc)
		}
		if len(bytes.TrimSpace(d.Area)) > 0 && !bytes.Equal(bytes.TrimSpace(d.Area), []byte("null")) {
			g, prob := gp.geometry(d.Area, 0)
			switch {
			case prob != nil:
				add("area", prob.Code, "%s", prob.Message)
			default:
				mp, gprobs := ValidatePolygonal(g)
				for _, p := range gprobs {
					add("area", p.Code, "%s", p.Message)
				}
				u.Area = mp
			}
		}
		units[i] = u
	}
	probs = append(probs, unitReferenceProblems(units, first)...)
	slices.SortStableFunc(probs, func(a, b Problem) int { return a.Index - b.Index })
	return units, probs, nil
}

// unitReferenceProblems checks the parent and supervisor references that name units of the
// same document; first maps each id to its (first) entry.
func unitReferenceProblems(units []Unit, first map[string]int) []Problem {
	var probs []Problem
	for i, u := range units {
		if u.ID == "" || first[u.ID] != i {
			continue
		}
		for _, ref := range [...]struct{ field, id string }{{"parent", u.Parent}, {"supervisor", u.Supervisor}} {
			if ref.id == u.ID {
				probs = append(probs, Problem{Index: i, ID: u.ID, Field: ref.field, Code: CodeInvalidReference,
					Message: fmt.Sprintf("unit %q names itself as its %s", u.ID, ref.field)})
			}
		}
		if j, ok := first[u.Supervisor]; ok && u.Supervisor != u.ID && units[j].Type != 0 && units[j].Type != UnitAdminDepartment {
			probs = append(probs, Problem{Index: i, ID: u.ID, Field: "supervisor", Code: CodeInvalidSupervisor,
				Message: fmt.Sprintf("supervisor %q is a %s, want an admin_department", u.Supervisor, units[j].Type)})
		}
		// Follow parents within the document; coming back to u is a cycle. The walk is
		// bounded by the number of units, so a cycle not through u cannot loop forever.
		seen := 0
		for p := u.Parent; p != "" && p != u.ID; {
			j, ok := first[p]
			if !ok || seen > len(units) {
				break
			}
			seen++
			p = units[j].Parent
			if p == u.ID {
				probs = append(probs, Problem{Index: i, ID: u.ID, Field: "parent", Code: CodeParentCycle,
					Message: fmt.Sprintf("the parents of unit %q lead back to it", u.ID)})
				break
			}
		}
	}
	return probs
}

// UnitRefs returns the unit ids that units name as parent or supervisor but that are not
// among units themselves, sorted and without repeats: the references a caller must resolve
// against the units already stored.
func UnitRefs(units []Unit) []string {
	have := make(map[string]bool, len(units))
	for _, u := range units {
		have[u.ID] = true
	}
	var out []string
	for _, u := range units {
		for _, ref := range [...]string{u.Parent, u.Supervisor} {
			if ref != "" && !have[ref] {
				out = append(out, ref)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DefaultRuleOrder is the order of a rule that states none: the largest order a 32-bit
// integer holds, so that such a rule is tried last (ties by id), never before a rule that
// states its order.
const DefaultRuleOrder = math.MaxInt32

// DecodeRules reads a rules document: a JSON array of rule objects, or an object
// {"rules": [...]}. Each rule object has the members
//
//	id       string, required, unique in the document, ≤ 64 characters (MaxIDLength)
//	order    integer, optional: rules are tried in ascending order, ties by id; a rule
//	         without one gets DefaultRuleOrder and is tried after every rule with an order
//	class    string, required: "*" (any class), a 2-digit major class "01" (or "01*"), or an
//	         exact 4-digit legacy or 5-digit GB/T 47678.5-2026 class
//	kind     string, optional: "component", "event", or "" for both
//	area     string, optional: a code prefix the location's cell code must start with — a
//	         district (6 digits), street (9), community (12) or a cell code (14 or 15); "" everywhere
//	in_unit  boolean, optional: the area is the responsible unit's own polygon (Unit.Area)
//	unit     string, required: id of the responsible unit
//	reason   string, optional, ≤ 200 characters: shown with lookups
//
// for example
//
//	[{"id": "water-covers", "order": 10, "class": "01001", "kind": "component",
//	  "area": "500103", "unit": "cq-yz-water", "reason": "供水井盖由供水公司养护"},
//	 {"id": "fallback", "order": 1000, "class": "*", "unit": "cq-yz-cgj"}]
//
// rules[i] is the document's i-th entry, as far as it could be read, so problem indexes line
// up with it. Whether unit exists is left to the caller. Other members are ignored. The error
// is non-nil (an *Error) only when the document as a whole cannot be read. Problem codes:
// invalid_entry, invalid_encoding (an entry that is not UTF-8), missing_field, duplicate_id,
// invalid_class_pattern, invalid_kind, invalid_area, too_long.
func DecodeRules(r io.Reader) ([]Rule, []Problem, error) {
	entries, probs, err := readDocument(r, "rules")
	if err != nil {
		return nil, nil, err
	}
	rules := make([]Rule, len(entries))
	first := make(map[string]int, len(entries))
	for i, raw := range entries {
		if raw == nil {
			continue // a CSV row that could not be read: its problem is in probs
		}
		var d struct {
			ID     string `json:"id"`
			Order  *int   `json:"order"`
			Class  string `json:"class"`
			Kind   string `json:"kind"`
			Area   string `json:"area"`
			InUnit bool   `json:"in_unit"`
			Unit   string `json:"unit"`
			Reason string `json:"reason"`
		}
		add := func(field, code, format string, args ...any) {
			probs = append(probs, Problem{Index: i, ID: d.ID, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
		}
		if !utf8.Valid(raw) {
			add("", CodeInvalidEncoding, "rule %d is not valid UTF-8", i)
			continue
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			add("", CodeInvalidEntry, "rule %d is not a rule object: %v", i, err)
			continue
		}
		ru := Rule{
			ID:     strings.TrimSpace(d.ID),
			Order:  DefaultRuleOrder,
			Class:  strings.TrimSpace(d.Class),
			Kind:   strings.TrimSpace(d.Kind),
			Area:   strings.TrimSpace(d.Area),
			InUnit: d.InUnit,
			Unit:   strings.TrimSpace(d.Unit),
			Reason: strings.TrimSpace(d.Reason),
		}
		if d.Order != nil {
			ru.Order = *d.Order
		}
		d.ID = ru.ID
		switch j, dup := first[ru.ID]; {
		case ru.ID == "":
			add("id", CodeMissingField, "rule %d has no id", i)
		case dup:
			add("id", CodeDuplicateID, "rule id %q already appears at entry %d", ru.ID, j)
		default:
			first[ru.ID] = i
		}
		checkRuleIDs(&ru, add)
		switch {
		case ru.Class == "":
			add("class", CodeMissingField, "rule %q has no class (use \"*\" for every class)", ru.ID)
		case !validClassPattern(ru.Class):
			add("class", CodeInvalidClassPattern, "class %q is not *, a 2-digit major class (01 or 01*), or a 4- or 5-digit class", ru.Class)
		}
		switch ru.Kind {
		case "", string(KindComponent), string(KindEvent):
		default:
			add("kind", CodeInvalidKind, "kind %q is not component, event or empty", ru.Kind)
		}
		if !validAreaPrefix(ru.Area) {
			add("area", CodeInvalidArea, "area %q is not a district (6 digits), street (9), community (12) or cell code (14 or 15)", ru.Area)
		}
		if ru.Unit == "" {
			add("unit", CodeMissingField, "rule %q has no unit", ru.ID)
		}
		checkText(ru.Reason, "reason", maxUnitTextRunes, add)
		rules[i] = ru
	}
	slices.SortStableFunc(probs, func(a, b Problem) int { return a.Index - b.Index })
	return rules, probs, nil
}

// readDocument returns the entries of a JSON array, or of the array member key of an object,
// or of a CSV/TSV document (documentCSV: an entry is nil when its row could not be read, and
// its problem is returned).
func readDocument(r io.Reader, key string) ([]json.RawMessage, []Problem, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDocumentBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s document: %w", key, err)
	}
	if len(data) > maxDocumentBytes {
		return nil, nil, Errorf(TooLarge, CodeTooLarge, "the %s document is larger than %d MiB", key, maxDocumentBytes>>20)
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	text := data // a CSV keeps its trailing empty cells
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, Errorf(Invalid, CodeInvalidInput, "the %s document is empty", key)
	}
	var entries []json.RawMessage
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, nil, Errorf(Invalid, CodeInvalidInput, "%s document: %v", key, err)
		}
	case '{':
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, nil, Errorf(Invalid, CodeInvalidInput, "%s document: %v", key, err)
		}
		arr, ok := doc[key]
		if !ok {
			return nil, nil, Errorf(Invalid, CodeInvalidInput, "%s document: the object has no %q member", key, key)
		}
		if err := json.Unmarshal(arr, &entries); err != nil {
			return nil, nil, Errorf(Invalid, CodeInvalidInput, "%s document: %q is not an array: %v", key, key, err)
		}
	default:
		return documentCSV(bytes.TrimLeft(text, "\r\n"), key)
	}
	// An entry that is not UTF-8 is that entry's problem; bytes outside every entry are the
	// document's.
	if !utf8.Valid(data) && !slices.ContainsFunc(entries, func(e json.RawMessage) bool { return !utf8.Valid(e) }) {
		return nil, nil, Errorf(Invalid, CodeInvalidEncoding, "the %s document is not valid UTF-8", key)
	}
	return entries, nil, nil
}

// checkUnitIDs reports a unit's id, parent or supervisor that is too long (or not UTF-8).
func checkUnitIDs(u *Unit, add func(field, code, format string, args ...any)) {
	checkText(u.ID, "id", MaxIDLength, add)
	checkText(u.Parent, "parent", MaxIDLength, add)
	checkText(u.Supervisor, "supervisor", MaxIDLength, add)
}

// checkRuleIDs reports a rule's id or unit that is too long (or not UTF-8).
func checkRuleIDs(ru *Rule, add func(field, code, format string, args ...any)) {
	checkText(ru.ID, "id", MaxIDLength, add)
	checkText(ru.Unit, "unit", MaxIDLength, add)
}

// firstProblem runs check and returns the first problem it reports as an *Error, or nil.
func firstProblem(check func(add func(field, code, format string, args ...any))) error {
	var err error
	check(func(field, code, format string, args ...any) {
		if err == nil {
			err = Problem{Index: -1, Field: field, Code: code, Message: fmt.Sprintf(format, args...)}.Err()
		}
	})
	return err
}

// checkText reports text that is not UTF-8 or longer than max characters.
func checkText(v, field string, max int, add func(field, code, format string, args ...any)) {
	if !utf8.ValidString(v) {
		add(field, CodeInvalidEncoding, "%s is not valid UTF-8", field)
	} else if n := utf8.RuneCountInString(v); n > max {
		add(field, CodeTooLong, "%s has %d characters, at most %d are allowed", field, n, max)
	}
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// isDistrictCode reports whether s is a 6-digit GB/T 2260 code (first digit 1–9).
func isDistrictCode(s string) bool {
	return len(s) == 6 && digitsOnly(s) && s[0] != '0'
}

// validClassPattern reports whether s is a rule class: *, NN, NN*, NNNN or NNNNN.
func validClassPattern(s string) bool {
	switch len(s) {
	case 1:
		return s == "*"
	case 2, 4, 5:
		return digitsOnly(s)
	case 3:
		return s[2] == '*' && digitsOnly(s[:2])
	}
	return false
}

// validAreaPrefix reports whether s is "" or a district, street, community or cell code.
func validAreaPrefix(s string) bool {
	switch len(s) {
	case 0:
		return true
	case 6, 9, 12:
		return digitsOnly(s) && s[0] != '0'
	case 14, 15:
		_, err := ParseGridCode(s)
		return err == nil
	}
	return false
}
