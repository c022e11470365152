package registry

import (
	"context"
	"time"
)

// FeedKind names the kind of record a change is about.
type FeedKind string

const (
	FeedCell      FeedKind = "cell"
	FeedComponent FeedKind = "component"
	FeedUnit      FeedKind = "unit"
	FeedRule      FeedKind = "rule"
)

// FeedEntry is one entry of the store's change feed: every write takes a store-wide,
// monotonically increasing sequence number. The record is the one currently stored (nil when
// it has been deleted since): a later change of the same record may already show in it, so a
// follower that applies entries in order converges on the store's state. Other systems (GIS,
// emergency command, video, Art. 9) and the other citygrid nodes follow the feed to stay in step.
type FeedEntry struct {
	Seq       uint64
	Time      time.Time
	Kind      FeedKind
	ID        string // cell code, component identifier, unit id or rule id
	Op        ChangeOp
	Actor     string // who made the change (X-Actor, import -actor)
	Cell      *Cell
	Component *Component
	Unit      *Unit
	Rule      *Rule
}

// ChangeFeed is implemented by stores that expose their change sequence.
type ChangeFeed interface {
	// Changes returns up to limit entries with Seq > since, ascending.
	Changes(ctx context.Context, since uint64, limit int) ([]FeedEntry, error)
	// LastSeq returns the highest sequence number written so far (0 for an empty store).
	LastSeq(ctx context.Context) (uint64, error)
}
