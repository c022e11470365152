package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"citygrid/registry"
	"citygrid/spatial"
)

// This file keeps the batch lookup as it was before the one-pass parser, the fragment
// cache and the parallel resolve, as the named baseline of BenchmarkLookupBatch and the
// reference of FuzzDecodeBatch.

// BaselineBatchPath is where BaselineBatchHandler serves the old POST /api/v1/lookup.
const BaselineBatchPath = "/api/v1/lookup-baseline"

// BaselineBatchHandler returns a full router (same middleware) that also serves the old
// batch handler at BaselineBatchPath.
func BaselineBatchHandler(cfg Config) http.Handler {
	s := NewServer(cfg)
	s.engine.POST(BaselineBatchPath, s.wrap(s.handleLookupBatchBaseline))
	return s.engine
}

func (s *Server) handleLookupBatchBaseline(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	class := c.Query("class")
	body, err := readBody(c, nil)
	if err != nil {
		return err
	}
	pts, err := decodeBatchBaseline(body)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 32+len(pts)*200)
	b = append(b, `{"results":[`...)
	for i, raw := range pts {
		if i > 0 {
			b = append(b, ',')
		}
		p, ok := decodePositionBaseline(raw)
		if !ok {
			b = appendResultError(b, registry.ErrInvalidPoint)
			continue
		}
		p = spatial.ToWGS84(p, crs)
		res, noUnit, err := s.lookup(p, class, allFields)
		if err != nil {
			var re *registry.Error
			if !errors.As(err, &re) {
				return err
			}
			b = appendResultError(b, re)
			continue
		}
		b = appendLookup(b, p, &res, noUnit, allFields, nil)
	}
	b = append(b, "]}"...)
	writeRaw(c, http.StatusOK, jsonContentType, b)
	return nil
}

func decodeBatchBaseline(body []byte) ([]json.RawMessage, error) {
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
		if mp.Coordinates == nil {
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

func decodePositionBaseline(raw json.RawMessage) (orb.Point, bool) {
	var xy []float64
	if err := json.Unmarshal(raw, &xy); err != nil || len(xy) < 2 || len(xy) > 3 {
		return orb.Point{}, false
	}
	p := orb.Point{xy[0], xy[1]}
	return p, registry.ValidPoint(p)
}
