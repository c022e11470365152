package api

import (
	"errors"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/api/internal/batch"
	"citygrid/registry"
	"citygrid/spatial"
)

// MaxBatchPoints caps the points of one POST /api/v1/lookup request.
const MaxBatchPoints = 10000

var errTooManyPoints = registry.Errorf(registry.TooLarge, registry.CodeTooManyPoints, "a lookup batch holds at most %d points", MaxBatchPoints)

// handleLookupBatch serves POST /api/v1/lookup: a GeoJSON MultiPoint, a FeatureCollection of
// Point features or a plain array of [lon,lat] positions, answered in order; a point that fails
// carries its own error. A point may name its own class ([lon,lat,"class"], or a feature's
// class property); ?class= is the class of the others.
func (s *Server) handleLookupBatch(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	fields, err := queryFields(c)
	if err != nil {
		return err
	}
	class := c.Query("class")
	if err := s.catalog.CheckLookupClass(class); err != nil {
		return err
	}
	st := batchPool.Get().(*batchState)
	defer st.release()
	if st.in, err = readBody(c, st.in[:0]); err != nil {
		return err
	}
	if err := st.decode(st.in); err != nil {
		return err
	}
	slots := st.slots
	chunks := s.answerBatch(st, crs, class, fields)
	for i := range slots {
		if err := slots[i].err; err != nil && !slots[i].pointErr {
			return err // not the point's fault: fail the request, logged once
		}
	}
	size := len(`{"results":[]}`) + len(chunks)
	for _, ch := range chunks {
		size += len(ch.out)
	}
	b := slices.Grow(st.out[:0], size)
	b = append(b, `{"results":[`...)
	for i, ch := range chunks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, ch.out...)
	}
	b = append(b, "]}"...)
	st.out = b
	writeRaw(c, http.StatusOK, jsonContentType, b)
	return nil
}

// minChunk is the fewest points a chunk holds: below it, handing a chunk to another
// goroutine costs more than it saves.
const minChunk = 64

// answerBatch converts (numbers, then CRS), resolves and encodes st.slots in consecutive
// chunks of at least minChunk slots, up to maxChunks of them, which GOMAXPROCS goroutines
// (this one and helpers) take in turn: more chunks than goroutines, so that a helper that
// starts late (waking an idle thread takes a while) leaves less of the batch waiting on it.
// Each chunk writes only its own slots and its output: the results of its slots,
// comma-separated. The answer is the chunks' outputs in order.
func (s *Server) answerBatch(st *batchState, crs spatial.CRS, class string, f lookupFields) []*batchChunk {
	n := len(st.slots)
	procs := max(1, runtime.GOMAXPROCS(0))
	nch := max(1, min(n/minChunk, maxChunks))
	if procs == 1 {
		nch = 1
	}
	chunks := st.chunkStates(nch)
	size := (n + nch - 1) / nch
	var next atomic.Int32
	work := func() {
		for {
			k := int(next.Add(1)) - 1
			if k >= nch {
				return
			}
			lo, hi := min(k*size, n), min((k+1)*size, n)
			s.answerChunk(chunks[k], lo, st.slots[lo:hi], st.pos[lo:hi], st.body, crs, class, f)
		}
	}
	var wg sync.WaitGroup
	for range min(procs, nch) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return chunks
}

// maxChunks bounds the chunks of a batch (see answerBatch).
const maxChunks = 16

// answerChunk answers the slots of one chunk, the first of which is element lo of the batch.
func (s *Server) answerChunk(ch *batchChunk, lo int, slots []batchSlot, pos []batch.Position, body []byte, crs spatial.CRS, class string, f lookupFields) {
	own := false // a point names its own class
	for i := range slots {
		sl := &slots[i]
		sl.class = class
		if sl.p, sl.ok = pos[i].Point(body); !sl.ok {
			sl.err, sl.pointErr = shapeError(lo+i, &pos[i], body), true
			continue
		}
		sl.p = spatial.ToWGS84(sl.p, crs)
		if pos[i].HasClass() {
			var err error
			if sl.class, err = ch.classOf(s.catalog, &pos[i], body); err != nil {
				sl.ok, sl.err, sl.pointErr = false, err, true
				continue
			}
			own = own || sl.class != class
		}
	}
	s.resolveSlots(ch, slots, class, own, f)
	b := ch.out[:0]
	for i := range slots {
		if i > 0 {
			b = append(b, ',')
		}
		b = ch.appendSlot(b, &slots[i], f)
	}
	ch.out = b
}

