package registry_test

import (
	"context"
	"strings"
	"testing"

	"citygrid/registry"
)

func TestCheckActor(t *testing.T) {
	for _, tt := range []struct {
		name, actor string
		ok          bool
	}{
		{"empty", "", true},
		{"ascii", "surveyor-1", true},
		{"100 characters", strings.Repeat("名", 100), true},
		{"spaces", "gis team", true},
		{"101 characters", strings.Repeat("a", 101), false},
		{"control character", "a\x01b", false},
		{"newline", "a\nb", false},
		{"DEL", "a\x7fb", false},
		{"not UTF-8", "a\xffb", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := registry.CheckActor(tt.actor)
			if tt.ok && err != nil {
				t.Errorf("CheckActor(%q) = %v, want nil", tt.actor, err)
			}
			if !tt.ok && registry.ErrorCode(err) != registry.CodeInvalidActor {
				t.Errorf("CheckActor(%q) = %v, want invalid_actor", tt.actor, err)
			}
		})
	}
}

// TestServiceChecksActor: every write of the Service that records an actor refuses one that
// CheckActor refuses, so the CLI's import -actor obeys the API's X-Actor rule, and stores nothing.
func TestServiceChecksActor(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	bad := strings.Repeat("a", registry.MaxActorRunes+1)
	id := registry.MustParseComponentCode("50010300301037000") // any: the actor is refused first
	for _, tt := range []struct {
		name  string
		write func() error
	}{
		{"Import", func() error {
			_, err := e.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells),
				registry.ImportOptions{Format: registry.FormatNDJSON, Actor: bad})
			return err
		}},
		{"PutCell", func() error { _, err := e.svc.PutCell(ctx, &registry.Feature{}, 0, bad); return err }},
		{"CreateComponent", func() error { _, err := e.svc.CreateComponent(ctx, &registry.Feature{}, bad); return err }},
		{"UpdateComponent", func() error { _, err := e.svc.UpdateComponent(ctx, id, &registry.Feature{}, 1, bad); return err }},
		{"RetireComponent", func() error { _, err := e.svc.RetireComponent(ctx, id, 1, bad, ""); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); registry.ErrorCode(err) != registry.CodeInvalidActor {
				t.Errorf("%s with a %d-character actor = %v, want invalid_actor", tt.name, len(bad), err)
			}
		})
	}
	if cells, comps := e.count(t); cells != 0 || comps != 0 {
		t.Errorf("stored %d cells and %d components, want none", cells, comps)
	}
	if _, err := e.svc.Import(ctx, registry.CensusCells, strings.NewReader(twoCells),
		registry.ImportOptions{Format: registry.FormatNDJSON, Actor: strings.Repeat("名", registry.MaxActorRunes)}); err != nil {
		t.Errorf("Import with a %d-character actor: %v", registry.MaxActorRunes, err)
	}
}
