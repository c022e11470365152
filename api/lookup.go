package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
)

// The lookup routes: GET /api/v1/lookup answers one point (this file), POST /api/v1/lookup a
// batch (lookup_batch.go); both write their answers with lookup_encode.go.

func (s *Server) registerLookupRoutes(r *gin.RouterGroup) {
	r.GET("/lookup", s.wrap(s.handleLookup))
	r.POST("/lookup", s.wrap(s.handleLookupBatch))
}

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

var errInvalidFields = registry.Errorf(registry.Invalid, registry.CodeInvalidFields, "fields must be a comma-separated list of point, cell, unit and rule")

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

// parseLookupQuery reads lon, lat, class, crs and fields from a raw query string with
// url.ParseQuery: the first occurrence of a parameter counts (url.Values.Get). Two readings keep
// the answers the route has always given: a ';' is part of a value, not a separator (so
// class=a;b is a bad class, not a missing one), and a parameter whose first occurrence has a
// malformed %-escape is present and invalid, not absent.
func (s *Server) parseLookupQuery(raw string) (lookupQuery, error) {
	q := lookupQuery{crs: s.wgs84, fields: allFields}
	raw = strings.ReplaceAll(raw, ";", "%3B")
	v, err := url.ParseQuery(raw)
	var bad map[string]bool
	if err != nil {
		bad = malformedParams(raw)
	}
	lonS, latS := v.Get("lon"), v.Get("lat")
	if (lonS == "" && !bad["lon"]) || (latS == "" && !bad["lat"]) {
		return q, errMissingPoint
	}
	lon, ok1 := parseCoord(lonS)
	lat, ok2 := parseCoord(latS)
	q.p = orb.Point{lon, lat}
	if bad["lon"] || bad["lat"] || !ok1 || !ok2 || !registry.ValidPoint(q.p) {
		return q, registry.ErrInvalidPoint
	}
	if bad["class"] {
		return q, registry.ErrInvalidClass
	}
	q.class = v.Get("class")
	if bad["crs"] {
		return q, registry.ErrInvalidCRS
	}
	if q.crs, err = s.parseCRS(v.Get("crs")); err != nil {
		return q, err
	}
	if bad["fields"] {
		return q, errInvalidFields
	}
	if fields, ok := v["fields"]; ok {
		if q.fields, err = parseFields(fields[0]); err != nil {
			return q, err
		}
	}
	if err := s.catalog.CheckLookupClass(q.class); err != nil {
		return q, err
	}
	return q, nil
}

// malformedParams returns the parameters of a query, which url.ParseQuery rejected, whose first
// occurrence it dropped for a malformed %-escape in the value.
func malformedParams(raw string) map[string]bool {
	bad := map[string]bool{}
	seen := map[string]bool{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil || seen[k] {
			continue
		}
		seen[k] = true
		if _, err := url.QueryUnescape(v); err != nil {
			bad[k] = true
		}
	}
	return bad
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
