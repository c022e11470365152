package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"citygrid/registry"

	"github.com/paulmach/orb"
)

func testComponentsRoundTrip(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	in := []registry.Component{
		newComponent(cid(chaoyang, classManhole, 12), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classLamp, 3), chaoyang, classLamp, 2),
		newComponent(cid(haidian, classManhole, 1), haidian, classManhole, 3),
	}
	in[1].LegacyID = cid(chaoyang, "0201", 3)
	in[1].LegacyClass = "0201"
	in[1].Status = registry.StatusDamaged
	in[2].CensusDate = time.Time{} // unknown survey date
	in[2].Note = ""
	w := begin()
	got := putComponents(t, s, in, nil, "census 2024")
	w.end()
	want := stampedComponents(t, w, in, got, "census 2024")
	diff(t, "PutComponents", want, got)

	for _, c := range got {
		diff(t, "Component("+c.ID.String()+")", c, getComponent(t, s, c.ID))
	}
	diff(t, "ForEachComponent", byKey(got, componentKey), allComponents(t, s))

	keys := []registry.Key{got[2].Key, got[0].Key, got[1].Key, got[0].Key}
	byKeys, err := s.ComponentsByKey(ctx, keys)
	if err != nil {
		t.Fatalf("ComponentsByKey(%v): %v", keys, err)
	}
	diff(t, "ComponentsByKey", []registry.Component{got[2], got[0], got[1], got[0]}, byKeys)

	// In key order, as the index's queries give them (the bolt store walks its cursor).
	sorted := slices.Clone(got[:3])
	slices.SortFunc(sorted, func(a, b registry.Component) int { return cmp.Compare(a.Key, b.Key) })
	asc := []registry.Key{sorted[0].Key, sorted[1].Key, sorted[1].Key, sorted[2].Key}
	byKeys, err = s.ComponentsByKey(ctx, asc)
	if err != nil {
		t.Fatalf("ComponentsByKey(%v): %v", asc, err)
	}
	diff(t, "ComponentsByKey in key order", []registry.Component{sorted[0], sorted[1], sorted[1], sorted[2]}, byKeys)

	missing := max(got[0].Key, got[1].Key, got[2].Key) + 1000
	_, err = s.ComponentsByKey(ctx, []registry.Key{got[0].Key, missing})
	checkErr(t, "ComponentsByKey(missing key)", err, registry.ErrComponentNotFound)
	_, err = s.ComponentsByKey(ctx, []registry.Key{sorted[0].Key, sorted[1].Key, sorted[2].Key, sorted[2].Key + 1})
	checkErr(t, "ComponentsByKey(missing key after the last)", err, registry.ErrComponentNotFound)
	unknown := cid(chaoyang, classManhole, 999)
	_, err = s.Component(ctx, unknown)
	checkErr(t, "Component(unknown)", err, registry.ErrComponentNotFound)
	_, err = s.History(ctx, unknown)
	checkErr(t, "History(unknown)", err, registry.ErrComponentNotFound)
}

func testKeysStableAfterReopen(t *testing.T, h Harness) {
	s := h.Open(t)
	cells := putCells(t, s, []registry.Cell{newCell(chaoyang, 1), newCell(chaoyang, 2)})
	var in []registry.Component
	for i := 1; i <= 20; i++ {
		in = append(in, newComponent(cid(chaoyang, classManhole, i), chaoyang, classManhole, i))
	}
	comps := putComponents(t, s, in, nil, "census")

	s = reopen(t, h, s)
	used := map[registry.Key]bool{}
	for _, c := range comps {
		used[c.Key] = true
		if got := getComponent(t, s, c.ID).Key; got != c.Key {
			t.Errorf("after reopen Component(%s).Key = %d, want %d", c.ID, got, c.Key)
		}
	}
	usedCells := map[registry.Key]bool{}
	for _, c := range cells {
		usedCells[c.Key] = true
		back, err := s.Cell(context.Background(), c.Code)
		if err != nil {
			t.Fatalf("Cell(%s): %v", c.Code, err)
		}
		if back.Key != c.Key {
			t.Errorf("after reopen Cell(%s).Key = %d, want %d", c.Code, back.Key, c.Key)
		}
	}

	// New records after the restart get keys never used before.
	more := putComponents(t, s, []registry.Component{
		newComponent(cid(chaoyang, classManhole, 100), chaoyang, classManhole, 100),
		newComponent(registry.ComponentCode{}, chaoyang, classLamp, 101),
	}, nil, "census")
	for _, c := range more {
		checkKey(t, "component "+c.ID.String(), c.Key)
		if used[c.Key] {
			t.Errorf("component %s got key %d, already used before the reopen", c.ID, c.Key)
		}
		used[c.Key] = true
	}
	moreCells := putCells(t, s, []registry.Cell{newCell(chaoyang, 3)})
	if usedCells[moreCells[0].Key] {
		t.Errorf("cell %s got key %d, already used before the reopen", moreCells[0].Code, moreCells[0].Key)
	}
	checkKey(t, "cell", moreCells[0].Key)
}