// shapeError is the error of element i of a batch that is no valid point: of the wrong shape
// (saying which shape was expected), or out of range.
func shapeError(i int, p *batch.Position, body []byte) *registry.Error {
	switch {
	case !p.OK && p.Shape == batch.ShapeFeature:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidPoint,
			`element %d: expected a Feature with a Point geometry ({"type":"Feature","geometry":{"type":"Point","coordinates":[lon,lat]},"properties":{"class":"…"}}; the class is optional)`, i)
	case !p.OK:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidPoint,
			`element %d: expected [lon,lat], [lon,lat,alt] or [lon,lat,"class"] (numbers, and a class code as a string)`, i)
	}
	return registry.Errorf(registry.Invalid, registry.CodeInvalidPoint, "element %d: %s", i, registry.ErrInvalidPoint.Message)
}

// classOf returns the class element p names, checked against the catalogue once per chunk.
func (ch *batchChunk) classOf(cat *registry.Catalog, p *batch.Position, body []byte) (string, error) {
	ch.scratch = p.AppendClass(ch.scratch[:0], body)
	if c, ok := ch.classes[string(ch.scratch)]; ok { // no allocation for a class met before
		return c.class, c.err
	}
	class := string(ch.scratch)
	c := checkedClass{class: class}
	if err := cat.CheckLookupClass(class); err != nil {
		c.err = err
	}
	ch.classes[class] = c
	return c.class, c.err
}

// checkedClass is a class a batch element names and the catalogue's verdict on it.
type checkedClass struct {
	class string
	err   error
}

// resolveSlots looks the chunk's valid points up together (spatial's batch lookups, which
// overlap the memory reads of many points), a block per class (own: some points name a class
// of their own; the points are then grouped by class, in order), then settles each slot's
// answer as lookup does.
func (s *Server) resolveSlots(ch *batchChunk, slots []batchSlot, class string, own bool, f lookupFields) {
	ch.pts, ch.at = ch.pts[:0], ch.at[:0]
	for i := range slots {
		if slots[i].ok {
			ch.at = append(ch.at, int32(i))
		}
	}
	if own {
		slices.SortStableFunc(ch.at, func(a, b int32) int { return strings.Compare(slots[a].class, slots[b].class) })
	}
	for _, i := range ch.at {
		ch.pts = append(ch.pts, slots[i].p)
	}
	n := len(ch.pts)
	ch.res, ch.errs = slices.Grow(ch.res[:0], n)[:n], slices.Grow(ch.errs[:0], n)[:n]
	ch.cells = slices.Grow(ch.cells[:0], n)[:n]
	for lo := 0; lo < n; {
		cl, hi := class, n
		if own {
			cl = slots[ch.at[lo]].class
			for hi = lo + 1; hi < n && slots[ch.at[hi]].class == cl; hi++ {
			}
		}
		if f.cellOnly(cl) {
			s.idx.CellAtBatch(ch.pts[lo:hi], ch.cells[lo:hi], ch.errs[lo:hi])
			for k := lo; k < hi; k++ {
				ch.res[k] = spatial.Resolution{Cell: ch.cells[k]}
			}
		} else {
			s.idx.ResolveBatch(ch.pts[lo:hi], cl, ch.res[lo:hi], ch.errs[lo:hi])
		}
		lo = hi
	}
	for k, i := range ch.at {
		sl := &slots[i]
		res, noUnit, err := ch.res[k], false, ch.errs[k]
		if !f.cellOnly(sl.class) {
			res, noUnit, err = s.settle(sl.p, res, err)
		}
		if err != nil {
			if re, ok := asRegistryError(err); ok {
				sl.err, sl.pointErr = re, true
			} else {
				sl.err = err
			}
			continue
		}
		sl.res, sl.noUnit = res, noUnit
	}
}

// asRegistryError is errors.As for *registry.Error, without its allocation in the usual
// case of an unwrapped error (outside_grid, for one, is common in a batch).
func asRegistryError(err error) (*registry.Error, bool) {
	if re, ok := err.(*registry.Error); ok {
		return re, true
	}
	var re *registry.Error
	ok := errors.As(err, &re)
	return re, ok
}

// batchSlot is one position of a batch: parsed, then resolved in place.
type batchSlot struct {
	p        orb.Point // in WGS84, once answerChunk has converted its position
	class    string    // the point's own class, else the query's
	ok       bool      // a valid position (or Point feature) naming a known class, if any
	noUnit   bool
	pointErr bool  // err is the point's *registry.Error, answered in its result
	err      error // a lookup error
	res      spatial.Resolution
}

// span is a byte range of batchState.frags.
type span struct{ lo, hi int32 }

// batchState is the pooled working memory of one batch request: positions, results, the
// request body, the answer, and the working memory of each chunk.
type batchState struct {
	pos    []batch.Position // the body's positions, decoded; slots[i] answers pos[i]
	slots  []batchSlot
	out    []byte
	in     []byte // the request body
	body   []byte // what decode parsed: in, trimmed; the positions' number ranges point into it
	chunks []*batchChunk
}

