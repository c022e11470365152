package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"citygrid/api"
	"citygrid/registry"
	"citygrid/spatial"
)

type changeEntry struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Kind   string          `json:"kind"`
	ID     string          `json:"id"`
	Op     string          `json:"op"`
	Actor  string          `json:"actor"`
	Record json.RawMessage `json:"record"`
}

type changesPage struct {
	Changes []changeEntry `json:"changes"`
	Next    uint64        `json:"next"`
}

func lastSeq(t testing.TB, st registry.Store) uint64 {
	t.Helper()
	seq, err := st.(registry.ChangeFeed).LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// checkRecord checks that a change's record is what the API shows for that kind and id.
func checkRecord(t testing.TB, e changeEntry) {
	t.Helper()
	var rec struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Geometry   map[string]any `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	if string(e.Record) == "null" {
		if e.Op != "delete" {
			t.Errorf("change %d (%s %s %s): record null, want the stored record", e.Seq, e.Op, e.Kind, e.ID)
		}
		return
	}
	if err := json.Unmarshal(e.Record, &rec); err != nil {
		t.Fatalf("change %d record %s: %v", e.Seq, e.Record, err)
	}
	switch e.Kind {
	case "cell":
		if rec.Type != "Feature" || rec.ID != e.ID || rec.Properties["code"] != e.ID || rec.Geometry["type"] == nil {
			t.Errorf("change %d: cell record = %s, want a Feature of cell %s", e.Seq, e.Record, e.ID)
		}
	case "component":
		if rec.Type != "Feature" || rec.ID != e.ID || rec.Properties["id"] != e.ID || rec.Geometry["type"] != "Point" {
			t.Errorf("change %d: component record = %s, want a Point Feature of component %s", e.Seq, e.Record, e.ID)
		}
	case "unit", "rule":
		if rec.Type == "Feature" || rec.Properties != nil || rec.ID != e.ID {
			t.Errorf("change %d: %s record = %s, want the %s document entry of %s", e.Seq, e.Kind, e.Record, e.Kind, e.ID)
		}
	default:
		t.Errorf("change %d: kind %q", e.Seq, e.Kind)
	}
}

func TestChanges(t *testing.T) {
	e := newEnv(t, envOptions{})
	total := lastSeq(t, e.store)
	st := e.idx.Stats()
	if want := uint64(st.Cells + st.Components + st.Units + st.Rules); total != want {
		t.Fatalf("LastSeq after the imports = %d, want %d (one change per record)", total, want)
	}

	var page changesPage
	decode(t, e.do(t, "GET", "/api/v1/changes", ""), 200, &page)
	if len(page.Changes) != 1000 || page.Next != page.Changes[999].Seq || page.Changes[0].Seq != 1 {
		t.Fatalf("GET /changes = %d entries from %d, next %d; want the first 1000 (the default limit), next = the last seq",
			len(page.Changes), page.Changes[0].Seq, page.Next)
	}

	// Paging with next visits every entry once, in order.
	kinds := map[string]int{}
	since := uint64(0)
	for pages := 0; ; pages++ {
		var p changesPage
		decode(t, e.do(t, "GET", fmt.Sprintf("/api/v1/changes?since=%d&limit=10000", since), ""), 200, &p)
		if len(p.Changes) == 0 {
			if p.Next != since {
				t.Errorf("an empty page's next = %d, want since %d", p.Next, since)
			}
			break
		}
		for _, c := range p.Changes {
			if c.Seq != since+1 {
				t.Fatalf("entry seq %d after %d, want %d", c.Seq, since, since+1)
			}
			if c.Op != "create" || c.Time.IsZero() {
				t.Errorf("entry %d = %s at %v, want a create with a time", c.Seq, c.Op, c.Time)
			}
			checkRecord(t, c)
			kinds[c.Kind]++
			since = c.Seq
		}
		if p.Next != since || pages > 5 {
			t.Fatalf("next = %d, want %d", p.Next, since)
		}
	}
	if since != total || kinds["cell"] != st.Cells || kinds["component"] != st.Components || kinds["unit"] != st.Units || kinds["rule"] != st.Rules {
		t.Errorf("paged through %d entries by kind %v, want %d: %+v", since, kinds, total, st)
	}

	// An edit appears after everything else, and earlier entries show the current record.
	p, cell := cellPoint(t, e.idx, 0)
	body := fmt.Sprintf(`{"type":"Feature","properties":{"class":"01037","name":"新路灯"},"geometry":{"type":"Point","coordinates":[%v,%v]}}`, p[0], p[1])
	rec := e.do(t, "POST", "/api/v1/components", body)
	if rec.Code != 201 {
		t.Fatalf("POST /components = %d %s", rec.Code, short(rec.Body))
	}
	rules := e.idx.Rules()
	if rec := e.do(t, "DELETE", "/api/v1/rules/"+rules[0].ID, "", "If-Match", "*", "X-Actor", "dispatcher-wang"); rec.Code != 204 {
		t.Fatalf("DELETE rule = %d %s", rec.Code, short(rec.Body))
	}
	var tail changesPage
	decode(t, e.do(t, "GET", fmt.Sprintf("/api/v1/changes?since=%d", total), ""), 200, &tail)
	if len(tail.Changes) != 2 || tail.Changes[0].Kind != "component" || tail.Changes[0].Op != "create" ||
		tail.Changes[1].Kind != "rule" || tail.Changes[1].Op != "delete" || tail.Changes[1].ID != rules[0].ID || tail.Next != total+2 {
		t.Fatalf("changes after %d = %+v, want a component create and the rule delete", total, tail)
	}
	if tail.Changes[0].Actor != "anonymous" || tail.Changes[1].Actor != "dispatcher-wang" {
		t.Errorf("actors of the changes = %q, %q; want anonymous (no X-Actor) and dispatcher-wang", tail.Changes[0].Actor, tail.Changes[1].Actor)
	}
	var created struct {
		Properties struct {
			Cell string `json:"cell"`
			Name string `json:"name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(tail.Changes[0].Record, &created); err != nil || created.Properties.Cell != string(cell.Code) || created.Properties.Name != "新路灯" {
		t.Errorf("created component record = %s (%v), want name 新路灯 in cell %s", tail.Changes[0].Record, err, cell.Code)
	}
	checkRecord(t, tail.Changes[0])
	checkRecord(t, tail.Changes[1])
	var ruleEntry changesPage
	decode(t, e.do(t, "GET", "/api/v1/changes?since=0&limit=10000", ""), 200, &ruleEntry)
	for _, c := range ruleEntry.Changes {
		if c.Kind == "rule" && c.ID == rules[0].ID && string(c.Record) != "null" {
			t.Errorf("the create of the deleted rule %s (seq %d) has record %s, want null: records are current", c.ID, c.Seq, c.Record)
		}
	}

	runErrCases(t, e, []errCase{
		{name: "bad since", method: "GET", target: "/api/v1/changes?since=x", status: 400, code: "invalid_since"},
		{name: "negative since", method: "GET", target: "/api/v1/changes?since=-1", status: 400, code: "invalid_since"},
		{name: "limit 0", method: "GET", target: "/api/v1/changes?limit=0", status: 400, code: "invalid_limit"},
		{name: "limit too large", method: "GET", target: "/api/v1/changes?limit=10001", status: 400, code: "invalid_limit"},
		{name: "stream bad since", method: "GET", target: "/api/v1/changes/stream?since=1.5", status: 400, code: "invalid_since"},
		{name: "stream bad Last-Event-ID", method: "GET", target: "/api/v1/changes/stream", headers: []string{"Last-Event-ID", "abc"}, status: 400, code: "invalid_since"},
	})
}

