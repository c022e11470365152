package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
)

func (s *Server) registerComponentRoutes(r *gin.RouterGroup) {
	r.GET("/nearest", s.wrap(s.handleNearest))
	r.GET("/components", s.wrap(s.handleComponentList))
	r.POST("/components", s.wrap(s.handleComponentCreate))
	r.GET("/components/:id", s.wrap(s.handleComponentGet))
	r.PATCH("/components/:id", s.wrap(s.handleComponentUpdate))
	r.DELETE("/components/:id", s.wrap(s.handleComponentRetire))
	r.GET("/components/:id/history", s.wrap(s.handleComponentHistory))
	r.POST("/components/:id/restore", s.wrap(s.handleComponentRestore))
}

// Limits of GET /api/v1/nearest.
const (
	defaultNearestK      = 5
	maxNearestK          = 1000
	defaultNearestRadius = 500.0   // metres
	maxNearestRadius     = 50000.0 // metres
)

// handleNearest serves GET /api/v1/nearest?lon=&lat=[&class=a,b][&status=a,b][&k=][&radius=][&crs=]:
// the k components nearest the point within radius metres, nearest first, each with its
// distance in metres. crs applies to the point and to the answer's geometries.
func (s *Server) handleNearest(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	if c.Query("lon") == "" || c.Query("lat") == "" {
		return errMissingPoint
	}
	lon, ok1 := parseCoord(c.Query("lon"))
	lat, ok2 := parseCoord(c.Query("lat"))
	p := orb.Point{lon, lat}
	if !ok1 || !ok2 || !registry.ValidPoint(p) {
		return registry.ErrInvalidPoint
	}
	k := defaultNearestK
	if raw := c.Query("k"); raw != "" {
		var ok bool
		if k, ok = parseQueryInt[int](raw); !ok || k < 1 || k > maxNearestK {
			return registry.Errorf(registry.Invalid, registry.CodeInvalidK, "k must be an integer from 1 to %d", maxNearestK)
		}
	}
	radius := defaultNearestRadius
	if raw := c.Query("radius"); raw != "" {
		r, ok := parseCoord(raw)
		if !ok || r <= 0 || r > maxNearestRadius {
			return registry.Errorf(registry.Invalid, registry.CodeInvalidRadius, "radius must be a number of metres above 0 and at most %g", maxNearestRadius)
		}
		radius = r
	}
	f, err := s.parseFilter(c)
	if err != nil {
		return err
	}
	hits, err := s.idx.Nearest(spatial.ToWGS84(p, crs), f, k, radius)
	if err != nil {
		return err
	}
	// The index holds no names: they are read for the k hits.
	keys := make([]registry.Key, len(hits))
	for i := range hits {
		keys[i] = hits[i].Key
	}
	var comps []registry.Component
	if len(keys) > 0 {
		if comps, err = s.svc.ComponentsByKey(c.Request.Context(), keys); err != nil {
			return err
		}
	}
	proj := s.projection(crs)
	writeGeoJSON(c, http.StatusOK, func(b []byte) []byte {
		return geojson.AppendCollection(b, len(hits), func(b []byte, i int) []byte {
			return geojson.AppendHit(b, (*geojson.Hit)(&hits[i]), comps[i].Name, proj)
		})
	})
	return nil
}

// parseFilter reads class=, status= and cell= of the component queries. Each class must be in
// the catalogue (a component class, or a major class of components).
func (s *Server) parseFilter(c *gin.Context) (spatial.Filter, error) {
	var f spatial.Filter
	for _, cl := range splitList(c.Query("class")) {
		if err := s.catalog.CheckFilterClass(cl); err != nil {
			return f, err
		}
		f.Classes = append(f.Classes, cl)
	}
	for _, st := range splitList(c.Query("status")) {
		v, err := registry.ParseStatus(st)
		if err != nil {
			return f, err
		}
		f.Statuses = append(f.Statuses, v)
	}
	f.Cell = c.Query("cell")
	if !validCellPrefix(f.Cell) {
		return f, registry.Errorf(registry.Invalid, registry.CodeInvalidGridCode,
			"cell must be a grid cell code or a prefix of one (digits and A-Z, at most 15 characters)")
	}
	return f, nil
}