// batchChunk is what one goroutine of answerBatch encodes into: its results, and the unit
// and rule objects it has encoded. Units are snapshot pointers, immutable (see package
// spatial), so a pointer names its encoding for the request's life; the maps are cleared on
// release so the pool pins no old snapshot.
type batchChunk struct {
	out   []byte
	frags []byte
	units map[*registry.Unit]span
	rules map[ruleKey]span
	// resolveSlots' working memory: the valid points, their slot indices and their answers.
	pts   []orb.Point
	at    []int32
	res   []spatial.Resolution
	errs  []error
	cells []*registry.Cell
	// The classes the chunk's points name, checked against the catalogue (classOf), and the
	// buffer a class is unquoted into.
	classes map[string]checkedClass
	scratch []byte
}

// decode reads body's positions into st.pos and makes st.slots as many.
func (st *batchState) decode(body []byte) error {
	var n int
	var err error
	st.pos, st.body, n, err = batch.Decode(body, st.pos, MaxBatchPoints)
	switch {
	case err != nil:
		return err
	case n > MaxBatchPoints:
		return errTooManyPoints
	}
	st.slots = slices.Grow(st.slots[:0], len(st.pos))[:len(st.pos)]
	return nil
}

// batchPool holds batchStates sized for a 1,000-point batch.
var batchPool = sync.Pool{New: func() any {
	return &batchState{
		pos:   make([]batch.Position, 0, 1024),
		slots: make([]batchSlot, 0, 1024),
		out:   make([]byte, 0, 1024*480),
		in:    make([]byte, 0, 64<<10),
	}
}}

// chunkStates returns n chunk states, made when missing.
func (st *batchState) chunkStates(n int) []*batchChunk {
	for len(st.chunks) < n {
		st.chunks = append(st.chunks, &batchChunk{
			frags:   make([]byte, 0, 8<<10),
			units:   make(map[*registry.Unit]span, 64),
			rules:   make(map[ruleKey]span, 64),
			classes: make(map[string]checkedClass, 8),
		})
	}
	return st.chunks[:n]
}

// maxPooledOut keeps a rare huge answer's buffer out of the pool.
const maxPooledOut = 4 << 20

func (st *batchState) release() {
	clear(st.slots) // drop snapshot pointers and errors
	st.slots = st.slots[:0]
	st.pos, st.in, st.body = st.pos[:0], st.in[:0], nil
	big := cap(st.out) > maxPooledOut || cap(st.in) > maxPooledOut
	for _, ch := range st.chunks {
		ch.out, ch.frags = ch.out[:0], ch.frags[:0]
		clear(ch.units)
		clear(ch.rules)
		clear(ch.classes)
		clear(ch.res) // snapshot pointers
		clear(ch.errs)
		clear(ch.cells)
		big = big || cap(ch.out) > maxPooledOut
	}
	if big {
		return
	}
	batchPool.Put(st)
}

// appendSlot appends one result: the lookup object of appendLookup, the unit and rule
// objects copied from their first encoding in the chunk, or the point's error. (Cell
// objects are encoded each time: a batch over a large city rarely meets a cell twice, and a
// cache across requests did not pay: docs/benchmarks.md, "Figures behind the code".)
func (st *batchChunk) appendSlot(b []byte, sl *batchSlot, f lookupFields) []byte {
	if sl.err != nil {
		return appendResultError(b, sl.err.(*registry.Error))
	}
	return appendLookup(b, sl.p, &sl.res, sl.noUnit, f, st)
}

// unit appends u's object: from the chunk's earlier encoding of it, or encoded now (and kept,
// unless st is nil).
func (st *batchChunk) unit(b []byte, u *registry.Unit) []byte {
	if st == nil {
		return appendUnitObject(b, u)
	}
	sp, ok := st.units[u]
	if !ok {
		lo := len(st.frags)
		st.frags = appendUnitObject(st.frags, u)
		sp = span{int32(lo), int32(len(st.frags))}
		st.units[u] = sp
	}
	return append(b, st.frags[sp.lo:sp.hi]...)
}

// rule is unit for the rule member (appendLookupRule). A component's reason names the
// component, so it is not kept.
func (st *batchChunk) rule(b []byte, res *spatial.Resolution, noUnit bool) []byte {
	if st == nil || noUnit || res.Kind == spatial.KindComponent {
		return appendLookupRule(b, res, noUnit)
	}
	k := ruleKey{res.Kind, res.RuleID, res.Reason, res.Component}
	sp, ok := st.rules[k]
	if !ok {
		lo := len(st.frags)
		st.frags = appendLookupRule(st.frags, res, false)
		sp = span{int32(lo), int32(len(st.frags))}
		st.rules[k] = sp
	}
	return append(b, st.frags[sp.lo:sp.hi]...)
}

// ruleKey is what appendLookupRule encodes when a unit is found.
type ruleKey struct {
	kind, id, reason string
	component        registry.ComponentCode
}
