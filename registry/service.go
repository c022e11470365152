package registry

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"
)

// Service is the registry's write path: census imports and surveyor edits. It validates
// input against the catalogue and the spatial index, writes through the Store in one
// transaction, and only then updates the index, so readers of the index never see a write
// the store did not commit. Writes are serialised. Reads of stored records (a component, its
// history, the change feed) go through its read methods to the store; spatial questions go
// straight to the index. When several nodes share one store, each loads its index with
// LoadIndex and applies the others' writes with Follow (follow.go).
//
// Its methods are filed by what they write: service_import.go (Import and what every census
// import shares), service_cell.go, service_component.go, service_unit.go, service_rule.go.
type Service struct {
	store   Store
	index   Index
	catalog *Catalog
	log     *slog.Logger

	mu sync.Mutex // serialises writes: validation must see the state it writes against
	// applyMu makes a store write and the index update after it one step, and Follow's read
	// of the feed and its apply another, so that the index never goes back to an older record:
	// a feed entry read before a local write is not applied after it. Taken after mu.
	applyMu sync.Mutex

	hub     hub           // woken after every local write and every applied feed batch
	applied atomic.Uint64 // the change seq the index reflects (see AppliedSeq)
	follow  atomic.Bool   // Follow is running
	// following: Follow has read the feed at least once (Following); caughtUp is closed
	// while it is true (WaitFollowing). Both change under followMu.
	following atomic.Bool
	followMu  sync.Mutex
	caughtUp  chan struct{}

	// MaxProblems caps the problems kept in one report (the counts stay exact).
	MaxProblems int
	// MaxCellArea is the largest cell area (m²) a census or a write accepts (cell_too_large):
	// 0 means DefaultMaxCellArea (1 km²), a negative value no limit.
	MaxCellArea float64
	// Boundaries, when set, are the district outlines a census checks its cells against
	// (warning cell_outside_district); without them no boundary check happens.
	Boundaries DistrictBoundaries
	// Now is the clock that dates surveyor edits (a component's change_date, in UTC days);
	// time.Now unless a test pins it.
	Now func() time.Time
}

// NewService returns a Service writing to st and keeping idx in step.
func NewService(st Store, idx Index, cat *Catalog, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, index: idx, catalog: cat, log: log, MaxProblems: 10000, Now: time.Now}
}

// Catalog returns the class catalogue the service validates against.
func (s *Service) Catalog() *Catalog { return s.catalog }

// The read path: handlers read stored records through the Service, which reads the store
// (what the index answers, it answers from memory). Errors are the Store's.

// Component returns the component whose identifier, or legacy identifier, is id;
// ErrComponentNotFound when there is none.
func (s *Service) Component(ctx context.Context, id ComponentCode) (Component, error) {
	return s.store.Component(ctx, id)
}

// ComponentsByKey returns the components with the given keys, in the same order;
// ErrComponentNotFound when any is missing.
func (s *Service) ComponentsByKey(ctx context.Context, keys []Key) ([]Component, error) {
	return s.store.ComponentsByKey(ctx, keys)
}

// History returns every change of the component, oldest first; ErrComponentNotFound.
func (s *Service) History(ctx context.Context, id ComponentCode) ([]Change, error) {
	return s.store.History(ctx, id)
}

// ForEachCell calls fn for every stored cell in key order; fn's argument is only valid during
// the call.
func (s *Service) ForEachCell(ctx context.Context, fn func(*Cell) error) error {
	return s.store.ForEachCell(ctx, fn)
}

// ForEachComponent calls fn for every stored component (retired ones included) in key order;
// fn's argument is only valid during the call.
func (s *Service) ForEachComponent(ctx context.Context, fn func(*Component) error) error {
	return s.store.ForEachComponent(ctx, fn)
}

// Feed returns the store's change feed; ok is false when the store keeps none.
func (s *Service) Feed() (feed ChangeFeed, ok bool) {
	feed, ok = s.store.(ChangeFeed)
	return feed, ok
}

func fmtPoint(p orb.Point) string {
	return "[" + strconv.FormatFloat(p[0], 'f', -1, 64) + "," + strconv.FormatFloat(p[1], 'f', -1, 64) + "]"
}
