package api

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/internal/jsonscan"
	"citygrid/registry"
	"citygrid/spatial"
)

// Paging limits of the listing routes.
const (
	defaultLimit = 1000
	maxLimit     = 10000
)

var (
	errBBoxRequired = registry.Errorf(registry.Invalid, registry.CodeInvalidBBox, "bbox=minLon,minLat,maxLon,maxLat is required")
	errInvalidBBox  = registry.Errorf(registry.Invalid, registry.CodeInvalidBBox, "bbox must be minLon,minLat,maxLon,maxLat: four finite WGS84 degrees with min <= max")
	errInvalidLimit = registry.Errorf(registry.Invalid, registry.CodeInvalidLimit, "limit must be an integer from 1 to %d", maxLimit)
	errMissingPoint = registry.Errorf(registry.Invalid, registry.CodeInvalidPoint, "lon and lat are required")
)

// parseCoord parses one coordinate (or any decimal in a query): a finite number written as
// JSON writes numbers.
func parseCoord(s string) (float64, bool) {
	if !jsonscan.IsNumber(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// parseQueryInt parses a whole number in a query or a header: JSON's integer syntax (no sign
// but "-", no leading zero, no fraction or exponent), in T's range.
func parseQueryInt[T int | int64 | uint64](s string) (T, bool) {
	if !jsonscan.IsNumber(s) || strings.ContainsAny(s, ".eE") {
		return 0, false
	}
	var n T
	switch any(n).(type) {
	case uint64:
		v, err := strconv.ParseUint(s, 10, 64)
		return T(v), err == nil
	case int:
		v, err := strconv.Atoi(s)
		return T(v), err == nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return T(v), err == nil
}

// parseCRS returns the CRS named s, WGS84 for "". Errors are ErrInvalidCRS.
func (s *Server) parseCRS(name string) (spatial.CRS, error) {
	if name == "" {
		return s.wgs84, nil
	}
	crs, err := spatial.ParseCRS(name)
	if err != nil {
		return s.wgs84, registry.ErrInvalidCRS
	}
	return crs, nil
}

// queryCRS reads ?crs= from a request.
func (s *Server) queryCRS(c *gin.Context) (spatial.CRS, error) {
	return s.parseCRS(c.Query("crs"))
}

// crsRoutes are the routes that take ?crs=: every route whose request or answer carries
// coordinates. crs applies to all of them alike: to the coordinates sent (lon/lat, bbox,
// geometries, a census) and to those answered.
var crsRoutes = map[string]bool{
	"GET /api/v1/lookup":                  true,
	"POST /api/v1/lookup":                 true,
	"GET /api/v1/nearest":                 true,
	"GET /api/v1/components":              true,
	"POST /api/v1/components":             true,
	"GET /api/v1/components/:id":          true,
	"PATCH /api/v1/components/:id":        true,
	"DELETE /api/v1/components/:id":       true,
	"GET /api/v1/components/:id/history":  true,
	"GET /api/v1/cells":                   true,
	"GET /api/v1/cells/:code":             true,
	"PUT /api/v1/cells/:code":             true,
	"POST /api/v1/census/:kind":           true,
	"GET /api/v1/export/:kind":            true,
	"GET /api/v1/changes":                 true,
	"GET /api/v1/changes/stream":          true,
	"GET /api/v1/units":                   true,
	"GET /api/v1/units/:id":               true,
	"PUT /api/v1/units/:id":               true,
	"GET /api/v1/units/:id/history":       true,
	"GET /api/v1/cells/:code/history":     true,
	"POST /api/v1/components/:id/restore": true,
}

// refuseCRS answers 400 invalid_crs to crs= on a route that has no coordinates to convert,
// rather than ignore a parameter it was given. HEAD is judged as GET; OPTIONS (a CORS
// preflight carries the query of the request it asks about) is let through.
func (s *Server) refuseCRS(c *gin.Context) {
	method := c.Request.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if _, given := c.GetQuery("crs"); given && method != http.MethodOptions && c.FullPath() != "" && !crsRoutes[method+" "+c.FullPath()] {
		s.writeProblem(c, registry.Errorf(registry.Invalid, registry.CodeInvalidCRS,
			"%s %s has no coordinates: crs is taken only by routes that send or answer them", method, c.FullPath()))
		c.Abort()
		return
	}
	c.Next()
}

// bboxToWGS84 converts a bbox given in crs to the WGS84 box holding it: the box of its
// corners and edge midpoints, converted. The offset of GCJ-02 and BD-09 changes by well
// under a metre across any box a listing allows, so the box's edges stay straight lines.
func bboxToWGS84(b orb.Bound, crs spatial.CRS) orb.Bound {
	if !crs.Offset() {
		return b
	}
	mid := b.Center()
	out := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for _, x := range [3]float64{b.Min[0], mid[0], b.Max[0]} {
		for _, y := range [3]float64{b.Min[1], mid[1], b.Max[1]} {
			out = out.Extend(spatial.ToWGS84(orb.Point{x, y}, crs))
		}
	}
	return out
}

// parseBBox parses minLon,minLat,maxLon,maxLat (WGS84 degrees).
func parseBBox(s string) (orb.Bound, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return orb.Bound{}, errInvalidBBox
	}
	var v [4]float64
	for i, p := range parts {
		f, ok := parseCoord(strings.TrimSpace(p))
		if !ok {
			return orb.Bound{}, errInvalidBBox
		}
		v[i] = f
	}
	b := orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}
	if !registry.ValidPoint(b.Min) || !registry.ValidPoint(b.Max) || b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
		return orb.Bound{}, errInvalidBBox
	}
	return b, nil
}