func testLookupByLegacyID(t *testing.T, h Harness) {
	s := h.Open(t)
	legacy := cid(chaoyang, "0101", 42)
	c := newComponent(cid(chaoyang, classManhole, 42), chaoyang, classManhole, 1)
	c.LegacyID, c.LegacyClass = legacy, "0101"
	got := putComponents(t, s, []registry.Component{c}, nil, "legacy census")[0]

	diff(t, "Component(id)", got, getComponent(t, s, got.ID))
	diff(t, "Component(legacy id)", got, getComponent(t, s, legacy))
	if hist := history(t, s, legacy); len(hist) != 1 || hist[0].Op != registry.OpCreate {
		t.Errorf("History(legacy id) = %d changes, want 1 create", len(hist))
	}

	// Re-importing the legacy census names the component by its legacy ID only: it updates
	// the same record, which keeps its 17-digit ID.
	re := newComponent(legacy, chaoyang, classManhole, 1)
	re.Name = "上水井盖（复查）"
	upd := putComponents(t, s, []registry.Component{re}, nil, "legacy census again")[0]
	want := got
	want.Name, want.Version, want.Updated, want.UpdatedBy = re.Name, 2, upd.Updated, "legacy census again"
	diff(t, "update by legacy id", want, upd)
	diff(t, "Component(id) after update", want, getComponent(t, s, got.ID))
	if n := len(allComponents(t, s)); n != 1 {
		t.Errorf("after update by legacy id: %d components, want 1", n)
	}
}

func testAssignIDs(t *testing.T, h Harness) {
	s := h.Open(t)
	zero := registry.ComponentCode{}
	first := putComponents(t, s, []registry.Component{
		newComponent(cid(chaoyang, classManhole, 7), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classManhole, 3), chaoyang, classManhole, 2),
		newComponent(zero, chaoyang, classManhole, 3),
		newComponent(zero, chaoyang, classManhole, 4),
		newComponent(zero, chaoyang, classLamp, 5),
		newComponent(zero, haidian, classManhole, 6),
		newComponent(zero, chaoyang, classManhole, 7),
		// An explicit ID after the zero ones still counts: assigned serials go above it.
		newComponent(cid(haidian, classLamp, 20), haidian, classLamp, 8),
		newComponent(zero, haidian, classLamp, 9),
	}, nil, "census")
	want := []registry.ComponentCode{
		cid(chaoyang, classManhole, 7),
		cid(chaoyang, classManhole, 3),
		cid(chaoyang, classManhole, 8),
		cid(chaoyang, classManhole, 9),
		cid(chaoyang, classLamp, 1),
		cid(haidian, classManhole, 1),
		cid(chaoyang, classManhole, 10),
		cid(haidian, classLamp, 20),
		cid(haidian, classLamp, 21),
	}
	for i, c := range first {
		if c.ID != want[i] {
			t.Errorf("element %d: ID = %s, want %s", i, c.ID, want[i])
		}
		diff(t, "Component("+c.ID.String()+")", c, getComponent(t, s, c.ID))
	}

	// Serials continue in later calls, after explicit IDs, and across a reopen.
	next := putComponents(t, s, []registry.Component{newComponent(zero, chaoyang, classManhole, 10)}, nil, "edit")
	if w := cid(chaoyang, classManhole, 11); next[0].ID != w {
		t.Errorf("next assigned ID = %s, want %s", next[0].ID, w)
	}
	putComponents(t, s, []registry.Component{newComponent(cid(chaoyang, classManhole, 50), chaoyang, classManhole, 11)}, nil, "edit")
	s = reopen(t, h, s)
	after := putComponents(t, s, []registry.Component{
		newComponent(zero, chaoyang, classManhole, 12),
		newComponent(zero, chaoyang, classLamp, 13),
	}, nil, "edit")
	for i, w := range []registry.ComponentCode{cid(chaoyang, classManhole, 51), cid(chaoyang, classLamp, 2)} {
		if after[i].ID != w {
			t.Errorf("after reopen, element %d: ID = %s, want %s", i, after[i].ID, w)
		}
	}

	// Without a cell or class there is nothing to assign from.
	bad := newComponent(zero, chaoyang, classManhole, 14)
	bad.Cell = ""
	_, err := s.PutComponents(context.Background(), []registry.Component{bad}, nil, "edit")
	checkErr(t, "PutComponents(zero ID, no cell)", err, registry.ErrInvalidInput)
	bad = newComponent(zero, chaoyang, "", 15)
	_, err = s.PutComponents(context.Background(), []registry.Component{bad}, nil, "edit")
	checkErr(t, "PutComponents(zero ID, no class)", err, registry.ErrInvalidInput)
}

