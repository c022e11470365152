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

// AssignIDs gives every element of b whose ID is zero an identifier: AssignPrefix's prefix and
// the next serial under it, in input order, above the highest serial stored (sc.Serials) and
// above every ID and legacy ID of the batch with that prefix. A serial that names a stored
// component (sc.Taken) is skipped: counters only lag behind the names when they were lost, as
// in a restore without them, and identifiers stay unique anyway. It returns the counters to
// write: the highest serial the batch reached under each prefix where that is above the stored
// one. Errors: ErrInvalidInput (a zero ID without a cell or 5-digit class), a Conflict
// "serials_exhausted", and sc's.
func AssignIDs(b IDBatch, sc SerialCounters) (map[SerialPrefix]uint32, error) {
	n := b.Len()
	serials := make(map[SerialPrefix]uint32)
	for i := range n {
		id, legacy := b.IDs(i)
		for _, code := range [2]ComponentCode{id, legacy} {
			if !code.IsZero() {
				p := PrefixOf(code)
				serials[p] = max(serials[p], uint32(code.Serial()))
			}
		}
	}
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
	taken, err := takenSerials(sc, need, serials)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		p := SerialPrefix{N: under[j]}
		last := serials[p]
		for taken[p][last+1] {
			last++
		}
		id, err := NextID(p.N, last)
		if err != nil {
			return nil, fmt.Errorf("component %d: %w", i, err)
		}
		serials[p] = last + 1
		b.SetID(int(i), id)
	}
	grown := make(map[SerialPrefix]uint32)
	for p, s := range serials {
		if old, ok := stored[p]; !ok || s > old {
			grown[p] = s
		}
	}
	return grown, nil
}

// takenSerials asks sc which serials above serials[p] name stored components, for each prefix
// p that gives need[p] IDs, until it knows enough free ones (or reaches MaxSerial). One
// question usually does: only lost counters leave stored names above them. Each further round
// asks for twice as many serials as the last, so a long run of taken ones takes few rounds.
func takenSerials(sc SerialCounters, need map[uint64]int, serials map[SerialPrefix]uint32) (map[SerialPrefix]map[uint32]bool, error) {
	type progress struct {
		checked uint32 // serials up to this one are known
		free    int
		size    uint32 // of the last range asked
	}
	prog := make(map[SerialPrefix]*progress, len(need))
	for n := range need {
		p := SerialPrefix{N: n}
		prog[p] = &progress{checked: serials[p]}
	}
	taken := map[SerialPrefix]map[uint32]bool{}
	for {
		var rs []SerialRange
		for p, pr := range prog {
			want := need[p.N] - pr.free
			if want <= 0 || pr.checked >= MaxSerial {
				continue
			}
			pr.size = max(uint32(want), 2*pr.size)
			to := min(uint64(pr.checked)+uint64(pr.size), MaxSerial)
			rs = append(rs, SerialRange{Prefix: p, From: pr.checked + 1, To: uint32(to)})
		}
		if len(rs) == 0 {
			return taken, nil
		}
		codes, err := sc.Taken(rs)
		if err != nil {
			return nil, err
		}
		for _, c := range codes {
			p := PrefixOf(c)
			if taken[p] == nil {
				taken[p] = map[uint32]bool{}
			}
			taken[p][uint32(c.Serial())] = true
		}
		for _, r := range rs {
			pr := prog[r.Prefix]
			pr.free += int(r.To - r.From + 1)
			for s := range taken[r.Prefix] {
				if s >= r.From && s <= r.To {
					pr.free--
				}
			}
			pr.checked = r.To
		}
	}
}
