package h1

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// Blocking mode (Linux). While a connection is busy, its goroutine reads with a blocking
// read(2) on the socket instead of parking in the network poller: the kernel wakes exactly
// that thread when the next request arrives. On small virtual machines, where waking a
// thread through epoll and the Go scheduler's futexes costs more than the request itself,
// this takes the server's CPU per request from about 28 µs to 18 µs and raises loopback
// throughput about 1.5× (docs/benchmarks.md). It costs one OS thread per connection in
// blocking mode, so a connection leaves it after linger without a request (back to the
// poller, which holds idle connections without a thread), at most maxBlocking connections
// use it at once, and only while no more connections than GOMAXPROCS are busy
// (Lane.blockLimit, Lane.noteBusy): a thread blocked in read(2) holds a P of the Go scheduler until the
// runtime takes it back, so with more busy connections than Ps the poller serves them
// better (8 connections on 2 vCPUs: 101k requests/s, p99 1.9 ms, against 55k and 39 ms
// with every busy connection blocking).

const (
	linger      = 20 * time.Millisecond
	sendLinger  = time.Second // a blocking write waits this long for a client that does not read
	maxBlocking = 128
)

// blocker is a TCP connection's system-call access.
type blocker struct {
	rc      syscall.RawConn
	tcp     *net.TCPConn
	on      bool // the socket is in blocking mode
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
	p       []byte // the read buffer or the bytes to write
	n       int
	err     error
}

// initBlocker prepares blocking mode for a TCP connection; others never use it.
func (c *conn) initBlocker() {
	tcp, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return
	}
	// The receive timeout makes a blocking read give up after linger, the send timeout a
	// blocking write after sendLinger; neither matters in non-blocking mode.
	var err2 error
	if err := rc.Control(func(fd uintptr) {
		rtv, stv := syscall.NsecToTimeval(linger.Nanoseconds()), syscall.NsecToTimeval(sendLinger.Nanoseconds())
		if err2 = syscall.SetsockoptTimeval(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &rtv); err2 == nil {
			err2 = syscall.SetsockoptTimeval(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &stv)
		}
	}); err != nil || err2 != nil {
		return
	}
	b := &blocker{rc: rc, tcp: tcp}
	b.readFn = b.read
	b.writeFn = b.write
	c.blk = b
}

func (b *blocker) read(fd uintptr) bool {
	for {
		b.n, b.err = syscall.Read(int(fd), b.p)
		if b.err != syscall.EINTR {
			return true
		}
	}
}

func (b *blocker) write(fd uintptr) bool {
	for len(b.p) > 0 {
		n, err := syscall.Write(int(fd), b.p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			b.err = err
			return true
		}
		b.p = b.p[n:]
	}
	return true
}

// setBlocking switches the socket's mode.
func (b *blocker) setBlocking(on bool) error {
	var err error
	cerr := b.rc.Control(func(fd uintptr) {
		err = syscall.SetNonblock(int(fd), !on)
	})
	if err == nil {
		err = cerr
	}
	if err == nil {
		b.on = on
	}
	return err
}

// errLinger is a blocking read that timed out: the connection goes back to the poller.
var errLinger = errors.New("h1: no request within linger")

// readBlocking reads with a blocking read(2). io.EOF-like results keep net.Conn's meaning:
// 0 bytes and no error means the peer closed.
func (b *blocker) readBlocking(p []byte) (int, error) {
	b.p, b.n, b.err = p, 0, nil
	if err := b.rc.Read(b.readFn); err != nil {
		return 0, err
	}
	b.p = nil
	if b.err == syscall.EAGAIN {
		return 0, errLinger
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.n == 0 {
		return 0, errPeerClosed
	}
	return b.n, nil
}

// writeBlocking writes p with blocking write(2)s. When the send timeout passes (errLinger)
// it returns the bytes not yet written.
func (b *blocker) writeBlocking(p []byte) (rest []byte, err error) {
	b.p, b.err = p, nil
	if err := b.rc.Write(b.writeFn); err != nil {
		return b.p, err
	}
	rest, b.p = b.p, nil
	if b.err == syscall.EAGAIN {
		return rest, errLinger
	}
	return rest, b.err
}

// wake interrupts a blocking read (Shutdown): shutdown(2) of the read side makes it return 0.
func (b *blocker) wake() { _ = b.tcp.CloseRead() }
