package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	"citygrid/registry"

	"github.com/paulmach/orb"
)

func testChangeSeqIncreasing(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := context.Background()
	a := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	b := newComponent(cid(chaoyang, classManhole, 2), chaoyang, classManhole, 2)
	steps := []func(){
		func() { putComponents(t, s, []registry.Component{a}, nil, "1") },
		func() { putCells(t, s, []registry.Cell{newCell(chaoyang, 1)}) },
		func() { putComponents(t, s, []registry.Component{b}, nil, "2") },
		func() {
			if _, err := s.PutUnits(ctx, []registry.Unit{{ID: "u"}}, "test"); err != nil {
				t.Fatal(err)
			}
		},
		func() { a.Name = "a2"; putComponents(t, s, []registry.Component{a}, nil, "3") },
		func() {
			if _, err := s.PutRules(ctx, []registry.Rule{{ID: "r"}}, nil, "test"); err != nil {
				t.Fatal(err)
			}
		},
		func() { b.Name = "b2"; a.Name = "a3"; putComponents(t, s, []registry.Component{b, a}, nil, "4") },
		func() {
			if err := s.DeleteUnit(ctx, "u", "test"); err != nil {
				t.Fatal(err)
			}
		},
		func() { a.Status = registry.StatusRemoved; putComponents(t, s, []registry.Component{a}, nil, "5") },
	}
	for _, step := range steps {
		step()
	}
	s = reopen(t, h, s)
	ha, hb := history(t, s, a.ID), history(t, s, b.ID)
	if len(ha) != 4 || len(hb) != 2 {
		t.Fatalf("History lengths = %d and %d, want 4 and 2", len(ha), len(hb))
	}
	// In write order: a create, b create, a update, {b and a in one call}, a retire.
	groups := [][]registry.Change{{ha[0]}, {hb[0]}, {ha[1]}, {hb[1], ha[2]}, {ha[3]}}
	for i := 1; i < len(groups); i++ {
		for _, prev := range groups[i-1] {
			for _, ch := range groups[i] {
				if ch.Seq <= prev.Seq {
					t.Errorf("%s by %q: Seq %d, want above %d (%s by %q)", ch.Op, ch.Actor, ch.Seq, prev.Seq, prev.Op, prev.Actor)
				}
			}
		}
	}
	if hb[1].Seq == ha[2].Seq {
		t.Errorf("two components changed in one call share Seq %d", ha[2].Seq)
	}
	order := []registry.Change{ha[3]}
	// A write after the reopen continues the sequence.
	a.Status = registry.StatusIntact
	putComponents(t, s, []registry.Component{a}, nil, "6")
	ha = history(t, s, a.ID)
	if last, prev := ha[len(ha)-1].Seq, order[len(order)-1].Seq; last <= prev {
		t.Errorf("Seq after reopen = %d, want above %d", last, prev)
	}
}

// feedChange is what the suite expects of one feed entry.
type feedChange struct {
	Kind registry.FeedKind
	ID   string
	Op   registry.ChangeOp
}

func sortFeedChanges(cs []feedChange) []feedChange {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b feedChange) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Op, b.Op))
	})
	return out
}

