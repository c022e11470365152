package api

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/registry"
)

func (s *Server) registerCensusRoutes(r *gin.RouterGroup) {
	r.POST("/census/:kind", s.wrap(s.handleCensus))
	r.GET("/export/:kind", s.wrap(s.handleExport))
}

// handleCensus serves POST /api/v1/census/{cells|components|units|rules}[?mode=strict|partial][&format=geojson|ndjson|csv]:
// a census import with the same semantics and report as `citygrid import`. 200 with the
// report when something was stored; 422 import_rejected with the report when nothing was.
// The format of cells and components comes from ?format=, else Content-Type
// (application/geo+json, application/geo+json-seq or application/x-ndjson, text/csv),
// else the body's first bytes.
func (s *Server) handleCensus(c *gin.Context) error {
	kind := c.Param("kind")
	switch kind {
	case "cells", "components", "units", "rules":
	default:
		return &httpError{status: http.StatusNotFound, code: "not_found", detail: "census kinds are cells, components, units and rules"}
	}
	mode, err := registry.ParseMode(c.Query("mode"))
	if err != nil {
		return err
	}
	// The whole upload is read before the import starts: an import holds the Service's write
	// lock while it reads, and a slow client must not hold every other write up with it.
	body, err := readBody(c, s.maxBody)
	if err != nil {
		return err
	}
	opt := registry.ImportOptions{Mode: mode, Actor: actor(c)}
	if kind == "cells" || kind == "components" {
		if opt.Format, err = censusFormat(c, body); err != nil {
			return err
		}
	}
	ctx := c.Request.Context()
	r := bytes.NewReader(body)
	rep, err := s.svc.Import(ctx, registry.Census(kind), r, opt)
	if errors.Is(err, registry.ErrImportRejected) {
		return &rejectedError{report: rep}
	}
	if err != nil {
		return err
	}
	return okJSON(c, toReportJSON(&rep))
}

// censusFormat picks the census format of a request.
func censusFormat(c *gin.Context, body []byte) (registry.Format, error) {
	switch f := registry.Format(c.Query("format")); f {
	case registry.FormatGeoJSON, registry.FormatNDJSON, registry.FormatCSV:
		return f, nil
	case "":
	default:
		return "", registry.Errorf(registry.Invalid, "invalid_format", "format must be geojson, ndjson or csv, not %q", string(f))
	}
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err == nil {
			switch mt {
			case "application/geo+json", "application/json":
				return registry.FormatGeoJSON, nil
			case "application/geo+json-seq", "application/x-ndjson", "application/x-geojson-seq", "application/jsonl":
				return registry.FormatNDJSON, nil
			case "text/csv":
				return registry.FormatCSV, nil
			}
		}
	}
	return registry.DetectFormat("", body[:min(len(body), 4096)])
}

// handleExport serves GET /api/v1/export/{cells|components}[?include_removed=true]: every
// stored record as one streamed GeoJSON FeatureCollection.
func (s *Server) handleExport(c *gin.Context) error {
	ctx := c.Request.Context()
	switch c.Param("kind") {
	case "cells":
		c.Header("Content-Type", geoJSONContentType)
		c.Status(http.StatusOK)
		_, err := geojson.ExportCells(ctx, c.Writer, s.svc)
		return err
	case "components":
		incl := false
		if raw := c.Query("include_removed"); raw != "" {
			v, err := strconv.ParseBool(raw)
			if err != nil {
				return registry.Errorf(registry.Invalid, "invalid_input", "include_removed must be true or false")
			}
			incl = v
		}
		c.Header("Content-Type", geoJSONContentType)
		c.Status(http.StatusOK)
		_, err := geojson.ExportComponents(ctx, c.Writer, s.svc, incl)
		return err
	}
	return &httpError{status: http.StatusNotFound, code: "not_found", detail: "exports are cells and components"}
}
