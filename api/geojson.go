package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/project"

	"citygrid/registry"
	"citygrid/spatial"
)

// The JSON shapes of the API. Domain types carry no json tags: every response is built from
// these DTOs by a toXJSON converter, so the wire format changes only here.

const geoJSONContentType = "application/geo+json"

// featureJSON is an RFC 7946 Feature.
type featureJSON struct {
	Type       string            `json:"type"` // "Feature"
	ID         string            `json:"id,omitempty"`
	Geometry   *geojson.Geometry `json:"geometry"`
	Properties any               `json:"properties"`
}

// pageJSON is one page of a listing: a FeatureCollection with the cursor of the next page
// (null on the last page). "next" is a foreign member, which RFC 7946 §6.1 allows.
type pageJSON struct {
	Type     string        `json:"type"`
	Features []featureJSON `json:"features"`
	Next     *string       `json:"next"`
}

// writePage answers 200 with a page of features, its next cursor and the Link rel=next header.
func writePage(c *gin.Context, features []featureJSON, next registry.Key) error {
	page := newPage(features, next)
	if page.Next != nil {
		setNextLink(c, *page.Next)
	}
	return writeJSON(c, http.StatusOK, geoJSONContentType, page)
}

func newPage(features []featureJSON, next registry.Key) pageJSON {
	p := pageJSON{Type: "FeatureCollection", Features: features}
	if features == nil {
		p.Features = []featureJSON{}
	}
	if next != 0 {
		n := encodeCursor(next)
		p.Next = &n
	}
	return p
}

// cellPropsJSON are a grid cell's properties.
type cellPropsJSON struct {
	Code      string    `json:"code"`
	Key       uint64    `json:"key"`
	Name      string    `json:"name"`
	District  string    `json:"district"`
	Street    string    `json:"street"`
	Community string    `json:"community"`
	Area      float64   `json:"area"` // m², geodesic
	Version   int64     `json:"version"`
	Updated   time.Time `json:"updated"`
}

// toCellFeature converts a cell; its geometry is given in crs. The cell may point into the
// index, so its geometry is copied before any conversion.
func (s *Server) toCellFeature(c *registry.Cell, crs spatial.CRS) featureJSON {
	var g orb.Geometry = c.Geometry
	if crs != s.wgs84 {
		g = project.Geometry(orb.Clone(g), func(p orb.Point) orb.Point { return spatial.FromWGS84(p, crs) })
	}
	return featureJSON{
		Type:     "Feature",
		ID:       string(c.Code),
		Geometry: geojson.NewGeometry(g),
		Properties: cellPropsJSON{
			Code:      string(c.Code),
			Key:       uint64(c.Key),
			Name:      c.Name,
			District:  c.Code.District(),
			Street:    c.Code.Street(),
			Community: c.Code.Community(),
			Area:      c.Area,
			Version:   c.Version,
			Updated:   c.Updated.UTC(),
		},
	}
}

// reportJSON is a census import report.
type reportJSON struct {
	Kind     string        `json:"kind"`
	Mode     string        `json:"mode"`
	Total    int           `json:"total"`
	Valid    int           `json:"valid"`
	Created  int           `json:"created"`
	Updated  int           `json:"updated"`
	Deleted  int           `json:"deleted"`
	Rejected int           `json:"rejected"`
	Stored   bool          `json:"stored"`
	Problems []problemLine `json:"problems"`
}

type problemLine struct {
	Index   int    `json:"index"` // 0-based feature index; -1 for the whole input
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func toReportJSON(r *registry.Report) reportJSON {
	out := reportJSON{
		Kind: r.Kind, Mode: string(r.Mode), Total: r.Total, Valid: r.Valid, Created: r.Created,
		Updated: r.Updated, Deleted: r.Deleted, Rejected: r.Rejected, Stored: r.Stored, Problems: make([]problemLine, len(r.Problems)),
	}
	for i, p := range r.Problems {
		out.Problems[i] = problemLine{Index: p.Index, ID: p.ID, Field: p.Field, Code: p.Code, Message: p.Message}
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
			return registry.Errorf(registry.Invalid, "invalid_input", "the body must be one GeoJSON Feature, not a collection of several")
		}
		cp := *f
		cp.Props = make(map[string]string, len(f.Props))
		for k, v := range f.Props {
			cp.Props[k] = v
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
		return nil, 0, registry.Errorf(registry.Invalid, "invalid_input", "the body must be one GeoJSON Feature; the collection is empty")
	}
	if out.Err != nil {
		return nil, 0, problemErr(*out.Err)
	}
	var version int64
	for k, v := range out.Props {
		if !strings.EqualFold(k, "version") {
			continue
		}
		delete(out.Props, k)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, 0, registry.Errorf(registry.Invalid, "invalid_version", "property version must be a positive integer, not %q", v)
		}
		version = n
	}
	if out.Geometry != nil && crs != s.wgs84 {
		out.Geometry = project.Geometry(out.Geometry, func(p orb.Point) orb.Point { return spatial.ToWGS84(p, crs) })
	}
	return out, version, nil
}

// problemErr turns a reader problem into the error of a single-record write.
func problemErr(p registry.Problem) error {
	msg := p.Message
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return &registry.Error{Kind: registry.Invalid, Code: p.Code, Message: msg}
}

// okJSON writes v as 200 application/json.
func okJSON(c *gin.Context, v any) error {
	return writeJSON(c, http.StatusOK, "application/json; charset=utf-8", v)
}
