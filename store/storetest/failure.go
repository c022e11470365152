package storetest

import (
	"context"
	"errors"
	"testing"

	"citygrid/registry"
)

// A spoiler breaks element 500 of a 1000-component import; existing is a stored component.
type spoiler func(batch []registry.Component, expect []int64, existing registry.Component)

func spoilStale(b []registry.Component, e []int64, existing registry.Component) {
	b[500], e[500] = existing, 7
}

func spoilDuplicate(b []registry.Component, _ []int64, _ registry.Component) {
	b[500] = newComponent(b[10].ID, chaoyang, classManhole, 500)
}

func spoilNoCell(b []registry.Component, _ []int64, _ registry.Component) {
	b[500].ID, b[500].Cell = registry.ComponentCode{}, ""
}

// failedImport checks that an import of 1000 components (creates with explicit and assigned
// IDs, and an update) that fails on element 500 leaves nothing behind: no record, no history,
// no serial.
func failedImport(spoil spoiler, wantErr error) func(*testing.T, Harness) {
	return func(t *testing.T, h Harness) {
		zero := registry.ComponentCode{}
		s := h.Open(t)
		seed := putComponents(t, s, []registry.Component{
			newComponent(cid(chaoyang, classManhole, 1), chaoyang, classManhole, 1),
			newComponent(zero, chaoyang, classManhole, 2),
			newComponent(zero, haidian, classLamp, 3),
		}, nil, "seed")
		seed[0] = putComponents(t, s, seed[:1], nil, "seed edit")[0]
		before := allComponents(t, s)
		histBefore := history(t, s, seed[0].ID)

		batch := make([]registry.Component, 1000)
		expect := make([]int64, 1000)
		for i := range batch {
			id := zero
			if i%2 == 0 {
				id = cid(chaoyang, classManhole, 1000+i)
			}
			batch[i] = newComponent(id, chaoyang, classManhole, i)
			if i%3 == 0 {
				batch[i].Class, batch[i].Cell = classLamp, cellCode(haidian, 1)
			}
		}
		batch[20] = seed[1] // an update of a stored component
		batch[20].Name = "changed by the failed import"
		spoil(batch, expect, seed[0])

		_, err := s.PutComponents(context.Background(), batch, expect, "bad import")
		checkErr(t, "PutComponents", err, wantErr)

		diff(t, "components after the failed import", before, allComponents(t, s))
		diff(t, "history after the failed import", histBefore, history(t, s, seed[0].ID))
		if n := len(history(t, s, seed[1].ID)); n != 1 {
			t.Errorf("History(%s) = %d changes, want 1", seed[1].ID, n)
		}
		for _, i := range []int{0, 2, 998} {
			if _, err := s.Component(context.Background(), batch[i].ID); !errors.Is(err, registry.ErrComponentNotFound) {
				t.Errorf("Component(%s) of the failed batch: err = %v, want not found", batch[i].ID, err)
			}
		}
		// Serials did not move: the next assigned IDs follow the seed's.
		next := putComponents(t, s, []registry.Component{
			newComponent(zero, chaoyang, classManhole, 1),
			newComponent(zero, haidian, classLamp, 2),
		}, nil, "after")
		for i, w := range []registry.ComponentCode{cid(chaoyang, classManhole, 3), cid(haidian, classLamp, 2)} {
			if next[i].ID != w {
				t.Errorf("next assigned ID %d = %s, want %s", i, next[i].ID, w)
			}
		}
	}
}

func testCancelledContext(t *testing.T, h Harness) {
	s := h.Open(t)
	var many []registry.Component
	for i := 0; i < 10_000; i++ {
		many = append(many, newComponent(registry.ComponentCode{}, chaoyang, classManhole, i))
	}
	putComponents(t, s, many, nil, "census")
	putCells(t, s, []registry.Cell{newCell(chaoyang, 1)})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newComponent(cid(haidian, classManhole, 1), haidian, classManhole, 1)
	_, err := s.PutComponents(ctx, []registry.Component{c}, nil, "x")
	checkErr(t, "PutComponents(cancelled)", err, context.Canceled)
	_, err = s.PutCells(ctx, []registry.Cell{newCell(haidian, 1)}, "x")
	checkErr(t, "PutCells(cancelled)", err, context.Canceled)
	_, err = s.PutUnits(ctx, []registry.Unit{{ID: "u"}}, "test")
	checkErr(t, "PutUnits(cancelled)", err, context.Canceled)
	_, err = s.PutRules(ctx, []registry.Rule{{ID: "r"}}, nil, "test")
	checkErr(t, "PutRules(cancelled)", err, context.Canceled)
	checkErr(t, "DeleteUnit(cancelled)", s.DeleteUnit(ctx, "u", "test"), context.Canceled)
	checkErr(t, "DeleteRule(cancelled)", s.DeleteRule(ctx, "r", "test"), context.Canceled)

	if n := len(allComponents(t, s)); n != len(many) {
		t.Errorf("%d components stored, want %d", n, len(many))
	}
	if n := len(allCells(t, s)); n != 1 {
		t.Errorf("%d cells stored, want 1", n)
	}
	if u := units(t, s); len(u) != 0 {
		t.Errorf("units stored: %v", u)
	}
	if r := rules(t, s); len(r) != 0 {
		t.Errorf("rules stored: %v", r)
	}

	// Cancelling in the middle of a long read stops it.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err = s.ForEachComponent(ctx, func(*registry.Component) error {
		calls++
		cancel()
		return nil
	})
	checkErr(t, "ForEachComponent(cancelled mid-way)", err, context.Canceled)
	if calls >= len(many) {
		t.Errorf("ForEachComponent went on for all %d components after the cancel", calls)
	}
}
