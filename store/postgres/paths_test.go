package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"citygrid/registry"
	"citygrid/store/postgres"
	"citygrid/store/postgres/pgtest"

	"github.com/paulmach/orb"
)

// pathRun is what one store did with the scenario of TestCopyPathMatchesSmallPath.
type pathRun struct {
	puts     [][]registry.Component
	failures []string // registry error codes of the failing calls
	all      []registry.Component
	history  map[string][]registry.Change
	byName   map[string]registry.Component
	changes  []registry.FeedEntry
}

// TestCopyPathMatchesSmallPath runs the same imports and edits through a store that loads
// every batch with array parameters and one that loads every batch with COPY (whose first
// import is large enough to drop and rebuild the indexes), and compares everything they
// return and store.
func TestCopyPathMatchesSmallPath(t *testing.T) {
	if testing.Short() {
		t.Skip("12,000-component imports")
	}
	small := runScenario(t, postgres.Options{CopyThreshold: 1 << 30})
	copied := runScenario(t, postgres.Options{CopyThreshold: -1})
	diffRecords(t, "PutComponents results", small.puts, copied.puts)
	diffRecords(t, "failures", small.failures, copied.failures)
	diffRecords(t, "ForEachComponent", small.all, copied.all)
	diffRecords(t, "History", small.history, copied.history)
	diffRecords(t, "Component by every name", small.byName, copied.byName)
	diffRecords(t, "Changes", small.changes, copied.changes)
	diffRecords(t, "failure codes", []string{"version_conflict", "duplicate"}, small.failures)
	renamed := 0
	for name, c := range small.byName {
		if c.ID.String() != name && c.LegacyID.String() != name {
			renamed++ // found by a former ID
		}
	}
	if renamed == 0 {
		t.Error("no component was found by a former ID: the scenario lost its renames")
	}
	if len(small.all) != 12_000+100 {
		t.Errorf("scenario stored %d components, want %d", len(small.all), 12_100)
	}
}

func runScenario(t *testing.T, opts postgres.Options) pathRun {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	opts.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	s := mustOpenWith(t, pgtest.NewDB(t), opts)
	var run pathRun
	put := func(comps []registry.Component, expect []int64, actor string) {
		t.Helper()
		got, err := s.PutComponents(ctx, comps, expect, actor)
		if err != nil {
			t.Fatalf("PutComponents(%s): %v", actor, err)
		}
		run.puts = append(run.puts, got)
	}
	fail := func(comps []registry.Component, expect []int64) {
		t.Helper()
		_, err := s.PutComponents(ctx, comps, expect, "bad")
		if err == nil {
			t.Fatalf("PutComponents(bad batch) succeeded")
		}
		run.failures = append(run.failures, registry.ErrorCode(err))
	}

	if _, err := s.PutCells(ctx, []registry.Cell{{Code: "110105001001001", Name: "一",
		Geometry: orb.MultiPolygon{{{{116, 39}, {116.01, 39}, {116.01, 39.01}, {116, 39}}}}}}, "census"); err != nil {
		t.Fatal(err)
	}

	// A census of 12,000: explicit IDs, assigned ones, legacy IDs, odd fields.
	census := make([]registry.Component, 12_000)
	for i := range census {
		c := registry.Component{
			Class: []string{"01001", "02001", "03001"}[i%3], Name: fmt.Sprintf("部件 %d", i),
			Point:  orb.Point{116 + float64(i)*1e-6, 39 + float64(i%97)*1e-5},
			Status: registry.Status(1 + i%5), Supervisor: "sup", Owner: []string{"", "权属"}[i%2],
			Maintainer: "m", Cell: "110105001001001", CensusDate: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
			ChangeDate: time.Date(2024, 6, 1, 8, 30, 0, 123456789, time.UTC), Source: "实测", Note: fmt.Sprint(i),
		}
		switch i % 4 {
		case 0:
			c.ID, _ = registry.NewComponentCode("110105", c.Class, 100_000+i)
		case 1:
			c.ID, _ = registry.NewComponentCode("110105", c.Class, 200_000+i)
			c.LegacyID, _ = registry.NewComponentCode("110105", "0"+c.Class[1:2]+"01", 300_000+i)
			c.LegacyClass = c.LegacyID.Class()
		case 2: // assigned
		case 3:
			c.ID, _ = registry.NewComponentCode("110105", c.Class, 400_000+i)
			c.CensusDate, c.ChangeDate, c.Status = time.Time{}, time.Time{}, 0
		}
		census[i] = c
	}
	put(census, nil, "census 2024")
	stored := run.puts[0]

	// Edits: updates by ID and by legacy ID only, a new ID given with a legacy ID (the old one
	// becomes an alias), retirements, creates, versions checked.
	var edit []registry.Component
	var expect []int64
	for i := 0; i < 1_200; i++ {
		c := stored[i*7]
		c.Name += " (复查)"
		switch i % 5 {
		case 0:
			c.Status = registry.StatusRemoved
		case 1:
			if !c.LegacyID.IsZero() {
				legacy := c.LegacyID
				c = registry.Component{ID: legacy, Name: "legacy again", Point: c.Point, Class: c.Class, Cell: c.Cell}
			}
		case 2:
			if !c.LegacyID.IsZero() {
				c.ID, _ = registry.NewComponentCode("110105", c.Class, 900_000+i)
			}
		}
		edit = append(edit, c)
		expect = append(expect, int64(i%2))
	}
	for i := 0; i < 100; i++ {
		edit = append(edit, registry.Component{Class: "01001", Cell: "110105001001001", Point: orb.Point{116.5, 39.5}, Name: "new"})
		expect = append(expect, 0)
	}
	put(edit, expect, "editor")

	// Failures leave nothing: a stale version, and a duplicate.
	stale := append([]registry.Component(nil), edit[:1250]...)
	staleExpect := make([]int64, len(stale))
	staleExpect[1000] = 1
	fail(stale, staleExpect)
	dup := append([]registry.Component(nil), census[:1200]...)
	dup[1100] = dup[4]
	fail(dup, nil)

	if err := s.ForEachComponent(ctx, func(c *registry.Component) error {
		run.all = append(run.all, *c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	run.history = map[string][]registry.Change{}
	run.byName = map[string]registry.Component{}
	for i := 0; i < 60; i++ {
		for _, id := range []registry.ComponentCode{census[i*7].ID, census[i*7].LegacyID, stored[i*7].ID, edit[i].ID} {
			if id.IsZero() {
				continue
			}
			c, err := s.Component(ctx, id)
			if err != nil {
				t.Fatalf("Component(%s): %v", id, err)
			}
			run.byName[id.String()] = c
			h, err := s.History(ctx, id)
			if err != nil {
				t.Fatalf("History(%s): %v", id, err)
			}
			run.history[id.String()] = h
		}
	}
	var err error
	if run.changes, err = s.Changes(ctx, 0, 100_000); err != nil {
		t.Fatal(err)
	}
	return run
}
