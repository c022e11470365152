package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/project"

	"citygrid/registry"
	"citygrid/spatial"
)

// The JSON shapes of the API that are not GeoJSON features (package geojson writes those).
// Domain types carry no json tags: these responses are built from DTOs by a toXJSON
// converter, so the wire format changes only here.

const geoJSONContentType = "application/geo+json"

// reportJSON is a census import report.
type reportJSON struct {
	Kind      string        `json:"kind"`
	Mode      string        `json:"mode"`
	Total     int           `json:"total"`
	Valid     int           `json:"valid"`
	Created   int           `json:"created"`
	Updated   int           `json:"updated"`
	Deleted   int           `json:"deleted"`
	Rejected  int           `json:"rejected"`
	Unchanged int           `json:"unchanged"`
	Moved     int           `json:"moved"`
	Retired   int           `json:"retired"`
	Stored    bool          `json:"stored"`
	DryRun    bool          `json:"dry_run"`
	Problems  []problemLine `json:"problems"`
	Warnings  []problemLine `json:"warnings"`
	CRS       string        `json:"crs,omitempty"` // the datum the coordinates were read in
}

type problemLine struct {
	Index   int    `json:"index"`   // 0-based feature index; -1 for the whole input
	Feature int    `json:"feature"` // 1-based feature number as QGIS counts it; 0 for the whole input
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func toReportJSON(r *registry.Report) reportJSON {
	out := reportJSON{
		Kind: r.Kind, Mode: string(r.Mode), Total: r.Total, Valid: r.Valid, Created: r.Created,
		Updated: r.Updated, Deleted: r.Deleted, Rejected: r.Rejected, Unchanged: r.Unchanged, Moved: r.Moved, Retired: r.Retired,
		Stored: r.Stored, DryRun: r.DryRun, Problems: problemLines(r.Problems), Warnings: problemLines(r.Warnings),
		CRS: r.CRS,
	}
	return out
}

func problemLines(ps []registry.Problem) []problemLine {
	out := make([]problemLine, len(ps))
	for i, p := range ps {
		out[i] = problemLine{Index: p.Index, Feature: p.Feature(), ID: p.ID, Field: p.Field, Code: p.Code, Message: p.Message, Hint: p.Hint}
	}
	return out
}

// writeJSON writes v as JSON with the given status and content type.
func writeJSON(c *gin.Context, status int, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Data(status, contentType, b)
	return nil
}

// decodeFeature reads one GeoJSON Feature with the census reader, so a feature written
// through the API is read exactly like a feature of an imported file (property names,
// numbers kept as text, coordinate checks; a null property counts as absent). The geometry,
// if any, is converted from crs to WGS84. A "version" property is taken out and returned
// (0 when absent).
func (s *Server) decodeFeature(body []byte, crs spatial.CRS) (*registry.Feature, int64, error) {
	var out *registry.Feature
	n := 0
	err := registry.ReadFeatures(bytes.NewReader(body), registry.FormatGeoJSON, func(f *registry.Feature) error {
		n++
		if n > 1 {
			return registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body must be one GeoJSON Feature, not a collection of several")
		}
		cp := *f
		cp.Props = make(map[string]string, len(f.Props))
		for k, v := range f.Props {
			cp.Props[k] = v
		}
		if f.Raw != nil {
			cp.Raw = maps.Clone(f.Raw)
		}
		if f.Geometry != nil {
			cp.Geometry = orb.Clone(f.Geometry)
		}
		out = &cp
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		return nil, 0, registry.Errorf(registry.Invalid, registry.CodeInvalidInput, "the body must be one GeoJSON Feature; the collection is empty")
	}
	if out.Err != nil {
		return nil, 0, out.Err.Err()
	}
	var version int64
	for k, v := range out.Props {
		if !strings.EqualFold(k, "version") {
			continue
		}
		delete(out.Props, k)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, 0, registry.Errorf(registry.Invalid, registry.CodeInvalidVersion, "property version must be a positive integer, not %q", v)
		}
		version = n
	}
	if out.Geometry != nil && crs.Offset() {
		out.Geometry = project.Geometry(out.Geometry, func(p orb.Point) orb.Point { return spatial.ToWGS84(p, crs) })
	}
	return out, version, nil
}

// okJSON writes v as 200 application/json.
func okJSON(c *gin.Context, v any) error {
	return writeJSON(c, http.StatusOK, "application/json; charset=utf-8", v)
}
