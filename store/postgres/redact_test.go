package postgres_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"citygrid/store/postgres"

	"github.com/jackc/pgx/v5/pgproto3"
)

const secret = "Sup3r-S3cret_pw"

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://alice:" + secret + "@db:5432/city", "postgres://alice:xxxxx@db:5432/city"},
		{"postgresql://alice@db/city?password=" + secret + "&sslmode=disable", "postgresql://alice@db/city?password=xxxxx&sslmode=disable"},
		{"host=db user=alice password=" + secret + " dbname=city", "host=db user=alice password=xxxxx dbname=city"},
		{"host=db password='" + secret + " x' dbname=city", "host=db password=xxxxx dbname=city"},
		{"postgres://alice:" + secret + "@db:5432/city%zz", "postgres://alice:xxxxx@db:5432/city%zz"},
		{"postgres://alice@db/city", "postgres://alice@db/city"},
	}
	for _, tt := range tests {
		if got := postgres.RedactURL(tt.in, ""); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// fakeServer listens on 127.0.0.1 and answers every connection as a PostgreSQL server that
// asks for a password and rejects it, quoting it back in the message, as a misconfigured or
// hostile server might. It returns the port.
func fakeServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				be := pgproto3.NewBackend(conn, conn)
				for {
					msg, err := be.ReceiveStartupMessage()
					if err != nil {
						return
					}
					switch msg.(type) {
					case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
						conn.Write([]byte("N"))
						continue
					}
					break
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				if err := be.Flush(); err != nil {
					return
				}
				if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
					return
				}
				msg, err := be.Receive()
				if err != nil {
					return
				}
				pw, _ := msg.(*pgproto3.PasswordMessage)
				got := ""
				if pw != nil {
					got = pw.Password
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01",
					Message: fmt.Sprintf("password authentication failed: %q is wrong", got)})
				be.Flush()
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestOpenWrongPassword opens stores with a password the server rejects (and quotes back),
// with URLs that do not parse, and on a port where nothing listens: every call must fail, and
// no error may show the password.
func TestOpenWrongPassword(t *testing.T) {
	port := fakeServer(t)
	closed := func() string { // a port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		return p
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name, url string
		wantText  string // the error must say this much
	}{
		{"rejected URL", "postgres://alice:" + secret + "@127.0.0.1:" + port + "/city?sslmode=disable", "28P01"},
		{"rejected URL with escapes", (&url.URL{Scheme: "postgres", User: url.UserPassword("alice", secret+"@/:"),
			Host: "127.0.0.1:" + port, Path: "/city"}).String(), "28P01"},
		{"rejected DSN", "host=127.0.0.1 port=" + port + " user=alice password=" + secret + " dbname=city", "28P01"},
		{"password in query", "postgres://alice@127.0.0.1:" + port + "/city?password=" + secret, "28P01"},
		{"nothing listening", "postgres://alice:" + secret + "@127.0.0.1:" + closed + "/city", "postgres://alice:xxxxx@127.0.0.1"},
		{"malformed URL", "postgres://alice:" + secret + "@127.0.0.1:" + port + "/city%zz", "malformed"},
		{"malformed DSN", "host=127.0.0.1 password=" + secret + " port=notaport", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tt.url, postgres.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tt.name)
			}
			for _, bad := range []string{secret, url.PathEscape(secret + "@/:"), url.QueryEscape(secret + "@/:")} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("Open error shows the password: %v", err)
				}
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Open error = %q, want it to say %q", err, tt.wantText)
			}
			err = postgres.Migrate(ctx, tt.url)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("Migrate error = %v, want one without the password", err)
			}
		})
	}
}
