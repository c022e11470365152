package registry_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"citygrid/registry"
)

// batch is a PutComponents batch resolved in place.
type batch []registry.Component

func (b batch) Len() int { return len(b) }
func (b batch) IDs(i int) (id, legacy registry.ComponentCode) {
	return b[i].ID, b[i].LegacyID
}
func (b batch) Component(i int) *registry.Component    { return &b[i] }
func (b batch) SetID(i int, id registry.ComponentCode) { b[i].ID = id }

// counters is a store's serials and names; rounds counts the Taken questions.
type counters struct {
	stored map[registry.SerialPrefix]uint32
	taken  map[registry.ComponentCode]bool
	full   map[registry.SerialPrefix]uint32 // every serial of the prefix is taken but this one (0: every one)
	err    error
	rounds int
}

func (c *counters) Serials(ps []registry.SerialPrefix) (map[registry.SerialPrefix]uint32, error) {
	out := map[registry.SerialPrefix]uint32{}
	for _, p := range ps {
		if s, ok := c.stored[p]; ok {
			out[p] = s
		}
	}
	return out, c.err
}

func (c *counters) Taken(rs []registry.SerialRange) ([]registry.ComponentCode, error) {
	c.rounds++
	var out []registry.ComponentCode
	for _, r := range rs {
		if but, ok := c.full[r.Prefix]; ok {
			for s := r.From; s <= r.To; s++ {
				if s == but {
					continue
				}
				out = append(out, registry.ComponentCodeFromUint64(r.Prefix.N*1000000+uint64(s), r.Prefix.Legacy))
			}
		}
	}
	for id := range c.taken {
		for _, r := range rs {
			if registry.PrefixOf(id) == r.Prefix && id.Serial() >= int(r.From) && id.Serial() <= int(r.To) {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

func TestAssignIDs(t *testing.T) {
	const district, manhole, lamp = "500103", "01001", "01037"
	cell := registry.GridCode(district + "001001001")
	id := func(class string, serial int) registry.ComponentCode {
		c, err := registry.NewComponentCode(district, class, serial)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	comp := func(c registry.ComponentCode, class string) registry.Component {
		return registry.Component{ID: c, Class: class, Cell: cell}
	}
	zero := registry.ComponentCode{}
	pm, pl := registry.PrefixOf(id(manhole, 1)), registry.PrefixOf(id(lamp, 1))
	takenSerials := func(class string, serials ...int) map[registry.ComponentCode]bool {
		m := map[registry.ComponentCode]bool{}
		for _, s := range serials {
			m[id(class, s)] = true
		}
		return m
	}
	run := func(from, to int) []int {
		var s []int
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	tests := []struct {
		name      string
		in        batch
		stored    map[registry.SerialPrefix]uint32
		taken     map[registry.ComponentCode]bool
		want      []registry.ComponentCode
		wantGrown map[registry.SerialPrefix]uint32
		wantErr   error // nil: success
		wantCode  string
		wantFail  []int // the elements an *UnassignedError names
		full      map[registry.SerialPrefix]uint32
		maxRounds int
	}{
		{
			name:      "above the batch's own IDs, in input order",
			in:        batch{comp(zero, manhole), comp(zero, lamp), comp(id(manhole, 7), manhole), comp(zero, manhole)},
			want:      []registry.ComponentCode{id(manhole, 8), id(lamp, 1), id(manhole, 7), id(manhole, 9)},
			wantGrown: map[registry.SerialPrefix]uint32{pm: 9, pl: 1},
			maxRounds: 1,
		},
		{
			name:      "above the stored serial, skipping taken ones",
			in:        batch{comp(zero, manhole), comp(zero, manhole), comp(zero, manhole)},
			stored:    map[registry.SerialPrefix]uint32{pm: 3},
			taken:     takenSerials(manhole, 2, 4, 5, 6, 9),
			want:      []registry.ComponentCode{id(manhole, 7), id(manhole, 8), id(manhole, 10)},
			wantGrown: map[registry.SerialPrefix]uint32{pm: 10},
			maxRounds: 3,
		},
		{
			name:      "a long run of taken serials takes few questions",
			in:        batch{comp(zero, manhole)},
			taken:     takenSerials(manhole, run(1, 1000)...),
			want:      []registry.ComponentCode{id(manhole, 1001)},
			wantGrown: map[registry.SerialPrefix]uint32{pm: 1001},
			maxRounds: 11,
		},
		{
			name:      "an explicit ID below the stored serial writes nothing",
			in:        batch{comp(id(manhole, 2), manhole)},
			stored:    map[registry.SerialPrefix]uint32{pm: 5},
			want:      []registry.ComponentCode{id(manhole, 2)},
			wantGrown: map[registry.SerialPrefix]uint32{},
		},
		{
			name:      "the last serial",
			in:        batch{comp(zero, manhole)},
			stored:    map[registry.SerialPrefix]uint32{pm: registry.MaxSerial - 2},
			taken:     takenSerials(manhole, registry.MaxSerial-1),
			want:      []registry.ComponentCode{id(manhole, registry.MaxSerial)},
			wantGrown: map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			maxRounds: 2,
		},
		{
			name:      "past the last serial, the lowest free ones",
			in:        batch{comp(zero, manhole), comp(zero, manhole), comp(zero, manhole)},
			stored:    map[registry.SerialPrefix]uint32{pm: registry.MaxSerial - 1},
			taken:     takenSerials(manhole, 1, registry.MaxSerial-1),
			want:      []registry.ComponentCode{id(manhole, registry.MaxSerial), id(manhole, 2), id(manhole, 3)},
			wantGrown: map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			maxRounds: 3,
		},
		{
			name:      "serial 999999 taken: the lowest free serials, counters unchanged",
			in:        batch{comp(zero, manhole), comp(zero, manhole), comp(zero, manhole)},
			stored:    map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			taken:     takenSerials(manhole, 1, 2, 4, registry.MaxSerial),
			want:      []registry.ComponentCode{id(manhole, 3), id(manhole, 5), id(manhole, 6)},
			wantGrown: map[registry.SerialPrefix]uint32{},
			maxRounds: 2,
		},
		{
			name: "after the wrap, the batch's own serials are not given again",
			in:   batch{comp(zero, manhole), comp(id(manhole, 1), manhole), comp(zero, manhole), comp(id(manhole, registry.MaxSerial), manhole)},
			want: []registry.ComponentCode{id(manhole, 2), id(manhole, 1), id(manhole, 3), id(manhole, registry.MaxSerial)},
			// the batch's serial 999999 is above the (absent) stored counter
			wantGrown: map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			maxRounds: 2,
		},
		{
			name:      "a long run of taken serials after the wrap takes few questions",
			in:        batch{comp(zero, manhole)},
			stored:    map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			taken:     takenSerials(manhole, append(run(1, 5000), registry.MaxSerial)...),
			want:      []registry.ComponentCode{id(manhole, 5001)},
			wantGrown: map[registry.SerialPrefix]uint32{},
			maxRounds: 14,
		},
		{
			name:     "exhausted: every element without a free serial is named",
			in:       batch{comp(zero, manhole), comp(zero, lamp), comp(zero, manhole)},
			stored:   map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			full:     map[registry.SerialPrefix]uint32{pm: 0},
			wantCode: "serials_exhausted",
			wantFail: []int{0, 2},
		},
		{
			name:     "exhausted by the batch itself",
			in:       batch{comp(zero, manhole), comp(zero, manhole)},
			stored:   map[registry.SerialPrefix]uint32{pm: registry.MaxSerial},
			full:     map[registry.SerialPrefix]uint32{pm: 1},
			wantCode: "serials_exhausted",
			wantFail: []int{1},
		},
		{
			name:    "no cell",
			in:      batch{{Class: manhole}},
			wantErr: registry.ErrInvalidInput,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &counters{stored: tt.stored, taken: tt.taken, full: tt.full}
			before := append(batch(nil), tt.in...)
			grown, err := registry.AssignIDs(tt.in, c)
			if tt.wantFail != nil {
				var ue *registry.UnassignedError
				if !errors.As(err, &ue) || !slices.Equal(ue.Elements, tt.wantFail) {
					t.Errorf("AssignIDs error = %v, want an *UnassignedError naming elements %v", err, tt.wantFail)
				}
				if diff := cmp.Diff(before, tt.in, componentCodeText); diff != "" {
					t.Errorf("AssignIDs set IDs although it failed (-before +after):\n%s", diff)
				}
			}
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("AssignIDs error = %v, want %v", err, tt.wantErr)
			case tt.wantCode != "" && registry.ErrorCode(err) != tt.wantCode:
				t.Fatalf("AssignIDs error = %v, want code %s", err, tt.wantCode)
			case tt.wantErr == nil && tt.wantCode == "" && err != nil:
				t.Fatalf("AssignIDs error = %v", err)
			case err != nil:
				return
			}
			var got []registry.ComponentCode
			for _, comp := range tt.in {
				got = append(got, comp.ID)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b registry.ComponentCode) bool { return a == b })); diff != "" {
				t.Errorf("AssignIDs IDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGrown, grown); diff != "" {
				t.Errorf("AssignIDs grown serials (-want +got):\n%s", diff)
			}
			if c.rounds > tt.maxRounds {
				t.Errorf("AssignIDs asked Taken %d times, want at most %d", c.rounds, tt.maxRounds)
			}
		})
	}
}

func TestSerialPrefixParts(t *testing.T) {
	tests := []struct {
		id                  string
		wantDistrict, class string
	}{
		{"50010301001000007", "500103", "01001"},
		{"3205080101000001", "320508", "0101"},
	}
	for _, tt := range tests {
		p := registry.PrefixOf(registry.MustParseComponentCode(tt.id))
		if p.District() != tt.wantDistrict || p.Class() != tt.class {
			t.Errorf("PrefixOf(%s) = %s/%s, want %s/%s", tt.id, p.District(), p.Class(), tt.wantDistrict, tt.class)
		}
	}
}
