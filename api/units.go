package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/project"

	"citygrid/registry"
	"citygrid/spatial"
)

func (s *Server) registerUnitRoutes(r *gin.RouterGroup) {
	r.GET("/units", s.wrap(s.handleUnitList))
	r.GET("/units/:id", s.wrap(s.handleUnitGet))
	r.PUT("/units/:id", s.wrap(s.handleUnitPut))
	r.DELETE("/units/:id", s.wrap(s.handleUnitDelete))
	r.GET("/units/:id/history", s.wrap(s.handleUnitHistory))
	r.GET("/rules", s.wrap(s.handleRuleList))
	r.GET("/rules/:id", s.wrap(s.handleRuleGet))
	r.PUT("/rules/:id", s.wrap(s.handleRulePut))
	r.DELETE("/rules/:id", s.wrap(s.handleRuleDelete))
	r.GET("/rules/:id/history", s.wrap(s.handleRuleHistory))
}

// unitJSON has the members of a units document entry (registry.DecodeUnits) plus the
// store's version, so a unit read here can be written back unchanged.
type unitJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Parent     string            `json:"parent"`
	Supervisor string            `json:"supervisor"`
	Districts  []string          `json:"districts"`
	Phone      string            `json:"phone"`
	Area       *geojson.Geometry `json:"area"` // WGS84 or the datum asked (?crs=); null when the unit has no own service area
	Version    int64             `json:"version"`
	Updated    *time.Time        `json:"updated"`
}

// toUnitJSON is u as a units document entry, its area's points through proj (nil: as stored).
func toUnitJSON(u *registry.Unit, proj func(orb.Point) orb.Point) unitJSON {
	out := unitJSON{
		ID: u.ID, Name: u.Name, Type: u.Type.String(), Parent: u.Parent, Supervisor: u.Supervisor,
		Districts: u.Districts, Phone: u.Phone, Version: u.Version,
	}
	if out.Districts == nil {
		out.Districts = []string{}
	}
	if len(u.Area) > 0 {
		area := u.Area
		if proj != nil {
			area = project.MultiPolygon(orb.Clone(area).(orb.MultiPolygon), proj)
		}
		out.Area = geojson.NewGeometry(area)
	}
	if !u.Updated.IsZero() {
		t := u.Updated.UTC()
		out.Updated = &t
	}
	return out
}

// ruleJSON has the members of a rules document entry (registry.DecodeRules) plus the version.
type ruleJSON struct {
	ID      string `json:"id"`
	Order   int    `json:"order"`
	Class   string `json:"class"`
	Kind    string `json:"kind"`
	Area    string `json:"area"`
	InUnit  bool   `json:"in_unit"`
	Unit    string `json:"unit"`
	Reason  string `json:"reason"`
	Version int64  `json:"version"`
}

func toRuleJSON(r *registry.Rule) ruleJSON {
	return ruleJSON{ID: r.ID, Order: r.Order, Class: r.Class, Kind: r.Kind, Area: r.Area, InUnit: r.InUnit,
		Unit: r.Unit, Reason: r.Reason, Version: r.Version}
}

// handleUnitList serves GET /api/v1/units[?crs=]: every unit, sorted by id; crs applies to
// their areas.
func (s *Server) handleUnitList(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	units := s.idx.Units()
	out := struct {
		Units []unitJSON `json:"units"`
	}{Units: make([]unitJSON, len(units))}
	for i := range units {
		out.Units[i] = toUnitJSON(&units[i], s.projection(crs))
	}
	return okJSON(c, out)
}

// handleUnitGet serves GET /api/v1/units/{id}[?crs=]: the unit, with its version as ETag;
// crs applies to its area.
func (s *Server) handleUnitGet(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	u, ok := s.idx.Unit(c.Param("id"))
	if !ok {
		return registry.ErrUnitNotFound
	}
	tag := etag(u.Version)
	if notModified(c, tag) {
		return nil
	}
	c.Header("ETag", tag)
	return okJSON(c, toUnitJSON(u, s.projection(crs)))
}

