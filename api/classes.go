package api

import (
	"github.com/gin-gonic/gin"

	"citygrid/registry"
)

func (s *Server) registerClassRoutes(r *gin.RouterGroup) {
	r.GET("/classes", s.wrap(s.handleClassList))
	r.GET("/classes/:kind/:code", s.wrap(s.handleClassGet))
}

// classJSON is one entry of the class catalogue.
type classJSON struct {
	Code          string `json:"code"`
	Name          string `json:"name"`
	Major         string `json:"major"`
	MajorName     string `json:"major_name"`
	Standard      string `json:"standard"`
	Kind          string `json:"kind"`
	Uncertain     bool   `json:"uncertain"`
	Note          string `json:"note"`
	MapsTo        string `json:"maps_to"`
	NoCounterpart bool   `json:"no_counterpart"`
}

func toClassJSON(cl *registry.Class) classJSON {
	return classJSON{
		Code: cl.Code, Name: cl.Name, Major: cl.Major, MajorName: cl.MajorName, Standard: string(cl.Standard),
		Kind: string(cl.Kind), Uncertain: cl.Uncertain, Note: cl.Note, MapsTo: cl.MapsTo, NoCounterpart: cl.NoCounterpart,
	}
}

func parseClassKind(s string) (registry.ClassKind, error) {
	switch k := registry.ClassKind(s); k {
	case registry.KindComponent, registry.KindEvent:
		return k, nil
	}
	return "", registry.Errorf(registry.Invalid, registry.CodeInvalidKind, "kind must be component or event, not %q", s)
}

// handleClassList serves GET /api/v1/classes[?kind=component|event][&standard=gb47678-2026|legacy|local]:
// the catalogue, components before events, each sorted by code.
func (s *Server) handleClassList(c *gin.Context) error {
	kinds := []registry.ClassKind{registry.KindComponent, registry.KindEvent}
	if raw := c.Query("kind"); raw != "" {
		k, err := parseClassKind(raw)
		if err != nil {
			return err
		}
		kinds = kinds[:0]
		kinds = append(kinds, k)
	}
	std := registry.Standard(c.Query("standard"))
	switch std {
	case "", registry.StandardGB2026, registry.StandardLegacy, registry.StandardLocal:
	default:
		return registry.Errorf(registry.Invalid, registry.CodeInvalidStandard, "standard must be gb47678-2026, legacy or local, not %q", string(std))
	}
	out := struct {
		Classes []classJSON `json:"classes"`
	}{Classes: []classJSON{}}
	for _, k := range kinds {
		for _, cl := range s.catalog.List(k, std) {
			out.Classes = append(out.Classes, toClassJSON(&cl))
		}
	}
	return okJSON(c, out)
}

// handleClassGet serves GET /api/v1/classes/{kind}/{code}: one class, 5-digit or legacy 4-digit.
func (s *Server) handleClassGet(c *gin.Context) error {
	k, err := parseClassKind(c.Param("kind"))
	if err != nil {
		return err
	}
	cl, ok := s.catalog.Lookup(k, c.Param("code"))
	if !ok {
		return registry.ErrClassNotFound
	}
	return okJSON(c, toClassJSON(&cl))
}
