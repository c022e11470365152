package spatial

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"citygrid/registry"
)

// classFilters name classes in every way the class trees must get right: a class, a legacy
// class (matched through LegacyClass), both of them at once (a component then lies in two
// selected trees and must be reported once), majors with and without legacy classes, a
// class no component has, and retired components (which have trees of their own).
var classFilters = []Filter{
	{Classes: []string{"01001"}},
	{Classes: []string{"0101"}},
	{Classes: []string{"01001", "0101"}},
	{Classes: []string{"0101", "01001", "01002"}},
	{Classes: []string{"01"}},
	{Classes: []string{"01", "0101"}},
	{Classes: []string{"06"}},
	{Classes: []string{"0601", "02013"}},
	{Classes: []string{"02", "0601"}},
	{Classes: []string{"99999"}},
	{Classes: []string{"01001"}, Statuses: []registry.Status{registry.StatusRemoved}},
	{Classes: []string{"0101", "02"}, Statuses: []registry.Status{registry.StatusRemoved, registry.StatusDamaged}},
	{Classes: []string{"01", "0601"}, Statuses: []registry.Status{registry.StatusIntact, registry.StatusRemoved}},
	{Classes: []string{"01001", "0101"}, Cell: "500104"},
	{Classes: []string{"05001"}, Statuses: []registry.Status{registry.StatusLost}, Cell: "500103"},
}

// refNearest is the brute force of Nearest: every matching component within radius (0:
// unlimited) sorted by haversine distance, then key, cut at k.
func refNearest(comps []registry.Component, p orb.Point, f Filter, k int, radius float64) []kd {
	var ref []kd
	for i := range comps {
		cp := &comps[i]
		if !matchRef(cp, f) {
			continue
		}
		d := geo.DistanceHaversine(p, cp.Point)
		if radius > 0 && d > radius {
			continue
		}
		ref = append(ref, kd{cp.Key, d})
	}
	slices.SortFunc(ref, func(a, b kd) int {
		if a.D != b.D {
			return cmpF(a.D, b.D)
		}
		return int(a.Key) - int(b.Key)
	})
	return ref[:min(k, len(ref))]
}

// kd is a Nearest result reduced to what the brute force knows.
type kd struct {
	Key registry.Key
	D   float64
}

func hitsKD(hs []Hit) []kd {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kd, len(hs))
	for i, h := range hs {
		out[i] = kd{h.Key, h.Distance}
	}
	return out
}

func hitKeys(hs []Hit) []registry.Key {
	if len(hs) == 0 {
		return nil
	}
	out := make([]registry.Key, len(hs))
	for i, h := range hs {
		out[i] = h.Key
	}
	return out
}

// churn applies random updates to n components of c through idx, mirroring them in c:
// reclassifications (to other classes and legacy classes, or dropping the legacy class),
// moves, retirements and returns from retirement, so the class trees are tested after writes
// and not only after Load.
func churn(t testing.TB, idx *Index, c *city, rng *rand.Rand, n int) {
	t.Helper()
	batch := make([]registry.Component, 0, n)
	for range n {
		i := rng.IntN(len(c.Components))
		cp := &c.Components[i]
		switch rng.IntN(5) {
		case 0:
			cl := testClasses[rng.IntN(len(testClasses))]
			cp.Class, cp.LegacyClass = cl.class, cl.legacy
		case 1:
			cp.LegacyClass = "" // a legacy-only component is left without any class
		case 2:
			cp.Point = orb.Point{cp.Point[0] + (rng.Float64()-0.5)*0.002, cp.Point[1] + (rng.Float64()-0.5)*0.002}
		case 3:
			cp.Status = registry.StatusRemoved
		case 4:
			cp.Status = registry.StatusDamaged
		}
		batch = append(batch, *cp)
	}
	idx.ApplyComponents(batch)
}

