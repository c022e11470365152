package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"citygrid/geojson"
	"citygrid/registry"
)

func (s *Server) registerChangeRoutes(r *gin.RouterGroup) {
	r.GET("/changes", s.wrap(s.handleChanges))
	r.GET("/changes/stream", s.wrap(s.handleChangeStream))
}

// DefaultStreamHeartbeat is how often an idle change stream sends a comment line, so that
// proxies and clients can tell a quiet stream from a dead connection.
const DefaultStreamHeartbeat = 15 * time.Second

const (
	// streamBatch is how many entries the change stream reads from the feed at a time.
	streamBatch = 1000
	// streamRetry is how long the change stream waits to read the feed again after an error
	// (the database restarting), unless a write wakes it first.
	streamRetry = time.Second
)

var (
	errFeedUnavailable = registry.Errorf(registry.Unavailable, registry.CodeFeedUnavailable, "the store keeps no change feed")
	errInvalidSince    = registry.Errorf(registry.Invalid, registry.CodeInvalidSince, "since (or Last-Event-ID) must be a change sequence number: an integer ≥ 0")
)

// feedChangeJSON is one entry of the change feed. Record is the record as stored now: a GeoJSON
// Feature (WGS84 or the datum asked, written by package geojson) for a cell or component, a units or rules
// document entry for a unit or rule, null for a unit or rule deleted since.
type feedChangeJSON struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	ID     string    `json:"id"`
	Op     string    `json:"op"`
	Actor  string    `json:"actor"`
	Record any       `json:"record"`
}

// feedPageJSON is one page of the feed; Next is the since of the following page (the last
// entry's seq, or the request's since when there was none).
type feedPageJSON struct {
	Changes []feedChangeJSON `json:"changes"`
	Next    uint64           `json:"next"`
}

func (s *Server) toFeedChangeJSON(e *registry.FeedEntry, proj geojson.Projection) feedChangeJSON {
	out := feedChangeJSON{Seq: e.Seq, Time: e.Time.UTC(), Kind: string(e.Kind), ID: e.ID, Op: string(e.Op), Actor: e.Actor}
	switch {
	case e.Cell != nil:
		out.Record = json.RawMessage(geojson.AppendCell(nil, e.Cell, proj))
	case e.Component != nil:
		out.Record = json.RawMessage(s.appendComponent(nil, e.Component, proj))
	case e.Unit != nil:
		out.Record = toUnitJSON(e.Unit, proj)
	case e.Rule != nil:
		out.Record = toRuleJSON(e.Rule)
	}
	return out
}

func (s *Server) changeFeed() (registry.ChangeFeed, error) {
	feed, ok := s.svc.Feed()
	if !ok {
		return nil, errFeedUnavailable
	}
	return feed, nil
}

// parseSeq reads a feed sequence number (since=, Last-Event-ID).
func parseSeq(raw string) (uint64, error) {
	n, ok := parseQueryInt[uint64](raw)
	if !ok {
		return 0, errInvalidSince
	}
	return n, nil
}

// handleChanges serves GET /api/v1/changes?since=SEQ&limit=N[&crs=]: up to limit (default
// 1000, at most 10000) entries of the change feed after seq since (default 0: from the
// start), oldest first; crs applies to the geometries of cells and components. 503
// feed_unavailable when the store keeps no feed.
func (s *Server) handleChanges(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	feed, err := s.changeFeed()
	if err != nil {
		return err
	}
	var since uint64
	if raw := c.Query("since"); raw != "" {
		if since, err = parseSeq(raw); err != nil {
			return err
		}
	}
	limit, err := parseLimit(c)
	if err != nil {
		return err
	}
	entries, err := feed.Changes(c.Request.Context(), since, limit)
	if err != nil {
		return err
	}
	out := feedPageJSON{Changes: make([]feedChangeJSON, len(entries)), Next: since}
	for i := range entries {
		out.Changes[i] = s.toFeedChangeJSON(&entries[i], s.projection(crs))
	}
	if len(entries) > 0 {
		out.Next = entries[len(entries)-1].Seq
	}
	return okJSON(c, out)
}

// handleChangeStream serves GET /api/v1/changes/stream?since=SEQ as Server-Sent Events: every
// entry after since, then each new one as it is written (by this node, or by another node
// once this node has followed it), as `id: <seq>`, `event: change`, `data: <the entry as in
// GET /api/v1/changes>`. A Last-Event-ID header (a reconnecting EventSource) takes precedence
// over since; with neither, the stream starts at the feed's current end. An idle stream sends
// a comment line every heartbeat. The stream ends when the client goes, stops reading (for the
// server's write timeout) or the server shuts down. It does not poll: it waits for the Service's Changed signal.
// crs applies to the geometries of cells and components, as in GET /api/v1/changes.
func (s *Server) handleChangeStream(c *gin.Context) error {
	crs, err := s.queryCRS(c)
	if err != nil {
		return err
	}
	proj := s.projection(crs)
	feed, err := s.changeFeed()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	var since uint64
	switch last, since0 := c.GetHeader("Last-Event-ID"), c.Query("since"); {
	case last != "":
		since, err = parseSeq(last)
	case since0 != "":
		since, err = parseSeq(since0)
	default:
		since, err = feed.LastSeq(ctx)
	}
	if err != nil {
		return err
	}

	w := s.streamWriter(c) // the stream outlives the server's read and write timeouts
	rc := http.NewResponseController(c.Writer)
	// flush sends what was written, then moves the write deadline past the next heartbeat:
	// over HTTP/2 a deadline that passes between writes resets the stream, so an idle stream
	// must not meet it. A client that stops reading is still cut off: w sets the deadline to
	// the write timeout before each write, and the flush that blocks runs under it.
	flush := func() {
		c.Writer.Flush()
		if s.writeTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.heartbeat + s.writeTimeout))
		}
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	flush()

	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	var buf []byte
	failing := false
	for {
		// Taken before the read: a write that lands after the read closes it.
		wake := s.svc.Changed()
		entries, err := feed.Changes(ctx, since, streamBatch)
		var retry <-chan time.Time
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing {
				s.log.WarnContext(ctx, "change stream: reading the feed", "err", err, "since", since,
					"request_id", responseRequestID(c))
			}
			failing = true
			retry = time.After(streamRetry)
		default:
			failing = false
		}
		if len(entries) > 0 {
			buf = buf[:0]
			for i := range entries {
				data, err := json.Marshal(s.toFeedChangeJSON(&entries[i], proj))
				if err != nil {
					return err
				}
				buf = strconv.AppendUint(append(buf, "id: "...), entries[i].Seq, 10)
				buf = append(buf, "\nevent: change\ndata: "...)
				buf = append(append(buf, data...), "\n\n"...)
			}
			if _, err := w.Write(buf); err != nil {
				return nil // the client went away
			}
			flush()
			since = entries[len(entries)-1].Seq
			if len(entries) == streamBatch {
				continue // more to catch up on
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-wake:
		case <-retry:
		case <-heartbeat.C:
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil {
				return nil
			}
			flush()
		}
	}
}
