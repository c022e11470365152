// Command citygrid is the citygrid binary: the HTTP server (serve), census import and export,
// PostgreSQL schema migrations (migrate) and the demo-city generator (fixtures). It holds
// wiring only; the logic lives in registry, spatial, store/bolt, store/postgres, api and
// fixtures.
//
// Exit status: 0 on success, 1 when the command failed or an import rejected features,
// 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// usageError is a command line the program cannot run: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitError is a failure already reported on the output (an import's report): its message is
// not printed again.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

const usage = `citygrid: the digital urban management grid and component registry

Usage:
  citygrid serve    STORE [-addr HOST:PORT] [-demo] [-snap-radius M] [-tls-cert FILE -tls-key FILE]
                                                                      serve the HTTP API
  citygrid import   STORE -kind KIND [-mode strict|partial] [-format F] [-actor NAME] PATH...
  citygrid export   STORE -kind cells|components [-o FILE]
  citygrid migrate  STORE                                               apply schema migrations
  citygrid fixtures -out DIR [-cells N] [-components N] [-seed N]
  citygrid version
  citygrid help

STORE is -pg URL (PostgreSQL: postgres://USER[:PASSWORD]@HOST[:PORT]/DB; several serve
nodes may share one database) or -db FILE (the embedded store: one process at a time).
Run "citygrid COMMAND -h" for a command's flags. CITYGRID_PG_URL, CITYGRID_DB and
CITYGRID_ADDR set the defaults of -pg, -db and -addr.
`

// run executes one command line (without the program name) and reports errors on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdout, stderr)
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(stderr, "citygrid: "+ee.msg)
		}
	default:
		fmt.Fprintln(stderr, "citygrid: "+err.Error())
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "import":
		return runImport(ctx, rest, stdout, stderr)
	case "export":
		return runExport(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "fixtures":
		return runFixtures(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// newFlagSet returns a FlagSet whose errors come back to run instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("citygrid "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// newLogger returns the process logger on w: format "json" or "text", level debug, info,
// warn or error.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, &usageError{fmt.Sprintf("-log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, &usageError{fmt.Sprintf("-log-format %q: want json or text", format)}
}

// versionString names the build: the module version when built from a tagged module, and the
// VCS revision when the build recorded one.
func versionString() string {
	v := "(devel)"
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	out := "citygrid " + v + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if rev != "" {
		out += " " + rev
	}
	return out
}