// noFeed hides the store's change feed.
type noFeed struct{ registry.Store }

func TestChangesWithoutFeed(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{}})
	svc := registry.NewService(noFeed{e.store}, e.idx, registry.DefaultCatalog(), nil)
	e.h = api.NewServer(api.Config{Index: e.idx, Service: svc}).Handler()
	runErrCases(t, e, []errCase{
		{name: "changes", method: "GET", target: "/api/v1/changes", status: 503, code: "feed_unavailable"},
		{name: "stream", method: "GET", target: "/api/v1/changes/stream", status: 503, code: "feed_unavailable"},
	})
	// A store without a feed will not have one a second later: no Retry-After.
	if rec := e.do(t, "GET", "/api/v1/changes", ""); rec.Header().Get("Retry-After") != "" {
		t.Errorf("GET /api/v1/changes without a feed: Retry-After %q, want none", rec.Header().Get("Retry-After"))
	}
}

// sseEvent is one event of a text/event-stream, or a comment.
type sseEvent struct {
	ID, Event, Data string
	Comment         string
}

// openStream GETs a change stream and delivers its events; the stream is closed when t ends.
func openStream(t *testing.T, ctx context.Context, url string, headers ...string) (<-chan sseEvent, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				events <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			default:
				ev.Comment = "unexpected line " + line
			}
		}
	}()
	return events, resp
}

