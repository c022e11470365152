package registry

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// SerialPrefix is what identifiers take serials under: an identifier's digits but the last
// six (district and class) as a number, and whether they are a legacy identifier's (a 4-digit
// class). A store keeps the highest serial it has seen under each prefix.
type SerialPrefix struct {
	N      uint64
	Legacy bool
}

// PrefixOf returns the prefix id takes its serial under.
func PrefixOf(id ComponentCode) SerialPrefix {
	return SerialPrefix{N: id.n / 1000000, Legacy: id.legacy}
}

// District returns the prefix's 6-digit district code.
func (p SerialPrefix) District() string {
	if p.Legacy {
		return strconv.FormatUint(p.N/10000, 10)
	}
	return strconv.FormatUint(p.N/100000, 10)
}

// Class returns the prefix's class code: 5 digits, or 4 for a legacy prefix.
func (p SerialPrefix) Class() string {
	if p.Legacy {
		return fmt.Sprintf("%04d", p.N%10000)
	}
	return fmt.Sprintf("%05d", p.N%100000)
}

// SerialRange is the serials From … To (inclusive) under Prefix.
type SerialRange struct {
	Prefix   SerialPrefix
	From, To uint32
}

// SerialCounters is what AssignIDs needs of a store, within the transaction that stores the
// batch: its counters and its names.
type SerialCounters interface {
	// Serials returns the highest serial stored under each of ps; a prefix without a stored
	// serial is absent from the map.
	Serials(ps []SerialPrefix) (map[SerialPrefix]uint32, error)
	// Taken returns the identifiers within rs that name a stored component, as its ID, its
	// legacy ID or a former one, in any order.
	Taken(rs []SerialRange) ([]ComponentCode, error)
}

// IDBatch is a PutComponents batch as AssignIDs sees it.
type IDBatch interface {
	Len() int
	// IDs returns element i's ID and legacy ID as the store resolved them: an update carries
	// the stored ones it keeps; a zero ID is to be assigned.
	IDs(i int) (id, legacy ComponentCode)
	// Component returns element i as given: its Cell and Class make an assigned ID's prefix.
	Component(i int) *Component
	// SetID gives element i its assigned ID.
	SetID(i int, id ComponentCode)
}

// AssignIDs gives every element of b whose ID is zero an identifier: AssignPrefix's prefix and a
// free serial under it, in input order. A serial is free when it names no stored component
// (sc.Taken: its ID, legacy ID or a former one) and no element of the batch. The serials above
// the highest one stored (sc.Serials) and in the batch come first, in order, while there are
// any; past MaxSerial the search wraps around to the lowest free serials, so one identifier
// with serial 999999 does not use the prefix up. It returns the counters to write: the highest
// serial the batch reached under each prefix where that is above the stored one. Errors:
// ErrInvalidInput (a zero ID without a cell or 5-digit class), an *UnassignedError (wrapping a
// Conflict "serials_exhausted") naming every element for which no serial is free, and sc's.
// On error no element's ID is set.
func AssignIDs(b IDBatch, sc SerialCounters) (map[SerialPrefix]uint32, error) {
	n := b.Len()
	var at []int32           // the elements whose ID is assigned
	var under []uint64       // their prefixes
	need := map[uint64]int{} // how many IDs each prefix gives
	for i := range n {
		if id, _ := b.IDs(i); !id.IsZero() {
			continue
		}
		p, err := AssignPrefix(b.Component(i))
		if err != nil {
			return nil, fmt.Errorf("component %d: %w", i, err)
		}
		at, under = append(at, int32(i)), append(under, p)
		need[p]++
	}
	serials := make(map[SerialPrefix]uint32)
	inBatch := map[SerialPrefix]map[uint32]bool{} // the batch's own serials under the prefixes that give IDs
	for i := range n {
		id, legacy := b.IDs(i)
		for _, code := range [2]ComponentCode{id, legacy} {
			if code.IsZero() {
				continue
			}
			p, s := PrefixOf(code), uint32(code.Serial())
			serials[p] = max(serials[p], s)
			if _, gives := need[p.N]; gives && !p.Legacy {
				if inBatch[p] == nil {
					inBatch[p] = map[uint32]bool{}
				}
				inBatch[p][s] = true
			}
		}
	}
	for p := range need {
		if _, ok := serials[SerialPrefix{N: p}]; !ok {
			serials[SerialPrefix{N: p}] = 0 // so that its stored serial is read
		}
	}
	ps := make([]SerialPrefix, 0, len(serials))
	for p := range serials {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b SerialPrefix) int { return cmp.Compare(a.N, b.N) }) // a legacy N has fewer digits
	stored, err := sc.Serials(ps)
	if err != nil {
		return nil, err
	}
	for p, s := range stored {
		serials[p] = max(serials[p], s)
	}
	free, err := freeSerials(sc, need, serials, inBatch)
	if err != nil {
		return nil, err
	}
	ids := make([]ComponentCode, len(at))
	var failed []int
	next := make(map[uint64]int, len(need))
	for j, i := range at {
		p := under[j]
		k := next[p]
		if k >= len(free[SerialPrefix{N: p}]) {
			failed = append(failed, int(i))
			continue
		}
		next[p] = k + 1
		s := free[SerialPrefix{N: p}][k]
		ids[j] = ComponentCodeFromUint64(p*1000000+uint64(s), false)
		serials[SerialPrefix{N: p}] = max(serials[SerialPrefix{N: p}], s)
	}
	if len(failed) > 0 {
		return nil, &UnassignedError{Elements: failed, Err: exhausted(under[slices.Index(at, int32(failed[0]))])}
	}
	for j, i := range at {
		b.SetID(int(i), ids[j])
	}
	grown := make(map[SerialPrefix]uint32)
	for p, s := range serials {
		if old, ok := stored[p]; !ok || s > old {
			grown[p] = s
		}
	}
	return grown, nil
}

