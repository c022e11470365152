package bolt

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"citygrid/registry"
)

// idRef is one identifier named by a PutComponents batch: element i's ID, or its LegacyID.
type idRef struct {
	n      uint64
	i      int32
	legacy bool
}

// prior is what an update needs of the stored record it replaces.
type prior struct {
	key     registry.Key
	version int64
	status  registry.Status
	raw     []byte // the stored record: the history entry's before-image
}

// PutComponents creates components whose ID (or legacy ID) is new and updates those whose ID
// or legacy ID is stored; see registry.Store. On update, an ID, LegacyID or LegacyClass left
// zero keeps its stored value, and a new ID or legacy ID becomes one more name of the record
// (the old one keeps finding it); a record named by its stored legacy ID keeps its ID. Zero
// IDs are assigned by registry.AssignIDs: District(Cell) + Class + a free serial, the next above
// every identifier ever stored with that prefix that names no stored component, else the lowest
// free one. Every stored component gets
// Updated = Options.Now() and UpdatedBy = actor, and one history entry. Errors, after which
// nothing is stored: registry.ErrInvalidInput (len(expect) != len(comps), or a zero ID
// without a cell or 5-digit class), registry.ErrDuplicate (an identifier named twice, or a
// legacy ID stored for another component), registry.ErrVersionConflict, a Conflict with code
// "serials_exhausted" (a *registry.UnassignedError: every serial of the prefix is taken), ctx's error.
func (s *Store) PutComponents(ctx context.Context, comps []registry.Component, expect []int64, actor string) ([]registry.Component, error) {
	return s.PutComponentsNoted(ctx, comps, expect, actor, "")
}

// PutComponentsNoted is PutComponents whose history entries of updates carry note; see
// registry.Store.
func (s *Store) PutComponentsNoted(ctx context.Context, comps []registry.Component, expect []int64, actor, note string) ([]registry.Component, error) {
	if expect != nil && len(expect) != len(comps) {
		return nil, fmt.Errorf("put components: %d expected versions for %d components: %w", len(expect), len(comps), registry.ErrInvalidInput)
	}
	if len(comps) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("put components: %w", err)
		}
		return []registry.Component{}, nil
	}
	// In place, as the interface allows: a census import hands over 1M components, and a
	// copy of them is 300 MB of fresh pages (about 2 s of page faults on a small VM).
	out := comps
	now := s.stamp()
	err := s.update(ctx, func(w *wtx) error { return w.putComponents(ctx, out, expect, actor, note, now) })
	if err != nil {
		return nil, fmt.Errorf("put components: %w", err)
	}
	return out, nil
}

