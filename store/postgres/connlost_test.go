package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestConnLost: what counts as a broken or missing connection (retried at the start of a
// transaction, answered 503) and what is the database refusing a statement (not).
func TestConnLost(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", fmt.Errorf("begin: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"conn closed", fmt.Errorf("exec: %w", pgconn.ErrConnClosed), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"query canceled", &pgconn.PgError{Code: "57014"}, false},
		{"plain error", errors.New("boom"), false},
	} {
		if got := connLost(tt.err); got != tt.want {
			t.Errorf("connLost(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
