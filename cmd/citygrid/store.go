package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"

	"citygrid/registry"
	"citygrid/store/bolt"
	"citygrid/store/postgres"
)

// storeFlags select the store of a command: -pg URL (PostgreSQL, CITYGRID_PG_URL) or -db FILE
// (the embedded bbolt file, CITYGRID_DB). A flag on the command line beats the environment.
type storeFlags struct {
	PG string // a postgres:// URL or key=value DSN; holds the password, never print it as is
	DB string

	cmd string // the command, set by resolve, for the error when another process holds -db
}

// The PostgreSQL store is the one that nodes share: serve seeds it under its lock and
// follows its change feed.
var (
	_ exclusiveStore = (*postgres.Store)(nil)
	_ sharedStore    = (*postgres.Store)(nil)
)

const (
	envPG = "CITYGRID_PG_URL"
	envDB = "CITYGRID_DB"
)

// register adds -pg and -db. Their defaults come from the environment after parsing (resolve),
// not as flag defaults, so that -h never prints a password from CITYGRID_PG_URL.
func (f *storeFlags) register(fs *flag.FlagSet, dbHelp string) {
	fs.StringVar(&f.PG, "pg", "", "PostgreSQL database URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DB or key=value (default $"+envPG+")")
	fs.StringVar(&f.DB, "db", "", dbHelp+" (default $"+envDB+")")
}

// resolve fills the flags not given from the environment and checks that exactly one store is
// named. cmd names the command in errors.
func (f *storeFlags) resolve(fs *flag.FlagSet, cmd string) error {
	f.cmd = cmd
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case set["pg"] && set["db"]:
		return &usageError{cmd + ": give -pg or -db, not both"}
	case set["pg"] || set["db"]:
		// the flag given wins over either variable
	default:
		f.PG, f.DB = os.Getenv(envPG), os.Getenv(envDB)
		if f.PG != "" && f.DB != "" {
			return &usageError{cmd + ": both " + envPG + " and " + envDB + " are set; choose with -pg or -db"}
		}
	}
	if set["pg"] && f.PG == "" || set["db"] && f.DB == "" {
		return &usageError{cmd + ": -pg and -db need a value"}
	}
	if f.PG == "" && f.DB == "" {
		return &usageError{cmd + ": -pg URL (or " + envPG + ") or -db FILE (or " + envDB + ") is required"}
	}
	return nil
}

// String names the store for logs and messages, without its password.
func (f *storeFlags) String() string {
	if f.PG != "" {
		return redactURL(f.PG)
	}
	return f.DB
}

// open opens the store; log receives the PostgreSQL store's reconnects.
func (f *storeFlags) open(ctx context.Context, log *slog.Logger) (registry.Store, error) {
	if f.PG != "" {
		st, err := postgres.Open(ctx, f.PG, postgres.Options{Logger: log})
		if err != nil {
			return nil, scrubErr(err, f.PG)
		}
		return st, nil
	}
	st, err := bolt.Open(f.DB, bolt.Options{})
	if errors.Is(err, bolt.ErrLocked) {
		return nil, lockedError(f.cmd, f.DB, err)
	}
	return st, err
}

// lockedError explains that another process, most likely a running server, holds the
// embedded store file that cmd wanted to open, and what to do instead. A PostgreSQL store has
// no such lock: import and export run beside the servers that share it.
func lockedError(cmd, path string, err error) error {
	hint := "stop the process that holds it, or give each process its own store (-pg lets several share one)"
	switch cmd {
	case "import":
		hint = "import through the server instead: POST /api/v1/census/{cells|components|units|rules} with the file as the body"
	case "export":
		hint = "export through the server instead: GET /api/v1/export/{cells|components}"
	case "serve":
		hint = "another server or an import or export is using it; stop it first, or serve a PostgreSQL store (-pg) that several nodes share"
	}
	return fmt.Errorf("the store %s is held by another process, most likely a running \"citygrid serve\" "+
		"(an embedded store opens in one process at a time): %s: %w", path, hint, err)
}

const passwordMask = "xxxxx"

var (
	dsnPassword    = regexp.MustCompile(`(?i)password\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)
	rawURLPassword = regexp.MustCompile(`://([^:/@]*):[^@/]*@`)
)

// redactURL returns the connection string s with its password masked: a URL's user password
// or password parameter, or a key=value password field.
func redactURL(s string) string {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return rawURLPassword.ReplaceAllString(s, "://$1:"+passwordMask+"@")
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), passwordMask)
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", passwordMask)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return dsnPassword.ReplaceAllString(s, "password="+passwordMask)
}

// passwordOf returns the password in the connection string s, "" when it holds none.
func passwordOf(s string) string {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return ""
		}
		if p, ok := u.User.Password(); ok {
			return p
		}
		return u.Query().Get("password")
	}
	if m := dsnPassword.FindStringSubmatch(s); m != nil {
		return strings.Trim(m[1], "'")
	}
	return ""
}

// scrubbedError is an error whose text no longer holds the password; it does not unwrap, since
// the chain it replaces may carry the connection config.
type scrubbedError struct{ msg string }

func (e *scrubbedError) Error() string { return e.msg }

// scrubErr is a second line of defence over the store's own redaction: err unchanged when its
// text holds neither the password of pgURL nor the URL itself, else its text with both masked.
func scrubErr(err error, pgURL string) error {
	msg := err.Error()
	clean := strings.ReplaceAll(msg, pgURL, redactURL(pgURL))
	if pw := passwordOf(pgURL); len(pw) >= 1 {
		for _, form := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
			clean = strings.ReplaceAll(clean, form, passwordMask)
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean}
}

// runMigrate serves `citygrid migrate`: it applies the PostgreSQL schema migrations the
// database lacks (a no-op when it is up to date), or creates or checks an embedded store file.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sf storeFlags
	fs := newFlagSet("migrate", stderr)
	sf.register(fs, "embedded store file: created, or its schema version checked")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("migrate takes no arguments, got %q", pos)}
	}
	if err := sf.resolve(fs, "migrate"); err != nil {
		return err
	}
	if sf.PG != "" {
		if err := postgres.Migrate(ctx, sf.PG); err != nil {
			return scrubErr(err, sf.PG)
		}
		fmt.Fprintf(stdout, "%s: schema up to date\n", sf.String())
		return nil
	}
	st, err := bolt.Open(sf.DB, bolt.Options{})
	if errors.Is(err, bolt.ErrLocked) {
		return lockedError("migrate", sf.DB, err)
	}
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: schema up to date\n", sf.String())
	return nil
}
