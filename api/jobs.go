package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"citygrid/registry"
)

// maxJobs is how many census jobs a node remembers; the oldest finished ones go first.
const maxJobs = 100

// jobTTL is how long a finished job can still be read.
const jobTTL = time.Hour

// censusJob is a census upload imported in the background (POST /api/v1/census/{kind}?async=true).
type censusJob struct {
	id      string
	kind    registry.Census
	created time.Time
	prog    *registry.Progress

	mu       sync.Mutex
	finished time.Time // zero while it runs
	rep      registry.Report
	err      error
}

// jobTable holds the jobs of a node, in memory: a restart forgets them.
type jobTable struct {
	mu    sync.Mutex
	jobs  map[string]*censusJob
	order []*censusJob // oldest first
}

func newJobTable() *jobTable { return &jobTable{jobs: make(map[string]*censusJob)} }

// add registers a new job, forgetting finished ones past jobTTL or beyond maxJobs.
func (t *jobTable) add(kind registry.Census, prog *registry.Progress) *censusJob {
	var b [12]byte
	_, _ = rand.Read(b[:])
	j := &censusJob{id: hex.EncodeToString(b[:]), kind: kind, created: time.Now(), prog: prog}
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := t.order[:0]
	for i, o := range t.order {
		fin := o.finishedAt()
		expired := !fin.IsZero() && (time.Since(fin) > jobTTL || len(t.order)-i >= maxJobs)
		if expired {
			delete(t.jobs, o.id)
			continue
		}
		keep = append(keep, o)
	}
	t.order = append(keep, j)
	t.jobs[j.id] = j
	return j
}

func (t *jobTable) get(id string) (*censusJob, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.jobs[id]
	return j, ok
}

func (j *censusJob) finishedAt() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.finished
}

func (j *censusJob) finish(rep registry.Report, err error) {
	j.prog.Finish()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rep, j.err, j.finished = rep, err, time.Now()
}

// runJob imports a spooled upload in the background: it waits for its turn in the census
// queue (its place there is held until it ends, then release is called), within the upload
// time limit, and ends early when the server shuts down.
func (s *Server) runJob(j *censusJob, body *spooled, opt registry.ImportOptions, release func()) {
	defer release()
	defer body.remove()
	ctx, cancel := context.WithTimeout(context.Background(), s.census.timeout)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	var rep registry.Report
	err := s.census.queue.run(ctx, func() error {
		j.prog.Start()
		var err error
		rep, err = s.importSpooled(ctx, j.kind, body, opt, j.prog)
		return err
	})
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.census.errTimeout()
	}
	if errors.Is(err, registry.ErrImportRejected) || errors.Is(err, registry.ErrEmptyCensus) {
		err = &rejectedError{report: rep, err: err}
	}
	if err != nil {
		if status, _, _ := statusOf(err); status == http.StatusInternalServerError {
			s.log.Error("census job failed", "job", j.id, "kind", j.kind, "err", err)
		}
	} else {
		s.log.Info("census job done", "job", j.id, "kind", j.kind, "actor", opt.Actor, "created", rep.Created,
			"updated", rep.Updated, "unchanged", rep.Unchanged, "rejected", rep.Rejected, "dry_run", rep.DryRun)
	}
	j.finish(rep, err)
}

// jobJSON is a census job as GET /api/v1/jobs/{id} answers it.
type jobJSON struct {
	ID             string       `json:"id"`
	Kind           string       `json:"kind"`
	State          string       `json:"state"` // queued, checking, storing, done, failed
	Created        time.Time    `json:"created"`
	Records        int64        `json:"records"`             // records read and checked so far
	Estimated      int64        `json:"estimated,omitempty"` // records the upload holds, estimated from the bytes read so far
	Storing        int64        `json:"storing,omitempty"`   // records being written
	Rate           float64      `json:"rate"`                // records checked per second
	ElapsedSeconds float64      `json:"elapsed_seconds"`
	ETASeconds     *float64     `json:"eta_seconds,omitempty"` // until checking ends, at the current rate
	Status         int          `json:"status,omitempty"`      // once finished: the status the upload would have been answered with
	Report         *reportJSON  `json:"report,omitempty"`      // once finished with a report
	Problem        *problemJSON `json:"problem,omitempty"`     // once failed (status other than 200)
}

func (j *censusJob) view() jobJSON {
	snap := j.prog.Snapshot()
	v := jobJSON{ID: j.id, Kind: string(j.kind), State: snap.Stage.String(), Created: j.created.UTC(),
		Records: snap.Records, Estimated: snap.Estimated, Storing: snap.Storing,
		Rate: roundTo(snap.Rate, 1), ElapsedSeconds: roundTo(snap.Elapsed.Seconds(), 0.1)}
	if snap.ETA > 0 {
		eta := roundTo(snap.ETA.Seconds(), 0.1)
		v.ETASeconds = &eta
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished.IsZero() {
		if v.State == "done" {
			v.State = "storing" // finishing: the report is not there yet
		}
		return v
	}
	v.State, v.Status = "done", http.StatusOK
	rep := toReportJSON(&j.rep)
	v.Report = &rep
	if j.err != nil {
		status, code, detail := statusOf(j.err)
		v.Status = status
		v.Problem = &problemJSON{Type: problemTypePrefix + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
		var rj *rejectedError
		if !errors.As(j.err, &rj) {
			v.State, v.Report = "failed", nil
		}
	}
	return v
}

func roundTo(x, unit float64) float64 {
	return float64(int64(x/unit+0.5)) * unit
}

// handleJob serves GET /api/v1/jobs/{id}: a census upload answered with 202. While it runs:
// its state (queued, checking, storing), the records checked so far, the rate, the estimated
// total and ETA; once done: the report and the status the upload would have been answered
// with (200, or 422 import_rejected/empty_census with the report; state "failed" with a
// problem for any other error). 404 not_found for an unknown or forgotten job.
func (s *Server) handleJob(c *gin.Context) error {
	j, ok := s.census.jobs.get(c.Param("id"))
	if !ok {
		return &httpError{status: http.StatusNotFound, code: registry.CodeNotFound,
			detail: "no census job with this id (jobs are kept an hour after they end, and not across restarts)"}
	}
	return okJSON(c, j.view())
}
