package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"citygrid/registry"

	"github.com/jackc/pgx/v5"
)

// PutComponents creates components whose ID (or legacy ID) is new and updates those whose ID,
// legacy ID or former ID is stored; see registry.Store. It follows store/bolt exactly:
//
//   - On update, an ID, LegacyID or LegacyClass left zero keeps its stored value; a record
//     named by its stored legacy ID keeps its ID. A new ID or legacy ID replaces the stored one,
//     which stays a name of the record (component_aliases) and is never given to another.
//   - A zero ID is assigned by registry.AssignIDs: District(Cell) + Class + a free serial, the
//     next above every identifier ever stored with that prefix (table serials) that names no
//     stored component, else the lowest free one, in input order.
//   - Keys of creates are assigned in input order; every element takes one change seq, in
//     input order; history gets one row per update, with its before-image, and a create
//     keeps its seq in created_seq (see the package doc).
//
// Errors, after which nothing is stored: registry.ErrInvalidInput (len(expect) != len(comps),
// or a zero ID without a cell or 5-digit class), registry.ErrDuplicate (an identifier named
// twice, or a legacy ID stored for another component), registry.ErrVersionConflict, ctx's
// error. Times are kept to the microsecond: CensusDate and ChangeDate are truncated, in the
// result as in the database.
//
// A batch above Options.CopyThreshold is loaded with binary COPY. One that adds 10,000 or
// more components and at least a quarter of the rows of components drops its indexes and
// builds them again in the same transaction, which keeps readers of the table waiting until
// it commits (see the package doc).
func (s *Store) PutComponents(ctx context.Context, comps []registry.Component, expect []int64, actor string) ([]registry.Component, error) {
	return s.PutComponentsNoted(ctx, comps, expect, actor, "")
}

// PutComponentsNoted is PutComponents whose history rows (those of updates) carry note; see
// registry.Store.
func (s *Store) PutComponentsNoted(ctx context.Context, comps []registry.Component, expect []int64, actor, note string) ([]registry.Component, error) {
	if expect != nil && len(expect) != len(comps) {
		return nil, fmt.Errorf("put components: %d expected versions for %d components: %w", len(expect), len(comps), registry.ErrInvalidInput)
	}
	p := &putter{in: comps, expect: expect, actor: actor, note: note, copy: s.useCopy(len(comps)), workMem: s.opts.MaintenanceWorkMem}
	err := s.write(ctx, func(w *wtx) error { p.w, p.now = w, w.now; return p.run(ctx) })
	if err != nil {
		if p.done != nil {
			<-p.done
		}
		return nil, fmt.Errorf("put components: %w", err)
	}
	return p.result(), nil
}

func (s *Store) useCopy(n int) bool {
	t := s.opts.CopyThreshold
	if t == 0 {
		t = DefaultCopyThreshold
	}
	return t < 0 || n > t
}

func truncTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond)
}

const (
	// rebuildMin and rebuildShare decide when an import drops and rebuilds the components
	// indexes: building a GiST index from sorted points is several times faster per row
	// than inserting into one.
	rebuildMin   = 10_000
	rebuildShare = 4 // creates ≥ stored/rebuildShare
)

// putter is one PutComponents call. It leaves its input alone and keeps what it decides per
// element in arrays without pointers (ids, legacyIDs, keys, …): record(i) puts element i's
// stored record together from them, and the result is built from it last, while the server
// builds the indexes of a large import (see build), rather than copied first: a copy of a
// million records costs a third of a second and a garbage collection cycle, which would
// otherwise hold up the server.
type putter struct {
	w       *wtx
	in      []registry.Component
	expect  []int64
	actor   string
	note    string // of the history rows
	now     time.Time
	copy    bool
	workMem string

	ids         []registry.ComponentCode // ID, as given, kept or assigned
	legacyIDs   []registry.ComponentCode // LegacyID, as given or kept
	legacyClass map[int32]string         // LegacyClass of updates that keep the stored one
	keys        []int64
	isUpd       []bool
	ops         []string
	firstSeq    int64 // element i takes seq firstSeq+i

	priors  map[registry.Key]*prior
	aliases []alias                          // names an update leaves behind
	reclaim []alias                          // aliases an update takes back as ID or legacy ID
	grown   map[registry.SerialPrefix]uint32 // serials to store, where the batch went past them

	out  []registry.Component // the result, once done is closed
	done chan struct{}        // closed by build; nil until it starts
}

// record returns element i as stored: valid once run has decided its keys and versions.
func (p *putter) record(i int) registry.Component {
	c := p.in[i]
	c.CensusDate, c.ChangeDate = truncTime(c.CensusDate), truncTime(c.ChangeDate)
	c.ID, c.LegacyID, c.Key = p.ids[i], p.legacyIDs[i], registry.Key(p.keys[i])
	if lc, ok := p.legacyClass[int32(i)]; ok {
		c.LegacyClass = lc
	}
	c.Version = 1
	if p.isUpd[i] {
		c.Version = p.priors[c.Key].version + 1
	}
	c.Updated, c.UpdatedBy = p.now, p.actor
	return c
}

