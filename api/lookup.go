package api

import (
	"bytes"
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
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

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
	if bad[0] || bad[1] || !ok1 || !ok2 || !validLonLat(q.p) {
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
			part := st.slots[min(k*size, n):min((k+1)*size, n)]
			s.answerChunk(chunks[k], part, st.body, crs, class, f)
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

func (s *Server) answerChunk(ch *batchChunk, slots []batchSlot, body []byte, crs spatial.CRS, class string, f lookupFields) {
	for i := range slots {
		slots[i].numbers(body)
		if sl := &slots[i]; sl.ok {
			if q := spatial.ToWGS84(sl.p, crs); q != sl.p {
				sl.p = q
			}
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
	p  orb.Point // as given, once numbers has run; answerChunk then converts it to WGS84
	ok bool      // a valid [lon,lat] or [lon,lat,alt] position (until numbers: its syntax is)
	// nums are the byte ranges in the body of the position's numbers (n of them, at most 3),
	// converted by numbers: number conversion is most of decoding, and answerChunk does it
	// in parallel.
	nums     [3][2]int32
	n        uint8
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
	slots  []batchSlot
	out    []byte
	in     []byte // the request body
	body   []byte // what decode parsed: in, trimmed; the slots' number ranges point into it
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

// batchPool holds batchStates sized for a 1,000-point batch.
var batchPool = sync.Pool{New: func() any {
	return &batchState{
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
	st.in, st.body = st.in[:0], nil
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

// Body decoding. decode reads the body in one pass, without allocating, and accepts exactly
// what encoding/json accepted when it decoded a []json.RawMessage (or a struct with Type
// string and Coordinates []json.RawMessage) and then each position into a []float64:
//
//   - the whole body must be valid JSON (RFC 8259 grammar, nesting at most 10000 deep);
//   - object keys match "type" and "coordinates" case-insensitively, the last duplicate wins,
//     and a null "type" leaves the previous value while a null "coordinates" clears it;
//   - a position is an array of two or three numbers; a null element counts as 0 (as it did
//     when decoded into a float64) and a number out of float64 range spoils the position.
//
// The messages of invalid_input differ from encoding/json's; codes and statuses do not.

var (
	errBatchInput    = registry.Errorf(registry.Invalid, "invalid_input", "the body must be a GeoJSON MultiPoint or an array of [lon,lat] positions")
	errBatchSyntax   = registry.Errorf(registry.Invalid, "invalid_input", "the body is not valid JSON")
	errBatchNotMulti = registry.Errorf(registry.Invalid, "invalid_input", "the body's type is not MultiPoint")
	errBatchNoCoords = registry.Errorf(registry.Invalid, "invalid_input", "the MultiPoint has no coordinates array")
	errBatchBadType  = registry.Errorf(registry.Invalid, "invalid_input", "the MultiPoint's type or coordinates member has the wrong JSON type")
)

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// batchParser walks a body; depth counts the open arrays and objects.
type batchParser struct {
	b     []byte
	i     int
	depth int
}

// decode fills st.slots with the body's positions.
func (st *batchState) decode(body []byte) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || (body[0] != '[' && body[0] != '{') {
		return errBatchInput
	}
	st.body = body
	p := batchParser{b: body}
	var n int // positions of the (last) coordinates array
	var err error
	if body[0] == '[' {
		n, err = st.positions(&p)
	} else {
		n, err = st.multiPoint(&p)
	}
	if err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return errBatchSyntax
	}
	if n > MaxBatchPoints {
		return errTooManyPoints
	}
	return nil
}

// multiPoint parses a GeoJSON MultiPoint object.
func (st *batchState) multiPoint(p *batchParser) (int, error) {
	isMulti, hasCoords, typeErr := false, false, false
	n := 0
	if !p.enter() {
		return 0, errBatchSyntax
	}
	p.i++ // '{'
	p.ws()
	if p.peek() == '}' {
		p.i++
		p.depth--
		return 0, errBatchNotMulti
	}
	for {
		p.ws()
		var key [64]byte
		k, ok := p.str(key[:0])
		if !ok {
			return 0, errBatchSyntax
		}
		p.ws()
		if p.peek() != ':' {
			return 0, errBatchSyntax
		}
		p.i++
		p.ws()
		switch {
		case bytes.EqualFold(k, []byte("type")):
			switch p.peek() {
			case '"':
				var val [64]byte
				v, ok := p.str(val[:0])
				if !ok {
					return 0, errBatchSyntax
				}
				isMulti = string(v) == "MultiPoint"
			case 'n':
				if !p.lit("null") {
					return 0, errBatchSyntax
				}
			default:
				typeErr = true
				if !p.skip() {
					return 0, errBatchSyntax
				}
			}
		case bytes.EqualFold(k, []byte("coordinates")):
			switch p.peek() {
			case '[':
				var err error
				if n, err = st.positions(p); err != nil {
					return 0, err
				}
				hasCoords = true
			case 'n':
				if !p.lit("null") {
					return 0, errBatchSyntax
				}
				st.slots, n, hasCoords = st.slots[:0], 0, false
			default:
				typeErr = true
				if !p.skip() {
					return 0, errBatchSyntax
				}
			}
		default:
			if !p.skip() {
				return 0, errBatchSyntax
			}
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
			p.depth--
		default:
			return 0, errBatchSyntax
		}
		break
	}
	// encoding/json reported a wrong member type only after checking the whole body's syntax,
	// which the caller finishes; any of these is invalid_input all the same.
	switch {
	case typeErr:
		return 0, errBatchBadType
	case !isMulti:
		return 0, errBatchNotMulti
	case !hasCoords:
		return 0, errBatchNoCoords
	}
	return n, nil
}

// positions parses an array of positions into st.slots (replacing what a previous
// coordinates member left), keeping at most MaxBatchPoints+1 but counting them all.
func (st *batchState) positions(p *batchParser) (int, error) {
	st.slots = st.slots[:0]
	if !p.enter() {
		return 0, errBatchSyntax
	}
	p.i++ // '['
	p.ws()
	if p.peek() == ']' {
		p.i++
		p.depth--
		return 0, nil
	}
	n := 0
	for {
		p.ws()
		if n <= MaxBatchPoints {
			st.slots = append(st.slots, batchSlot{})
		}
		var sl batchSlot // the slot to fill, or a scratch one past MaxBatchPoints
		dst := &sl
		if n <= MaxBatchPoints {
			dst = &st.slots[len(st.slots)-1]
		}
		if !p.plainPosition(dst) && !p.position(dst) {
			return 0, errBatchSyntax
		}
		n++
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
			continue
		case ']':
			p.i++
			p.depth--
			return n, nil
		}
		return 0, errBatchSyntax
	}
}

// plainPosition parses the usual element, [lon,lat] with no space inside, as position
// would, and reports whether it did; anything else leaves p as it was, for position.
func (p *batchParser) plainPosition(sl *batchSlot) bool {
	start := p.i
	if start >= len(p.b) || p.b[start] != '[' {
		return false
	}
	p.i++
	lo0 := p.i
	if !p.num() || p.i >= len(p.b) || p.b[p.i] != ',' {
		p.i = start
		return false
	}
	hi0 := p.i
	p.i++
	lo1 := p.i
	if !p.num() || p.i >= len(p.b) || p.b[p.i] != ']' {
		p.i = start
		return false
	}
	sl.nums[0] = [2]int32{int32(lo0), int32(hi0)}
	sl.nums[1] = [2]int32{int32(lo1), int32(p.i)}
	sl.n, sl.ok = 2, true
	p.i++
	return true
}

// position parses one element of a positions array. valid reports the JSON syntax; ok
// whether the element is a usable [lon,lat(,alt)] position.
//
// It fills sl.ok with the element's syntax as a position (2 or 3 numbers or nulls) and
// sl.nums with where its numbers are; numbers then converts them and completes sl.ok.
func (p *batchParser) position(sl *batchSlot) (valid bool) {
	sl.ok, sl.n = false, 0
	if p.peek() != '[' {
		return p.skip()
	}
	if !p.enter() {
		return false
	}
	p.i++
	p.ws()
	if p.peek() == ']' {
		p.i++
		p.depth--
		return true
	}
	n, bad := 0, false
	for {
		p.ws()
		switch c := p.peek(); {
		case c == '-' || c >= '0' && c <= '9':
			start := p.i
			if !p.num() {
				return false
			}
			if n < len(sl.nums) {
				sl.nums[n] = [2]int32{int32(start), int32(p.i)}
			}
		case c == 'n':
			if !p.lit("null") {
				return false
			}
			if n < len(sl.nums) { // null counts as 0: an empty range
				sl.nums[n] = [2]int32{int32(p.i), int32(p.i)}
			}
		default:
			bad = true
			if !p.skip() {
				return false
			}
		}
		n++
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
			continue
		case ']':
			p.i++
			p.depth--
		default:
			return false
		}
		break
	}
	sl.ok = !bad && n >= 2 && n <= 3
	sl.n = uint8(min(n, len(sl.nums)))
	return true
}

// numbers converts a slot's numbers, found in body by position: ok stays true only if each
// converts and the point is a valid lon/lat.
func (sl *batchSlot) numbers(body []byte) {
	if !sl.ok {
		return
	}
	var xy [3]float64
	for i := range int(sl.n) {
		r := sl.nums[i]
		if r[0] == r[1] {
			continue // null: 0
		}
		v, err := strconv.ParseFloat(string(body[r[0]:r[1]]), 64)
		if err != nil {
			sl.ok = false
			return
		}
		xy[i] = v
	}
	sl.p = orb.Point{xy[0], xy[1]}
	sl.ok = validLonLat(sl.p)
}

func (p *batchParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *batchParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// enter counts a container about to be opened; false past the nesting limit.
func (p *batchParser) enter() bool {
	p.depth++
	return p.depth <= maxJSONDepth
}

func (p *batchParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// num scans a JSON number.
func (p *batchParser) num() bool {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	p.i = i
	return true
}

// str scans a JSON string and appends its value to dst while it fits in cap(dst), so that
// short keys can be compared; a longer value comes back truncated, and a truncated value
// is longer than anything it is compared with as long as cap(dst) exceeds those (the
// callers' 64 bytes do). Invalid UTF-8 is kept as is: it equals no key or type anyway.
func (p *batchParser) str(dst []byte) ([]byte, bool) {
	b, i := p.b, p.i
	if i >= len(b) || b[i] != '"' {
		return dst, false
	}
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return dst, true
		case c < 0x20:
			return dst, false
		case c == '\\':
			if i+1 >= len(b) {
				return dst, false
			}
			e := b[i+1]
			i += 2
			var r rune
			switch e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				v, ok := hex4(b, i)
				if !ok {
					return dst, false
				}
				i += 4
				r = rune(v)
				if utf16.IsSurrogate(r) {
					r = unicode.ReplacementChar
					if v2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if d := utf16.DecodeRune(rune(v), rune(v2)); d != unicode.ReplacementChar {
							r = d
							i += 6
						}
					}
				}
			default:
				return dst, false
			}
			if len(dst)+utf8.UTFMax <= cap(dst) {
				dst = utf8.AppendRune(dst, r)
			} else {
				dst = dst[:cap(dst)]
			}
		default:
			if len(dst) < cap(dst) {
				dst = append(dst, c)
			}
			i++
		}
	}
	return dst, false
}

func hex4(b []byte, i int) (uint16, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v uint16
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

// skip scans any JSON value.
func (p *batchParser) skip() bool {
	switch c := p.peek(); {
	case c == '"':
		_, ok := p.str(nil)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return p.num()
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '[' || c == '{':
		if !p.enter() {
			return false
		}
		p.i++
		p.ws()
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		if p.peek() == end {
			p.i++
			p.depth--
			return true
		}
		for {
			p.ws()
			if c == '{' {
				if _, ok := p.str(nil); !ok {
					return false
				}
				p.ws()
				if p.peek() != ':' {
					return false
				}
				p.i++
				p.ws()
			}
			if !p.skip() {
				return false
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
				continue
			case end:
				p.i++
				p.depth--
				return true
			}
			return false
		}
	}
	return false
}