// testChangeFeed runs only for stores that implement registry.ChangeFeed: every write appears
// in the feed, in write order with strictly increasing seqs, with its kind, id and op, the time
// of the write, the actor who made it, and the record as it is stored now (nil once a unit or rule is deleted).
// Within one write call the order of entries is the store's business.
func testChangeFeed(t *testing.T, h Harness) {
	s := h.Open(t)
	feed, ok := s.(registry.ChangeFeed)
	if !ok {
		t.Skipf("%T does not implement registry.ChangeFeed", s)
	}
	ctx := context.Background()
	if seq, err := feed.LastSeq(ctx); err != nil || seq != 0 {
		t.Fatalf("LastSeq of an empty store = %d, %v; want 0, nil", seq, err)
	}
	if got, err := feed.Changes(ctx, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes(0, 10) of an empty store = %v, %v; want none", got, err)
	}

	cell1, cell2 := newCell(chaoyang, 1), newCell(chaoyang, 2)
	a := newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1)
	b := newComponent(registry.ComponentCode{}, chaoyang, classLamp, 2) // ID assigned by the store
	u1 := registry.Unit{ID: "u1", Name: "一", Type: registry.UnitPublicService}
	u2 := registry.Unit{ID: "u2", Name: "二", Type: registry.UnitAdminDepartment}
	r1 := registry.Rule{ID: "r1", Order: 1, Class: "*", Unit: "u1"}
	r2 := registry.Rule{ID: "r2", Order: 2, Class: "01", Unit: "u2"}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	cellID := func(c registry.Cell) string { return string(c.Code) }

	type step struct {
		name  string
		actor string // every entry of the step names it
		do    func() []feedChange
	}
	steps := []step{
		{"create cells", "tester", func() []feedChange {
			putCells(t, s, []registry.Cell{cell1, cell2})
			return []feedChange{{registry.FeedCell, cellID(cell1), registry.OpCreate}, {registry.FeedCell, cellID(cell2), registry.OpCreate}}
		}},
		{"create components", "census", func() []feedChange {
			got := putComponents(t, s, []registry.Component{a, b}, nil, "census")
			b.ID = got[1].ID
			return []feedChange{{registry.FeedComponent, a.ID.String(), registry.OpCreate}, {registry.FeedComponent, b.ID.String(), registry.OpCreate}}
		}},
		{"create units", "registrar-zhao", func() []feedChange {
			_, err := s.PutUnits(ctx, []registry.Unit{u1, u2}, "registrar-zhao")
			must("PutUnits", err)
			return []feedChange{{registry.FeedUnit, "u1", registry.OpCreate}, {registry.FeedUnit, "u2", registry.OpCreate}}
		}},
		{"create rules", "rules-office", func() []feedChange {
			_, err := s.PutRules(ctx, []registry.Rule{r1, r2}, nil, "rules-office")
			must("PutRules", err)
			return []feedChange{{registry.FeedRule, "r1", registry.OpCreate}, {registry.FeedRule, "r2", registry.OpCreate}}
		}},
		{"replace a cell", "tester", func() []feedChange {
			cell1.Name = "重划后的网格"
			putCells(t, s, []registry.Cell{cell1})
			return []feedChange{{registry.FeedCell, cellID(cell1), registry.OpUpdate}}
		}},
		{"update a component", "surveyor", func() []feedChange {
			a.Name = "井盖（更新）"
			putComponents(t, s, []registry.Component{a}, nil, "surveyor")
			return []feedChange{{registry.FeedComponent, a.ID.String(), registry.OpUpdate}}
		}},
		{"retire one, update another", "surveyor", func() []feedChange {
			b.Status = registry.StatusRemoved
			a.Point = orb.Point{a.Point[0] + 1e-5, a.Point[1]}
			putComponents(t, s, []registry.Component{b, a}, nil, "surveyor")
			return []feedChange{{registry.FeedComponent, b.ID.String(), registry.OpRetire}, {registry.FeedComponent, a.ID.String(), registry.OpUpdate}}
		}},
		{"replace the rules", "rules-office-2", func() []feedChange {
			r2.Reason = "moved"
			_, err := s.PutRules(ctx, []registry.Rule{r2}, []string{"r1"}, "rules-office-2")
			must("PutRules(replace)", err)
			return []feedChange{{registry.FeedRule, "r1", registry.OpDelete}, {registry.FeedRule, "r2", registry.OpUpdate}}
		}},
		{"delete a unit", "registrar-qian", func() []feedChange {
			must("DeleteUnit", s.DeleteUnit(ctx, "u1", "registrar-qian"))
			return []feedChange{{registry.FeedUnit, "u1", registry.OpDelete}}
		}},
		{"delete a rule", "dispatcher", func() []feedChange {
			must("DeleteRule", s.DeleteRule(ctx, "r2", "dispatcher"))
			return []feedChange{{registry.FeedRule, "r2", registry.OpDelete}}
		}},
		{"update a unit", "registrar-sun", func() []feedChange {
			u2.Phone = "010-6500 0002"
			_, err := s.PutUnits(ctx, []registry.Unit{u2}, "registrar-sun")
			must("PutUnits(update)", err)
			return []feedChange{{registry.FeedUnit, "u2", registry.OpUpdate}}
		}},
		{"a failed write", "", func() []feedChange {
			_, err := s.PutComponents(ctx, []registry.Component{a}, []int64{1}, "stale")
			checkErr(t, "PutComponents(stale version)", err, registry.ErrVersionConflict)
			return nil
		}},
	}
	var wants [][]feedChange
	var windows []window
	for _, st := range steps {
		w := begin()
		wants = append(wants, st.do())
		w.end()
		windows = append(windows, w)
	}

	total := 0
	for _, w := range wants {
		total += len(w)
	}
	all, err := feed.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatalf("Changes(0, 1000): %v", err)
	}
	if len(all) != total {
		t.Fatalf("Changes(0, 1000) returned %d entries, want %d: %+v", len(all), total, all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("entry %d Seq = %d, want above %d (entry %d)", i, all[i].Seq, all[i-1].Seq, i-1)
		}
	}
	if all[0].Seq == 0 {
		t.Errorf("entry 0 Seq = 0, want above 0")
	}
	at := 0
	for i, st := range steps {
		part := all[at : at+len(wants[i])]
		at += len(wants[i])
		got := make([]feedChange, len(part))
		for j, e := range part {
			got[j] = feedChange{e.Kind, e.ID, e.Op}
			windows[i].check(t, fmt.Sprintf("%s: entry %d Time", st.name, e.Seq), e.Time)
			if e.Actor != st.actor {
				t.Errorf("%s: entry %d (%s %s) Actor = %q, want %q", st.name, e.Seq, e.Kind, e.ID, e.Actor, st.actor)
			}
		}
		diff(t, st.name+": entries", sortFeedChanges(wants[i]), sortFeedChanges(got))
	}

	// Every entry carries the record as it is stored now, not as it was written.
	curUnits, curRules := units(t, s), rules(t, s)
	for _, e := range all {
		what := fmt.Sprintf("entry %d (%s %s %s)", e.Seq, e.Op, e.Kind, e.ID)
		set := 0
		for _, p := range []bool{e.Cell != nil, e.Component != nil, e.Unit != nil, e.Rule != nil} {
			if p {
				set++
			}
		}
		switch e.Kind {
		case registry.FeedCell:
			cur, err := s.Cell(ctx, registry.GridCode(e.ID))
			if err != nil {
				t.Fatalf("Cell(%s): %v", e.ID, err)
			}
			if e.Cell == nil {
				t.Errorf("%s: Cell = nil, want the stored cell", what)
			} else {
				diff(t, what+" Cell", cur, *e.Cell)
			}
		case registry.FeedComponent:
			id, err := registry.ParseComponentCode(e.ID)
			if err != nil {
				t.Fatalf("%s: ID: %v", what, err)
			}
			cur := getComponent(t, s, id)
			if e.Component == nil {
				t.Errorf("%s: Component = nil, want the stored component", what)
			} else {
				diff(t, what+" Component", cur, *e.Component)
			}
		case registry.FeedUnit:
			i := slices.IndexFunc(curUnits, func(u registry.Unit) bool { return u.ID == e.ID })
			switch {
			case i < 0 && e.Unit != nil:
				t.Errorf("%s: Unit = %+v, want nil (deleted)", what, *e.Unit)
			case i >= 0 && e.Unit == nil:
				t.Errorf("%s: Unit = nil, want the stored unit", what)
			case i >= 0:
				diff(t, what+" Unit", curUnits[i], *e.Unit)
			}
		case registry.FeedRule:
			i := slices.IndexFunc(curRules, func(r registry.Rule) bool { return r.ID == e.ID })
			switch {
			case i < 0 && e.Rule != nil:
				t.Errorf("%s: Rule = %+v, want nil (deleted)", what, *e.Rule)
			case i >= 0 && e.Rule == nil:
				t.Errorf("%s: Rule = nil, want the stored rule", what)
			case i >= 0:
				diff(t, what+" Rule", curRules[i], *e.Rule)
			}
		default:
			t.Errorf("%s: unknown kind", what)
		}
		if set > 1 {
			t.Errorf("%s: %d records set, want at most one", what, set)
		}
	}

	last, err := feed.LastSeq(ctx)
	if err != nil || last != all[len(all)-1].Seq {
		t.Errorf("LastSeq = %d, %v; want %d, the last entry's", last, err, all[len(all)-1].Seq)
	}
	if got, err := feed.Changes(ctx, last, 10); err != nil || len(got) != 0 {
		t.Errorf("Changes(LastSeq, 10) = %+v, %v; want none", got, err)
	}
	if got, err := feed.Changes(ctx, 0, 0); err != nil || len(got) != 0 {
		t.Errorf("Changes(0, 0) = %+v, %v; want none", got, err)
	}
	// Pages of any size, from any since, are slices of the whole.
	for _, limit := range []int{1, 2, 5} {
		var paged []registry.FeedEntry
		since := uint64(0)
		for n := 0; n <= len(all); n++ {
			page, err := feed.Changes(ctx, since, limit)
			if err != nil {
				t.Fatalf("Changes(%d, %d): %v", since, limit, err)
			}
			if len(page) > limit {
				t.Fatalf("Changes(%d, %d) returned %d entries", since, limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			since = page[len(page)-1].Seq
		}
		diff(t, fmt.Sprintf("paged by %d", limit), all, paged)
	}
	mid := all[len(all)/2].Seq
	tail, err := feed.Changes(ctx, mid, 1000)
	if err != nil {
		t.Fatalf("Changes(%d, 1000): %v", mid, err)
	}
	diff(t, fmt.Sprintf("Changes(%d, 1000)", mid), all[len(all)/2+1:], tail)
	// The feed is persistent.
	s = reopen(t, h, s)
	feed = s.(registry.ChangeFeed)
	again, err := feed.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatalf("Changes after reopen: %v", err)
	}
	diff(t, "Changes after reopen", all, again)
}
