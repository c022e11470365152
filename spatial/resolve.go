package spatial

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"citygrid/registry"
)

// Resolution says who is responsible for a problem at a point and why (Art. 13 of the
// Chongqing Measures). Cell and Unit point into the index snapshot and are read-only.
type Resolution struct {
	Cell      *registry.Cell // the cell containing the point; for ResolveArea only when one cell meets the area
	Unit      *registry.Unit
	Kind      string                 // "component", "rule", "district_centre" or "city_centre"
	RuleID    string                 // Kind "rule"
	Component registry.ComponentCode // Kind "component"
	Reason    string                 // a sentence for people
}

// Resolution kinds.
const (
	KindComponent      = "component"
	KindRule           = "rule"
	KindDistrictCentre = "district_centre"
	KindCityCentre     = "city_centre"
)

// units is the compiled unit list of a snapshot.
type units struct {
	list     []registry.Unit // sorted by ID
	byID     map[string]int
	byName   map[string]int    // the first unit (by ID) with each name
	areas    []shape           // by list index; empty when the unit has no Area
	district map[string]centre // district code → its district centre (first by ID)
	city     int               // first city centre by ID, -1 if none
}

func compileUnits(in []registry.Unit) units {
	u := units{
		list:     make([]registry.Unit, len(in)),
		byID:     make(map[string]int, len(in)),
		byName:   make(map[string]int, len(in)),
		district: map[string]centre{},
		city:     -1,
	}
	for i := range in {
		u.list[i] = in[i]
		u.list[i].Districts = slices.Clone(in[i].Districts)
		if in[i].Area != nil {
			u.list[i].Area = orb.Clone(in[i].Area).(orb.MultiPolygon)
		}
	}
	slices.SortStableFunc(u.list, func(a, b registry.Unit) int { return strings.Compare(a.ID, b.ID) })
	u.areas = make([]shape, len(u.list))
	for i := range u.list {
		x := &u.list[i]
		if _, dup := u.byID[x.ID]; !dup {
			u.byID[x.ID] = i
		}
		if _, dup := u.byName[x.Name]; !dup && x.Name != "" {
			u.byName[x.Name] = i
		}
		u.areas[i] = newShape(x.Area)
		switch x.Type {
		case registry.UnitCityCentre:
			if u.city < 0 {
				u.city = i
			}
		case registry.UnitDistrictCentre:
			for _, d := range x.Districts {
				if _, dup := u.district[d]; !dup {
					u.district[d] = centre{unit: i, reason: "no component maintainer or rule applies; the district centre serving district " +
						d + " handles it (Art. 13)"}
				}
			}
		}
	}
	return u
}

// centre is a district's centre with the Reason Resolve gives for it, built once.
type centre struct {
	unit   int
	reason string
}

// named finds the unit a component's Maintainer names: by ID, else by Name; -1 if none.
func (u *units) named(s string) int {
	if s == "" {
		return -1
	}
	if i, ok := u.byID[s]; ok {
		return i
	}
	if i, ok := u.byName[s]; ok {
		return i
	}
	return -1
}

// Class kinds for rule matching.
const (
	kindAny       uint8 = iota // rule Kind "" / class of unknown kind
	kindComp                   // component classes and their "…异常" matters: 5-digit majors 01–05
	kindEvent                  // other event/matter classes: 5-digit majors 06 and up
	kindAmbiguous              // legacy 4-digit codes: the same code may be a component or an event
)

