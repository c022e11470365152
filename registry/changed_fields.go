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
	out := fieldDiff{}
	out.add("id", before.ID != after.ID)
	out.add("name", before.Name != after.Name)
	out.add("type", before.Type != after.Type)
	out.add("parent", before.Parent != after.Parent)
	out.add("supervisor", before.Supervisor != after.Supervisor)
	out.add("districts", !slices.Equal(before.Districts, after.Districts))
	out.add("phone", before.Phone != after.Phone)
	out.add("area", !equalMultiPolygon(before.Area, after.Area))
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
	out := fieldDiff{}
	out.add("id", before.ID != after.ID)
	out.add("order", before.Order != after.Order)
	out.add("class", before.Class != after.Class)
	out.add("kind", before.Kind != after.Kind)
	out.add("area", before.Area != after.Area)
	out.add("in_unit", before.InUnit != after.InUnit)
	out.add("unit", before.Unit != after.Unit)
	out.add("reason", before.Reason != after.Reason)
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
	out := fieldDiff{}
	out.add("id", before.ID != after.ID)
	out.add("legacy_id", before.LegacyID != after.LegacyID)
	out.add("class", before.Class != after.Class)
	out.add("legacy_class", before.LegacyClass != after.LegacyClass)
	out.add("name", before.Name != after.Name)
	out.add("status", before.Status != after.Status)
	out.add("supervisor", before.Supervisor != after.Supervisor)
	out.add("owner", before.Owner != after.Owner)
	out.add("maintainer", before.Maintainer != after.Maintainer)
	out.add("cell", before.Cell != after.Cell)
	out.add("census_date", !before.CensusDate.Equal(after.CensusDate))
	out.add("change_date", !before.ChangeDate.Equal(after.ChangeDate))
	out.add("source", before.Source != after.Source)
	out.add("note", before.Note != after.Note)
	out.add("attributes", before.Attributes != after.Attributes)
	out.add("geometry", before.Point != after.Point)
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

// fieldDiff collects the names of the fields that changed, in the order they are added; never
// nil, so that an answer lists no change as [].
type fieldDiff []string

func (d *fieldDiff) add(name string, changed bool) {
	if changed {
		*d = append(*d, name)
	}
}
