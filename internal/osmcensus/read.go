package osmcensus

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"
	"github.com/paulmach/osm/osmxml"
)

// Furniture is one OSM node that maps to a component class.
type Furniture struct {
	Node  osm.NodeID
	Class string    // GB/T 47678.5-2026 class, see ClassOf
	Point orb.Point // WGS84 lon/lat
	Time  time.Time // the node's last edit, zero when the extract has no timestamps
}

// ReadFile reads the street furniture of an OSM extract: .osm.pbf, .osm or .osm.gz (gzipped
// XML), chosen by the file name. The result is sorted by node id.
func ReadFile(ctx context.Context, path string) ([]Furniture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read osm %s: %w", path, err)
	}
	defer f.Close()
	var furn []Furniture
	switch {
	case strings.HasSuffix(path, ".pbf"):
		furn, err = ReadPBF(ctx, f)
	case strings.HasSuffix(path, ".osm.gz"):
		zr, zerr := gzip.NewReader(f)
		if zerr != nil {
			return nil, fmt.Errorf("read osm %s: %w", path, zerr)
		}
		defer zr.Close()
		furn, err = ReadXML(ctx, zr)
	case strings.HasSuffix(path, ".osm"):
		furn, err = ReadXML(ctx, f)
	default:
		return nil, fmt.Errorf("read osm %s: unknown extension (want .osm.pbf, .osm or .osm.gz)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read osm %s: %w", path, err)
	}
	return furn, nil
}

// ReadPBF reads the street furniture nodes of an OSM PBF stream, skipping ways and relations
// undecoded. The result is sorted by node id.
func ReadPBF(ctx context.Context, r io.Reader) ([]Furniture, error) {
	sc := osmpbf.New(ctx, r, min(runtime.GOMAXPROCS(0), 4))
	defer sc.Close()
	sc.SkipWays = true
	sc.SkipRelations = true
	// Filtering in the decoder lets it reuse the memory of the ~95% of nodes we drop.
	sc.FilterNode = func(n *osm.Node) bool { return ClassOf(n.Tags) != "" }
	var furn []Furniture
	for sc.Scan() {
		if n, ok := sc.Object().(*osm.Node); ok {
			furn = appendNode(furn, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan pbf: %w", err)
	}
	sortFurniture(furn)
	return furn, nil
}

// ReadXML reads the street furniture nodes of an OSM XML stream (not gzipped; see ReadFile).
// The result is sorted by node id.
func ReadXML(ctx context.Context, r io.Reader) ([]Furniture, error) {
	sc := osmxml.New(ctx, r)
	defer sc.Close()
	var furn []Furniture
	for sc.Scan() {
		if n, ok := sc.Object().(*osm.Node); ok {
			furn = appendNode(furn, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan xml: %w", err)
	}
	sortFurniture(furn)
	return furn, nil
}

func appendNode(furn []Furniture, n *osm.Node) []Furniture {
	cl := ClassOf(n.Tags)
	if cl == "" {
		return furn
	}
	return append(furn, Furniture{Node: n.ID, Class: cl, Point: orb.Point{n.Lon, n.Lat}, Time: n.Timestamp})
}

func sortFurniture(furn []Furniture) {
	sort.Slice(furn, func(i, j int) bool { return furn[i].Node < furn[j].Node })
}