// nextChange returns the next change event, skipping heartbeats; it fails after within.
func nextChange(t *testing.T, events <-chan sseEvent, within time.Duration) changeEntry {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.Comment == "heartbeat" && ev.Event == "" {
				continue
			}
			var c changeEntry
			if ev.Event != "change" || json.Unmarshal([]byte(ev.Data), &c) != nil || ev.ID != strconv.FormatUint(c.Seq, 10) {
				t.Fatalf("event %+v, want a change whose id is its seq", ev)
			}
			return c
		case <-timeout:
			t.Fatalf("no change event within %v", within)
		}
	}
}

func TestChangeStream(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}, cfg: api.Config{StreamHeartbeat: time.Hour}})
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close) // after the streams' cleanups, which close them: Close waits for them
	ctx := context.Background()
	total := lastSeq(t, e.store)

	// Backlog from since, then live changes: woken by the write, not by a poll (the
	// heartbeat, the only timer, is an hour).
	events, _ := openStream(t, ctx, fmt.Sprintf("%s/api/v1/changes/stream?since=%d", srv.URL, total-2))
	for want := total - 1; want <= total; want++ {
		if c := nextChange(t, events, 5*time.Second); c.Seq != want {
			t.Fatalf("backlog event seq %d, want %d", c.Seq, want)
		}
	}
	p, cell := cellPoint(t, e.idx, 3)
	body := fmt.Sprintf(`{"type":"Feature","properties":{"class":"01037"},"geometry":{"type":"Point","coordinates":[%v,%v]}}`, p[0], p[1])
	start := time.Now()
	if rec := e.do(t, "POST", "/api/v1/components", body, "X-Actor", "surveyor-zhou"); rec.Code != 201 {
		t.Fatalf("POST /components = %d %s", rec.Code, short(rec.Body))
	}
	c := nextChange(t, events, 2*time.Second)
	if c.Seq != total+1 || c.Kind != "component" || c.Op != "create" || c.Actor != "surveyor-zhou" || !strings.Contains(string(c.Record), string(cell.Code)) {
		t.Fatalf("live event = %+v, want the create of a component in %s by surveyor-zhou", c, cell.Code)
	}
	t.Logf("write → event in %v", time.Since(start))

	// Without since, the stream starts at the end of the feed; Last-Event-ID beats since.
	fresh, _ := openStream(t, ctx, srv.URL+"/api/v1/changes/stream")
	resumed, _ := openStream(t, ctx, srv.URL+"/api/v1/changes/stream?since=0", "Last-Event-ID", strconv.FormatUint(total, 10))
	if c := nextChange(t, resumed, 5*time.Second); c.Seq != total+1 {
		t.Fatalf("stream with Last-Event-ID %d began at seq %d, want %d", total, c.Seq, total+1)
	}
	// Wait until the fresh stream has read the feed's end, by a second write it must see.
	if _, err := e.svc.PutUnit(ctx, registry.Unit{ID: "new-unit", Name: "新单位", Type: registry.UnitPublicService}, registry.NoVersion, "tester"); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, fresh, 5*time.Second); c.Seq != total+2 || c.Kind != "unit" || c.ID != "new-unit" || c.Actor != "tester" {
		t.Fatalf("stream without since: first event %+v, want seq %d (the unit written after it opened)", c, total+2)
	}
}

