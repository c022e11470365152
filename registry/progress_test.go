package registry_test

import (
	"context"
	"strings"
	"testing"

	"citygrid/registry"
)

// TestProgress: an import followed by a Progress goes from queued through checking and
// storing, counting records; once checking is over the estimate is the count.
func TestProgress(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, ""); err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	doc.WriteString(csvHeader)
	const n = 10000
	for i := 0; i < n; i++ {
		doc.WriteString(",01037,lamp,intact,,106.5705,29.5505\n")
	}
	p := registry.NewProgress(int64(doc.Len()))
	if s := p.Snapshot(); s.Stage != registry.StageQueued || s.Records != 0 {
		t.Fatalf("before the import: %+v", s)
	}
	var mid []registry.ProgressSnapshot
	var storing registry.ProgressSnapshot
	opt := registry.ImportOptions{Format: registry.FormatCSV, Actor: "t",
		Progress: func(int) { mid = append(mid, p.Snapshot()) },
		Storing:  func(int) { storing = p.Snapshot() }}
	rep, err := e.svc.Import(context.Background(), registry.CensusComponents, p.Reader(strings.NewReader(doc.String())), p.Options(opt))
	if err != nil || rep.Created != n {
		t.Fatalf("import = %+v, %v", rep, err)
	}
	p.Finish()
	if len(mid) < 2 {
		t.Fatalf("%d progress calls, want one every few thousand records and one at the end", len(mid))
	}
	first := mid[0]
	if first.Stage != registry.StageChecking || first.Records <= 0 || first.Records >= n {
		t.Errorf("first progress %+v: want checking, some records", first)
	}
	// The estimate from the bytes read is within the read-ahead of the truth.
	if first.Estimated < first.Records || first.Estimated > 3*n {
		t.Errorf("first estimate %d for %d records read of %d", first.Estimated, first.Records, n)
	}
	if last := mid[len(mid)-1]; last.Records != n {
		t.Errorf("last progress %+v, want %d records", last, n)
	}
	if storing.Stage != registry.StageStoring || storing.Storing != n || storing.Estimated != n || storing.ETA != 0 {
		t.Errorf("storing: %+v, want stage storing of %d", storing, n)
	}
	if s := p.Snapshot(); s.Stage != registry.StageDone || s.Stage.String() != "done" {
		t.Errorf("after: %+v", s)
	}
}
