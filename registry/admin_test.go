package registry_test

import (
	"encoding/csv"
	"io"
	"os"
	"strings"
	"testing"

	"citygrid/registry"
)

func TestDistrictName(t *testing.T) {
	for _, tc := range []struct {
		code, name string
		ok         bool
	}{
		{"500103", "渝中区", true},
		{"500112", "渝北区", true},
		{"110101", "东城区", true},
		{"419001", "济源市", true}, // a county-level city a province administers directly
		{"500199", "", false},
		{"500100", "", false}, // a city, not a district
		{"999999", "", false},
		{"", "", false},
	} {
		name, ok := registry.DistrictName(tc.code)
		if name != tc.name || ok != tc.ok {
			t.Errorf("DistrictName(%q) = %q, %v; want %q, %v", tc.code, name, ok, tc.name, tc.ok)
		}
	}
}

// TestDistrictTableMatchesSharedCSV checks the embedded table against every depth-2 row of the
// shared AreaCity CSV it was generated from.
func TestDistrictTableMatchesSharedCSV(t *testing.T) {
	f, err := os.Open(sharedStandardsFile(t, "data/admin-codes/areacity_ok_data_level4.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[2] != "2" || rec[6] == "0" {
			continue
		}
		n++
		code, want := rec[6][:6], strings.TrimSpace(rec[7])
		if got, ok := registry.DistrictName(code); !ok || got != want {
			t.Errorf("district %s: embedded %q, %v; the CSV says %q", code, got, ok, want)
		}
	}
	if n < 3000 {
		t.Errorf("the CSV has %d districts; expected over 3,000", n)
	}
}
