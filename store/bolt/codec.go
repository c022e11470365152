package bolt

import (
	"encoding/binary"
	"math"
	"time"

	"citygrid/registry"

	"github.com/paulmach/orb"
)

// arena hands out value buffers carved from large chunks: bbolt keeps Put values (not keys)
// by reference until commit, and a million small allocations cost more than the encoding.
type arena struct{ buf []byte }

const (
	arenaChunk = 1 << 20
	arenaSlack = 4 << 10 // a value that outgrows this reallocates on its own, harmlessly
)

// begin returns an empty slice to append one value to.
func (a *arena) begin() []byte {
	if cap(a.buf)-len(a.buf) < arenaSlack {
		a.buf = make([]byte, 0, arenaChunk)
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// end claims b, which was returned by begin and appended to, and returns it capped.
func (a *arena) end(b []byte) []byte {
	if cap(b) == cap(a.buf)-len(a.buf) { // append did not reallocate: b lives in the chunk
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return b[:len(b):len(b)]
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix()+unixToInternal)
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendGeometry(b []byte, mp orb.MultiPolygon) []byte {
	total := 0
	for _, p := range mp {
		for _, r := range p {
			total += len(r)
		}
	}
	b = binary.AppendUvarint(b, uint64(total))
	b = binary.AppendUvarint(b, uint64(len(mp)))
	for _, p := range mp {
		b = binary.AppendUvarint(b, uint64(len(p)))
		for _, r := range p {
			b = binary.AppendUvarint(b, uint64(len(r)))
		}
	}
	for _, p := range mp {
		for _, r := range p {
			for _, pt := range r {
				b = appendFloat(b, pt[0])
				b = appendFloat(b, pt[1])
			}
		}
	}
	return b
}

const (
	flagIDLegacy       = 1 << 0
	flagLegacyIDLegacy = 1 << 1
	// flagAttributes: the record holds an 11th string, the component's Attributes. Records
	// without attributes, and every record written before attributes existed, have 10
	// strings, so older files read as they did.
	flagAttributes   = 1 << 2
	componentStrings = 11
)

// appendComponent encodes c without its Key (the bucket key holds it):
//
//	version(1) flags(1) status(1) Version(varint) ID(uvarint) LegacyID(uvarint)
//	lon lat (float64 LE) CensusDate ChangeDate Updated (time)
//	10 string lengths (uvarint), then the 10 strings' bytes, in the order of componentFields;
//	with flagAttributes 11, the last being Attributes (JSON object text).
func appendComponent(b []byte, c *registry.Component) []byte {
	var flags byte
	if c.ID.Legacy() {
		flags |= flagIDLegacy
	}
	if c.LegacyID.Legacy() {
		flags |= flagLegacyIDLegacy
	}
	n := componentStrings - 1
	if c.Attributes != "" {
		flags |= flagAttributes
		n++
	}
	b = append(b, recordVersion, flags, byte(c.Status))
	b = binary.AppendVarint(b, c.Version)
	b = binary.AppendUvarint(b, c.ID.Uint64())
	b = binary.AppendUvarint(b, c.LegacyID.Uint64())
	b = appendFloat(b, c.Point[0])
	b = appendFloat(b, c.Point[1])
	b = appendTime(b, c.CensusDate)
	b = appendTime(b, c.ChangeDate)
	b = appendTime(b, c.Updated)
	strs := [componentStrings]string{c.Class, c.LegacyClass, c.Name, c.Supervisor, c.Owner,
		c.Maintainer, string(c.Cell), c.Source, c.Note, c.UpdatedBy, string(c.Attributes)}
	for _, s := range strs[:n] {
		b = binary.AppendUvarint(b, uint64(len(s)))
	}
	for _, s := range strs[:n] {
		b = append(b, s...)
	}
	return b
}

// reader decodes a record; the first malformed field sets bad and zeroes the rest.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) fail() { r.bad, r.b = true, nil }

func (r *reader) byte1() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length or count whose items take at least size bytes each, so that a corrupt
// count cannot make the decoder allocate more than the record holds.
func (r *reader) count(size int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/size) {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *reader) float() float64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) time() time.Time {
	sec := r.varint()
	ns := r.uvarint()
	if ns >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec-unixToInternal, int64(ns)).UTC()
}

func (r *reader) str() string {
	n := r.count(1)
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// bytes reads a length-prefixed byte string (sharing the record's memory).
func (r *reader) bytes() []byte {
	n := r.count(1)
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) geometry() orb.MultiPolygon {
	total := r.count(16)
	npoly := r.count(1)
	if r.bad || npoly == 0 {
		if total != 0 {
			r.fail()
		}
		return nil
	}
	pts := make([]orb.Point, total)
	mp := make(orb.MultiPolygon, npoly)
	used := 0
	for i := range mp {
		nring := r.count(1)
		mp[i] = make(orb.Polygon, nring)
		for j := range mp[i] {
			np := r.count(1)
			if used+np > total {
				r.fail()
				return nil
			}
			mp[i][j] = orb.Ring(pts[used : used+np : used+np])
			used += np
		}
	}
	if used != total {
		r.fail()
		return nil
	}
	for i := range pts {
		pts[i] = orb.Point{r.float(), r.float()}
	}
	if r.bad {
		return nil
	}
	return mp
}

func (r *reader) version() {
	if v := r.byte1(); v != recordVersion {
		r.fail()
	}
}

// decodeComponent decodes a component record stored under key into c, overwriting every field.
func decodeComponent(c *registry.Component, key, v []byte) error {
	if len(key) != keyLen {
		return errCorrupt
	}
	r := reader{b: v}
	r.version()
	flags := r.byte1()
	status := r.byte1()
	version := r.varint()
	id := r.uvarint()
	legacy := r.uvarint()
	lon, lat := r.float(), r.float()
	census, changed, updated := r.time(), r.time(), r.time()
	n := componentStrings - 1
	if flags&flagAttributes != 0 {
		n++
	}
	var lens [componentStrings]int
	total := 0
	for i := range lens[:n] {
		lens[i] = r.count(1)
		total += lens[i]
	}
	if r.bad || total != len(r.b) || flags&^(flagIDLegacy|flagLegacyIDLegacy|flagAttributes) != 0 {
		return errCorrupt
	}
	s := string(r.b) // one allocation for every string of the record
	var strs [componentStrings]string
	for i, n := range lens[:n] {
		strs[i], s = s[:n], s[n:]
	}
	*c = registry.Component{
		Key:         registry.Key(binary.BigEndian.Uint64(key)),
		ID:          registry.ComponentCodeFromUint64(id, flags&flagIDLegacy != 0),
		LegacyID:    registry.ComponentCodeFromUint64(legacy, flags&flagLegacyIDLegacy != 0),
		Class:       strs[0],
		LegacyClass: strs[1],
		Name:        strs[2],
		Point:       orb.Point{lon, lat},
		Status:      registry.Status(status),
		Supervisor:  strs[3],
		Owner:       strs[4],
		Maintainer:  strs[5],
		Cell:        registry.GridCode(strs[6]),
		CensusDate:  census,
		ChangeDate:  changed,
		Source:      strs[7],
		Note:        strs[8],
		Version:     version,
		Updated:     updated,
		UpdatedBy:   strs[9],
		Attributes:  registry.Attributes(strs[10]),
	}
	return nil
}

// decodeHistory decodes a history entry of the component stored under key; After, Time and
// Actor are left for the caller, who knows the next entry.
func decodeHistory(key, hk, hv []byte) (registry.Change, error) {
	if len(hk) != historyKeyLn {
		return registry.Change{}, errCorrupt
	}
	r := reader{b: hv}
	r.version()
	op := r.byte1()
	version := r.varint()
	var note string
	if op&opNoted != 0 {
		op &^= opNoted
		note = r.str()
	}
	if r.bad || op == 0 || int(op) >= len(opNames) || op == opDelete {
		return registry.Change{}, errCorrupt
	}
	ch := registry.Change{Seq: binary.BigEndian.Uint64(hk[keyLen:]), Op: opNames[op], Version: version, Note: note}
	if len(r.b) > 0 {
		var before registry.Component
		if err := decodeComponent(&before, key, r.b); err != nil {
			return registry.Change{}, err
		}
		ch.Before = &before
	} else if op != opCreate {
		return registry.Change{}, errCorrupt
	}
	return ch, nil
}

// appendCell: version(1) Version(varint) Updated(time) Area(float64) Code Name (strings)
// Geometry, then for a retired cell only: Status(1) Retired(time). An active cell's record is
// the one stores written before cells could retire hold.
func appendCell(b []byte, c *registry.Cell) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, c.Version)
	b = appendTime(b, c.Updated)
	b = appendFloat(b, c.Area)
	b = appendString(b, string(c.Code))
	b = appendString(b, c.Name)
	b = appendGeometry(b, c.Geometry)
	if c.Status != registry.CellActive || !c.Retired.IsZero() {
		b = append(b, byte(c.Status))
		b = appendTime(b, c.Retired)
	}
	return b
}

