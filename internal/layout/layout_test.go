// Package layout keeps the package table of the README true: imports point one way
// (cmd → api → spatial → registry, store/* → registry), and every third-party dependency
// lives in exactly the package that owns it.
package layout

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, per package, the import path prefixes its non-test files may use besides the
// standard library. A package missing here may import anything (cmd, internal tools).
var allowed = map[string][]string{
	"citygrid/registry":        {"github.com/paulmach/orb", "citygrid/internal/jsonscan", "golang.org/x/text"},
	"citygrid/ogr":             {"citygrid/registry"}, // the adapter that runs GDAL's ogr2ogr
	"citygrid/geojson":         {"citygrid/registry", "github.com/paulmach/orb"},
	"citygrid/spatial":         {"citygrid/registry", "github.com/paulmach/orb", "github.com/tidwall/rtree"},
	"citygrid/store/bolt":      {"citygrid/registry", "go.etcd.io/bbolt", "github.com/paulmach/orb"},
	"citygrid/store/postgres":  {"citygrid/registry", "github.com/jackc/pgx/v5", "github.com/twpayne/go-geom", "github.com/paulmach/orb"},
	"citygrid/store/storetest": {"citygrid/registry", "github.com/paulmach/orb", "github.com/google/go-cmp"},
	"citygrid/api": {"citygrid/registry", "citygrid/spatial", "citygrid/geojson", "citygrid/internal/jsonscan", "citygrid/ogr", "github.com/paulmach/orb", "github.com/gin-gonic/gin",
		"github.com/prometheus/client_golang", "github.com/rs/cors"},
	"citygrid/fixtures": {"citygrid/registry", "citygrid/geojson", "github.com/paulmach/orb"},

	"citygrid/internal/jsonscan":  {}, // the JSON scanner shared by the census reader and the lookup batch
	"citygrid/api/internal/batch": {"citygrid/internal/jsonscan", "citygrid/registry", "github.com/paulmach/orb"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func TestLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "citygrid/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	std := map[string]bool{}
	stdOut, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	for _, p := range strings.Fields(string(stdOut)) {
		std[p] = true
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen[p.ImportPath] = true
		rules, ok := allowed[p.ImportPath]
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			if std[imp] || strings.HasPrefix(imp, p.ImportPath+"/internal/") {
				continue
			}
			ok := false
			for _, r := range rules {
				if imp == r || strings.HasPrefix(imp, r+"/") {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s imports %s, which the layout does not allow (allowed: stdlib, %s)", p.ImportPath, imp, strings.Join(rules, ", "))
			}
		}
	}
	for _, must := range []string{"citygrid/registry", "citygrid/spatial", "citygrid/store/bolt", "citygrid/api", "citygrid/fixtures", "citygrid/geojson"} {
		if !seen[must] {
			t.Errorf("package %s is missing from go list", must)
		}
	}
}