// testAssignIDsSkipTaken: counters that lag behind the stored identifiers (lost in a restore)
// never hand out a stored identifier again, whether it is a component's ID or legacy ID or a
// name it had before; the next serial above them is used and stored.
func testAssignIDsSkipTaken(t *testing.T, h Harness) {
	if h.DropSerials == nil {
		t.Fatal("the harness has no DropSerials")
	}
	s := h.Open(t)
	zero := registry.ComponentCode{}
	legacyNamed := newComponent(cid(chaoyang, classManhole, 5), chaoyang, classManhole, 4)
	legacyNamed.LegacyID = cid(chaoyang, classManhole, 2) // a 17-digit legacy ID: same prefix
	putComponents(t, s, []registry.Component{
		newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classManhole, 4), chaoyang, classManhole, 2),
		legacyNamed,
	}, nil, "census")
	// Element 2 takes a new ID: serial 5 stays a name of it.
	renamed := legacyNamed
	renamed.ID = cid(chaoyang, classManhole, 7)
	if got := putComponents(t, s, []registry.Component{renamed}, nil, "edit"); got[0].ID != renamed.ID || got[0].Version != 2 {
		t.Fatalf("rename to %s = ID %s version %d, want the record renamed (version 2)", renamed.ID, got[0].ID, got[0].Version)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h.DropSerials(t)
	s = h.Open(t)

	got := putComponents(t, s, []registry.Component{
		newComponent(zero, chaoyang, classManhole, 10),
		newComponent(zero, chaoyang, classManhole, 11),
		newComponent(zero, chaoyang, classManhole, 12),
		newComponent(zero, chaoyang, classLamp, 13),
	}, nil, "edit")
	// 1, 2 (legacy), 4, 5 (former ID) and 7 are taken.
	want := []registry.ComponentCode{cid(chaoyang, classManhole, 3), cid(chaoyang, classManhole, 6), cid(chaoyang, classManhole, 8), cid(chaoyang, classLamp, 1)}
	for i, c := range got {
		if c.ID != want[i] {
			t.Errorf("element %d: ID = %s, want %s", i, c.ID, want[i])
		}
	}
	// The serial reached is stored again.
	s = reopen(t, h, s)
	next := putComponents(t, s, []registry.Component{newComponent(zero, chaoyang, classManhole, 14)}, nil, "edit")
	if w := cid(chaoyang, classManhole, 9); next[0].ID != w {
		t.Errorf("next assigned ID = %s, want %s", next[0].ID, w)
	}
}