// seq is the change seq of element i.
func (p *putter) seq(i int) int64 { return p.firstSeq + int64(i) }

// build makes the result from the records, on a goroutine of its own; result waits for it.
// Called once the records are final, it may run alongside the statements that follow.
func (p *putter) build() {
	if p.done != nil {
		return
	}
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		out := make([]registry.Component, len(p.in))
		for i := range out {
			out[i] = p.record(i)
		}
		p.out = out
	}()
}

// result returns the stored records, in input order, after a successful run.
func (p *putter) result() []registry.Component {
	p.build()
	<-p.done
	return p.out
}

// sortRefs sorts refs by identifier, keeping input order among equal ones (refs arrive in
// input order): an LSD radix sort, which takes a tenth of the time of a comparison sort on a
// million identifiers.
func sortRefs(refs []idRef) []idRef {
	if len(refs) < 256 {
		slices.SortStableFunc(refs, func(a, b idRef) int { return cmp.Compare(a.n, b.n) })
		return refs
	}
	tmp := make([]idRef, len(refs))
	for shift := uint(0); shift < 64; shift += 8 {
		var count [257]int
		for _, r := range refs {
			count[int(byte(r.n>>shift))+1]++
		}
		if count[int(byte(refs[0].n>>shift))+1] == len(refs) {
			continue // every identifier has the same byte here
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, r := range refs {
			b := byte(r.n >> shift)
			tmp[count[b]] = r
			count[b]++
		}
		refs, tmp = tmp, refs
	}
	return refs
}

// prior is what an update needs of the stored record it replaces.
type prior struct {
	version     int64
	status      registry.Status
	id, legacy  registry.ComponentCode
	legacyClass string
}

type alias struct {
	code uint64 // the identifier
	key  int64
}

// idRef is one identifier named by the batch: element i's ID, or its LegacyID.
type idRef struct {
	n      uint64
	i      int32
	legacy bool
}

func (p *putter) run(ctx context.Context) error {
	in := p.in
	n := len(in)
	if n == 0 {
		return nil
	}
	p.ids, p.legacyIDs = make([]registry.ComponentCode, n), make([]registry.ComponentCode, n)
	for i := range in {
		p.ids[i], p.legacyIDs[i] = in[i].ID, in[i].LegacyID
	}

	// 1. Every identifier the batch names, sorted: equal neighbours are duplicates.
	refs := make([]idRef, 0, n)
	for i := range in {
		id, leg := p.ids[i].Uint64(), p.legacyIDs[i].Uint64()
		if id != 0 {
			refs = append(refs, idRef{n: id, i: int32(i)})
		}
		if leg != 0 && leg != id {
			refs = append(refs, idRef{n: leg, i: int32(i), legacy: true})
		}
	}
	refs = sortRefs(refs)
	for j := 1; j < len(refs); j++ {
		if r := refs[j]; refs[j-1].n == r.n {
			return fmt.Errorf("component %s at elements %d and %d: %w", p.refCode(r), refs[j-1].i, r.i, registry.ErrDuplicate)
		}
	}

	// 2. Which of them are stored, and the records they name.
	found, err := p.lookup(ctx, refs)
	if err != nil {
		return err
	}
	byID := make([]registry.Key, n)
	byLegacy := make([]registry.Key, n)
	for _, r := range refs {
		if k, ok := found[r.n]; ok {
			if r.legacy {
				byLegacy[r.i] = k
			} else {
				byID[r.i] = k
			}
		}
	}

	// 3. Resolve each element to an update of a stored record or a create; check versions.
	p.isUpd, p.keys = make([]bool, n), make([]int64, n)
	p.legacyClass = make(map[int32]string)
	owner := make(map[registry.Key]int, len(p.priors))
	for i := range in {
		if i%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id, legacy := &p.ids[i], &p.legacyIDs[i]
		key := byID[i]
		if l := byLegacy[i]; l != 0 {
			if key != 0 && key != l {
				return fmt.Errorf("component %s: legacy id %s belongs to another component: %w", *id, *legacy, registry.ErrDuplicate)
			}
			key = l
		}
		var cur int64
		if key != 0 {
			if j, ok := owner[key]; ok {
				return fmt.Errorf("component %s at elements %d and %d: %w", p.label(i), j, i, registry.ErrDuplicate)
			}
			owner[key] = i
			pr := p.priors[key]
			cur = pr.version
			p.isUpd[i] = true
			// Named by its legacy ID only (a legacy census again), the record keeps its ID.
			if id.IsZero() || *id == pr.legacy && *id != pr.id && !pr.id.IsZero() {
				*id = pr.id
			}
			if legacy.IsZero() {
				*legacy = pr.legacy
				if in[i].LegacyClass == "" && pr.legacyClass != "" {
					p.legacyClass[int32(i)] = pr.legacyClass
				}
			}
			p.keys[i] = int64(key)
			for _, old := range [2]registry.ComponentCode{pr.id, pr.legacy} {
				if !old.IsZero() && old != *id && old != *legacy {
					p.aliases = append(p.aliases, alias{old.Uint64(), int64(key)})
				}
			}
			for _, nw := range [2]registry.ComponentCode{*id, *legacy} {
				if !nw.IsZero() && nw != pr.id && nw != pr.legacy {
					p.reclaim = append(p.reclaim, alias{nw.Uint64(), int64(key)})
				}
			}
		}
		if p.expect != nil && p.expect[i] > 0 && p.expect[i] != cur {
			return fmt.Errorf("component %s: version is %d, expected %d: %w", p.label(i), cur, p.expect[i], registry.ErrVersionConflict)
		}
	}

	// 4. Identifiers for zero IDs.
	if err := p.assignIDs(ctx); err != nil {
		return err
	}

	// 5. Keys, versions, seqs and ops, in input order.
	creates := 0
	for i := range in {
		if !p.isUpd[i] {
			creates++
		}
	}
	var nextKey int64
	if creates > 0 {
		if nextKey, err = reserve(ctx, p.w.Tx, "component_key_seq", creates); err != nil {
			return err
		}
	}
	first, err := p.w.changeSeqs(ctx, n)
	if err != nil {
		return err
	}
	p.firstSeq = int64(first)
	p.ops = make([]string, n)
	for i := range in {
		if p.isUpd[i] {
			pr := p.priors[registry.Key(p.keys[i])]
			p.ops[i] = string(registry.OpUpdate)
			if in[i].Status == registry.StatusRemoved && pr.status != registry.StatusRemoved {
				p.ops[i] = string(registry.OpRetire)
			}
		} else {
			p.keys[i], p.ops[i] = nextKey, string(registry.OpCreate)
			nextKey++
		}
	}

	// 6. Store.
	if err := p.writeUpdates(ctx); err != nil {
		return err
	}
	if err := p.writeCreates(ctx, creates); err != nil {
		return err
	}
	if err := p.writeSerials(ctx); err != nil {
		return err
	}
	return writeChanges(ctx, p.w.Tx, registry.FeedComponent, p.now, p.actor, p.firstSeq, p.ops, p.keys, nil)
}

// lookup returns identifier → key for every ref that names a stored component, and fills
// p.priors with those components.
func (p *putter) lookup(ctx context.Context, refs []idRef) (map[uint64]registry.Key, error) {
	p.priors = make(map[registry.Key]*prior)
	found := make(map[uint64]registry.Key)
	if len(refs) == 0 {
		return found, nil
	}
	tx := p.w.Tx
	const cols = `SELECT b.code, c.key, c.version, c.status, c.id, c.legacy_id, c.legacy_class
		FROM %s JOIN component_names n ON n.code = b.code JOIN components c ON c.key = n.key`
	var rows pgx.Rows
	var err error
	if p.copy {
		var any bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM components)").Scan(&any); err != nil {
			return nil, err
		}
		if !any { // a first import: nothing to look up
			return found, nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE batch_names (code bigint NOT NULL) ON COMMIT DROP`); err != nil {
			return nil, err
		}
		src := newCopySource(len(refs), func(b []byte, i int) []byte {
			b = binary.BigEndian.AppendUint16(b, 1)
			return putInt8(b, int64(refs[i].n))
		})
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, src, "COPY batch_names (code) FROM STDIN BINARY"); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, "ANALYZE batch_names"); err != nil {
			return nil, err
		}
		rows, err = tx.Query(ctx, fmt.Sprintf(cols, "batch_names b"))
	} else {
		codes := make([]int64, len(refs))
		for i, r := range refs {
			codes[i] = int64(r.n)
		}
		rows, err = tx.Query(ctx, fmt.Sprintf(cols, "unnest($1::bigint[]) AS b(code)"), codes)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var code, key, version, id int64
		var legacy *int64
		var status, legacyClass *string
		if err := rows.Scan(&code, &key, &version, &status, &id, &legacy, &legacyClass); err != nil {
			return nil, err
		}
		found[uint64(code)] = registry.Key(key)
		if p.priors[registry.Key(key)] != nil {
			continue
		}
		pr := &prior{version: version, legacyClass: deref(legacyClass)}
		var err error
		if pr.status, err = statusFromBytes([]byte(deref(status))); err != nil {
			return nil, err
		}
		if pr.id, err = codeFromInt64(id); err != nil {
			return nil, fmt.Errorf("component %d: id: %w", key, err)
		}
		if legacy != nil {
			if pr.legacy, err = codeFromInt64(*legacy); err != nil {
				return nil, fmt.Errorf("component %d: legacy_id: %w", key, err)
			}
		}
		p.priors[registry.Key(key)] = pr
	}
	return found, rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// assignIDs gives every zero ID the next serial of its district and class
// (registry.AssignIDs).
func (p *putter) assignIDs(ctx context.Context) error {
	grown, err := registry.AssignIDs(idBatch{p}, serialCounters{ctx, p.w})
	p.grown = grown
	return err
}

// idBatch is the batch as registry.AssignIDs sees it: the IDs as resolved so far.
type idBatch struct{ p *putter }

func (b idBatch) Len() int { return len(b.p.in) }
func (b idBatch) IDs(i int) (id, legacy registry.ComponentCode) {
	return b.p.ids[i], b.p.legacyIDs[i]
}
func (b idBatch) Component(i int) *registry.Component    { return &b.p.in[i] }
func (b idBatch) SetID(i int, id registry.ComponentCode) { b.p.ids[i] = id }

// serialCounters reads table serials and the component names for registry.AssignIDs.
type serialCounters struct {
	ctx context.Context
	w   *wtx
}

func (sc serialCounters) Serials(ps []registry.SerialPrefix) (map[registry.SerialPrefix]uint32, error) {
	stored := make(map[registry.SerialPrefix]uint32, len(ps))
	if len(ps) == 0 {
		return stored, nil
	}
	districts, classes := make([]string, len(ps)), make([]string, len(ps))
	for i, pf := range ps {
		districts[i], classes[i] = pf.District(), pf.Class()
	}
	rows, err := sc.w.Query(sc.ctx, `SELECT s.district, s.class, s.last FROM serials s
		JOIN unnest($1::text[], $2::text[]) AS b(district, class) USING (district, class)`, districts, classes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d, c string
		var last int32
		if err := rows.Scan(&d, &c, &last); err != nil {
			return nil, err
		}
		dn, _ := strconv.ParseUint(d, 10, 64)
		cn, _ := strconv.ParseUint(c, 10, 64)
		pf := registry.SerialPrefix{N: dn*100000 + cn}
		if len(c) == 4 {
			pf = registry.SerialPrefix{N: dn*10000 + cn, Legacy: true}
		}
		stored[pf] = uint32(last)
	}
	return stored, rows.Err()
}

// Taken scans each range of the identifier indexes: components' IDs and legacy IDs, and
// the former ones in component_aliases.
func (sc serialCounters) Taken(rs []registry.SerialRange) ([]registry.ComponentCode, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	los, his := make([]int64, len(rs)), make([]int64, len(rs))
	for i, r := range rs {
		los[i], his[i] = int64(r.Prefix.N*1000000+uint64(r.From)), int64(r.Prefix.N*1000000+uint64(r.To))
	}
	rows, err := sc.w.Query(sc.ctx, `SELECT n.code FROM unnest($1::bigint[], $2::bigint[]) AS r(lo, hi),
		LATERAL (SELECT id FROM components WHERE id BETWEEN r.lo AND r.hi
			UNION ALL SELECT legacy_id FROM components WHERE legacy_id BETWEEN r.lo AND r.hi
			UNION ALL SELECT code FROM component_aliases WHERE code BETWEEN r.lo AND r.hi) AS n(code)`, los, his)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var taken []registry.ComponentCode
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		c, err := codeFromInt64(v)
		if err != nil {
			return nil, err
		}
		taken = append(taken, c)
	}
	return taken, rows.Err()
}

func (p *putter) refCode(r idRef) registry.ComponentCode {
	if r.legacy {
		return p.legacyIDs[r.i]
	}
	return p.ids[r.i]
}

// label names element i in an error: its ID, or its position when it has none yet.
func (p *putter) label(i int) string {
	if !p.ids[i].IsZero() {
		return p.ids[i].String()
	}
	if !p.legacyIDs[i].IsZero() {
		return p.legacyIDs[i].String()
	}
	return "#" + strconv.Itoa(i)
}

// writeSerials raises the serials the batch went past.
func (p *putter) writeSerials(ctx context.Context) error {
	if len(p.grown) == 0 {
		return nil
	}
	var districts, classes []string
	var lasts []int32
	for pf, s := range p.grown {
		districts, classes, lasts = append(districts, pf.District()), append(classes, pf.Class()), append(lasts, int32(s))
	}
	_, err := p.w.Exec(ctx, `INSERT INTO serials (district, class, last)
		SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
		ON CONFLICT (district, class) DO UPDATE SET last = GREATEST(serials.last, excluded.last)`,
		districts, classes, lasts)
	return err
}
