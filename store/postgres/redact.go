package postgres

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"

	"citygrid/registry"

	"github.com/jackc/pgx/v5/pgconn"
)

const mask = "xxxxx"

var (
	dsnPassword       = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)
	brokenURLPassword = regexp.MustCompile(`://([^:/@]*):[^@/]*@`)
)

// redactURL returns the connection string s with its password masked: the URL's user
// password, a password query parameter, a password=… DSN field, and any other occurrence of
// secret.
func redactURL(s, secret string) string {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		if u, err := url.Parse(s); err == nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), mask)
			}
			if q := u.Query(); q.Has("password") {
				q.Set("password", mask)
				u.RawQuery = q.Encode()
			}
			return scrub(u.String(), secret)
		}
		s = brokenURLPassword.ReplaceAllString(s, "://$1:"+mask+"@")
	}
	s = dsnPassword.ReplaceAllString(s, "password="+mask)
	return scrub(s, secret)
}

// scrub replaces every occurrence of secret in s, raw or URL-escaped.
func scrub(s, secret string) string {
	if secret == "" {
		return s
	}
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		s = strings.ReplaceAll(s, form, mask)
	}
	return s
}

// redactedError is an error whose text had the password scrubbed. It unwraps only to errors
// that cannot reveal the password: connection errors keep the whole connection config
// (password included) in a field, so their chain is cut.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// redact returns err with secret scrubbed from its text. The original chain stays reachable
// through errors.Is/As only when nothing in it can carry the password.
func redact(err error, secret string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := scrub(msg, secret)
	var ce *pgconn.ConnectError
	var pe *pgconn.ParseConfigError
	if clean == msg && !errors.As(err, &ce) && !errors.As(err, &pe) {
		return err
	}
	var cause error
	var re *registry.Error
	switch {
	case errors.As(err, &re):
		cause = re
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	return &redactedError{msg: clean, cause: cause}
}
