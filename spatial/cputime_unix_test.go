//go:build unix

package spatial

import (
	"syscall"
	"testing"
)

// reportCPU reports the process CPU time per operation ("cpu-ns/op") when the returned
// function runs. On a shared, loaded machine wall-clock ns/op includes time spent waiting
// for a core; CPU time does not, so baseline and index compare fairly.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
