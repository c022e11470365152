package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

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
	p     orb.Point // in crs
	class string
	crs   spatial.CRS
}

// parseLookupQuery reads lon, lat, class and crs from a raw query string in one pass without
// building url.Values: this route is the dispatch engine's hot path. As with url.Values.Get,
// the first occurrence of a parameter counts.
func (s *Server) parseLookupQuery(raw string) (lookupQuery, error) {
	q := lookupQuery{crs: s.wgs84}
	var lonS, latS, classS, crsS string
	var seen [4]bool
	var bad [4]bool // a value with a malformed %-escape
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
	return q, nil
}

// lookup resolves a WGS84 point. A point inside a cell that no unit is responsible for is
// not an error here: the answer still names the cell, with unit null and rule kind "none",
// because a dispatcher can act on the cell (route the case to the district centre by hand).
func (s *Server) lookup(p orb.Point, class string) (res spatial.Resolution, noUnit bool, err error) {
	res, err = s.idx.Resolve(p, class)
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
func (s *Server) handleLookup(c *gin.Context) error {
	q, err := s.parseLookupQuery(c.Request.URL.RawQuery)
	if err != nil {
		return err
	}
	p := spatial.ToWGS84(q.p, q.crs)
	res, noUnit, err := s.lookup(p, q.class)
	if err != nil {
		return err
	}
	bp := bufPool.Get().(*[]byte)
	b := appendLookup((*bp)[:0], p, &res, noUnit)
	writeRaw(c, http.StatusOK, jsonContentType, b)
	*bp = b
	bufPool.Put(bp)
	return nil
}

// handleLookupBatch serves POST /api/v1/lookup: a GeoJSON MultiPoint or a plain array of
// [lon,lat] positions, answered in order; a point that fails carries its own error.
func (s *Server) handleLookupBatch(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	class := c.Query("class")
	body, err := readBody(c, s.maxWrite)
	if err != nil {
		return err
	}
	pts, err := decodeBatch(body)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 32+len(pts)*200)
	b = append(b, `{"results":[`...)
	for i, raw := range pts {
		if i > 0 {
			b = append(b, ',')
		}
		p, ok := decodePosition(raw)
		if !ok {
			b = appendResultError(b, registry.ErrInvalidPoint)
			continue
		}
		p = spatial.ToWGS84(p, crs)
		res, noUnit, err := s.lookup(p, class)
		if err != nil {
			var re *registry.Error
			if !errors.As(err, &re) {
				return err // not the point's fault: fail the request, logged once
			}
			b = appendResultError(b, re)
			continue
		}
		b = appendLookup(b, p, &res, noUnit)
	}
	b = append(b, "]}"...)
	writeRaw(c, http.StatusOK, jsonContentType, b)
	return nil
}

// decodeBatch returns the positions of a lookup batch, undecoded, so one bad position
// spoils only its own result.
func decodeBatch(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	var pts []json.RawMessage
	switch {
	case len(body) == 0:
		return nil, registry.Errorf(registry.Invalid, "invalid_input", "the body must be a GeoJSON MultiPoint or an array of [lon,lat] positions")
	case body[0] == '[':
		if err := json.Unmarshal(body, &pts); err != nil {
			return nil, registry.Errorf(registry.Invalid, "invalid_input", "the body is not a JSON array of positions: %v", err)
		}
	case body[0] == '{':
		var mp struct {
			Type        string            `json:"type"`
			Coordinates []json.RawMessage `json:"coordinates"`
		}
		if err := json.Unmarshal(body, &mp); err != nil {
			return nil, registry.Errorf(registry.Invalid, "invalid_input", "the body is not a GeoJSON MultiPoint: %v", err)
		}
		if mp.Type != "MultiPoint" {
			return nil, registry.Errorf(registry.Invalid, "invalid_input", "the body's type is %q, want MultiPoint", mp.Type)
		}
		if mp.Coordinates == nil { // absent or null; [] is an empty batch
			return nil, registry.Errorf(registry.Invalid, "invalid_input", "the MultiPoint has no coordinates array")
		}
		pts = mp.Coordinates
	default:
		return nil, registry.Errorf(registry.Invalid, "invalid_input", "the body must be a GeoJSON MultiPoint or an array of [lon,lat] positions")
	}
	if len(pts) > MaxBatchPoints {
		return nil, errTooManyPoints
	}
	return pts, nil
}

// decodePosition parses a GeoJSON position [lon, lat] or [lon, lat, alt] (alt ignored).
func decodePosition(raw json.RawMessage) (orb.Point, bool) {
	var xy []float64
	if err := json.Unmarshal(raw, &xy); err != nil || len(xy) < 2 || len(xy) > 3 {
		return orb.Point{}, false
	}
	p := orb.Point{xy[0], xy[1]}
	return p, validLonLat(p)
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

// jsonContentType is shared by every hand-written response: assigning the slice directly
// skips http.Header.Set's allocation. It is never modified.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeRaw writes an already encoded body.
func writeRaw(c *gin.Context, status int, contentType []string, body []byte) {
	c.Writer.Header()["Content-Type"] = contentType
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(body) // a failed write means the client left; nothing to tell it
}

// appendLookup appends the lookup object:
//
//	{"point":[lon,lat],"cell":{…},"unit":{…}|null,"rule":{"kind","id","reason"}[,"component":"…"]}
func appendLookup(b []byte, p orb.Point, res *spatial.Resolution, noUnit bool) []byte {
	b = append(b, `{"point":[`...)
	b = strconv.AppendFloat(b, p[0], 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, p[1], 'f', -1, 64)
	b = append(b, `],"cell":`...)
	if cell := res.Cell; cell == nil {
		b = append(b, "null"...)
	} else {
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
		b = append(b, '}')
	}
	b = append(b, `,"unit":`...)
	if u := res.Unit; u == nil || noUnit {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = registry.AppendJSONString(b, u.ID)
		b = append(b, `,"name":`...)
		b = registry.AppendJSONString(b, u.Name)
		b = append(b, `,"type":`...)
		b = registry.AppendJSONString(b, u.Type.String())
		b = append(b, '}')
	}
	kind, reason := res.Kind, res.Reason
	if noUnit {
		kind, reason = "none", registry.ErrNoUnit.Message
	}
	b = append(b, `,"rule":{"kind":`...)
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
	return append(b, '}')
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