// handleUnitPut serves PUT /api/v1/units/{id}: one units-document entry creates the unit (201,
// with Location; no If-Match) or replaces it (200; If-Match with its ETag or *, else 428); the
// ETag is the stored version, unchanged when the entry equals the stored unit. Its parent
// and supervisor must exist, the parents must not lead back to it, and the supervisor must
// be an admin_department (see Service.PutUnit).
//
// crs applies to the entry's area and to the answer's.
func (s *Server) handleUnitPut(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	version, present, err := entryVersion(c)
	if err != nil {
		return err
	}
	doc, err := s.readEntry(c)
	if err != nil {
		return err
	}
	units, probs, err := registry.DecodeUnits(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		return probs[0].Err()
	}
	if crs.Offset() && len(units[0].Area) > 0 {
		units[0].Area = project.MultiPolygon(units[0].Area, func(p orb.Point) orb.Point { return spatial.ToWGS84(p, crs) })
	}
	u, err := s.svc.PutUnit(c.Request.Context(), units[0], version, actor(c))
	if err != nil {
		return err
	}
	return writeEntry(c, "/api/v1/units/", u.ID, u.Version, !present, toUnitJSON(&u, s.projection(crs)))
}

// entryVersion is the precondition of a unit or rule write: the If-Match version, AnyVersion
// for *, NoVersion when none was sent (present false).
func entryVersion(c *gin.Context) (version int64, present bool, err error) {
	version, present, err = ifMatch(c)
	switch {
	case err != nil:
		return 0, present, err
	case !present:
		return registry.NoVersion, false, nil
	case version == 0:
		return registry.AnyVersion, true, nil
	}
	return version, true, nil
}

// writeEntry answers a unit or rule PUT: 201 with Location when the record was created (a
// PUT without If-Match can only create), else 200; the version as ETag either way.
func writeEntry(c *gin.Context, path, id string, version int64, created bool, v any) error {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", path+url.PathEscape(id))
	}
	c.Header("ETag", etag(version))
	return writeJSON(c, status, "application/json; charset=utf-8", v)
}