func decodeCell(c *registry.Cell, key, v []byte) error {
	if len(key) != keyLen {
		return errCorrupt
	}
	r := reader{b: v}
	r.version()
	*c = registry.Cell{Key: registry.Key(binary.BigEndian.Uint64(key))}
	c.Version = r.varint()
	c.Updated = r.time()
	c.Area = r.float()
	c.Code = registry.GridCode(r.str())
	c.Name = r.str()
	c.Geometry = r.geometry()
	if len(r.b) > 0 && !r.bad {
		c.Status = registry.CellStatus(r.byte1())
		c.Retired = r.time()
		if c.Status > registry.CellRetired {
			r.fail()
		}
	}
	if r.bad || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

// appendUnit: version(1) Version(varint) Updated(time) Type(1) Name Parent Supervisor Phone
// (strings) Districts (count, strings) Area (geometry). The ID is the bucket key.
func appendUnit(b []byte, u *registry.Unit) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, u.Version)
	b = appendTime(b, u.Updated)
	b = append(b, byte(u.Type))
	b = appendString(b, u.Name)
	b = appendString(b, u.Parent)
	b = appendString(b, u.Supervisor)
	b = appendString(b, u.Phone)
	b = binary.AppendUvarint(b, uint64(len(u.Districts)))
	for _, d := range u.Districts {
		b = appendString(b, d)
	}
	return appendGeometry(b, u.Area)
}

