// Package api is citygrid's HTTP API: a gin router over a spatial.Index (reads) and a
// registry.Service (writes, which keep the index in step with the store).
//
// Routes live under /api/v1 — lookup, nearest, components, cells, classes, units, rules,
// census (with its background jobs, jobs.go), export and the change feed (changes.go) — plus
// /healthz, /readyz and /metrics;
// each file registers its resource's routes at its top. Geometry is GeoJSON (RFC 7946) in
// WGS84 lon/lat unless ?crs=gcj02|bd09|cgcs2000|wgs84 asks for another datum: every route
// with coordinates takes it (crsRoutes), for what it reads and what it answers, and the
// others refuse it (refuseCRS); distances are metres.
//
// Handlers are thin: they parse, make one domain call, convert with a toXJSON function and
// write. Every error goes through statusOf, the one map from registry.Kind (and a few HTTP
// conditions: 405, 428, 413 body limits, 422 rejected imports) to a status; errors are
// answered as application/problem+json documents {type, title, status, code, detail} whose
// code is the registry error's stable Code. Errors that are not *registry.Error are logged
// once and shown as "internal error".
//
// GET /api/v1/lookup is the dispatch engine's hot path: its query is read with
// url.ParseQuery and its JSON written by hand into a pooled buffer (BenchmarkLookupHandler
// reports its allocations).
package api
