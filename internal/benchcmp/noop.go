package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// The no-op responder is the ceiling of the single-point comparison: a process that reads
// HTTP/1.1 requests and answers each with a fixed body the size of a lookup answer, with
// blocking system calls and nothing else (no parsing beyond the blank line, no lookup, no
// metrics). On a machine where wrk and the server share the cores, no HTTP server can
// answer more requests a second than this one.

// noopFlag runs the responder instead of the benchmark: benchcmp -noop-server ADDR SIZE.
// runNoop serves until killed and returns only an error.
const noopFlag = "-noop-server"

func runNoop(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: benchcmp -noop-server ADDR SIZE")
	}
	size, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	body := bytes.Repeat([]byte("x"), size)
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"), body...)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go noopConn(c.(*net.TCPConn), resp)
	}
}

func noopConn(c *net.TCPConn, resp []byte) {
	defer c.Close()
	f, err := c.File() // a blocking duplicate of the socket
	if err != nil {
		return
	}
	defer f.Close()
	fd := int(f.Fd())
	if syscall.SetNonblock(fd, false) != nil {
		return
	}
	buf := make([]byte, 8192)
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			return
		}
		n += m
		for {
			i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			for out := resp; len(out) > 0; {
				w, err := syscall.Write(fd, out)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					return
				}
				out = out[w:]
			}
			n = copy(buf, buf[i+4:n])
		}
		if n == len(buf) {
			return
		}
	}
}

// startNoop runs the responder in a process of its own, answering size-byte bodies.
func startNoop(ctx context.Context, size int) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &server{URL: "http://" + addr, done: make(chan error, 1)}
	s.cmd = exec.Command(exe, noopFlag, addr, strconv.Itoa(size))
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(5 * time.Millisecond) {
		if resp, err := client.Get(s.URL + "/"); err == nil {
			resp.Body.Close()
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.stop()
	return nil, errors.New("the no-op responder did not answer")
}
