package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"citygrid/registry"
)

// compOpts compares records: ComponentCode has unexported fields; nil and empty are equal.
var compOpts = cmp.Options{
	cmp.Comparer(func(a, b registry.ComponentCode) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func cmpStrings(want, got []string) string { return cmp.Diff(want, got) }

func diffRecords(t testing.TB, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, compOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}
