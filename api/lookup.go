package api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/api/internal/batch"
	"citygrid/registry"
	"citygrid/spatial"
)

func (s *Server) registerLookupRoutes(r *gin.RouterGroup) {
	r.GET("/lookup", s.wrap(s.handleLookup))
	r.POST("/lookup", s.wrap(s.handleLookupBatch))
}

// MaxBatchPoints caps the points of one POST /api/v1/lookup request.
const MaxBatchPoints = 10000

var errTooManyPoints = registry.Errorf(registry.TooLarge, "too_many_points", "a lookup batch holds at most %d points", MaxBatchPoints)

// lookupQuery is the parsed query of GET /api/v1/lookup.
type lookupQuery struct {
	p      orb.Point // in crs
	class  string
	crs    spatial.CRS
	fields lookupFields
}

// lookupFields is the set of members a lookup answer holds: ?fields=point,cell,unit,rule
// (any of them, in any order; all when absent). The members keep their order in the answer.
// The component member, when a component's maintainer is responsible, goes with rule.
type lookupFields uint8

const (
	fieldPoint lookupFields = 1 << iota
	fieldCell
	fieldUnit
	fieldRule
	allFields = fieldPoint | fieldCell | fieldUnit | fieldRule
)

var errInvalidFields = registry.Errorf(registry.Invalid, "invalid_fields", "fields must be a comma-separated list of point, cell, unit and rule")

// parseFields parses the value of ?fields= (present: an empty value is an error).
func parseFields(v string) (lookupFields, error) {
	var f lookupFields
	for {
		name, rest, more := strings.Cut(v, ",")
		switch name {
		case "point":
			f |= fieldPoint
		case "cell":
			f |= fieldCell
		case "unit":
			f |= fieldUnit
		case "rule":
			f |= fieldRule
		default:
			return 0, errInvalidFields
		}
		if !more {
			return f, nil
		}
		v = rest
	}
}

// cellOnly reports whether a lookup of class for an answer with these members needs only the
// cell: neither unit nor rule is asked for, and no class (which is still resolved, so that a
// bad one is still an error).
func (f lookupFields) cellOnly(class string) bool {
	return f&(fieldUnit|fieldRule) == 0 && class == ""
}

// parseLookupQuery reads lon, lat, class, crs and fields from a raw query string in one pass without
// building url.Values: this route is the dispatch engine's hot path. As with url.Values.Get,
// the first occurrence of a parameter counts.
func (s *Server) parseLookupQuery(raw string) (lookupQuery, error) {
	q := lookupQuery{crs: s.wgs84, fields: allFields}
	var lonS, latS, classS, crsS, fieldsS string
	var seen [5]bool
	var bad [5]bool // a value with a malformed %-escape
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			uk, err := url.QueryUnescape(k)
			if err != nil {
				continue
			}
			k = uk
		}
		var i int
		var dst *string
		switch k {
		case "lon":
			i, dst = 0, &lonS
		case "lat":
			i, dst = 1, &latS
		case "class":
			i, dst = 2, &classS
		case "crs":
			i, dst = 3, &crsS
		case "fields":
			i, dst = 4, &fieldsS
		default:
			continue
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				bad[i] = true
				continue
			}
			v = uv
		}
		*dst = v
	}
	if !seen[0] || !seen[1] || (lonS == "" && !bad[0]) || (latS == "" && !bad[1]) {
		return q, errMissingPoint
	}
	lon, ok1 := parseCoord(lonS)
	lat, ok2 := parseCoord(latS)
	q.p = orb.Point{lon, lat}
	if bad[0] || bad[1] || !ok1 || !ok2 || !registry.ValidPoint(q.p) {
		return q, registry.ErrInvalidPoint
	}
	if bad[2] {
		return q, registry.ErrInvalidClass
	}
	q.class = classS
	if bad[3] {
		return q, registry.ErrInvalidCRS
	}
	if crsS != "" {
		var err error
		if q.crs, err = s.parseCRS(crsS); err != nil {
			return q, err
		}
	}
	if bad[4] {
		return q, errInvalidFields
	}
	if seen[4] {
		var err error
		if q.fields, err = parseFields(fieldsS); err != nil {
			return q, err
		}
	}
	return q, nil
}

