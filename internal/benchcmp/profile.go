package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"citygrid/api"
	"citygrid/registry"
	"citygrid/store/bolt"
)

// batchLua POSTs the body of the file named by BODY to /api/v1/lookup, for profiling.
const batchLua = `local body
function init(args)
  local f = assert(io.open(os.getenv("BODY"), "r"))
  body = f:read("*a")
  f:close()
end
function request()
  return wrk.format("POST", "/api/v1/lookup", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.6f p50_us=%d p90_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
`

// profile serves the API in this process, over the index loaded by inProcessPhase and the
// same store, as `citygrid serve` wires it, and writes a CPU profile of it while wrk drives
// it from outside the process: single-point lookups over 2 connections (profile-lookup.pprof),
// batches (profile-batch.pprof) and box listings (profile-bbox.pprof) over one. Read them with `go tool pprof -top DIR/profile-lookup.pprof`.
func (b *bench) profile(ctx context.Context) error {
	st, err := bolt.Open(b.db, bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	svc := registry.NewService(st, b.idx, registry.DefaultCatalog(), log)
	h := api.NewServer(api.Config{Index: b.idx, Service: svc, Log: log}).Handler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()

	bodies, _, _ := b.batchBodies()
	if err := os.WriteFile(b.path("batch-body.json"), bodies[0], 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(b.path("batch.lua"), []byte(batchLua), 0o644); err != nil {
		return err
	}
	var paths strings.Builder
	for _, bd := range b.boxes {
		paths.WriteString(b.bboxURL("", bd))
		paths.WriteByte('\n')
	}
	if err := os.WriteFile(b.path("bbox-paths.txt"), []byte(paths.String()), 0o644); err != nil {
		return err
	}
	cases := []struct {
		name string
		run  func() (wrkResult, error)
	}{
		{"lookup", func() (wrkResult, error) {
			return runWrk(ctx, b.path("lookup.lua"), url, b.ds.PointsFile, "", b.cfg.Clients, b.cfg.Duration, 0)
		}},
		{"batch", func() (wrkResult, error) {
			return runWrkEnv(ctx, b.path("batch.lua"), url, 1, b.cfg.Duration, 0, "BODY="+b.path("batch-body.json"))
		}},
		{"bbox", func() (wrkResult, error) {
			return runWrkEnv(ctx, b.path("lookup.lua"), url, 1, b.cfg.Duration, 0, "PATHS="+b.path("bbox-paths.txt"))
		}},
	}
	for _, c := range cases {
		path := b.path("profile-" + c.name + ".pprof")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		res, err := c.run()
		pprof.StopCPUProfile()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("profile %s: %w", c.name, err)
		}
		b.logf("profile %s: %s (%.0f req/s in process)", c.name, path, res.rate())
	}
	return nil
}