func TestChangeStreamHeartbeatAndEnd(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"units"}, cfg: api.Config{StreamHeartbeat: 20 * time.Millisecond}})
	server := api.NewServer(api.Config{Index: e.idx, Service: e.svc, StreamHeartbeat: 20 * time.Millisecond})
	srv := httptest.NewServer(server.Handler())
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	events, _ := openStream(t, ctx, srv.URL+"/api/v1/changes/stream")
	for range 2 {
		select {
		case ev := <-events:
			if ev.Comment != "heartbeat" || ev.Event != "" || ev.Data != "" {
				t.Fatalf("idle stream sent %+v, want a heartbeat comment", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat within 5 s at a 20 ms interval")
		}
	}
	// The handler returns when the client goes: Close waits for every request.
	cancel()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream handler still runs 5 s after its client went away")
	}

	// CloseStreams ends open streams (server shutdown).
	srv2 := httptest.NewServer(server.Handler())
	defer srv2.Close()
	events2, _ := openStream(t, context.Background(), srv2.URL+"/api/v1/changes/stream")
	server.CloseStreams()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-events2:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream is still open 5 s after CloseStreams")
		}
	}
}

// TestChangeStreamFollower: a stream on a node that follows the feed delivers what another
// node (another Service on the same store) writes, and /readyz shows the applied seq.
func TestChangeStreamFollower(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units", "rules"}})
	ctx, cancel := context.WithCancel(context.Background())
	idxB := spatial.New(spatial.Options{})
	svcB := registry.NewService(e.store, idxB, registry.DefaultCatalog(), nil)
	if _, err := svcB.LoadIndex(ctx, idxB.Load); err != nil {
		t.Fatal(err)
	}
	wake := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- svcB.Follow(ctx, e.store, wake, time.Hour) }()
	defer func() { cancel(); <-done }()
	b := api.NewServer(api.Config{Index: idxB, Service: svcB, StreamHeartbeat: time.Hour})
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)

	events, _ := openStream(t, ctx, srv.URL+"/api/v1/changes/stream")
	p, _ := cellPoint(t, e.idx, 5)
	created, err := e.svc.CreateComponent(ctx, &registry.Feature{Index: -1, Geometry: p, Props: map[string]string{"class": "01037"}}, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	wake <- struct{}{} // what PostgreSQL's NOTIFY does in production
	c := nextChange(t, events, 5*time.Second)
	if c.ID != created.ID.String() || c.Op != "create" {
		t.Fatalf("node B's stream: %+v, want the create of %s by node A", c, created.ID)
	}
	if _, ok := idxB.ComponentByKey(created.Key); !ok {
		t.Error("node B streamed the create before its index held the component")
	}
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
		t.Fatal(err)
	}
	if ready["applied_seq"] != float64(c.Seq) {
		t.Errorf("node B /readyz = %v, want applied_seq %d", ready, c.Seq)
	}
	var readyA map[string]any
	decode(t, e.do(t, "GET", "/readyz", ""), 200, &readyA)
	if _, ok := readyA["applied_seq"]; ok {
		t.Errorf("/readyz of a node that does not follow = %v, want no applied_seq", readyA)
	}
}
