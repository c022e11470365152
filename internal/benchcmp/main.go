// Command benchcmp measures citygrid against PostGIS on this machine, in one run on one
// generated data set, and prints a Markdown report with PASS/FAIL per target.
//
//	go run ./internal/benchcmp            # side by side with PostGIS (make bench-pg)
//	go run ./internal/benchcmp -skip-pg   # the embedded store's figures only (make bench)
//
// It builds bin/citygrid; generates the benchmark city (fixtures.BenchConfig: 50,000 cells,
// 1,000,000 components) and 100,000 query points with their true cell, computed by brute
// force with an exact closed point-in-polygon (ties to the smallest code, citygrid's rule),
// into -dir, reused while the parameters and the generator's output are unchanged; imports
// it into a fresh embedded store with `citygrid import` (timed); starts `citygrid serve`
// (timed to /readyz); and measures single-point lookups with wrk, batches, box and nearest
// queries with a Go client, and the same in process through spatial.Index. Against PostGIS
// it loads the same data into a database of its own (citygrid_bench_<pid>, dropped WITH
// (FORCE) at the end), timing a bare COPY + GiST of the components as the reference, and
// runs the same queries with pgbench and pgx. Every figure is measured -runs times; the
// report gives the median and the range. Client and server share the machine's cores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config holds the flags.
type config struct {
	Dir        string
	Duration   time.Duration
	Runs       int
	PG         string
	SkipPG     bool
	Cells      int
	Components int
	Points     int
	Seed       int64
	Batch      int     // points per batch request
	BoxSize    float64 // metres, side of the bbox queries
	Queries    int     // distinct boxes and nearest queries
	Clients    int     // connections of wrk and pgbench
	Many       int     // connections of the second single-point comparison (0: none)
	Out        string
	Strict     bool
	Profile    bool
	KeepDB     bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == noopFlag {
		fmt.Fprintln(os.Stderr, "benchcmp:", runNoop(os.Args[2:])) // it serves until killed
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var fe failedError
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &fe):
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

// failedError reports targets missed under -strict.
type failedError int

func (e failedError) Error() string { return fmt.Sprintf("%d target(s) missed", int(e)) }

func defaultPG() string {
	if u := os.Getenv("CITYGRID_TEST_PG"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres"
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchcmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Dir, "dir", ".cache/bench", "working directory: data set, store, logs, results.md")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each wrk and pgbench run; the Go-client loops run half of it")
	fs.IntVar(&c.Runs, "runs", 3, "how many times each figure is measured (median and range reported)")
	fs.StringVar(&c.PG, "pg", defaultPG(), "PostgreSQL URL of a server with PostGIS (CITYGRID_TEST_PG); a database is created and dropped")
	fs.BoolVar(&c.SkipPG, "skip-pg", false, "measure citygrid only")
	fs.IntVar(&c.Cells, "cells", 50000, "approximate number of grid cells")
	fs.IntVar(&c.Components, "components", 1000000, "number of components")
	fs.IntVar(&c.Points, "points", 100000, "number of query points (each checked against the brute-force truth)")
	fs.Int64Var(&c.Seed, "seed", 1, "fixtures seed")
	fs.IntVar(&c.Batch, "batch", 1000, "points per batch lookup")
	fs.Float64Var(&c.BoxSize, "box", 500, "side of the bbox queries, metres")
	fs.IntVar(&c.Queries, "queries", 2000, "distinct boxes and nearest queries")
	fs.IntVar(&c.Clients, "c", 2, "connections of wrk and clients of pgbench")
	fs.IntVar(&c.Many, "many", 8, "connections of a second single-point comparison, not a target (0: skip it)")
	fs.StringVar(&c.Out, "out", "", "also write the report to this file (default DIR/results.md)")
	fs.BoolVar(&c.Strict, "strict", false, "exit with status 1 when a target is missed")
	fs.BoolVar(&c.KeepDB, "keep-db", false, "leave the PostGIS database in place for inspection (drop it yourself)")
	fs.BoolVar(&c.Profile, "profile", false, "also write CPU profiles of the citygrid server under load to DIR/profile-*.pprof")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.Runs < 1:
		return c, errors.New("-runs must be at least 1")
	case c.Points < c.Batch || c.Batch < 1:
		return c, errors.New("-points must be at least -batch, and -batch at least 1")
	case c.Duration < time.Second:
		return c, errors.New("-duration must be at least 1s")
	}
	if c.Out == "" {
		c.Out = c.Dir + "/results.md"
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, log: stderr}
	if err := b.run(ctx); err != nil {
		return err
	}
	report := b.report()
	fmt.Fprint(stdout, report)
	if err := os.WriteFile(cfg.Out, []byte(report), 0o644); err != nil {
		return err
	}
	b.logf("report written to %s", cfg.Out)
	if n := b.failed(); cfg.Strict && n > 0 {
		return failedError(n)
	}
	return nil
}
