package api

import (
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
)

// appendResultError appends a batch result that is an error: {"error":{"code","detail"}},
// the code and detail GET's problem document would carry.
func appendResultError(b []byte, e *registry.Error) []byte {
	b = append(b, `{"error":{"code":`...)
	b = geojson.AppendString(b, e.Code)
	b = append(b, `,"detail":`...)
	b = geojson.AppendString(b, e.Message)
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
	b = geojson.AppendString(b, cell.Name)
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
	b = geojson.AppendString(b, string(cell.Code))
	b = append(b, `,"name":`...)
	b = geojson.AppendString(b, cell.Name)
	b = append(b, `,"community":`...)
	b = geojson.AppendString(b, cell.Code.Community())
	b = append(b, `,"street":`...)
	b = geojson.AppendString(b, cell.Code.Street())
	b = append(b, `,"district":`...)
	b = geojson.AppendString(b, cell.Code.District())
	return append(b, '}')
}

func appendUnitObject(b []byte, u *registry.Unit) []byte {
	b = append(b, `{"id":`...)
	b = geojson.AppendString(b, u.ID)
	b = append(b, `,"name":`...)
	b = geojson.AppendString(b, u.Name)
	b = append(b, `,"type":`...)
	b = geojson.AppendString(b, u.Type.String())
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
	b = geojson.AppendString(b, kind)
	b = append(b, `,"id":`...)
	if res.RuleID == "" || noUnit {
		b = append(b, "null"...)
	} else {
		b = geojson.AppendString(b, res.RuleID)
	}
	b = append(b, `,"reason":`...)
	b = geojson.AppendString(b, reason)
	b = append(b, '}')
	if !noUnit && !res.Component.IsZero() {
		b = append(b, `,"component":"`...)
		b = res.Component.AppendTo(b)
		b = append(b, '"')
	}
	return b
}