func decodeUnit(u *registry.Unit, key, v []byte) error {
	r := reader{b: v}
	r.version()
	*u = registry.Unit{ID: string(key)}
	u.Version = r.varint()
	u.Updated = r.time()
	u.Type = registry.UnitType(r.byte1())
	u.Name = r.str()
	u.Parent = r.str()
	u.Supervisor = r.str()
	u.Phone = r.str()
	if n := r.count(1); n > 0 {
		u.Districts = make([]string, n)
		for i := range u.Districts {
			u.Districts[i] = r.str()
		}
	}
	u.Area = r.geometry()
	if r.bad || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

// appendRule: version(1) Version(varint) Order(varint) InUnit(1) Class Kind Area Unit Reason
// (strings). The ID is the bucket key.
func appendRule(b []byte, r *registry.Rule) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, r.Version)
	b = binary.AppendVarint(b, int64(r.Order))
	inUnit := byte(0)
	if r.InUnit {
		inUnit = 1
	}
	b = append(b, inUnit)
	b = appendString(b, r.Class)
	b = appendString(b, r.Kind)
	b = appendString(b, r.Area)
	b = appendString(b, r.Unit)
	return appendString(b, r.Reason)
}

func decodeRule(ru *registry.Rule, key, v []byte) error {
	r := reader{b: v}
	r.version()
	*ru = registry.Rule{ID: string(key)}
	ru.Version = r.varint()
	ru.Order = int(r.varint())
	inUnit := r.byte1()
	ru.InUnit = inUnit == 1
	ru.Class = r.str()
	ru.Kind = r.str()
	ru.Area = r.str()
	ru.Unit = r.str()
	ru.Reason = r.str()
	if r.bad || len(r.b) != 0 || inUnit > 1 {
		return errCorrupt
	}
	return nil
}
