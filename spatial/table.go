package spatial

import (
	"github.com/paulmach/orb"

	"citygrid/registry"
)

// compEntry is the compact in-memory form of a component: 40 bytes. Strings are interned
// (class, maintainer) or referenced by slot (cell code), so a million components cost ~40 MB
// here plus ~30 bytes each in the R-tree.
type compEntry struct {
	id     uint64    // ComponentCode.Uint64()
	pt     orb.Point // WGS84 lon/lat, exact (the R-tree holds float32 rects around it)
	cell   uint32    // slot in snapshot.codes
	maint  uint32    // index in snapshot.maints; 0 = none
	class  uint16    // effective class (Class, else LegacyClass) in snapshot.classes; 0 = none
	legacy uint16    // LegacyClass in snapshot.classes; 0 = none
	status registry.Status
	flags  uint8
}

// compItem is what the component R-tree holds: the table slot, and the class and status so
// Nearest and Within can reject most components a filter excludes without touching the table.
type compItem struct {
	slot   uint32
	class  uint16 // effective class id
	legacy uint8  // 1 when the entry has a legacy class; its id is in the table
	status registry.Status
}

func (e *compEntry) item(slot uint32) compItem {
	it := compItem{slot: slot, class: e.class, status: e.status}
	if e.legacy != 0 {
		it.legacy = 1
	}
	return it
}

const (
	flagPresent  uint8 = 1 << iota // the slot holds a component
	flagLegacyID                   // id is a 16-digit legacy identifier
)

// The component table is a three-level radix array indexed by slot: top → mid → leaf. Writers
// copy only the path they touch (the top slice, one mid of 256 pointers, one leaf of 256
// entries: ~13 KB), never the whole table, so one component's update costs O(1) memory.
// Nodes carry the generation of the write batch that created them: within one batch a node
// already copied is written in place; nodes of published snapshots are never written.
const (
	leafBits = 8
	leafSize = 1 << leafBits
	midBits  = 8
	midSize  = 1 << midBits
)

type compLeaf struct {
	gen uint64
	e   [leafSize]compEntry
}

type compMid struct {
	gen uint64
	l   [midSize]*compLeaf
}

type compTable struct {
	top []*compMid // indexed by slot >> (leafBits+midBits)
}

// get returns the entry in slot, or nil if none was ever written.
func (t *compTable) get(slot uint32) *compEntry {
	ti := int(slot >> (leafBits + midBits))
	if ti >= len(t.top) {
		return nil
	}
	m := t.top[ti]
	if m == nil {
		return nil
	}
	l := m.l[(slot>>leafBits)&(midSize-1)]
	if l == nil {
		return nil
	}
	e := &l.e[slot&(leafSize-1)]
	if e.flags&flagPresent == 0 {
		return nil
	}
	return e
}

// tableWriter mutates a private copy of a compTable within one write batch.
type tableWriter struct {
	t      compTable
	gen    uint64
	copied bool // t.top is already private to this batch
}

func newTableWriter(t compTable, gen uint64) *tableWriter {
	return &tableWriter{t: t, gen: gen}
}

// slot returns a writable entry for slot, copying the path to it if it belongs to a
// published snapshot.
func (w *tableWriter) slot(slot uint32) *compEntry {
	ti := int(slot >> (leafBits + midBits))
	if !w.copied || ti >= len(w.t.top) {
		n := len(w.t.top)
		if ti >= n {
			n = ti + 1
		}
		top := make([]*compMid, n, n+n/8)
		copy(top, w.t.top)
		w.t.top = top
		w.copied = true
	}
	m := w.t.top[ti]
	switch {
	case m == nil:
		m = &compMid{gen: w.gen}
		w.t.top[ti] = m
	case m.gen != w.gen:
		c := *m
		c.gen = w.gen
		m = &c
		w.t.top[ti] = m
	}
	li := (slot >> leafBits) & (midSize - 1)
	l := m.l[li]
	switch {
	case l == nil:
		l = &compLeaf{gen: w.gen}
		m.l[li] = l
	case l.gen != w.gen:
		c := new(compLeaf)
		*c = *l
		c.gen = w.gen
		l = c
		m.l[li] = l
	}
	return &l.e[slot&(leafSize-1)]
}
