package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CreateComponent validates one component (a census feature) and stores it as new.
// It returns ErrDuplicate when its identifier exists, a validation *Error otherwise.
func (s *Service) CreateComponent(ctx context.Context, f *Feature, actor string) (Component, error) {
	if err := CheckActor(actor); err != nil {
		return Component{}, fmt.Errorf("create component: %w", err)
	}
	c, probs := DecodeComponent(f, s.catalog)
	if len(probs) > 0 {
		return Component{}, probs[0].Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.locate(&c, f.Index); p != nil {
		return Component{}, p.Err()
	}
	for _, id := range [2]ComponentCode{c.ID, c.LegacyID} {
		if id.IsZero() {
			continue
		}
		if _, err := s.store.Component(ctx, id); err == nil {
			return Component{}, fmt.Errorf("create component %s: %w", id, ErrDuplicate)
		} else if !errors.Is(err, ErrComponentNotFound) {
			return Component{}, fmt.Errorf("create component %s: %w", id, err)
		}
	}
	return s.put(ctx, c, 0, actor)
}

func (s *Service) put(ctx context.Context, c Component, version int64, actor string) (Component, error) {
	return s.putNoted(ctx, c, version, actor, "")
}

// putNoted stores one component, its history entry carrying note.
func (s *Service) putNoted(ctx context.Context, c Component, version int64, actor, note string) (Component, error) {
	var expect []int64
	if version > 0 {
		expect = []int64{version}
	}
	var stored []Component
	err := s.commit(func() error {
		var err error
		if stored, err = s.store.PutComponentsNoted(ctx, []Component{c}, expect, actor, note); err != nil {
			return err
		}
		s.index.ApplyComponents(stored)
		return nil
	})
	if err != nil {
		return Component{}, fmt.Errorf("put component %s: %w", c.ID, err)
	}
	return stored[0], nil
}

// UpdateComponent applies a surveyor's edit: the properties present in patch replace the
// stored ones (an empty string clears an optional field), a geometry moves the component
// (its cell is recomputed). version must be the component's current version, else
// ErrVersionConflict. The identifier and class cannot change.
func (s *Service) UpdateComponent(ctx context.Context, id ComponentCode, patch *Feature, version int64, actor string) (Component, error) {
	if err := CheckActor(actor); err != nil {
		return Component{}, fmt.Errorf("update component %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Component(ctx, id)
	if err != nil {
		return Component{}, fmt.Errorf("update component %s: %w", id, err)
	}
	if version > 0 && cur.Version != version {
		return Component{}, fmt.Errorf("update component %s (version %d, current %d): %w", id, version, cur.Version, ErrVersionConflict)
	}
	merged := componentFeature(&cur)
	var attrPatch []Attribute // over the current attributes: last wins, null removes
	for k, v := range patch.Props {
		if _, field := compFieldOf(k); !field {
			switch {
			case strings.EqualFold(k, "attributes"):
				members, err := patchAttributes(v, patch.Raw[k])
				if err != nil {
					return Component{}, fmt.Errorf("update component %s: %w", id, err)
				}
				attrPatch = append(attrPatch, members...)
			case compIgnoredOf(k):
			default:
				a := StringAttribute(k, v)
				switch {
				case patch.Raw[k]:
					a.Value = json.RawMessage(v)
				case strings.TrimSpace(v) == "":
					a.Value = json.RawMessage("null") // "" clears, as it does a field
				}
				attrPatch = append(attrPatch, a)
			}
			continue
		}
		k = canonicalProp(k)
		switch k {
		case "id", "legacy_id", "cell", "key", "version", "legacy_class":
			continue // computed or immutable: ignored
		case "class":
			// The class may be repeated, never changed or cleared; an unmapped component's
			// class is its legacy class.
			if v == "" || v != cur.Class && v != cur.LegacyClass {
				return Component{}, Errorf(Invalid, CodeClassImmutable, "the class of %s cannot change (its identifier encodes it); retire it and create a new component", id)
			}
			continue
		case "status":
			// A retired component comes back only through RestoreComponent, never by an edit.
			if st, err := ParseStatus(v); cur.Status == StatusRemoved && (err != nil || st != StatusRemoved) {
				return Component{}, Errorf(Conflict, CodeComponentRetired,
					"component %s is retired; restore it (POST /api/v1/components/%s/restore) before changing its status", id, id)
			}
		}
		merged.Props[k] = v
	}
	if len(attrPatch) > 0 {
		attrs, err := MakeAttributes(append(cur.Attributes.List(), attrPatch...))
		if err != nil {
			return Component{}, fmt.Errorf("update component %s: %w", id, err)
		}
		delete(merged.Props, "attributes")
		merged.Raw = nil
		if attrs != "" {
			merged.Props["attributes"] = string(attrs)
			merged.Raw = map[string]bool{"attributes": true}
		}
	}
	if patch.Geometry != nil {
		merged.Geometry = patch.Geometry
	}
	c, probs := DecodeComponent(merged, s.catalog)
	if len(probs) > 0 {
		return Component{}, probs[0].Err()
	}
	c.Key, c.ID, c.LegacyID, c.Class, c.LegacyClass = cur.Key, cur.ID, cur.LegacyID, cur.Class, cur.LegacyClass
	if p := s.locate(&c, -1); p != nil {
		return Component{}, p.Err()
	}
	_, dated := patch.Props["change_date"]
	if sameComponent(&c, &cur, dated) {
		return cur, nil // nothing changes: no new version, no history or feed entry
	}
	if !dated {
		c.ChangeDate = s.today()
	}
	return s.put(ctx, c, cur.Version, actor)
}

// sameComponent reports whether an edit leaves a component as it was, ignoring what every
// write sets (Version, Updated, UpdatedBy) and, unless the edit names it, ChangeDate.
func sameComponent(a, b *Component, dated bool) bool {
	x, y := *a, *b
	x.Version, x.Updated, x.UpdatedBy = y.Version, y.Updated, y.UpdatedBy
	if !dated || x.ChangeDate.Equal(y.ChangeDate) {
		x.ChangeDate = y.ChangeDate
	}
	if x.CensusDate.Equal(y.CensusDate) {
		x.CensusDate = y.CensusDate
	}
	return x == y
}

// RetireComponent marks a component removed (移除). Components are never deleted: the
// record and its history stay. note, when given, says why in the history entry of the
// retirement (Change.Note); the component's own note is kept. Retiring a retired component
// changes nothing.
func (s *Service) RetireComponent(ctx context.Context, id ComponentCode, version int64, actor, note string) (Component, error) {
	if err := CheckNote(note); err != nil {
		return Component{}, fmt.Errorf("retire component %s: %w", id, err)
	}
	if err := CheckActor(actor); err != nil {
		return Component{}, fmt.Errorf("retire component %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Component(ctx, id)
	if err != nil {
		return Component{}, fmt.Errorf("retire component %s: %w", id, err)
	}
	if version > 0 && cur.Version != version {
		return Component{}, fmt.Errorf("retire component %s (version %d, current %d): %w", id, version, cur.Version, ErrVersionConflict)
	}
	if cur.Status == StatusRemoved {
		return cur, nil
	}
	c := cur
	c.Status = StatusRemoved
	c.ChangeDate = s.today()
	return s.putNoted(ctx, c, cur.Version, actor, note)
}

// RestoreComponent brings a retired component back: its status becomes the one it had before
// its last retirement (intact when the history does not say), its change_date today, and the
// history entry carries note ("restored" when empty). version must be the current version
// (0: any). A component that is not retired is a Conflict not_retired.
func (s *Service) RestoreComponent(ctx context.Context, id ComponentCode, version int64, actor, note string) (Component, error) {
	if err := CheckNote(note); err != nil {
		return Component{}, fmt.Errorf("restore component %s: %w", id, err)
	}
	if err := CheckActor(actor); err != nil {
		return Component{}, fmt.Errorf("restore component %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.Component(ctx, id)
	if err != nil {
		return Component{}, fmt.Errorf("restore component %s: %w", id, err)
	}
	if version > 0 && cur.Version != version {
		return Component{}, fmt.Errorf("restore component %s (version %d, current %d): %w", id, version, cur.Version, ErrVersionConflict)
	}
	if cur.Status != StatusRemoved {
		return Component{}, Errorf(Conflict, CodeNotRetired, "component %s is not retired (status %s); there is nothing to restore", id, cur.Status)
	}
	hist, err := s.store.History(ctx, id)
	if err != nil {
		return Component{}, fmt.Errorf("restore component %s: %w", id, err)
	}
	c := cur
	c.Status = StatusIntact
	for i := len(hist) - 1; i >= 0; i-- {
		if b := hist[i].Before; b != nil && b.Status != StatusRemoved && hist[i].After != nil && hist[i].After.Status == StatusRemoved {
			c.Status = b.Status
			break
		}
	}
	c.ChangeDate = s.today()
	if note == "" {
		note = "restored"
	}
	return s.putNoted(ctx, c, cur.Version, actor, note)
}

// componentFeature turns a stored component back into a census feature (import names).
func componentFeature(c *Component) *Feature {
	p := map[string]string{
		"class":      c.Class,
		"name":       c.Name,
		"status":     c.Status.String(),
		"supervisor": c.Supervisor,
		"owner":      c.Owner,
		"maintainer": c.Maintainer,
		"source":     c.Source,
		"note":       c.Note,
	}
	if c.Class == "" {
		p["class"] = c.LegacyClass
	}
	if !c.ID.IsZero() {
		p["id"] = c.ID.String()
	}
	if !c.CensusDate.IsZero() {
		p["census_date"] = c.CensusDate.Format(time.DateOnly)
	}
	if !c.ChangeDate.IsZero() {
		p["change_date"] = c.ChangeDate.Format(time.DateOnly)
	}
	f := &Feature{Index: -1, ID: c.ID.String(), Geometry: c.Point, Props: p}
	if c.Attributes != "" {
		p["attributes"] = string(c.Attributes)
		f.Raw = map[string]bool{"attributes": true}
	}
	return f
}

// patchAttributes reads the "attributes" member of an edit: an object whose members set
// attributes, a null member removing one. raw is false when the member was a string.
func patchAttributes(v string, raw bool) ([]Attribute, error) {
	if !raw {
		return nil, Errorf(Invalid, CodeInvalidAttribute, "attributes must be an object of names and values")
	}
	return attributeList([]byte(v))
}

// canonicalProp maps a patch's property name (any case, or a GB/T 47678.5 Table 2 / Suzhou
// alias) to the census property name, so a patch replaces the stored value instead of
// conflicting with it.
func canonicalProp(k string) string {
	k = strings.ToLower(k)
	if i, ok := compFields[k]; ok {
		return compFieldNames[i]
	}
	return k
}

// today is the UTC date of s.Now, the change_date of an edit.
func (s *Service) today() time.Time {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	t := now().UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