func classKind(c string) uint8 {
	switch len(c) {
	case 5:
		if c[:2] >= "01" && c[:2] <= "05" {
			return kindComp
		}
		return kindEvent
	case 4:
		return kindAmbiguous
	}
	return kindAny
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkClass accepts "" (class unknown), 4 or 5 digits.
func checkClass(c string) error {
	if c == "" || (len(c) == 4 || len(c) == 5) && allDigits(c) {
		return nil
	}
	return registry.ErrInvalidClass
}

type compiledRule struct {
	id     string
	unit   int // index in units.list
	kind   uint8
	area   string
	inUnit bool
	reason string
}

// ruleSet holds the rules in evaluation order and, per class, the candidate rules whose
// class pattern matches it, so Resolve looks at only those.
type ruleSet struct {
	source []registry.Rule // sorted by Order, then ID
	rules  []compiledRule  // parallel to source; unit -1 = names no known unit (never applies)
	any    []int32         // pattern "*"
	major  map[string][]int32
	exact  map[string][]int32
}

func compileRules(in []registry.Rule, u units) ruleSet {
	rs := ruleSet{
		source: slices.Clone(in),
		major:  map[string][]int32{},
		exact:  map[string][]int32{},
	}
	slices.SortStableFunc(rs.source, func(a, b registry.Rule) int {
		if a.Order != b.Order {
			if a.Order < b.Order {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	rs.rules = make([]compiledRule, len(rs.source))
	byMajor := map[string][]int32{}
	byExact := map[string][]int32{}
	for i, r := range rs.source {
		cr := compiledRule{id: r.ID, unit: -1, area: r.Area, inUnit: r.InUnit, reason: r.Reason}
		if ui, ok := u.byID[r.Unit]; ok {
			cr.unit = ui
		}
		switch r.Kind {
		case "component":
			cr.kind = kindComp
		case "event":
			cr.kind = kindEvent
		}
		if cr.reason == "" && cr.unit >= 0 {
			cr.reason = ruleReason(r, &u.list[cr.unit])
		}
		rs.rules[i] = cr
		pat := strings.TrimSpace(r.Class)
		switch {
		case pat == "*":
			rs.any = append(rs.any, int32(i))
		case len(pat) == 3 && pat[2] == '*' && allDigits(pat[:2]):
			byMajor[pat[:2]] = append(byMajor[pat[:2]], int32(i))
		case len(pat) == 2 && allDigits(pat):
			byMajor[pat] = append(byMajor[pat], int32(i))
		case (len(pat) == 4 || len(pat) == 5) && allDigits(pat):
			byExact[pat] = append(byExact[pat], int32(i))
		}
		// any other pattern matches nothing
	}
	for m, l := range byMajor {
		rs.major[m] = mergeSorted(rs.any, l)
	}
	for c, l := range byExact {
		rs.exact[c] = mergeSorted(mergeSorted(rs.any, byMajor[c[:2]]), l)
	}
	return rs
}

func mergeSorted(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	return out
}

// candidates returns, in evaluation order, the rules whose class pattern matches class.
func (rs *ruleSet) candidates(class string) []int32 {
	if len(class) >= 4 {
		if l, ok := rs.exact[class]; ok {
			return l
		}
	}
	if len(class) >= 2 {
		if l, ok := rs.major[class[:2]]; ok {
			return l
		}
	}
	return rs.any
}

func kindMatches(rule, class uint8) bool {
	return rule == kindAny || class == kindAmbiguous || rule == class
}

func ruleReason(r registry.Rule, u *registry.Unit) string {
	var b strings.Builder
	b.WriteString("rule ")
	b.WriteString(r.ID)
	b.WriteString(": ")
	switch strings.TrimSpace(r.Class) {
	case "*":
		b.WriteString("every class")
	default:
		b.WriteString("class ")
		b.WriteString(strings.TrimSuffix(r.Class, "*"))
	}
	if r.Kind != "" {
		b.WriteString(" (" + r.Kind + "s)")
	}
	switch {
	case r.InUnit:
		b.WriteString(" inside the service area of " + u.Name)
	case r.Area != "":
		b.WriteString(" in " + r.Area)
	default:
		b.WriteString(" everywhere")
	}
	b.WriteString(" is handled by ")
	b.WriteString(u.Name)
	b.WriteString(" (")
	b.WriteString(u.ID)
	b.WriteString(")")
	return b.String()
}

// Resolve finds the unit responsible for a problem of class at p (lon/lat WGS84), following
// Art. 13 of the Chongqing Measures:
//
//  1. Component maintainer: if class is a component class or its "…异常" matter (5-digit
//     major 01–05, or a legacy 4-digit code) and a component of exactly that class (current
//     or legacy) lies within Options.SnapRadius metres (geodesic, haversine on a sphere of
//     radius orb.EarthRadius) and its Maintainer names a known unit (by unit ID, else by
//     unit Name), the nearest such component's maintainer is responsible (Kind
//     "component"). Retired components (StatusRemoved) are skipped.
//  2. Rules: the first rule in (Order, ID) whose class pattern matches ("*", a 2-digit
//     major or "01*", an exact 4/5-digit code), whose Kind fits the class (5-digit majors
//     01–05 are component classes, other 5-digit codes events; legacy 4-digit codes match
//     either Kind; an empty class matches only rules of Kind "") and whose area contains the
//     point (Area "" or a prefix of the cell's code; with InUnit, the rule unit's Area
//     polygon contains p) decides (Kind "rule"). Rules naming an unknown unit are skipped.
//  3. The district centre serving the cell's district (Kind "district_centre").
//  4. The city centre (Kind "city_centre").
//
// class may be "" (unknown: step 1 is skipped and only class "*" rules apply). Errors:
// registry.ErrInvalidPoint, registry.ErrInvalidClass, registry.ErrOutsideGrid when p is in
// no cell, registry.ErrNoUnit when nothing applies.
func (idx *Index) Resolve(p orb.Point, class string) (Resolution, error) {
	if !registry.ValidPoint(p) {
		return Resolution{}, registry.ErrInvalidPoint
	}
	if err := checkClass(class); err != nil {
		return Resolution{}, err
	}
	s := idx.load()
	return idx.resolveIn(s, p, class, s.cellAt(p))
}

// resolveIn is Resolve once the point (valid) and the class (checked) have been looked up
// in snapshot s: e is the cell containing p, nil when none does.
func (idx *Index) resolveIn(s *snapshot, p orb.Point, class string, e *cellEntry) (Resolution, error) {
	if e == nil {
		return Resolution{}, registry.ErrOutsideGrid
	}
	res := Resolution{Cell: &e.cell}
	ck := classKind(class)
	var stray *compEntry // the nearest component whose maintainer names no unit, when no other applies
	var strayD float64
	if ck == kindComp || ck == kindAmbiguous {
		if cid, ok := s.classID[class]; ok {
			ce, ui, d, ok := s.snapComponent(p, cid, idx.opts.SnapRadius)
			if ok && ui >= 0 {
				u := &s.units.list[ui]
				res.Kind = KindComponent
				res.Unit = u
				res.Component = registry.ComponentCodeFromUint64(ce.id, ce.flags&flagLegacyID != 0)
				res.Reason = componentReason(res.Component, s.classes[ce.class], d, u)
				return res, nil
			}
			if ok {
				stray, strayD = ce, d
			}
		}
	}
	res, err := idx.resolveRules(s, p, class, ck, e, res)
	if stray != nil && err == nil {
		res.Reason = strayReason(registry.ComponentCodeFromUint64(stray.id, stray.flags&flagLegacyID != 0),
			s.classes[stray.class], strayD, s.maints[stray.maint]) + res.Reason
	}
	return res, err
}

// resolveRules is steps 2 to 4 of Resolve.
func (idx *Index) resolveRules(s *snapshot, p orb.Point, class string, ck uint8, e *cellEntry, res Resolution) (Resolution, error) {
	for _, ri := range s.rules.candidates(class) {
		r := &s.rules.rules[ri]
		if r.unit < 0 || !kindMatches(r.kind, ck) {
			continue
		}
		if r.inUnit {
			if !s.units.areas[r.unit].contains(p) {
				continue
			}
		} else if !strings.HasPrefix(string(e.cell.Code), r.area) {
			continue
		}
		res.Kind = KindRule
		res.RuleID = r.id
		res.Unit = &s.units.list[r.unit]
		res.Reason = r.reason
		return res, nil
	}
	return s.units.fallback(res, e.district, false)
}

// fallback applies steps 3 and 4: the district centre, else the city centre.
func (u *units) fallback(res Resolution, district string, acrossDistricts bool) (Resolution, error) {
	if !acrossDistricts {
		if c, ok := u.district[district]; ok {
			res.Kind = KindDistrictCentre
			res.Unit = &u.list[c.unit]
			res.Reason = c.reason
			return res, nil
		}
	}
	if u.city >= 0 {
		res.Kind = KindCityCentre
		res.Unit = &u.list[u.city]
		if acrossDistricts {
			res.Reason = "the area spans several districts; across districts the city centre decides (Art. 13)"
		} else {
			res.Reason = "no district centre serves district " + district + "; the city centre handles it (Art. 13)"
		}
		return res, nil
	}
	return Resolution{}, registry.ErrNoUnit
}

// strayReason is the start of a Reason when the nearest component of the class names a
// maintainer that is no known unit: the dispatcher learns why it was not asked.
func strayReason(id registry.ComponentCode, class string, d float64, maint string) string {
	b := make([]byte, 0, 200)
	b = append(b, "component "...)
	b = append(b, id.String()...)
	b = append(b, " (class "...)
	b = append(b, class...)
	b = append(b, ") "...)
	b = strconv.AppendFloat(b, roundCM(d), 'f', -1, 64)
	b = append(b, " m away names the maintainer "...)
	b = strconv.AppendQuote(b, maint)
	b = append(b, ", which is not a known unit (neither a unit id nor a unit name); "...)
	return string(b)
}

// roundCM rounds a distance in metres to the centimetre.
func roundCM(d float64) float64 { return math.Round(d*100) / 100 }

func componentReason(id registry.ComponentCode, class string, d float64, u *registry.Unit) string {
	b := make([]byte, 0, 160)
	b = append(b, "component "...)
	b = append(b, id.String()...)
	b = append(b, " (class "...)
	b = append(b, class...)
	b = append(b, ") "...)
	b = strconv.AppendFloat(b, roundCM(d), 'f', -1, 64)
	b = append(b, " m away is maintained by "...)
	b = append(b, u.Name...)
	b = append(b, " ("...)
	b = append(b, u.ID...)
	b = append(b, "), which is responsible (Art. 13)"...)
	return string(b)
}

// snapComponent finds the nearest component of class cid within radius metres of p that is
// not retired and whose maintainer is a known unit; ties go to the smaller key. When there is
// none, it returns the nearest one whose maintainer is set but names no known unit, with unit
// -1; ok is false when there is neither.
func (s *snapshot) snapComponent(p orb.Point, cid uint16, radius float64) (e *compEntry, unit int, dist float64, ok bool) {
	var stray *compEntry
	strayD := math.Inf(1)
	var strayKey registry.Key
	b := radiusBound(p, radius)
	min, max := boundRect32(b)
	bestD := math.Inf(1)
	var bestKey registry.Key
	cosP := math.Cos(deg2rad(p[1]))
	t := s.classTree(classTreeKey(cid, false))
	if t == nil {
		return
	}
	t.Search(min, max, func(_, _ [2]float32, sl uint32) bool {
		ce := s.comps.get(sl)
		if ce == nil || ce.status == registry.StatusRemoved || ce.class != cid && ce.legacy != cid {
			return true // the live class trees hold only candidates; this keeps Resolve right regardless
		}
		if !inBound(b, ce.pt) {
			return true
		}
		d := haversine(p, cosP, ce.pt)
		if d > radius || d > bestD {
			return true
		}
		k := s.keyOf(sl)
		if d == bestD && k > bestKey {
			return true
		}
		m := s.maints[ce.maint]
		ui := s.units.named(m)
		if ui < 0 {
			if m != "" && (d < strayD || d == strayD && k < strayKey) {
				stray, strayD, strayKey = ce, d, k
			}
			return true
		}
		e, unit, dist, ok = ce, ui, d, true
		bestD, bestKey = d, k
		return true
	})
	if !ok && stray != nil {
		return stray, -1, strayD, true
	}
	return
}

// ResolveArea finds the unit responsible for a problem of class covering the rectangle b
// (lon/lat WGS84), e.g. a stretch of road. Cells whose closed polygon meets b are
// considered. When they lie in several districts the city centre decides (Art. 13: across
// districts, the city). Within one district the rules apply as in Resolve step 2, an area
// rule matching when its Area is a prefix of the code prefix common to all those cells (an
// InUnit rule when b lies inside the unit's Area); then the district centre, then the city
// centre. Component maintainers are not consulted. Resolution.Cell is set when exactly one
// cell meets b. Errors: registry.ErrInvalidInput for a malformed bound,
// registry.ErrInvalidClass, registry.ErrOutsideGrid, registry.ErrNoUnit.
func (idx *Index) ResolveArea(b orb.Bound, class string) (Resolution, error) {
	if !validBound(b) {
		return Resolution{}, registry.ErrInvalidInput
	}
	if err := checkClass(class); err != nil {
		return Resolution{}, err
	}
	s := idx.load()
	var hit []*cellEntry
	s.cellTree.Search(b.Min, b.Max, func(_, _ [2]float64, slot uint32) bool {
		if e := s.cells[slot]; e.shape.intersectsRect(b) {
			hit = append(hit, e)
		}
		return true
	})
	if len(hit) == 0 {
		return Resolution{}, registry.ErrOutsideGrid
	}
	var res Resolution
	if len(hit) == 1 {
		res.Cell = &hit[0].cell
	}
	prefix := string(hit[0].cell.Code)
	district := hit[0].district
	for _, e := range hit[1:] {
		if e.district != district {
			return s.units.fallback(res, "", true)
		}
		prefix = commonPrefix(prefix, string(e.cell.Code))
	}
	ck := classKind(class)
	for _, ri := range s.rules.candidates(class) {
		r := &s.rules.rules[ri]
		if r.unit < 0 || !kindMatches(r.kind, ck) {
			continue
		}
		if r.inUnit {
			if !s.units.areas[r.unit].containsRect(b) {
				continue
			}
		} else if !strings.HasPrefix(prefix, r.area) {
			continue
		}
		res.Kind = KindRule
		res.RuleID = r.id
		res.Unit = &s.units.list[r.unit]
		res.Reason = r.reason
		return res, nil
	}
	return s.units.fallback(res, district, false)
}

func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return a[:i]
		}
	}
	return a[:n]
}

func validBound(b orb.Bound) bool {
	return registry.ValidPoint(b.Min) && registry.ValidPoint(b.Max) && b.Min[0] <= b.Max[0] && b.Min[1] <= b.Max[1]
}