// queryFields reads ?fields= from a request.
func queryFields(c *gin.Context) (lookupFields, error) {
	v, ok := c.GetQuery("fields")
	if !ok {
		return allFields, nil
	}
	return parseFields(v)
}

// lookup resolves a WGS84 point. A point inside a cell that no unit is responsible for is
// not an error here: the answer still names the cell, with unit null and rule kind "none",
// because a dispatcher can act on the cell (route the case to the district centre by hand).
// When the answer needs only the cell (f.cellOnly), only the cell is looked up.
func (s *Server) lookup(p orb.Point, class string, f lookupFields) (res spatial.Resolution, noUnit bool, err error) {
	if f.cellOnly(class) {
		res.Cell, err = s.idx.CellAt(p)
		return res, false, err
	}
	res, err = s.idx.Resolve(p, class)
	return s.settle(p, res, err)
}

// settle turns Resolve's ErrNoUnit into an answer naming the cell (noUnit).
func (s *Server) settle(p orb.Point, res spatial.Resolution, err error) (spatial.Resolution, bool, error) {
	if err == nil {
		return res, false, nil
	}
	if !errors.Is(err, registry.ErrNoUnit) {
		return res, false, err
	}
	if res.Cell == nil {
		cell, cerr := s.idx.CellAt(p)
		if cerr != nil {
			return res, false, cerr
		}
		res.Cell = cell
	}
	return res, true, nil
}

// handleLookup serves GET /api/v1/lookup?lon=&lat=[&class=][&crs=]: the cell containing the
// point and the unit responsible for a problem of that class there.
// Most of these requests never reach gin: Lane answers them on the connection (lane.go)
// with lookupAnswer too.
func (s *Server) handleLookup(c *gin.Context) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b, err := s.lookupAnswer((*bp)[:0], c.Request.URL.RawQuery)
	if err != nil {
		return err
	}
	writeRaw(c, http.StatusOK, jsonContentType, b)
	*bp = b
	return nil
}

// lookupAnswer appends the answer of GET /api/v1/lookup?rawQuery to dst.
func (s *Server) lookupAnswer(dst []byte, rawQuery string) ([]byte, error) {
	q, err := s.parseLookupQuery(rawQuery)
	if err != nil {
		return dst, err
	}
	p := spatial.ToWGS84(q.p, q.crs)
	res, noUnit, err := s.lookup(p, q.class, q.fields)
	if err != nil {
		return dst, err
	}
	return appendLookup(dst, p, &res, noUnit, q.fields, nil), nil
}