// worldBound is the bbox of a listing narrowed only by a cell prefix.
var worldBound = orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}

// listBBox reads bbox= (in crs; the box returned is WGS84), enforcing the area cap unless
// narrowed (by a cell code prefix). Without bbox the listing covers the world when narrowed,
// and is refused otherwise.
func (s *Server) listBBox(c *gin.Context, narrowed bool, crs spatial.CRS) (orb.Bound, error) {
	raw, ok := c.GetQuery("bbox")
	if !ok || raw == "" {
		if narrowed {
			return worldBound, nil
		}
		return orb.Bound{}, errBBoxRequired
	}
	b, err := parseBBox(raw)
	if err != nil {
		return orb.Bound{}, err
	}
	b = bboxToWGS84(b, crs)
	if area := (b.Max[0] - b.Min[0]) * (b.Max[1] - b.Min[1]); !narrowed && area > s.maxBBox {
		return orb.Bound{}, registry.Errorf(registry.Invalid, registry.CodeBBoxTooLarge,
			"bbox covers %.4g square degrees, more than the %.4g allowed; narrow it or add cell=<district code or longer prefix>", area, s.maxBBox)
	}
	return b, nil
}

// parseLimit reads limit= (default 1000, 1..10000).
func parseLimit(c *gin.Context) (int, error) {
	raw, ok := c.GetQuery("limit")
	if !ok || raw == "" {
		return defaultLimit, nil
	}
	n, ok := parseQueryInt[int](raw)
	if !ok || n < 1 || n > maxLimit {
		return 0, errInvalidLimit
	}
	return n, nil
}

// cursorEncoding is strict so that every cursor has exactly one spelling.
var cursorEncoding = base64.RawURLEncoding.Strict()

// encodeCursor makes the opaque cursor of a listing page: base64url of the big-endian key.
// Zero (no further page) encodes as "".
func encodeCursor(k registry.Key) string {
	if k == 0 {
		return ""
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(k))
	return cursorEncoding.EncodeToString(b[:])
}

// decodeCursor is the inverse of encodeCursor; "" is the first page. Errors are ErrInvalidCursor.
func decodeCursor(s string) (registry.Key, error) {
	if s == "" {
		return 0, nil
	}
	// base64 decoding skips CR and LF: a cursor holding them is not one we issued.
	if strings.ContainsAny(s, "\r\n") {
		return 0, registry.ErrInvalidCursor
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, registry.ErrInvalidCursor
	}
	k := registry.Key(binary.BigEndian.Uint64(b))
	if k == 0 || k > registry.MaxKey {
		return 0, registry.ErrInvalidCursor
	}
	return k, nil
}

// setNextLink sets the Link rel=next header of a listing page: the same request with the
// cursor of the next page.
func setNextLink(c *gin.Context, next string) {
	if next == "" {
		return
	}
	q := c.Request.URL.Query()
	q.Set("cursor", next)
	u := url.URL{Path: c.Request.URL.Path, RawQuery: q.Encode()}
	c.Header("Link", "<"+u.String()+`>; rel="next"`)
}

// splitList splits a comma-separated query value, dropping empty items.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// actor names who makes a change: the X-Actor header, "anonymous" without one.
func actor(c *gin.Context) string {
	if a := strings.TrimSpace(c.GetHeader("X-Actor")); a != "" {
		return a
	}
	return "anonymous"
}

// etag is a record's strong entity tag: its version, quoted.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

var (
	errPreconditionRequired = &httpError{status: http.StatusPreconditionRequired, code: registry.CodePreconditionRequired,
		detail: `send If-Match with the record's ETag (or a "version" property) so that concurrent edits are detected`}
	errInvalidIfMatch = registry.Errorf(registry.Invalid, registry.CodeInvalidIfMatch, `If-Match must be an ETag of this API ("<version>") or *`)
)

// ifMatch reads If-Match: present reports whether it was sent; version 0 with present means
// "*" (any current version). Weak tags are accepted because versions are exact anyway.
func ifMatch(c *gin.Context) (version int64, present bool, err error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		return 0, false, nil
	}
	if h == "*" {
		return 0, true, nil
	}
	h = strings.TrimPrefix(h, "W/")
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	v, ok := parseQueryInt[int64](h)
	if !ok || v < 1 {
		return 0, true, errInvalidIfMatch
	}
	return v, true, nil
}

// notModified answers 304 when If-None-Match names the current version.
func notModified(c *gin.Context, tag string) bool {
	inm := c.GetHeader("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			c.Header("ETag", tag)
			c.Status(http.StatusNotModified)
			return true
		}
	}
	return false
}

// readBody appends a request's body to dst (nil, or a pooled buffer) and returns it. The body
// limit is the limits middleware's: a body over it fails with the *http.MaxBytesError that
// maps to 413; any other read error is 400 invalid_input.
func readBody(c *gin.Context, dst []byte) ([]byte, error) {
	if n := c.Request.ContentLength; n > 0 {
		// Declared lengths over the route's limit were refused before the handler ran.
		dst = slices.Grow(dst, int(n)+1) // +1: the read that sees EOF needs room
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := c.Request.Body.Read(dst[len(dst):cap(dst)])
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
		return dst, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the request body could not be read: %v", err)
	}
}
