package geojson_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"citygrid/geojson"
	"citygrid/registry"
	"citygrid/spatial"
	"citygrid/store/bolt"
)

// newService returns the real write path over a fresh temp bolt store.
func newService(t *testing.T) (*registry.Service, *bolt.Store) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	idx := spatial.New(spatial.Options{})
	if err := idx.Load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return registry.NewService(st, idx, registry.DefaultCatalog(), nil), st
}

// squareFeature returns an NDJSON cell feature: a 0.001° square with its south-west corner at
// (lon, lat).
func squareFeature(code string, lon, lat float64) string {
	const d = 0.001
	return fmt.Sprintf(`{"type":"Feature","properties":{"code":%q,"name":"cell %s"},"geometry":{"type":"Polygon","coordinates":[[[%v,%v],[%v,%v],[%v,%v],[%v,%v],[%v,%v]]]}}`,
		code, code, lon, lat, lon+d, lat, lon+d, lat+d, lon, lat+d, lon, lat)
}

// TestExportReimport: what ExportCells and ExportComponents write from a store imports
// unchanged into a fresh one; retired components are left out unless asked for.
func TestExportReimport(t *testing.T) {
	ctx := context.Background()
	svc, st := newService(t)
	cellsIn := squareFeature("500103003001001", 106.570, 29.550) + "\n" + squareFeature("500103003001002", 106.571, 29.550) + "\n"
	if _, err := svc.Import(ctx, registry.CensusCells, strings.NewReader(cellsIn), registry.ImportOptions{Format: registry.FormatNDJSON, Actor: "surveyor-1"}); err != nil {
		t.Fatal(err)
	}
	const csv = "id,class,name,status,maintainer,lon,lat\n" +
		"50010301037000001,01037,路灯,intact,lamps,106.5705,29.5505\n" +
		"5001030101000007,0101,,lost,,106.5715,29.5505\n" +
		"50010301037000002,01037,旧灯,removed,,106.5706,29.5506\n"
	if _, err := svc.Import(ctx, registry.CensusComponents, strings.NewReader(csv), registry.ImportOptions{Format: registry.FormatCSV, Actor: "surveyor-1"}); err != nil {
		t.Fatal(err)
	}
	var cells, comps, all strings.Builder
	if n, err := geojson.ExportCells(ctx, &cells, st); err != nil || n != 2 {
		t.Fatalf("ExportCells = %d, %v; want 2, nil", n, err)
	}
	if n, err := geojson.ExportComponents(ctx, &comps, st, registry.DefaultCatalog(), false); err != nil || n != 2 {
		t.Fatalf("ExportComponents(includeRemoved=false) = %d, %v; want 2, nil", n, err)
	}
	if n, err := geojson.ExportComponents(ctx, &all, st, registry.DefaultCatalog(), true); err != nil || n != 3 {
		t.Fatalf("ExportComponents(includeRemoved=true) = %d, %v; want 3, nil", n, err)
	}
	if strings.Contains(comps.String(), "50010301037000002") || !strings.Contains(all.String(), "50010301037000002") {
		t.Errorf("the retired component is in the export %v, in the full export %v; want false, true",
			strings.Contains(comps.String(), "50010301037000002"), strings.Contains(all.String(), "50010301037000002"))
	}

	svc2, st2 := newService(t)
	if rep, err := svc2.Import(ctx, registry.CensusCells, strings.NewReader(cells.String()), registry.ImportOptions{Format: registry.FormatGeoJSON}); err != nil || rep.Created != 2 {
		t.Fatalf("re-import cells = %+v, %v", rep, err)
	}
	if rep, err := svc2.Import(ctx, registry.CensusComponents, strings.NewReader(comps.String()), registry.ImportOptions{Format: registry.FormatGeoJSON}); err != nil || rep.Created != 2 {
		t.Fatalf("re-import components = %+v, %v", rep, err)
	}
	for _, id := range []string{"50010301037000001", "50010301001000007"} {
		a, err1 := st.Component(ctx, registry.MustParseComponentCode(id))
		b, err2 := st2.Component(ctx, registry.MustParseComponentCode(id))
		if err1 != nil || err2 != nil {
			t.Fatalf("Component(%s): %v, %v", id, err1, err2)
		}
		if a.Point != b.Point || a.Class != b.Class || a.LegacyID != b.LegacyID || a.Status != b.Status || a.Name != b.Name || a.Cell != b.Cell {
			t.Errorf("round trip of %s: %+v != %+v", id, a, b)
		}
	}
}

// failingSource fails its walk after one record.
type failingSource struct{}

var errWalk = errors.New("walk broke")

func (failingSource) ForEachCell(ctx context.Context, fn func(*registry.Cell) error) error {
	if err := fn(&registry.Cell{Code: "500103003001001"}); err != nil {
		return err
	}
	return errWalk
}

func (failingSource) ForEachComponent(ctx context.Context, fn func(*registry.Component) error) error {
	if err := fn(&registry.Component{Class: "01001"}); err != nil {
		return err
	}
	return errWalk
}

// TestExportSourceError: a failing walk is the export's error, wrapped with what it was
// exporting.
func TestExportSourceError(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	if _, err := geojson.ExportCells(ctx, &b, failingSource{}); !errors.Is(err, errWalk) || !strings.HasPrefix(err.Error(), "export cells: ") {
		t.Errorf("ExportCells over a failing source = %v, want export cells: %v", err, errWalk)
	}
	if _, err := geojson.ExportComponents(ctx, &b, failingSource{}, nil, true); !errors.Is(err, errWalk) || !strings.HasPrefix(err.Error(), "export components: ") {
		t.Errorf("ExportComponents over a failing source = %v, want export components: %v", err, errWalk)
	}
}

var _ interface {
	geojson.CellSource
	geojson.ComponentSource
} = registry.Store(nil)
