//go:build !race

package main

// raceEnabled: the test binary runs under the race detector, which slows every goroutine
// several times over; latency bounds are looser then.
const raceEnabled = false
