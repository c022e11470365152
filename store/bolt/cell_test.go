package bolt

import (
	"context"
	"testing"

	"github.com/paulmach/orb"
	"go.etcd.io/bbolt"

	"citygrid/registry"
)

// TestCellHistoryOfOlderFiles: a cell stored by a build that kept no cell history has one
// entry, its current state; its first change records that state first (seq 0), so the change
// has its before-image.
func TestCellHistoryOfOlderFiles(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	c := registry.Cell{Code: "500103003001001", Name: "旧网格",
		Geometry: orb.MultiPolygon{{{{106.57, 29.55}, {106.571, 29.55}, {106.571, 29.551}, {106.57, 29.551}, {106.57, 29.55}}}}}
	stored, err := s.PutCells(ctx, []registry.Cell{c}, "census")
	if err != nil {
		t.Fatal(err)
	}
	// What an older build left: the cell without history.
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketCellHistory); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketCellHistory)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h, err := s.CellHistory(ctx, c.Code)
	if err != nil || len(h) != 1 || h[0].Op != registry.OpCreate || h[0].Before != nil || h[0].After == nil || h[0].After.Name != "旧网格" {
		t.Fatalf("history of an older cell = %+v, %v; want its current state", h, err)
	}
	c.Name = "新网格"
	if _, err := s.PutCells(ctx, []registry.Cell{c}, "gis-wang"); err != nil {
		t.Fatal(err)
	}
	h, err = s.CellHistory(ctx, c.Code)
	if err != nil || len(h) != 2 || h[0].Seq != 0 || h[0].Note != "history begins" || h[1].Op != registry.OpUpdate ||
		h[1].Before == nil || h[1].Before.Name != "旧网格" || h[1].Before.Version != stored[0].Version || h[1].After.Name != "新网格" {
		t.Errorf("history after the first change = %+v, %v", h, err)
	}
}
