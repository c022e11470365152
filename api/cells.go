package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/registry"
)

func (s *Server) registerCellRoutes(r *gin.RouterGroup) {
	r.GET("/cells", s.wrap(s.handleCellList))
	r.GET("/cells/:code", s.wrap(s.handleCellGet))
	r.GET("/cells/:code/history", s.wrap(s.handleCellHistory))
	r.PUT("/cells/:code", s.wrap(s.handleCellPut))
}

// handleCellList serves GET /api/v1/cells?bbox=&limit=&cursor=[&status=active|retired|all][&crs=]:
// one page of the grid cells meeting the box (the active ones unless status says otherwise), in
// key order, with the next page's cursor (also as Link rel="next"). crs applies to the box and
// to the answer's geometries.
func (s *Server) handleCellList(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	active, retired, err := cellStatusQuery(c)
	if err != nil {
		return err
	}
	b, err := s.listBBox(c, false, crs)
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
	cells, next, err := s.idx.CellsWithinStatus(b, active, retired, limit, cursor)
	if err != nil {
		return err
	}
	proj := s.projection(crs)
	writePage(c, len(cells), func(b []byte, i int) []byte { return geojson.AppendCell(b, cells[i], proj) }, next)
	return nil
}

// cellStatusQuery parses ?status= of a cell listing: active (the default), retired or all.
func cellStatusQuery(c *gin.Context) (active, retired bool, err error) {
	switch v := c.Query("status"); v {
	case "", "active":
		return true, false, nil
	case "all":
		return true, true, nil
	default:
		if _, err := registry.ParseCellStatus(v); err != nil {
			return false, false, registry.Errorf(registry.Invalid, registry.CodeInvalidStatus, "a cell listing's status is active, retired or all, not %q", v)
		}
		return false, true, nil
	}
}

// cellCode parses the :code path parameter.
func cellCode(c *gin.Context) (registry.GridCode, error) {
	return registry.ParseGridCode(c.Param("code"))
}

// handleCellGet serves GET /api/v1/cells/{code}[?crs=]: the cell as a Feature, with its
// version as ETag; a retired cell too, with its status and when it was retired. A legacy
// 14-digit code finds the cell stored under it.
func (s *Server) handleCellGet(c *gin.Context) error {
	code, err := cellCode(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	cell, ok := s.idx.Cell(code)
	if !ok {
		return registry.ErrCellNotFound
	}
	tag := etag(cell.Version)
	if notModified(c, tag) {
		return nil
	}
	c.Header("ETag", tag)
	proj := s.projection(crs)
	writeGeoJSON(c, http.StatusOK, func(b []byte) []byte { return geojson.AppendCell(b, cell, proj) })
	return nil
}

// handleCellPut serves PUT /api/v1/cells/{code}[?crs=]: a Feature with the cell's polygon and
// name creates the cell or replaces it (201 or 200). If-Match, when sent, must name the
// current version. crs applies to the body's polygon and to the answer's.
func (s *Server) handleCellPut(c *gin.Context) error {
	code, err := cellCode(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	version, _, err := ifMatch(c)
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
	if err := bindCode(f, code); err != nil {
		return err
	}
	_, existed := s.idx.Cell(code)
	cell, err := s.svc.PutCell(c.Request.Context(), f, version, actor(c))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !existed {
		status = http.StatusCreated
		c.Header("Location", "/api/v1/cells/"+string(cell.Code))
	}
	c.Header("ETag", etag(cell.Version))
	proj := s.projection(crs)
	writeGeoJSON(c, status, func(b []byte) []byte { return geojson.AppendCell(b, &cell, proj) })
	return nil
}

// cellRevisionJSON is one entry of a cell's history; Before and After are cell Features, Before null
// on the first entry.
type cellRevisionJSON struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Op      string          `json:"op"`
	Version int64           `json:"version"`
	Note    string          `json:"note,omitempty"`
	Changed []string        `json:"changed"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

// handleCellHistory serves GET /api/v1/cells/{code}/history[?crs=]: every change of the cell,
// oldest first, with the fields each one changed.
func (s *Server) handleCellHistory(c *gin.Context) error {
	code, err := cellCode(c)
	if err != nil {
		return err
	}
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	revs, err := s.svc.CellHistory(c.Request.Context(), code)
	if err != nil {
		return err
	}
	proj := s.projection(crs)
	out := struct {
		Changes []cellRevisionJSON `json:"changes"`
	}{Changes: make([]cellRevisionJSON, len(revs))}
	for i, r := range revs {
		rj := cellRevisionJSON{Seq: r.Seq, Time: r.Time.UTC(), Actor: r.Actor, Op: string(r.Op), Version: r.Version, Note: r.Note,
			Changed: registry.ChangedCellFields(r.Before, r.After), Before: json.RawMessage("null"), After: json.RawMessage("null")}
		if rj.Changed == nil {
			rj.Changed = []string{}
		}
		if r.Before != nil {
			rj.Before = geojson.AppendCell(nil, r.Before, proj)
		}
		if r.After != nil {
			rj.After = geojson.AppendCell(nil, r.After, proj)
		}
		out.Changes[i] = rj
	}
	return okJSON(c, out)
}

// bindCode makes the path's code the feature's: a different code in the body is refused.
func bindCode(f *registry.Feature, code registry.GridCode) error {
	mismatch := func(got string) error {
		return registry.Errorf(registry.Invalid, registry.CodeCodeMismatch, "the body names cell %q but the path names %q", got, code)
	}
	if id := strings.TrimSpace(f.ID); id != "" && id != string(code) {
		return mismatch(id)
	}
	for k, v := range f.Props {
		if !strings.EqualFold(k, "code") {
			continue
		}
		if v = strings.TrimSpace(v); v != "" && v != string(code) {
			return mismatch(v)
		}
		delete(f.Props, k)
	}
	f.ID = ""
	f.Props["code"] = string(code)
	return nil
}
