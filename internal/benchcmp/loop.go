package main

import (
	"context"
	"time"
)

// loopResult is one timed loop: how many operations, how long, and each one's latency.
type loopResult struct {
	Ops       int
	Elapsed   time.Duration
	Latencies []time.Duration
}

func (r loopResult) rate(perOp float64) float64 { return float64(r.Ops) * perOp / r.Elapsed.Seconds() }

// timeOps calls op(i) for i = 0, 1, … (cycling over n inputs) until at least minOps
// operations and at least d have passed, timing each call. One caller, so the figures are
// sequential latency and 1/latency throughput.
func timeOps(ctx context.Context, n, minOps int, d time.Duration, op func(i int) error) (loopResult, error) {
	var r loopResult
	start := time.Now()
	last := start
	for i := 0; ; i++ {
		if err := op(i % n); err != nil {
			return r, err
		}
		now := time.Now()
		r.Latencies = append(r.Latencies, now.Sub(last))
		last = now
		r.Ops++
		if r.Ops >= minOps && now.Sub(start) >= d {
			break
		}
		if r.Ops%1024 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
	r.Elapsed = last.Sub(start)
	return r, nil
}

// rateOps is timeOps without the per-call clock reads, for sub-microsecond operations whose
// throughput the clock would distort: it reads the clock once per block of 256 calls.
func rateOps(ctx context.Context, n int, d time.Duration, op func(i int) error) (loopResult, error) {
	var r loopResult
	start := time.Now()
	for i := 0; ; i++ {
		if err := op(i % n); err != nil {
			return r, err
		}
		r.Ops++
		if r.Ops%256 == 0 {
			if r.Elapsed = time.Since(start); r.Elapsed >= d || ctx.Err() != nil {
				return r, ctx.Err()
			}
		}
	}
}

// addLoop records one run of an operation from a throughput loop (rate) and a latency loop.
func (m *measure) addLoop(rate float64, lat loopResult) {
	m.add(rate, percentile(lat.Latencies, 50), percentile(lat.Latencies, 99))
}
