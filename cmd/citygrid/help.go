package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command documents one subcommand for `citygrid help CMD` and `citygrid CMD -h`: its
// synopsis, what it does, and examples. The flags come from the command's own FlagSet.
type command struct {
	Synopsis string
	Summary  string // one line, in the command list
	About    string
	Examples string
}

// commands documents every subcommand; dispatch runs them.
var commands = map[string]command{
	"serve": {
		Synopsis: "citygrid serve -db FILE | -pg URL [-addr HOST:PORT] [-demo] [-cors-origins LIST] [flags]",
		Summary:  "serve the HTTP API",
		About: `Serves the HTTP API (every route under /api/v1, /healthz, /readyz, /metrics) over the store.
With -db the server holds the store file: import and export then go through its routes
(POST /api/v1/census/{kind}, GET /api/v1/export/{cells|components}). With -pg several
servers may share one database and follow each other's writes.`,
		Examples: `  citygrid serve -db demo/citygrid.db -demo
  citygrid serve -pg postgres://citygrid@db/citygrid -addr 127.0.0.1:9090
  citygrid serve -db city.db -cors-origins https://map.example.cn,https://ops.example.cn`,
	},
	"import": {
		Synopsis: "citygrid import -db FILE | -pg URL -kind KIND [-mode strict|partial|replace] [flags] FILE...",
		Summary:  "import census files (cells, components, units, rules)",
		About: `Validates each file and stores it: in strict mode (the default) only when every feature is
valid, in partial mode the valid features. A validation report is printed for each file; the
exit status is 1 when any feature was rejected. Flags may come before or after the files;
"--" ends the flags (for a file whose name starts with "-"). With -db the store must not be
held by a running server: import through its route POST /api/v1/census/{kind} instead.`,
		Examples: `  citygrid import -db city.db -kind cells cells.geojson
  citygrid import -db city.db -kind components components.csv -mode partial
  citygrid import -pg "$CITYGRID_PG_URL" -kind units units.json -actor gis-wang`,
	},
	"export": {
		Synopsis: "citygrid export -db FILE | -pg URL -kind cells|components [-o FILE] [-include-removed]",
		Summary:  "export cells or components as census GeoJSON",
		About: `Writes the stored cells or components as a GeoJSON FeatureCollection that "citygrid import"
reads back. With -o the file is written whole or not at all. With -db the store must not be
held by a running server: export through its route GET /api/v1/export/{cells|components}.`,
		Examples: `  citygrid export -db city.db -kind components -o components.geojson
  citygrid export -pg "$CITYGRID_PG_URL" -kind cells > cells.geojson`,
	},
	"migrate": {
		Synopsis: "citygrid migrate -db FILE | -pg URL",
		Summary:  "apply schema migrations",
		About: `Applies the PostgreSQL schema migrations the database lacks (a no-op when it is up to
date), or creates an embedded store file or checks its schema version.`,
		Examples: `  citygrid migrate -pg postgres://citygrid@db/citygrid
  citygrid migrate -db city.db`,
	},
	"fixtures": {
		Synopsis: "citygrid fixtures -out DIR [-cells N] [-components N] [-seed N]",
		Summary:  "generate a demo city's census files",
		About: `Writes a deterministic demo city (渝中区 by default) as cells.geojson, components.csv,
units.json and rules.json; the same seed and counts give the same files.`,
		Examples: `  citygrid fixtures -out demo
  citygrid fixtures -out big -cells 20000 -components 1000000 -seed 7`,
	},
	"version": {
		Synopsis: "citygrid version | citygrid --version",
		Summary:  "print the version",
		About:    `Prints the module version (or "(devel)"), the Go version, the platform and the VCS revision the binary was built from.`,
		Examples: `  citygrid version`,
	},
	"help": {
		Synopsis: "citygrid help [COMMAND]",
		Summary:  "list the commands, or show a command's synopsis, flags and examples",
		Examples: `  citygrid help import
  citygrid import -h`,
	},
}

// helpRequest is -h, -help or --help given to a command: run prints the command's help on
// stdout and exits 0.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested" }

// printCommandHelp writes the synopsis, description, flags (from fs, nil when the command has
// none) and examples of the command name.
func printCommandHelp(w io.Writer, name string, fs *flag.FlagSet) {
	c := commands[name]
	fmt.Fprintf(w, "Usage:\n  %s\n", c.Synopsis)
	if c.About != "" {
		fmt.Fprintf(w, "\n%s\n", c.About)
	}
	if fs != nil {
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	if c.Examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Examples)
	}
}

// commandList is the table of commands in the general usage text.
func commandList() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, commands[n].Summary)
	}
	return b.String()
}
