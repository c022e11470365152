package registry

import (
	"slices"

	"github.com/paulmach/orb"
)

// The changed fields of a history entry are computed from its before- and after-images, not
// stored: one function per record type. Names are those of the API's answers (the units and
// rules documents' members, the component properties and "geometry"). Bookkeeping (key,
// version, updated, updated_by) is never a change of its own. A create (before nil) lists
// every field the record has set, a delete or an entry without after-image none.

// ChangedUnitFields returns the members of a units document entry that differ between
// before and after, in document order.
func ChangedUnitFields(before, after *Unit) []string {
	if after == nil {
		return []string{}
	}
	if before == nil {
		before = &Unit{}
	}
	out := []string{}
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("id", before.ID != after.ID)
	add("name", before.Name != after.Name)
	add("type", before.Type != after.Type)
	add("parent", before.Parent != after.Parent)
	add("supervisor", before.Supervisor != after.Supervisor)
	add("districts", !slices.Equal(before.Districts, after.Districts))
	add("phone", before.Phone != after.Phone)
	add("area", !equalMultiPolygon(before.Area, after.Area))
	return out
}

// ChangedRuleFields returns the members of a rules document entry that differ between before
// and after, in document order.
func ChangedRuleFields(before, after *Rule) []string {
	if after == nil {
		return []string{}
	}
	if before == nil {
		before = &Rule{}
	}
	out := []string{}
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("id", before.ID != after.ID)
	add("order", before.Order != after.Order)
	add("class", before.Class != after.Class)
	add("kind", before.Kind != after.Kind)
	add("area", before.Area != after.Area)
	add("in_unit", before.InUnit != after.InUnit)
	add("unit", before.Unit != after.Unit)
	add("reason", before.Reason != after.Reason)
	return out
}

// ChangedComponentFields returns the properties of a component (as the API answers them, and
// "geometry" for its point) that differ between before and after, in the order of the
// answer's properties. The cell follows the point; the class and status names follow them.
func ChangedComponentFields(before, after *Component) []string {
	if after == nil {
		return []string{}
	}
	if before == nil {
		before = &Component{}
	}
	out := []string{}
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("id", before.ID != after.ID)
	add("legacy_id", before.LegacyID != after.LegacyID)
	add("class", before.Class != after.Class)
	add("legacy_class", before.LegacyClass != after.LegacyClass)
	add("name", before.Name != after.Name)
	add("status", before.Status != after.Status)
	add("supervisor", before.Supervisor != after.Supervisor)
	add("owner", before.Owner != after.Owner)
	add("maintainer", before.Maintainer != after.Maintainer)
	add("cell", before.Cell != after.Cell)
	add("census_date", !before.CensusDate.Equal(after.CensusDate))
	add("change_date", !before.ChangeDate.Equal(after.ChangeDate))
	add("source", before.Source != after.Source)
	add("note", before.Note != after.Note)
	add("attributes", before.Attributes != after.Attributes)
	add("geometry", before.Point != after.Point)
	return out
}

// SameUnit reports whether a and b hold the same data: every field but Version and Updated.
// Storing a unit that is the same as the stored one changes nothing.
func SameUnit(a, b *Unit) bool { return len(ChangedUnitFields(a, b)) == 0 }

// SameRule reports whether a and b hold the same data: every field but Version.
func SameRule(a, b *Rule) bool { return len(ChangedRuleFields(a, b)) == 0 }

func equalMultiPolygon(a, b orb.MultiPolygon) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if !slices.Equal(a[i][j], b[i][j]) {
				return false
			}
		}
	}
	return true
}