// checkClassTrees requires the class trees to hold exactly, in the right tree, every
// component with a point and a class: under its class and its legacy class, in the retired
// trees when it is retired.
func checkClassTrees(t testing.TB, idx *Index, comps []registry.Component) {
	t.Helper()
	s := idx.load()
	want := map[uint32][]registry.Key{}
	for i := range comps {
		cp := &comps[i]
		class := cp.Class
		if class == "" {
			class = cp.LegacyClass
		}
		if class == "" || !registry.ValidPoint(cp.Point) {
			continue
		}
		retired := cp.Status == registry.StatusRemoved
		tk := classTreeKey(s.classID[class], retired)
		want[tk] = append(want[tk], cp.Key)
		if cp.LegacyClass != "" && cp.LegacyClass != class {
			tk := classTreeKey(s.classID[cp.LegacyClass], retired)
			want[tk] = append(want[tk], cp.Key)
		}
	}
	got := map[uint32][]registry.Key{}
	for tk, tr := range s.classTrees {
		if tr == nil {
			continue
		}
		tr.Scan(func(_, _ [2]float32, slot uint32) bool {
			got[uint32(tk)] = append(got[uint32(tk)], s.keyOf(slot))
			return true
		})
	}
	for _, m := range []map[uint32][]registry.Key{want, got} {
		for _, ks := range m {
			slices.Sort(ks)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("class trees (key class<<1|retired → component keys) (-want +got):\n%s", diff)
	}
}

// TestClassTreePlansMatchBruteForce runs Nearest and Within with class filters by both
// plans, the class trees (in size order and reversed) and the shared tree, and as the
// planner chooses, against a brute force, before and after random updates.
func TestClassTreePlansMatchBruteForce(t *testing.T) {
	idx, c := newTestIndex(t)
	rng := rand.New(rand.NewPCG(5, 5))
	w, h := c.Bound.Max[0]-c.Bound.Min[0], c.Bound.Max[1]-c.Bound.Min[1]
	for round := range 3 {
		if round > 0 {
			churn(t, idx, c, rng, 400)
		}
		checkClassTrees(t, idx, c.Components)
		s := idx.load()
		for n := 0; n < 600; n++ {
			f := classFilters[n%len(classFilters)]
			flt, err := s.compileFilter(f)
			if err != nil {
				t.Fatalf("compileFilter(%+v) error %v", f, err)
			}
			trees, _ := s.classTreesOf(&flt)
			reversed := slices.Clone(trees)
			slices.Reverse(reversed)
			p := orb.Point{c.Bound.Min[0] - 0.2*w + rng.Float64()*1.4*w, c.Bound.Min[1] - 0.2*h + rng.Float64()*1.4*h}
			k := 1 + rng.IntN(12)
			radius := 0.0
			if n%3 == 0 {
				radius = 50 + rng.Float64()*300
			}
			want := refNearest(c.Components, p, f, k, radius)
			got, err := idx.Nearest(p, f, k, radius)
			if err != nil {
				t.Fatalf("round %d: Nearest(%v, %+v, %d, %g) error %v", round, p, f, k, radius, err)
			}
			plans := map[string][]Hit{
				"planned":        got,
				"class trees":    s.nearest(&flt, p, k, radius, trees, true),
				"reversed":       s.nearest(&flt, p, k, radius, reversed, true),
				"component tree": s.nearest(&flt, p, k, radius, nil, false),
			}
			for name, hits := range plans {
				if diff := cmp.Diff(want, hitsKD(hits)); diff != "" {
					t.Fatalf("round %d: Nearest(%v, %+v, %d, %g) by %s differs from brute force (-want +got):\n%s", round, p, f, k, radius, name, diff)
				}
			}

			a := orb.Point{c.Bound.Min[0] + rng.Float64()*w, c.Bound.Min[1] + rng.Float64()*h}
			b := orb.Bound{Min: a, Max: orb.Point{a[0] + rng.Float64()*0.6*w, a[1] + rng.Float64()*0.6*h}}
			var all []registry.Key
			for i := range c.Components {
				if cp := &c.Components[i]; b.Contains(cp.Point) && matchRef(cp, f) {
					all = append(all, cp.Key)
				}
			}
			// a page from a cursor inside the matches, limited to fewer than remain
			cursor := registry.Key(0)
			if len(all) > 2 {
				cursor = all[rng.IntN(len(all)/2)]
			}
			rest := all[sort0(all, cursor):]
			limit := 1 + rng.IntN(max(1, len(rest)))
			wantPage, wantNext := rest[:min(limit, len(rest))], registry.Key(0)
			if len(rest) > limit {
				wantNext = wantPage[limit-1]
			}
			hits, next, err := idx.Within(b, f, limit, cursor)
			if err != nil {
				t.Fatalf("round %d: Within(%v, %+v) error %v", round, b, f, err)
			}
			type page struct {
				Keys []registry.Key
				Next registry.Key
			}
			pages := map[string]page{"planned": {hitKeys(hits), next}}
			for _, plan := range []struct {
				name  string
				trees []classTree
				use   bool
			}{{"class trees", trees, true}, {"reversed", reversed, true}, {"component tree", nil, false}} {
				hs, nx := s.within(&flt, b, limit, cursor, plan.trees, plan.use)
				pages[plan.name] = page{hitKeys(hs), nx}
				hs, nx = s.within(&flt, b, 0, 0, plan.trees, plan.use)
				pages[plan.name+" unlimited"] = page{hitKeys(hs), nx}
			}
			for name, pg := range pages {
				want := page{wantPage, wantNext}
				if slices.Contains([]string{"class trees unlimited", "reversed unlimited", "component tree unlimited"}, name) {
					want = page{all, 0}
				}
				if diff := cmp.Diff(want, pg); diff != "" {
					t.Fatalf("round %d: Within(%v, %+v, %d, %d) by %s differs from brute force (-want +got):\n%s", round, b, f, limit, cursor, name, diff)
				}
			}
		}
	}
}

// sort0 is the index of the first key above cursor in the ascending keys ks.
func sort0(ks []registry.Key, cursor registry.Key) int {
	i, _ := slices.BinarySearch(ks, cursor+1)
	return i
}

// TestNearestPlan checks the planner's clear-cut choices: the shared tree without a class
// filter, nothing at all for a class no component has, the class trees for one class or
// for rare classes, the shared tree for most of the index spread over many classes.
func TestNearestPlan(t *testing.T) {
	idx, c := newTestIndex(t)
	// five rare components: three of a class (one retired), two of a legacy class mapped to
	// 01001
	rare := make([]registry.Component, 5)
	for i := range rare {
		rare[i] = c.Components[i]
		rare[i].Key = registry.Key(len(c.Components) + 1 + i)
		rare[i].Status = registry.StatusIntact
		rare[i].Class, rare[i].LegacyClass = "05009", ""
		if i >= 3 {
			rare[i].Class, rare[i].LegacyClass = "01001", "0301"
		}
	}
	rare[2].Status = registry.StatusRemoved
	idx.ApplyComponents(rare)
	s := idx.load()
	tests := []struct {
		f         Filter
		useTrees  bool
		wantTrees int
	}{
		{Filter{}, false, 0},
		{Filter{Statuses: []registry.Status{registry.StatusLost}}, false, 0},
		{Filter{Classes: []string{"99999"}}, true, 0},
		{Filter{Classes: []string{"01001"}}, true, 1},
		{Filter{Classes: []string{"05009", "0301"}}, true, 2},
		{Filter{Classes: []string{"05009", "0301"}, Statuses: []registry.Status{registry.StatusIntact, registry.StatusRemoved}}, true, 3},
		{Filter{Classes: []string{"01", "02", "04"}}, false, 6},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.f.Classes, tt.f.Statuses), func(t *testing.T) {
			flt, err := s.compileFilter(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			trees, use := s.nearestPlan(&flt, 5)
			all, _ := s.classTreesOf(&flt)
			if use != tt.useTrees || len(all) != tt.wantTrees || use && len(trees) != len(all) {
				t.Errorf("nearestPlan(%+v) = %d trees, use %v (of %d class trees); want use %v of %d", tt.f, len(trees), use, len(all), tt.useTrees, tt.wantTrees)
			}
		})
	}
}
