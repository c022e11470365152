package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"citygrid/registry"
)

// TestRecordBar: the import progress bar counts records, with the total estimated from the
// bytes read against the file's size, and says when the records are being stored.
func TestRecordBar(t *testing.T) {
	var out bytes.Buffer
	b := newRecordBar(&out, "lamps.csv", 1000)
	opt := b.options(registry.ImportOptions{})
	if _, err := io.ReadAll(b.p.Reader(strings.NewReader(strings.Repeat("x", 250)))); err != nil {
		t.Fatal(err)
	}
	opt.Progress(4096)
	st := b.bar.State()
	if st.CurrentNum != 4096 || st.Max != 4*4096 {
		t.Errorf("after 4096 records of a quarter of the file: %d of %d, want 4096 of %d", st.CurrentNum, st.Max, 4*4096)
	}
	opt.Storing(16000)
	if d := b.bar.State().Description; !strings.Contains(d, "storing 16000 records") {
		t.Errorf("description while storing: %q", d)
	}
	b.finish()
	if s := b.p.Snapshot(); s.Stage != registry.StageDone {
		t.Errorf("stage after finish: %v", s.Stage)
	}
	if !strings.Contains(out.String(), "records") {
		t.Errorf("the bar shows no records/s: %q", out.String())
	}
}
