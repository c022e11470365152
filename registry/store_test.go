package registry_test

import (
	"errors"
	"testing"

	"citygrid/registry"
)

func TestAssignPrefix(t *testing.T) {
	tests := []struct {
		name       string
		cell       registry.GridCode
		class      string
		wantPrefix uint64
		wantErr    error // nil means success
	}{
		{"15-character cell, 5-digit class", "500103001001001", "01001", 50010301001, nil},
		{"legacy 14-digit cell", "50010300100101", "04002", 50010304002, nil},
		{"no cell", "", "01001", 0, registry.ErrInvalidInput},
		{"legacy 4-digit class", "500103001001001", "0101", 0, registry.ErrInvalidInput},
		{"no class", "500103001001001", "", 0, registry.ErrInvalidInput},
		{"class with a letter", "500103001001001", "01a01", 0, registry.ErrInvalidInput},
		{"district with a leading zero", "050103001001001", "01001", 0, registry.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.Component{Cell: tt.cell, Class: tt.class}
			got, err := registry.AssignPrefix(&c)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("AssignPrefix(cell %q, class %q) error = %v, want %v", tt.cell, tt.class, err, tt.wantErr)
			}
			if got != tt.wantPrefix {
				t.Errorf("AssignPrefix(cell %q, class %q) = %d, want %d", tt.cell, tt.class, got, tt.wantPrefix)
			}
		})
	}
}

func TestCheckIDs(t *testing.T) {
	tests := []struct {
		name    string
		ids     []string
		wantErr error // nil means success
	}{
		{"none", nil, nil},
		{"distinct", []string{"a", "b", "c"}, nil},
		{"empty id", []string{"a", ""}, registry.ErrInvalidInput},
		{"repeated id", []string{"a", "b", "a"}, registry.ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := registry.CheckIDs(len(tt.ids), func(i int) string { return tt.ids[i] })
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Errorf("CheckIDs(%q) error = %v, want %v", tt.ids, err, tt.wantErr)
			}
		})
	}
}
