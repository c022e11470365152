package main

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"
)

// capWarnEvery is how often, at most, the log says that the connection cap holds new
// connections back.
const capWarnEvery = 10 * time.Second

// connLimiter caps a listener's open connections (netutil.LimitListener: beyond the cap new
// connections wait in the kernel's accept queue), counts them for the gauge
// citygrid_http_open_connections, and logs a warning, at most once every capWarnEvery, when
// an accepted connection reaches the cap: until one closes, new connections wait unanswered.
type connLimiter struct {
	net.Listener
	max      int64
	log      *slog.Logger
	open     atomic.Int64
	lastWarn atomic.Int64 // unix nanoseconds of the last warning
}

// limitConns wraps ln; the gauge is registered on reg.
func limitConns(ln net.Listener, max int, log *slog.Logger, reg prometheus.Registerer) *connLimiter {
	l := &connLimiter{Listener: netutil.LimitListener(ln, max), max: int64(max), log: log}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "citygrid_http_open_connections",
		Help: "Open HTTP connections; at -max-conns new ones wait to be accepted.",
	}, func() float64 { return float64(l.open.Load()) }))
	return l
}

func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if n := l.open.Add(1); n >= l.max {
		l.warnAtCap(n)
	}
	return &countedConn{Conn: c, l: l}, nil
}

func (l *connLimiter) warnAtCap(open int64) {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if last != 0 && now-last < int64(capWarnEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("connection limit reached: new connections wait until one closes",
		"open", open, "max_conns", l.max)
}

// countedConn takes itself off its listener's count when closed, once.
type countedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
