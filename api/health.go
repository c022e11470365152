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

var errNotReady = registry.Errorf(registry.Unavailable, "not_ready", "the spatial index is still loading")

// handleHealthz serves GET /healthz: 200 while the process serves HTTP at all.
func (s *Server) handleHealthz(c *gin.Context) error {
	return okJSON(c, map[string]string{"status": "ok"})
}

// handleReadyz serves GET /readyz: 200 once the index is loaded, 503 before.
func (s *Server) handleReadyz(c *gin.Context) error {
	if !s.idx.Ready() {
		return errNotReady
	}
	st := s.idx.Stats()
	return writeJSON(c, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"status": "ready", "cells": st.Cells, "components": st.Components, "units": st.Units, "rules": st.Rules,
	})
}
