package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"citygrid/registry"
)

func (s *Server) registerHealthRoutes(e *gin.Engine, g prometheus.Gatherer) {
	e.GET("/healthz", s.wrap(s.handleHealthz))
	e.GET("/readyz", s.wrap(s.handleReadyz))
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(g, promhttp.HandlerOpts{})))
}

var errNotReady = registry.Errorf(registry.Unavailable, registry.CodeNotReady, "the spatial index is still loading")

// handleHealthz serves GET /healthz: 200 while the process serves HTTP at all.
func (s *Server) handleHealthz(c *gin.Context) error {
	return okJSON(c, map[string]string{"status": "ok"})
}

// handleReadyz serves GET /readyz: 200 once the index is loaded, 503 before. The body counts
// what the index holds and, while the node follows the store's change feed, the last change
// seq it applied (applied_seq).
func (s *Server) handleReadyz(c *gin.Context) error {
	if !s.idx.Ready() {
		return errNotReady
	}
	st := s.idx.Stats()
	out := map[string]any{
		"status": "ready", "cells": st.Cells, "components": st.Components, "units": st.Units, "rules": st.Rules,
	}
	if s.svc.Following() {
		// The change seq this node's index reflects: nodes of one database agree once equal.
		out["applied_seq"] = s.svc.AppliedSeq()
	}
	return writeJSON(c, http.StatusOK, "application/json; charset=utf-8", out)
}