// putComponents is PutComponents in its transaction, in seven steps: find what the batch
// names, resolve each element to an update or a create, assign identifiers, stamp the
// changes, then write records and history, identifier names and serials.
func (w *wtx) putComponents(ctx context.Context, out []registry.Component, expect []int64, actor, note string, now time.Time) error {
	cp := &componentPut{w: w, ctx: ctx, out: out, expect: expect, actor: actor, note: note, now: now}
	for _, step := range []func() error{
		cp.lookupNames,  // 1
		cp.resolve,      // 2
		cp.assignIDs,    // 3
		cp.stampChanges, // 4
		cp.writeRecords, // 5
		cp.writeNames,   // 6
		cp.writeSerials, // 7
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// componentPut is one PutComponents call in its write transaction. Its steps run in the
// order of putComponents, each leaving in it what the later ones need.
type componentPut struct {
	w      *wtx
	ctx    context.Context
	out    []registry.Component
	expect []int64
	actor  string
	note   string // of the history entries of updates
	now    time.Time

	refs       []idRef                          // every identifier the batch names, sorted (1)
	byID       []registry.Key                   // stored component found by element i's ID (1)
	byLegacy   []registry.Key                   // … by its LegacyID (1)
	priors     []*prior                         // the stored record element i updates; nil for a create (2)
	needID     []bool                           // element's final ID must be added to the index (2, 6)
	needLegacy []bool                           // … and its LegacyID (2, 6)
	updates    []int32                          // the elements that update, in key order (2)
	grown      map[registry.SerialPrefix]uint32 // serials to store, where the batch went past them (3)
	ops        []byte                           // op of each element (4)
	seqs       []uint64                         // change seq of each element (4)
}

// tick returns ctx's error once per ctxEvery iterations i of a long loop.
func (cp *componentPut) tick(i int) error {
	if i%ctxEvery == ctxEvery-1 {
		return cp.ctx.Err()
	}
	return nil
}

// lookupNames is step 1: every identifier the batch names, sorted (equal neighbours are
// duplicates, and the index is probed in key order), and the stored records they name.
func (cp *componentPut) lookupNames() error {
	w, out, n := cp.w, cp.out, len(cp.out)
	refs := make([]idRef, 0, n)
	for i := range out {
		id, leg := out[i].ID.Uint64(), out[i].LegacyID.Uint64()
		if id != 0 {
			refs = append(refs, idRef{n: id, i: int32(i)})
		}
		if leg != 0 && leg != id {
			refs = append(refs, idRef{n: leg, i: int32(i), legacy: true})
		}
	}
	cmpRef := func(a, b idRef) int {
		if c := cmp.Compare(a.n, b.n); c != 0 {
			return c
		}
		return int(a.i - b.i)
	}
	if !slices.IsSortedFunc(refs, cmpRef) {
		slices.SortFunc(refs, cmpRef)
	}
	byID := make([]registry.Key, n)     // stored component found by element i's ID
	byLegacy := make([]registry.Key, n) // … by its LegacyID
	var kb [keyLen]byte
	for j, r := range refs {
		if err := cp.tick(j); err != nil {
			return err
		}
		if j > 0 && refs[j-1].n == r.n {
			return fmt.Errorf("component %s at elements %d and %d: %w", refCode(out, r), refs[j-1].i, r.i, registry.ErrDuplicate)
		}
		binary.BigEndian.PutUint64(kb[:], r.n)
		if v := w.ids.Get(kb[:]); v != nil {
			if len(v) != keyLen {
				return fmt.Errorf("id index %d: %w", r.n, errCorrupt)
			}
			if r.legacy {
				byLegacy[r.i] = registry.Key(binary.BigEndian.Uint64(v))
			} else {
				byID[r.i] = registry.Key(binary.BigEndian.Uint64(v))
			}
		}
	}
	cp.refs, cp.byID, cp.byLegacy = refs, byID, byLegacy
	return nil
}

// resolve is step 2: each element becomes an update of a stored record or a create; versions
// are checked.
func (cp *componentPut) resolve() error {
	w, out, n, expect := cp.w, cp.out, len(cp.out), cp.expect
	byID, byLegacy := cp.byID, cp.byLegacy
	var kb [keyLen]byte
	priors := make([]*prior, n)
	needID := make([]bool, n)     // element's final ID must be added to the index
	needLegacy := make([]bool, n) // … and its LegacyID
	var updates []int32
	var scratch registry.Component
	for i := range out {
		if err := cp.tick(i); err != nil {
			return err
		}
		c := &out[i]
		key := byID[i]
		if l := byLegacy[i]; l != 0 {
			if key != 0 && key != l {
				return fmt.Errorf("component %s: legacy id %s belongs to another component: %w", label(c, i), c.LegacyID, registry.ErrDuplicate)
			}
			key = l
		}
		var cur int64
		if key != 0 {
			binary.BigEndian.PutUint64(kb[:], uint64(key))
			v := w.comps.Get(kb[:])
			if v == nil {
				return fmt.Errorf("id index points at missing key %d: %w", key, errCorrupt)
			}
			if err := decodeComponent(&scratch, kb[:], v); err != nil {
				return fmt.Errorf("component key %d: %w", key, err)
			}
			priors[i] = &prior{key: key, version: scratch.Version, status: scratch.Status, raw: v}
			updates = append(updates, int32(i))
			cur = scratch.Version
			needID[i] = !c.ID.IsZero() && byID[i] == 0
			// Named by its legacy ID only (a legacy census again), the record keeps its ID.
			if c.ID.IsZero() || c.ID == scratch.LegacyID && c.ID != scratch.ID && !scratch.ID.IsZero() {
				c.ID = scratch.ID
			}
			needLegacy[i] = !c.LegacyID.IsZero() && c.LegacyID != c.ID && byLegacy[i] == 0
			if c.LegacyID.IsZero() {
				c.LegacyID = scratch.LegacyID
				if c.LegacyClass == "" {
					c.LegacyClass = scratch.LegacyClass
				}
			}
			c.Key = key
		} else {
			needID[i] = true // an assigned ID, or one the lookup did not find
			needLegacy[i] = !c.LegacyID.IsZero() && c.LegacyID != c.ID
		}
		if expect != nil && expect[i] > 0 && expect[i] != cur {
			return fmt.Errorf("component %s: version is %d, expected %d: %w", label(c, i), cur, expect[i], registry.ErrVersionConflict)
		}
	}
	// Two elements may reach the same record through different identifiers.
	slices.SortFunc(updates, func(a, b int32) int { return cmp.Compare(uint64(priors[a].key), uint64(priors[b].key)) })
	for j := 1; j < len(updates); j++ {
		a, b := updates[j-1], updates[j]
		if priors[a].key == priors[b].key {
			return fmt.Errorf("component %s at elements %d and %d: %w", label(&out[b], int(b)), min(a, b), max(a, b), registry.ErrDuplicate)
		}
	}
	cp.priors, cp.needID, cp.needLegacy, cp.updates = priors, needID, needLegacy, updates
	return nil
}

// assignIDs is step 3: zero IDs get the next serials of their prefixes (registry.AssignIDs).
func (cp *componentPut) assignIDs() error {
	grown, err := registry.AssignIDs(idBatch(cp.out), serialCounters{cp.w})
	cp.grown = grown
	return err
}

// idBatch is the batch, resolved in place, as registry.AssignIDs sees it.
type idBatch []registry.Component

func (b idBatch) Len() int { return len(b) }
func (b idBatch) IDs(i int) (id, legacy registry.ComponentCode) {
	return b[i].ID, b[i].LegacyID
}
func (b idBatch) Component(i int) *registry.Component    { return &b[i] }
func (b idBatch) SetID(i int, id registry.ComponentCode) { b[i].ID = id }

// serialCounters reads the serials bucket and the identifier index for registry.AssignIDs.
type serialCounters struct{ w *wtx }

func (sc serialCounters) Serials(ps []registry.SerialPrefix) (map[registry.SerialPrefix]uint32, error) {
	stored := make(map[registry.SerialPrefix]uint32, len(ps))
	for _, p := range ps {
		v := sc.w.serials.Get(serialKey(p.N))
		if v == nil {
			continue
		}
		if len(v) != 4 {
			return nil, fmt.Errorf("serial %d: %w", p.N, errCorrupt)
		}
		stored[p] = binary.BigEndian.Uint32(v)
	}
	return stored, nil
}

// Taken seeks each range in the identifier index, whose keys sort as the identifiers do.
func (sc serialCounters) Taken(rs []registry.SerialRange) ([]registry.ComponentCode, error) {
	var taken []registry.ComponentCode
	var kb [keyLen]byte
	c := sc.w.ids.Cursor()
	for _, r := range rs {
		lo, hi := r.Prefix.N*1000000+uint64(r.From), r.Prefix.N*1000000+uint64(r.To)
		binary.BigEndian.PutUint64(kb[:], lo)
		for k, _ := c.Seek(kb[:]); k != nil; k, _ = c.Next() {
			if len(k) != keyLen {
				return nil, fmt.Errorf("identifier index key %x: %w", k, errCorrupt)
			}
			n := binary.BigEndian.Uint64(k)
			if n > hi {
				break
			}
			taken = append(taken, registry.ComponentCodeFromUint64(n, r.Prefix.Legacy))
		}
	}
	return taken, nil
}

// stampChanges is step 4: keys, versions and seqs are stamped in input order, and the
// changes recorded.
func (cp *componentPut) stampChanges() error {
	w, out, n, priors := cp.w, cp.out, len(cp.out), cp.priors
	now, actor := cp.now, cp.actor
	ops := make([]byte, n)
	seqs := make([]uint64, n)
	for i := range out {
		if err := cp.tick(i); err != nil {
			return err
		}
		c := &out[i]
		if p := priors[i]; p != nil {
			c.Version = p.version + 1
			ops[i] = opUpdate
			if c.Status == registry.StatusRemoved && p.status != registry.StatusRemoved {
				ops[i] = opRetire
			}
		} else {
			key, err := w.nextKey(&w.componentSeq)
			if err != nil {
				return err
			}
			c.Key, c.Version, ops[i] = key, 1, opCreate
		}
		c.Updated, c.UpdatedBy = now, actor
		seq, err := w.change(kindComponent, ops[i], now, actor, "", c.ID)
		if err != nil {
			return err
		}
		seqs[i] = seq
	}
	cp.ops, cp.seqs = ops, seqs
	return nil
}

// writeRecords is step 5: records and history, in key order: updates (sorted by resolve),
// then creates, whose keys are new and ascending.
func (cp *componentPut) writeRecords() error {
	w, out, priors, ops, seqs := cp.w, cp.out, cp.priors, cp.ops, cp.seqs
	updates := cp.updates
	var kb [keyLen]byte
	order := updates
	for i := range out {
		if priors[i] == nil {
			order = append(order, int32(i))
		}
	}
	var hk [historyKeyLn]byte
	for j, i := range order {
		if err := cp.tick(j); err != nil {
			return err
		}
		c := &out[i]
		binary.BigEndian.PutUint64(kb[:], uint64(c.Key))
		if err := w.comps.Put(kb[:], w.arena.end(appendComponent(w.arena.begin(), c))); err != nil {
			return err
		}
		b := w.arena.begin()
		p := priors[i]
		if p != nil && cp.note != "" {
			b = append(b, recordVersion, ops[i]|opNoted)
			b = binary.AppendVarint(b, c.Version)
			b = appendString(b, cp.note)
		} else {
			b = append(b, recordVersion, ops[i])
			b = binary.AppendVarint(b, c.Version)
		}
		if p != nil {
			b = append(b, p.raw...)
		}
		copy(hk[:], kb[:])
		binary.BigEndian.PutUint64(hk[keyLen:], seqs[i])
		if err := w.history.Put(hk[:], w.arena.end(b)); err != nil {
			return err
		}
	}
	return nil
}

// writeNames is step 6: new names in the identifier index, sorted: those the batch named
// come from refs, already sorted; assigned ones are sorted apart and merged in.
func (cp *componentPut) writeNames() error {
	w, out, refs := cp.w, cp.out, cp.refs
	needID, needLegacy := cp.needID, cp.needLegacy
	var kb [keyLen]byte
	type name struct {
		n  uint64
		at int32 // element
	}
	var named, assigned []name
	for _, r := range refs {
		if r.legacy && needLegacy[r.i] || !r.legacy && needID[r.i] && out[r.i].ID.Uint64() == r.n {
			named = append(named, name{r.n, r.i})
			if r.legacy {
				needLegacy[r.i] = false
			} else {
				needID[r.i] = false
			}
		}
	}
	for i := range out { // what refs did not hold: assigned IDs, inherited legacy IDs
		if needID[i] {
			assigned = append(assigned, name{out[i].ID.Uint64(), int32(i)})
		}
		if needLegacy[i] {
			assigned = append(assigned, name{out[i].LegacyID.Uint64(), int32(i)})
		}
	}
	cmpName := func(a, b name) int { return cmp.Compare(a.n, b.n) }
	if !slices.IsSortedFunc(assigned, cmpName) {
		slices.SortFunc(assigned, cmpName)
	}
	if len(named)+len(assigned) > 0 {
		first := uint64(math.MaxUint64)
		if len(named) > 0 {
			first = named[0].n
		}
		if len(assigned) > 0 {
			first = min(first, assigned[0].n)
		}
		if last, _ := w.ids.Cursor().Last(); last == nil || binary.BigEndian.Uint64(last) < first {
			w.ids.FillPercent = fillAppend // every name goes after the stored ones
		}
	}
	for a, b, j := 0, 0, 0; a < len(named) || b < len(assigned); j++ {
		if err := cp.tick(j); err != nil {
			return err
		}
		var nm name
		if b == len(assigned) || a < len(named) && named[a].n < assigned[b].n {
			nm, a = named[a], a+1
		} else {
			nm, b = assigned[b], b+1
		}
		binary.BigEndian.PutUint64(kb[:], nm.n)
		v := w.arena.end(binary.BigEndian.AppendUint64(w.arena.begin(), uint64(out[nm.at].Key)))
		if err := w.ids.Put(kb[:], v); err != nil {
			return err
		}
	}
	return nil
}

// writeSerials is step 7: the serials that grew.
func (cp *componentPut) writeSerials() error {
	ps := make([]registry.SerialPrefix, 0, len(cp.grown))
	for p := range cp.grown {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b registry.SerialPrefix) int { return cmp.Compare(a.N, b.N) })
	for _, p := range ps {
		if err := cp.w.serials.Put(serialKey(p.N), binary.BigEndian.AppendUint32(nil, cp.grown[p])); err != nil {
			return err
		}
	}
	return nil
}

// serialKey is the ASCII district+class prefix: 11 digits, or 10 for a legacy class.
func serialKey(p uint64) []byte { return strconv.AppendUint(nil, p, 10) }

func refCode(out []registry.Component, r idRef) registry.ComponentCode {
	if r.legacy {
		return out[r.i].LegacyID
	}
	return out[r.i].ID
}

// label names a component in an error: its ID, or its position when it has none yet.
func label(c *registry.Component, i int) string {
	if !c.ID.IsZero() {
		return c.ID.String()
	}
	if !c.LegacyID.IsZero() {
		return c.LegacyID.String()
	}
	return "#" + strconv.Itoa(i)
}
