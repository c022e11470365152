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
	case errors.As(err, new(*helpRequest)):
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// usage is the general help: the commands and the store flags.
func usage() string {
	return `citygrid: the digital urban management grid and component registry

Usage:
  citygrid COMMAND [flags] [arguments]

Commands:
` + commandList() + `
STORE is -pg URL (PostgreSQL: postgres://USER[:PASSWORD]@HOST[:PORT]/DB; several serve
nodes may share one database) or -db FILE (the embedded store: one process at a time, so
while a server holds it, import and export through the server's routes).
Flags may follow arguments; "--" ends them. CITYGRID_PG_URL, CITYGRID_DB and CITYGRID_ADDR
set the defaults of -pg, -db and -addr.
Run "citygrid help COMMAND" or "citygrid COMMAND -h" for a command's synopsis, flags and
examples; "citygrid version" (or --version) for the version.
`
}

// run executes one command line (without the program name) and reports errors on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdout, stderr)
	var ee *exitError
	var hr *helpRequest
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &hr):
		printCommandHelp(stdout, commandOf(hr.fs), hr.fs)
		return nil
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
		fmt.Fprint(stderr, usage())
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
	case "version", "-version", "--version", "-v":
		if cmd == "version" {
			if _, err := parseFlags(newFlagSet("version", stderr), rest); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "-help", "--help":
		return runHelp(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage())
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// runHelp serves `citygrid help [COMMAND]`: the command list, or one command's synopsis,
// flags and examples (its own -h).
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage())
		return nil
	case len(args) > 1:
		return &usageError{fmt.Sprintf("help takes one command, got %q", args)}
	}
	name := args[0]
	switch name {
	case "help", "version":
		printCommandHelp(stdout, name, nil)
		return nil
	}
	if _, ok := commands[name]; !ok {
		fmt.Fprint(stderr, usage())
		return &usageError{fmt.Sprintf("help: unknown command %q", name)}
	}
	// The command's own FlagSet prints its flags: ask it for its help.
	return dispatch(ctx, []string{name, "-h"}, stdout, stderr)
}

func newFlagSet(name string, _ io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("citygrid "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args and returns the positional arguments. Flags may come before, between
// and after them (`import -kind components a.geojson -mode partial`): the standard flag
// package stops at the first non-flag, so parsing resumes after each positional. "--" ends the
// flags: everything after it is positional, also words starting with "-". A lone "-" is a
// positional (standard input). Flag errors become usage errors; -h, -help and --help a
// helpRequest.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequest{fs: fs}
			}
			return nil, &usageError{fmt.Sprintf("%s: %v (see \"citygrid help %[1]s\")", commandOf(fs), err)}
		}
		rest := fs.Args()
		if endedByDashes(fs, args, len(args)-len(rest)) {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// endedByDashes reports whether fs.Parse(args) stopped at a "--" that ends the flags, having
// consumed the first n arguments: "--" the last consumed, and not the value of the flag
// before it (`-actor --`).
func endedByDashes(fs *flag.FlagSet, args []string, n int) bool {
	if n == 0 || args[n-1] != "--" {
		return false
	}
	if n == 1 {
		return true
	}
	prev := args[n-2]
	if !strings.HasPrefix(prev, "-") || strings.Contains(prev, "=") {
		return true
	}
	f := fs.Lookup(strings.TrimLeft(prev, "-"))
	if f == nil {
		return true
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return true
	}
	return false // "--" was the value of prev
}

// commandOf is the subcommand a FlagSet from newFlagSet parses: "import" for "citygrid import".
func commandOf(fs *flag.FlagSet) string { return strings.TrimPrefix(fs.Name(), "citygrid ") }

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