// handleUnitDelete serves DELETE /api/v1/units/{id} with If-Match (its ETag or *; none is
// 428): 204, or 409 unit_in_use while a rule or another unit refers to it.
func (s *Server) handleUnitDelete(c *gin.Context) error {
	version, _, err := entryVersion(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteUnit(c.Request.Context(), c.Param("id"), version, actor(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// handleRuleList serves GET /api/v1/rules: every rule in the order they are tried.
func (s *Server) handleRuleList(c *gin.Context) error {
	rules := s.idx.Rules()
	out := struct {
		Rules []ruleJSON `json:"rules"`
	}{Rules: make([]ruleJSON, len(rules))}
	for i := range rules {
		out.Rules[i] = toRuleJSON(&rules[i])
	}
	return okJSON(c, out)
}

// handleRuleGet serves GET /api/v1/rules/{id}: the rule, with its version as ETag.
func (s *Server) handleRuleGet(c *gin.Context) error {
	id := c.Param("id")
	for _, r := range s.idx.Rules() {
		if r.ID != id {
			continue
		}
		tag := etag(r.Version)
		if notModified(c, tag) {
			return nil
		}
		c.Header("ETag", tag)
		return okJSON(c, toRuleJSON(&r))
	}
	return registry.ErrRuleNotFound
}

// handleRulePut serves PUT /api/v1/rules/{id}: one rules-document entry creates the rule (201,
// with Location; no If-Match) or replaces it (200; If-Match with its ETag or *, else 428); the
// ETag is the stored version, unchanged when the entry equals the stored rule. Its unit must
// exist, and its area in the grid.
func (s *Server) handleRulePut(c *gin.Context) error {
	version, present, err := entryVersion(c)
	if err != nil {
		return err
	}
	doc, err := s.readEntry(c)
	if err != nil {
		return err
	}
	rules, probs, err := registry.DecodeRules(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		return probs[0].Err()
	}
	r, err := s.svc.PutRule(c.Request.Context(), rules[0], version, actor(c))
	if err != nil {
		return err
	}
	return writeEntry(c, "/api/v1/rules/", r.ID, r.Version, !present, toRuleJSON(&r))
}

// handleRuleDelete serves DELETE /api/v1/rules/{id} with If-Match (its ETag or *; none is
// 428): 204, or 404 rule_not_found.
func (s *Server) handleRuleDelete(c *gin.Context) error {
	version, _, err := entryVersion(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteRule(c.Request.Context(), c.Param("id"), version, actor(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// readEntry reads a single JSON object body whose "id" must be the path's :id (it is set
// from the path when absent) and returns it wrapped as a one-entry document, so that the
// units and rules documents' decoders validate it exactly like an imported entry.
func (s *Server) readEntry(c *gin.Context) ([]byte, error) {
	id := c.Param("id")
	body, err := readBody(c, nil)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body must be one JSON object")
	}
	if raw, ok := obj["id"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		var got string
		if err := json.Unmarshal(raw, &got); err != nil {
			return nil, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "id must be a string")
		}
		if got = strings.TrimSpace(got); got != "" && got != id {
			return nil, registry.Errorf(registry.Invalid, registry.CodeIDMismatch, "the body names %q but the path names %q", got, id)
		}
	}
	idJSON, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	obj["id"] = idJSON
	entry, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{'['}, entry...), ']'), nil
}

// revisionJSON is one entry of a unit's or rule's history: Before and After are units or
// rules document entries (as GET answers them), null before a create and after a delete;
// Changed lists the members that differ.
type revisionJSON[T any] struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Op      string    `json:"op"`
	Version int64     `json:"version"`
	Changed []string  `json:"changed"`
	Before  *T        `json:"before"`
	After   *T        `json:"after"`
}

// historyJSON answers a record's history: its entries, oldest first, each with its changed
// fields (changed), and its record before and after (enc) as GET answers it.
func historyJSON[R registry.Unit | registry.Rule, J any](revs []registry.Revision[R], changed func(before, after *R) []string, enc func(*R) J) any {
	out := struct {
		Changes []revisionJSON[J] `json:"changes"`
	}{Changes: make([]revisionJSON[J], len(revs))}
	for i, r := range revs {
		e := revisionJSON[J]{Seq: r.Seq, Time: r.Time.UTC(), Actor: r.Actor, Op: string(r.Op), Version: r.Version,
			Changed: changed(r.Before, r.After)}
		if r.Before != nil {
			b := enc(r.Before)
			e.Before = &b
		}
		if r.After != nil {
			a := enc(r.After)
			e.After = &a
		}
		out.Changes[i] = e
	}
	return out
}

// handleUnitHistory serves GET /api/v1/units/{id}/history[?crs=]: every change of the unit,
// oldest first, also once it is deleted; 404 unit_not_found when there never was such a unit.
// crs applies to the areas answered.
func (s *Server) handleUnitHistory(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	revs, err := s.svc.UnitHistory(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	proj := s.projection(crs)
	return okJSON(c, historyJSON(revs, registry.ChangedUnitFields, func(u *registry.Unit) unitJSON { return toUnitJSON(u, proj) }))
}

// handleRuleHistory serves GET /api/v1/rules/{id}/history: every change of the rule, oldest
// first, also once it is deleted; 404 rule_not_found when there never was such a rule.
func (s *Server) handleRuleHistory(c *gin.Context) error {
	revs, err := s.svc.RuleHistory(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return okJSON(c, historyJSON(revs, registry.ChangedRuleFields, toRuleJSON))
}