// testAssignIDsWrapAround: one identifier with serial 999999 does not use its prefix up: later
// assignments take the lowest free serials (skipping stored names, a former ID included), the
// counter stays, and nothing is given twice across calls and a reopen. Other prefixes are
// untouched.
func testAssignIDsWrapAround(t *testing.T, h Harness) {
	s := h.Open(t)
	zero := registry.ComponentCode{}
	renamed := newComponent(cid(chaoyang, classManhole, 3), chaoyang, classManhole, 3)
	putComponents(t, s, []registry.Component{
		newComponent(zero, chaoyang, classManhole, 1), // serial 1
		newComponent(zero, chaoyang, classManhole, 2), // serial 2
		renamed,
		newComponent(cid(chaoyang, classManhole, registry.MaxSerial), chaoyang, classManhole, 4),
	}, nil, "census")
	renamed.ID = cid(chaoyang, classManhole, 6) // serial 3 stays a name of it
	putComponents(t, s, []registry.Component{renamed}, nil, "edit")

	got := putComponents(t, s, []registry.Component{
		newComponent(zero, chaoyang, classManhole, 10),
		newComponent(zero, chaoyang, classLamp, 11),
		newComponent(zero, chaoyang, classManhole, 12),
	}, nil, "edit")
	want := []registry.ComponentCode{cid(chaoyang, classManhole, 4), cid(chaoyang, classLamp, 1), cid(chaoyang, classManhole, 5)}
	for i, c := range got {
		if c.ID != want[i] {
			t.Errorf("element %d: ID = %s, want %s", i, c.ID, want[i])
		}
		diff(t, "Component("+c.ID.String()+")", c, getComponent(t, s, c.ID))
	}
	s = reopen(t, h, s)
	next := putComponents(t, s, []registry.Component{newComponent(zero, chaoyang, classManhole, 13)}, nil, "edit")
	if w := cid(chaoyang, classManhole, 7); next[0].ID != w {
		t.Errorf("after reopen, next assigned ID = %s, want %s (1-6 and 999999 are taken)", next[0].ID, w)
	}
}

func testDuplicateIDInBatch(t *testing.T, h Harness) {
	s := h.Open(t)
	id := cid(chaoyang, classManhole, 5)
	legacy := cid(chaoyang, "0101", 9)
	withLegacy := newComponent(cid(chaoyang, classManhole, 9), chaoyang, classManhole, 3)
	withLegacy.LegacyID = legacy
	tests := []struct {
		name  string
		batch []registry.Component
		dup   registry.ComponentCode
	}{
		{"same ID", []registry.Component{
			newComponent(id, chaoyang, classManhole, 1),
			newComponent(cid(chaoyang, classManhole, 6), chaoyang, classManhole, 2),
			newComponent(id, chaoyang, classManhole, 3),
		}, id},
		{"ID equals another's legacy ID", []registry.Component{
			withLegacy,
			newComponent(legacy, chaoyang, classManhole, 4),
		}, legacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutComponents(context.Background(), tt.batch, nil, "census")
			checkErr(t, "PutComponents", err, registry.ErrDuplicate)
			if !strings.Contains(err.Error(), tt.dup.String()) {
				t.Errorf("PutComponents error %q does not name the duplicate %s", err, tt.dup)
			}
			if got := allComponents(t, s); len(got) != 0 {
				t.Errorf("after a duplicate, %d components stored, want 0", len(got))
			}
			for _, c := range tt.batch {
				_, err := s.Component(context.Background(), c.ID)
				checkErr(t, "Component("+c.ID.String()+")", err, registry.ErrComponentNotFound)
			}
		})
	}
}

func testStaleVersion(t *testing.T, h Harness) {
	s := h.Open(t)
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	putComponents(t, s, []registry.Component{c}, nil, "census")
	c.Name = "second"
	v2 := putComponents(t, s, []registry.Component{c}, []int64{1}, "editor")[0]
	if v2.Version != 2 {
		t.Fatalf("update Version = %d, want 2", v2.Version)
	}

	stale := c
	stale.Name = "stale write"
	other := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	_, err := s.PutComponents(context.Background(), []registry.Component{other, stale}, []int64{0, 1}, "late editor")
	checkErr(t, "PutComponents(stale version)", err, registry.ErrVersionConflict)
	diff(t, "component after a stale write", v2, getComponent(t, s, c.ID))
	if n := len(history(t, s, c.ID)); n != 2 {
		t.Errorf("after a stale write, History has %d changes, want 2", n)
	}
	if _, err := s.Component(context.Background(), other.ID); !errors.Is(err, registry.ErrComponentNotFound) {
		t.Errorf("the batch's other component was stored (err = %v)", err)
	}

	// A create expecting some version conflicts too: there is none.
	_, err = s.PutComponents(context.Background(), []registry.Component{other}, []int64{3}, "editor")
	checkErr(t, "PutComponents(new, expect 3)", err, registry.ErrVersionConflict)
	if n := len(allComponents(t, s)); n != 1 {
		t.Errorf("%d components stored, want 1", n)
	}
}

