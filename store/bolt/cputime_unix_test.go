//go:build unix

package bolt

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time this process has used: benchmarks report it next to
// wall time because the machines they run on are shared.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
