package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100 on every Linux
// architecture Go supports (getconf CLK_TCK).
const clockTicks = 100

// procCPU returns the user + system CPU time process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat line. The
// command name (field 2) is in parentheses and may hold spaces, so fields are counted from
// the last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// sumCPU adds procCPU over pids; processes that have gone are skipped.
func sumCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		if d, err := procCPU(pid); err == nil {
			total += d
		}
	}
	return total
}

// machineBusy returns the CPU time all cores have spent running processes so far (the first
// line of /proc/stat: user, nice, system, steal; guest time is inside user). Interrupt and
// softirq time are left out: on loopback the softirq time is mostly the benchmark's own
// packets (about 0.3 cores at 35,000 requests/s here), charged to no process.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseProcStat(line)
}

func parseProcStat(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat line %q", line)
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 8} { // user nice system (idle iowait irq softirq) steal
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc/stat line %q", line)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// window is what a load run used between two samples taken 1 s after its start and 1 s
// before its end: wall time, the CPU of the server processes, of the load generator and of
// the whole machine. What remains of the machine's is everyone else's: other work on a
// shared machine, which the figures of that run suffer from.
type window struct {
	From                          time.Time
	Wall, Server, Client, Machine time.Duration
}

// others is the CPU the rest of the machine used during the window, in cores.
func (w window) others() float64 {
	if w.Wall <= 0 {
		return math.NaN()
	}
	return max(0, float64(w.Machine-w.Server-w.Client)) / float64(w.Wall)
}

// runSampled runs cmd, which lasts about d, and samples its window (see window). servers
// names the server processes once the run is under way; with d < 4 s no window is taken.
// The command's output is returned whatever the error.
func runSampled(ctx context.Context, cmd *exec.Cmd, d time.Duration, servers func() ([]int, error)) ([]byte, window, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, window{}, err
	}
	start := time.Now()
	var w window
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if d < 4*time.Second {
			return
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return
		}
		pids, err := servers()
		if err != nil || len(pids) == 0 {
			return
		}
		take := func() (at time.Time, srv, cli, all time.Duration, err error) {
			at = time.Now()
			srv = sumCPU(pids)
			if cli, err = procCPU(cmd.Process.Pid); err != nil {
				return
			}
			all, err = machineBusy()
			return
		}
		t1, s1, c1, m1, err := take()
		if err != nil {
			return
		}
		select {
		case <-time.After(time.Until(start.Add(d - time.Second))):
		case <-ctx.Done():
			return
		}
		t2, s2, c2, m2, err := take()
		if err != nil {
			return
		}
		w = window{From: t1, Wall: t2.Sub(t1), Server: s2 - s1, Client: c2 - c1, Machine: m2 - m1}
	}()
	err := cmd.Wait()
	<-sampled
	return out.Bytes(), w, err
}

// perOp divides the server's and the client's CPU of the window by the n operations
// completed in it (0, 0 without a window).
func (w window) perOp(n float64) (srv, cli time.Duration) {
	if w.Wall <= 0 || n <= 0 {
		return 0, 0
	}
	return time.Duration(float64(w.Server) / n), time.Duration(float64(w.Client) / n)
}