func validCellPrefix(s string) bool {
	if len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// handleComponentList serves GET /api/v1/components?bbox=&class=&status=&cell=&limit=&cursor=[&crs=]:
// one page of the components in the box (full records, in key order) and the cursor of the
// next page, also given as a Link rel="next" header. crs applies to the box and to the
// answer's points.
func (s *Server) handleComponentList(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	f, err := s.parseFilter(c)
	if err != nil {
		return err
	}
	// A district code (or a longer prefix) bounds the work like a small box does.
	b, err := s.listBBox(c, len(f.Cell) >= 6, crs)
	if err != nil {
		return err
	}
	limit, err := parseLimit(c)
	if err != nil {
		return err
	}
	cursor, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	hits, next, err := s.idx.Within(b, f, limit, cursor)
	if err != nil {
		return err
	}
	keys := make([]registry.Key, len(hits))
	for i := range hits {
		keys[i] = hits[i].Key
	}
	var comps []registry.Component
	if len(keys) > 0 {
		if comps, err = s.svc.ComponentsByKey(c.Request.Context(), keys); err != nil {
			return err
		}
	}
	proj := s.projection(crs)
	writePage(c, len(comps), func(b []byte, i int) []byte { return s.appendComponent(b, &comps[i], proj) }, next)
	return nil
}

// componentID parses the :id path parameter (17 digits, or a legacy 16-digit identifier).
func componentID(c *gin.Context) (registry.ComponentCode, error) {
	return registry.ParseComponentCode(c.Param("id"))
}

// handleComponentGet serves GET /api/v1/components/{id}[?crs=]: the component as a Feature,
// with its version as ETag.
func (s *Server) handleComponentGet(c *gin.Context) error {
	id, err := componentID(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	comp, err := s.svc.Component(c.Request.Context(), id)
	if err != nil {
		return err
	}
	tag := etag(comp.Version)
	if notModified(c, tag) {
		return nil
	}
	c.Header("ETag", tag)
	s.writeComponent(c, http.StatusOK, &comp, s.projection(crs))
	return nil
}

// handleComponentCreate serves POST /api/v1/components[?crs=]: a GeoJSON Feature with the
// census properties; 201 with Location and ETag. Without an id the store assigns one. crs
// applies to the body's point and to the answer's.
func (s *Server) handleComponentCreate(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	body, err := readBody(c, nil)
	if err != nil {
		return err
	}
	f, _, err := s.decodeFeature(body, crs)
	if err != nil {
		return err
	}
	comp, err := s.svc.CreateComponent(c.Request.Context(), f, actor(c))
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/components/"+comp.ID.String())
	c.Header("ETag", etag(comp.Version))
	s.writeComponent(c, http.StatusCreated, &comp, s.projection(crs))
	return nil
}

// handleComponentUpdate serves PATCH /api/v1/components/{id}[?crs=]: a Feature with only the
// properties to change (and a geometry to move it). The version it applies to comes from
// If-Match or a "version" property; neither is 428. crs applies to the body's point and to
// the answer's.
func (s *Server) handleComponentUpdate(c *gin.Context) error {
	id, err := componentID(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	version, present, err := ifMatch(c)
	if err != nil {
		return err
	}
	body, err := readBody(c, nil)
	if err != nil {
		return err
	}
	f, propVersion, err := s.decodeFeature(body, crs)
	if err != nil {
		return err
	}
	if !present {
		if propVersion == 0 {
			return errPreconditionRequired
		}
		version = propVersion
	}
	comp, err := s.svc.UpdateComponent(c.Request.Context(), id, f, version, actor(c))
	if err != nil {
		return err
	}
	c.Header("ETag", etag(comp.Version))
	s.writeComponent(c, http.StatusOK, &comp, s.projection(crs))
	return nil
}

// handleComponentRetire serves DELETE /api/v1/components/{id}[?note=][&crs=]: the component is
// marked removed (移除), never deleted; the note says why, in the history entry. The version
// comes from If-Match or ?version=. crs applies to the answer's point.
func (s *Server) handleComponentRetire(c *gin.Context) error {
	return s.retireOrRestore(c, s.svc.RetireComponent)
}

// handleComponentRestore serves POST /api/v1/components/{id}/restore[?note=]: a retired
// component comes back with the status it had before its retirement; the note goes into the
// history entry. The version comes from If-Match or ?version=.
func (s *Server) handleComponentRestore(c *gin.Context) error {
	return s.retireOrRestore(c, s.svc.RestoreComponent)
}

// retireOrRestore reads the identifier, the version and the note of a retire or a restore and
// answers the component as op leaves it.
func (s *Server) retireOrRestore(c *gin.Context, op func(ctx context.Context, id registry.ComponentCode, version int64, actor, note string) (registry.Component, error)) error {
	id, err := componentID(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	version, present, err := ifMatch(c)
	if err != nil {
		return err
	}
	if !present {
		raw := c.Query("version")
		if raw == "" {
			return errPreconditionRequired
		}
		var ok bool
		if version, ok = parseQueryInt[int64](raw); !ok || version < 1 {
			return registry.Errorf(registry.Invalid, registry.CodeInvalidVersion, "version must be a positive integer")
		}
	}
	comp, err := op(c.Request.Context(), id, version, actor(c), c.Query("note"))
	if err != nil {
		return err
	}
	c.Header("ETag", etag(comp.Version))
	s.writeComponent(c, http.StatusOK, &comp, s.projection(crs))
	return nil
}

// changeJSON is one entry of a component's history; Before and After are component Features
// (written by s.appendComponent), Before null on create.
type changeJSON struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Op      string          `json:"op"`
	Version int64           `json:"version"`
	Changed []string        `json:"changed"`        // the properties that differ, "geometry" for the point
	Note    string          `json:"note,omitempty"` // why, when the writer said (a retirement's reason)
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

// handleComponentHistory serves GET /api/v1/components/{id}/history[?crs=]: every change,
// oldest first; crs applies to the points of before and after.
func (s *Server) handleComponentHistory(c *gin.Context) error {
	id, err := componentID(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	proj := s.projection(crs)
	changes, err := s.svc.History(c.Request.Context(), id)
	if err != nil {
		return err
	}
	out := struct {
		Changes []changeJSON `json:"changes"`
	}{Changes: make([]changeJSON, len(changes))}
	for i, ch := range changes {
		cj := changeJSON{Seq: ch.Seq, Time: ch.Time.UTC(), Actor: ch.Actor, Op: string(ch.Op), Version: ch.Version, Note: ch.Note,
			Changed: registry.ChangedComponentFields(ch.Before, ch.After)}
		if ch.Before != nil {
			cj.Before = s.appendComponent(nil, ch.Before, proj)
		}
		if ch.After != nil {
			cj.After = s.appendComponent(nil, ch.After, proj)
		}
		out.Changes[i] = cj
	}
	return okJSON(c, out)
}