// UnassignedError is AssignIDs' error when some elements of a batch cannot get an identifier
// because every serial of their district and class is taken. Err is the Conflict
// "serials_exhausted" of the first of them; a partial import reports each element as a problem
// and stores the others.
type UnassignedError struct {
	Elements []int // the batch indices, ascending
	Err      error
}

func (e *UnassignedError) Error() string {
	return fmt.Sprintf("%d components get no identifier (the first is element %d): %v", len(e.Elements), e.Elements[0], e.Err)
}

func (e *UnassignedError) Unwrap() error { return e.Err }

// exhausted is the Conflict of a prefix (from AssignPrefix) without a free serial.
func exhausted(prefix uint64) error {
	return Errorf(Conflict, CodeSerialsExhausted,
		"every serial of district %06d class %05d is taken", prefix/100000, prefix%100000)
}

// freeSerials finds, for each prefix p that gives need[p] IDs, up to need[p] free serials in
// the order AssignIDs gives them: from serials[p]+1 up to MaxSerial, then from 1 up to
// serials[p]. It asks sc which serials of a range name stored components; each further round
// asks for twice as many serials as the last, so a long run of taken ones takes few rounds.
// One question usually does: only lost counters, or a wrap-around, meet stored names.
func freeSerials(sc SerialCounters, need map[uint64]int, serials map[SerialPrefix]uint32, inBatch map[SerialPrefix]map[uint32]bool) (map[SerialPrefix][]uint32, error) {
	type segment struct{ from, to uint32 } // inclusive
	type progress struct {
		segs []segment // still to search, in order; segs[0].from is the next serial to ask about
		size uint32    // of the last range asked
	}
	prog := make(map[SerialPrefix]*progress, len(need))
	free := make(map[SerialPrefix][]uint32, len(need))
	for n := range need {
		p := SerialPrefix{N: n}
		hi := serials[p]
		pr := &progress{}
		if hi < MaxSerial {
			pr.segs = append(pr.segs, segment{hi + 1, MaxSerial})
		}
		if hi >= 1 {
			pr.segs = append(pr.segs, segment{1, min(hi, MaxSerial)})
		}
		prog[p] = pr
	}
	for {
		var rs []SerialRange
		for p, pr := range prog {
			want := need[p.N] - len(free[p])
			if want <= 0 || len(pr.segs) == 0 {
				continue
			}
			pr.size = max(uint32(want), 2*pr.size)
			sg := pr.segs[0]
			to := uint32(min(uint64(sg.from)+uint64(pr.size)-1, uint64(sg.to)))
			rs = append(rs, SerialRange{Prefix: p, From: sg.from, To: to})
		}
		if len(rs) == 0 {
			return free, nil
		}
		codes, err := sc.Taken(rs)
		if err != nil {
			return nil, err
		}
		taken := map[SerialPrefix][]uint32{}
		for _, c := range codes {
			p := PrefixOf(c)
			taken[p] = append(taken[p], uint32(c.Serial()))
		}
		for _, r := range rs {
			t := taken[r.Prefix]
			slices.Sort(t)
			pr := prog[r.Prefix]
			want := need[r.Prefix.N] - len(free[r.Prefix])
			for s := r.From; ; s++ {
				if want == 0 {
					break
				}
				if _, hit := slices.BinarySearch(t, s); !hit && !inBatch[r.Prefix][s] {
					free[r.Prefix] = append(free[r.Prefix], s)
					want--
				}
				if s == r.To {
					break
				}
			}
			if r.To >= pr.segs[0].to {
				pr.segs = pr.segs[1:]
			} else {
				pr.segs[0].from = r.To + 1
			}
		}
	}
}
