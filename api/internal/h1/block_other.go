//go:build !linux

package h1

import "errors"

// Blocking mode is Linux only (block_linux.go); elsewhere every connection waits in the
// network poller.

const maxBlocking = 0

type blocker struct{ on bool }

func (c *conn) initBlocker()                              {}
func (b *blocker) setBlocking(bool) error                 { return errNoBlocking }
func (b *blocker) readBlocking([]byte) (int, error)       { return 0, errNoBlocking }
func (b *blocker) writeBlocking(p []byte) ([]byte, error) { return p, errNoBlocking }
func (b *blocker) wake()                                  {}

var (
	errLinger     = errNoBlocking
	errNoBlocking = errors.New("h1: no blocking mode on this system")
)