// handleLookupBatch serves POST /api/v1/lookup: a GeoJSON MultiPoint or a plain array of
// [lon,lat] positions, answered in order; a point that fails carries its own error.
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
	st := batchPool.Get().(*batchState)
	defer st.release()
	if st.in, err = readBodyInto(c, s.maxWrite, st.in[:0]); err != nil {
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

// readBodyInto is readBody reading into dst, a pooled buffer, with the same errors.
func readBodyInto(c *gin.Context, limit int64, dst []byte) ([]byte, error) {
	r := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if n := c.Request.ContentLength; n > 0 && n <= limit {
		dst = slices.Grow(dst, int(n)+1) // +1: the read that sees EOF needs room
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		var mbe *http.MaxBytesError
		switch {
		case err == nil:
			continue
		case err == io.EOF:
			return dst, nil
		case errors.As(err, &mbe):
			return dst, err
		}
		return dst, registry.Errorf(registry.Invalid, "invalid_input", "the request body could not be read: %v", err)
	}
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
			s.answerChunk(chunks[k], st.slots[lo:hi], st.pos[lo:hi], st.body, crs, class, f)
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

func (s *Server) answerChunk(ch *batchChunk, slots []batchSlot, pos []batch.Position, body []byte, crs spatial.CRS, class string, f lookupFields) {
	for i := range slots {
		sl := &slots[i]
		if sl.p, sl.ok = pos[i].Point(body); sl.ok {
			sl.p = spatial.ToWGS84(sl.p, crs)
		}
	}
	s.resolveSlots(ch, slots, class, f)
	b := ch.out[:0]
	for i := range slots {
		if i > 0 {
			b = append(b, ',')
		}
		b = ch.appendSlot(b, &slots[i], f)
	}
	ch.out = b
}

// resolveSlots looks the chunk's valid points up together (spatial's batch lookups, which
// overlap the memory reads of many points), then settles each slot's answer as lookup does.
func (s *Server) resolveSlots(ch *batchChunk, slots []batchSlot, class string, f lookupFields) {
	ch.pts, ch.at = ch.pts[:0], ch.at[:0]
	for i := range slots {
		if slots[i].ok {
			ch.pts = append(ch.pts, slots[i].p)
			ch.at = append(ch.at, int32(i))
		}
	}
	n := len(ch.pts)
	ch.res, ch.errs = slices.Grow(ch.res[:0], n)[:n], slices.Grow(ch.errs[:0], n)[:n]
	cellOnly := f.cellOnly(class)
	if cellOnly {
		ch.cells = slices.Grow(ch.cells[:0], n)[:n]
		s.idx.CellAtBatch(ch.pts, ch.cells, ch.errs)
		for k, cell := range ch.cells {
			ch.res[k] = spatial.Resolution{Cell: cell}
		}
	} else {
		s.idx.ResolveBatch(ch.pts, class, ch.res, ch.errs)
	}
	for k, i := range ch.at {
		sl := &slots[i]
		res, noUnit, err := ch.res[k], false, ch.errs[k]
		if !cellOnly {
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
	ok       bool      // a valid [lon,lat] or [lon,lat,alt] position
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
			frags: make([]byte, 0, 8<<10),
			units: make(map[*registry.Unit]span, 64),
			rules: make(map[ruleKey]span, 64),
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
// cache across requests measured slower than encoding, its misses being memory-bound.)
func (st *batchChunk) appendSlot(b []byte, sl *batchSlot, f lookupFields) []byte {
	switch {
	case !sl.ok:
		return appendResultError(b, registry.ErrInvalidPoint)
	case sl.err != nil:
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

func appendResultError(b []byte, e *registry.Error) []byte {
	b = append(b, `{"error":{"code":`...)
	b = registry.AppendJSONString(b, e.Code)
	b = append(b, `,"detail":`...)
	b = registry.AppendJSONString(b, e.Message)
	return append(b, "}}"...)
}

// bufPool recycles the single-lookup response buffers (a few hundred bytes each).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// chunkingThreshold is the body size from which net/http would no longer compute
// Content-Length itself (its bufferBeforeChunkingSize).
const chunkingThreshold = 2048

// jsonContentType is shared by every hand-written response: assigning the slice directly
// skips http.Header.Set's allocation. It is never modified.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeRaw writes an already encoded body.
func writeRaw(c *gin.Context, status int, contentType []string, body []byte) {
	h := c.Writer.Header()
	h["Content-Type"] = contentType
	if len(body) > chunkingThreshold {
		// Without it net/http would send a large body chunked, through its 4 KiB buffer:
		// one write system call per 4 KiB (a batch answer of 1,000 points is about 270 KiB).
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(body) // a failed write means the client left; nothing to tell it
}

// appendLookup appends the lookup object with the members of f:
//
//	{"point":[lon,lat],"cell":{…},"unit":{…}|null,"rule":{"kind","id","reason"}[,"component":"…"]}
//
// frags, when not nil, holds the unit and rule objects already encoded in a
// batch chunk.
func appendLookup(b []byte, p orb.Point, res *spatial.Resolution, noUnit bool, f lookupFields, frags *batchChunk) []byte {
	b = append(b, '{')
	if f&fieldPoint != 0 {
		b = append(b, `"point":[`...)
		b = strconv.AppendFloat(b, p[0], 'f', -1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, p[1], 'f', -1, 64)
		b = append(b, ']')
	}
	if f&fieldCell != 0 {
		if f&fieldPoint != 0 {
			b = append(b, ',')
		}
		b = append(b, `"cell":`...)
		if cell := res.Cell; cell == nil {
			b = append(b, "null"...)
		} else {
			b = appendCellObject(b, cell)
		}
	}
	if f&fieldUnit != 0 {
		if f&(fieldPoint|fieldCell) != 0 {
			b = append(b, ',')
		}
		b = append(b, `"unit":`...)
		if u := res.Unit; u == nil || noUnit {
			b = append(b, "null"...)
		} else {
			b = frags.unit(b, u)
		}
	}
	if f&fieldRule != 0 {
		if f != fieldRule {
			b = append(b, ',')
		}
		b = frags.rule(b, res, noUnit)
	}
	return append(b, '}')
}

// appendCellObject appends the cell object of a lookup answer.
func appendCellObject(b []byte, cell *registry.Cell) []byte {
	code := string(cell.Code)
	if !plainCode(code) {
		return appendCellObjectEscaped(b, cell)
	}
	// The community, street and district codes are prefixes of the code (or empty).
	b = append(b, `{"code":"`...)
	b = append(b, code...)
	b = append(b, `","name":`...)
	b = registry.AppendJSONString(b, cell.Name)
	b = append(b, `,"community":"`...)
	b = append(b, cell.Code.Community()...)
	b = append(b, `","street":"`...)
	b = append(b, cell.Code.Street()...)
	b = append(b, `","district":"`...)
	b = append(b, cell.Code.District()...)
	return append(b, `"}`...)
}

// plainCode reports whether s needs no escaping in a JSON string: a grid code always
// (digits, or letters and digits), checked so that no stored value can break the answer.
func plainCode(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// appendCellObjectEscaped is appendCellObject escaping every member.
func appendCellObjectEscaped(b []byte, cell *registry.Cell) []byte {
	b = append(b, `{"code":`...)
	b = registry.AppendJSONString(b, string(cell.Code))
	b = append(b, `,"name":`...)
	b = registry.AppendJSONString(b, cell.Name)
	b = append(b, `,"community":`...)
	b = registry.AppendJSONString(b, cell.Code.Community())
	b = append(b, `,"street":`...)
	b = registry.AppendJSONString(b, cell.Code.Street())
	b = append(b, `,"district":`...)
	b = registry.AppendJSONString(b, cell.Code.District())
	return append(b, '}')
}

func appendUnitObject(b []byte, u *registry.Unit) []byte {
	b = append(b, `{"id":`...)
	b = registry.AppendJSONString(b, u.ID)
	b = append(b, `,"name":`...)
	b = registry.AppendJSONString(b, u.Name)
	b = append(b, `,"type":`...)
	b = registry.AppendJSONString(b, u.Type.String())
	return append(b, '}')
}

// appendLookupRule appends the rule member and, when a component's maintainer is
// responsible, the component member.
func appendLookupRule(b []byte, res *spatial.Resolution, noUnit bool) []byte {
	kind, reason := res.Kind, res.Reason
	if noUnit {
		kind, reason = "none", registry.ErrNoUnit.Message
	}
	b = append(b, `"rule":{"kind":`...)
	b = registry.AppendJSONString(b, kind)
	b = append(b, `,"id":`...)
	if res.RuleID == "" || noUnit {
		b = append(b, "null"...)
	} else {
		b = registry.AppendJSONString(b, res.RuleID)
	}
	b = append(b, `,"reason":`...)
	b = registry.AppendJSONString(b, reason)
	b = append(b, '}')
	if !noUnit && !res.Component.IsZero() {
		b = append(b, `,"component":"`...)
		b = appendCode(b, res.Component)
		b = append(b, '"')
	}
	return b
}

// appendCode appends a component identifier's digits without ComponentCode.String's allocations.
func appendCode(b []byte, c registry.ComponentCode) []byte {
	var d [20]byte
	n := c.Len()
	v := c.Uint64()
	for i := n - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:n]...)
}
