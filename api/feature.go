package api

import (
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
)

// Features are written by package geojson. What only the API knows is added here: the class
// names of the catalogue, the datum an answer is asked in (?crs=) and the pooled answer
// buffer.

// projection returns the conversion of stored WGS84 points to crs; nil for WGS84 itself.
func (s *Server) projection(crs spatial.CRS) geojson.Projection {
	return crs.FromWGS84Func()
}

// appendComponent appends c as a component Feature, with its class name from the catalogue
// (the legacy class's when it has no 2026 class) and its point through proj.
func (s *Server) appendComponent(b []byte, c *registry.Component, proj geojson.Projection) []byte {
	return geojson.AppendComponent(b, c, geojson.ClassName(s.catalog, c), proj)
}

// writeGeoJSON answers status with the GeoJSON document that appendBody appends to a pooled
// buffer.
func writeGeoJSON(c *gin.Context, status int, appendBody func(b []byte) []byte) {
	bp := featurePool.Get().(*[]byte)
	b := appendBody((*bp)[:0])
	writeRaw(c, status, geoJSONContentTypes, b)
	if cap(b) <= maxPooledOut {
		*bp = b
		featurePool.Put(bp)
	}
}

// writePage answers 200 with one page of a listing: n features, each appended by feature,
// and the cursor of the next page (null on the last), also given as a Link rel="next" header.
func writePage(c *gin.Context, n int, feature func(b []byte, i int) []byte, next registry.Key) {
	cursor := encodeCursor(next)
	setNextLink(c, cursor)
	writeGeoJSON(c, http.StatusOK, func(b []byte) []byte { return geojson.AppendPage(b, n, feature, cursor) })
}

// featurePool recycles the buffers of GeoJSON answers (a page of a few hundred components is
// a few hundred kilobytes).
var featurePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// geoJSONContentTypes is geoJSONContentType as a header value (see jsonContentType).
var geoJSONContentTypes = []string{geoJSONContentType}

// writeComponent answers status with c as a component Feature, its point through proj.
func (s *Server) writeComponent(c *gin.Context, status int, comp *registry.Component, proj geojson.Projection) {
	writeGeoJSON(c, status, func(b []byte) []byte { return s.appendComponent(b, comp, proj) })
}