func testUpdateWithVersion(t *testing.T, h Harness) {
	s := h.Open(t)
	in := []registry.Component{
		newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1),
		newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2),
	}
	v1 := putComponents(t, s, in, nil, "census")

	upd := slices.Clone(in)
	upd[0].Name, upd[0].Status, upd[0].Point = "换新井盖", registry.StatusDamaged, orb.Point{116.46, 39.93}
	upd[1].Maintainer = "unit-other"
	w := begin()
	got := putComponents(t, s, upd, []int64{1, 0}, "editor") // 0: no check
	w.end()
	for i := range upd {
		want := upd[i]
		want.Key, want.Version, want.Updated, want.UpdatedBy = v1[i].Key, 2, got[i].Updated, "editor"
		w.check(t, "Updated", got[i].Updated)
		diff(t, fmt.Sprintf("update %d", i), want, got[i])
		diff(t, "Component after update", got[i], getComponent(t, s, upd[i].ID))
	}
	got = putComponents(t, s, got[:1], []int64{2}, "editor")
	if got[0].Version != 3 || got[0].Key != v1[0].Key {
		t.Errorf("second update: Version %d Key %d, want 3 and %d", got[0].Version, got[0].Key, v1[0].Key)
	}
}

func testRetire(t *testing.T, h Harness) {
	s := h.Open(t)
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	putComponents(t, s, []registry.Component{c}, nil, "census")
	c.Status = registry.StatusRemoved
	retired := putComponents(t, s, []registry.Component{c}, []int64{1}, "inspector")[0]
	if retired.Status != registry.StatusRemoved || retired.Version != 2 {
		t.Errorf("retired: Status %v Version %d, want removed 2", retired.Status, retired.Version)
	}
	diff(t, "Component(retired)", retired, getComponent(t, s, c.ID))
	diff(t, "ForEachComponent", []registry.Component{retired}, allComponents(t, s))

	// Changing a retired component again is a plain update.
	c.Note = "井盖已拆除"
	putComponents(t, s, []registry.Component{c}, nil, "inspector")
	var ops []registry.ChangeOp
	for _, ch := range history(t, s, c.ID) {
		ops = append(ops, ch.Op)
	}
	diff(t, "History ops", []registry.ChangeOp{registry.OpCreate, registry.OpRetire, registry.OpUpdate}, ops)
}

// testHistoryNotes: PutComponentsNoted's note goes into the history entries of its updates,
// not into the record; PutComponents records none; a reopen keeps them.
func testHistoryNotes(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	c.Note = "井圈松动"
	if _, err := s.PutComponentsNoted(ctx, []registry.Component{c}, nil, "census", "a create has no entry of its own to note"); err != nil {
		t.Fatalf("PutComponentsNoted(create): %v", err)
	}
	c.Status = registry.StatusRemoved
	retired, err := s.PutComponentsNoted(ctx, []registry.Component{c}, []int64{1}, "inspector", "道路改造，井盖已拆除")
	if err != nil {
		t.Fatalf("PutComponentsNoted(retire): %v", err)
	}
	if retired[0].Note != "井圈松动" {
		t.Errorf("retired record's note = %q, want its own note kept", retired[0].Note)
	}
	c.Status = registry.StatusDamaged
	putComponents(t, s, []registry.Component{c}, nil, "inspector")
	s = reopen(t, h, s)
	type entry struct {
		Op   registry.ChangeOp
		Note string
	}
	var got []entry
	for _, ch := range history(t, s, c.ID) {
		got = append(got, entry{ch.Op, ch.Note})
	}
	diff(t, "History (op, note)", []entry{{registry.OpCreate, ""}, {registry.OpRetire, "道路改造，井盖已拆除"}, {registry.OpUpdate, ""}}, got)
	diff(t, "Component(after)", "井圈松动", getComponent(t, s, c.ID).Note)
}

func testHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	c := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	neighbour := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	steps := []struct {
		actor  string
		op     registry.ChangeOp
		change func(*registry.Component)
	}{
		{"census 2024", registry.OpCreate, func(*registry.Component) {}},
		{"alice", registry.OpUpdate, func(c *registry.Component) { c.Name = "上水井盖 A" }},
		{"bob", registry.OpUpdate, func(c *registry.Component) {
			c.Status = registry.StatusDamaged
			c.ChangeDate = changeDate.AddDate(0, 1, 0)
		}},
		{"carol", registry.OpRetire, func(c *registry.Component) { c.Status = registry.StatusRemoved }},
	}
	var stored []registry.Component
	var windows []window
	for i, st := range steps {
		st.change(&c)
		w := begin()
		got := putComponents(t, s, []registry.Component{c}, nil, st.actor)[0]
		w.end()
		stored, windows = append(stored, got), append(windows, w)
		if i == 1 { // another component's change in between must not show up
			putComponents(t, s, []registry.Component{neighbour}, nil, "dave")
		}
	}

	hist := history(t, s, c.ID)
	if len(hist) != len(steps) {
		t.Fatalf("History = %d changes, want %d", len(hist), len(steps))
	}
	for i, ch := range hist {
		if ch.Op != steps[i].op || ch.Actor != steps[i].actor || ch.Version != int64(i+1) {
			t.Errorf("change %d: op %s actor %q version %d, want %s %q %d", i, ch.Op, ch.Actor, ch.Version, steps[i].op, steps[i].actor, i+1)
		}
		windows[i].check(t, fmt.Sprintf("change %d Time", i), ch.Time)
		if ch.After == nil {
			t.Fatalf("change %d: After is nil", i)
		}
		diff(t, fmt.Sprintf("change %d After", i), stored[i], *ch.After)
		if i == 0 {
			if ch.Before != nil {
				t.Errorf("create: Before = %+v, want nil", ch.Before)
			}
		} else if ch.Before == nil {
			t.Errorf("change %d: Before is nil", i)
		} else {
			diff(t, fmt.Sprintf("change %d Before", i), stored[i-1], *ch.Before)
		}
		if i > 0 && ch.Seq <= hist[i-1].Seq {
			t.Errorf("change %d: Seq %d not above %d", i, ch.Seq, hist[i-1].Seq)
		}
	}
	if n := len(history(t, s, neighbour.ID)); n != 1 {
		t.Errorf("History(neighbour) = %d changes, want 1", n)
	}
}

func testReopenYieldsIdentical(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	var cells []registry.Cell
	for i := 1; i <= 30; i++ {
		cells = append(cells, newCell(chaoyang, i))
	}
	putCells(t, s, cells)
	cells[4].Name = "renamed"
	putCells(t, s, cells[4:5])
	var comps []registry.Component
	for i := 0; i < 300; i++ {
		id := registry.ComponentCode{}
		if i%4 != 0 {
			id = cid(chaoyang, classManhole, i+1)
		}
		c := newComponent(id, chaoyang, classManhole, i)
		if i%7 == 0 {
			c.LegacyID, c.LegacyClass = cid(chaoyang, "0101", i+1), "0101"
		}
		comps = append(comps, c)
	}
	comps = putComponents(t, s, comps, nil, "census")
	comps[5].Status = registry.StatusRemoved
	comps[6].Name = "edited"
	putComponents(t, s, comps[5:7], nil, "editor")
	if _, err := s.PutUnits(ctx, []registry.Unit{{ID: "u1", Name: "一", Type: registry.UnitCityCentre, Area: square(116, 39, 1)}}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRules(ctx, []registry.Rule{{ID: "r1", Order: 1, Class: "*", Unit: "u1"}}, nil, "test"); err != nil {
		t.Fatal(err)
	}

	wantCells, wantComps := allCells(t, s), allComponents(t, s)
	wantUnits, wantRules := units(t, s), rules(t, s)
	wantHist := history(t, s, comps[5].ID)
	if len(wantCells) != 30 || len(wantComps) != 300 {
		t.Fatalf("stored %d cells and %d components, want 30 and 300", len(wantCells), len(wantComps))
	}

	s = reopen(t, h, s)
	diff(t, "ForEachCell after reopen", wantCells, allCells(t, s))
	diff(t, "ForEachComponent after reopen", wantComps, allComponents(t, s))
	diff(t, "Units after reopen", wantUnits, units(t, s))
	diff(t, "Rules after reopen", wantRules, rules(t, s))
	diff(t, "History after reopen", wantHist, history(t, s, comps[5].ID))
}
