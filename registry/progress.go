package registry

import (
	"io"
	"sync/atomic"
	"time"
)

// Stage is where a census import is.
type Stage int32

const (
	StageQueued   Stage = iota // waiting for its turn
	StageChecking              // reading and validating the records
	StageStoring               // writing the valid records (one transaction)
	StageDone                  // finished, stored or not
)

// String is the stage's name in reports: queued, checking, storing or done.
func (s Stage) String() string {
	switch s {
	case StageQueued:
		return "queued"
	case StageChecking:
		return "checking"
	case StageStoring:
		return "storing"
	case StageDone:
		return "done"
	}
	return "unknown"
}

// Progress follows one census import in records, for a progress bar or a job to poll. Its
// methods are safe to call from any goroutine while the import runs. Set it up with
// NewProgress, read the input through Reader, and pass Options(opt) to Service.Import.
type Progress struct {
	size    int64 // input bytes, 0 when unknown
	start   atomic.Int64
	bytes   atomic.Int64
	records atomic.Int64
	storing atomic.Int64 // records being written, once StageStoring
	stage   atomic.Int32
}

// NewProgress follows an import of an input of size bytes (0 when unknown).
func NewProgress(size int64) *Progress {
	p := &Progress{size: size}
	p.start.Store(time.Now().UnixNano())
	return p
}

// Reader counts the bytes read from r, from which the number of records is estimated.
func (p *Progress) Reader(r io.Reader) io.Reader { return &countingReader{r: r, n: &p.bytes} }

// Options returns opt with its Progress and Storing hooks feeding p (after any already set).
func (p *Progress) Options(opt ImportOptions) ImportOptions {
	prevProgress, prevStoring := opt.Progress, opt.Storing
	opt.Progress = func(n int) {
		p.begin()
		p.records.Store(int64(n))
		if prevProgress != nil {
			prevProgress(n)
		}
	}
	opt.Storing = func(n int) {
		p.storing.Store(int64(n))
		p.stage.Store(int32(StageStoring))
		if prevStoring != nil {
			prevStoring(n)
		}
	}
	return opt
}

// begin moves a queued import to checking, restarting the clock (the rate counts from there).
func (p *Progress) begin() {
	if p.stage.CompareAndSwap(int32(StageQueued), int32(StageChecking)) {
		p.start.Store(time.Now().UnixNano())
	}
}

// Start marks the import as started (checking), when its turn comes.
func (p *Progress) Start() { p.begin() }

// Finish marks the import as done.
func (p *Progress) Finish() { p.stage.Store(int32(StageDone)) }

// ProgressSnapshot is a Progress at one moment.
type ProgressSnapshot struct {
	Stage     Stage
	Records   int64         // records read and checked so far
	Estimated int64         // records the input holds, estimated from the bytes read so far (0 when unknown); exact once checking is over
	Storing   int64         // records being written (StageStoring)
	Elapsed   time.Duration // since checking began
	Rate      float64       // records checked per second
	ETA       time.Duration // until checking ends, at the current rate; 0 when unknown or over
}

// Snapshot returns the progress now.
func (p *Progress) Snapshot() ProgressSnapshot {
	s := ProgressSnapshot{Stage: Stage(p.stage.Load()), Records: p.records.Load(), Storing: p.storing.Load()}
	if s.Stage == StageQueued {
		return s
	}
	s.Elapsed = time.Since(time.Unix(0, p.start.Load()))
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.Rate = float64(s.Records) / secs
	}
	switch b := p.bytes.Load(); {
	case s.Stage != StageChecking:
		s.Estimated = s.Records
	case b > 0 && p.size > 0 && s.Records > 0:
		s.Estimated = max(s.Records, int64(float64(s.Records)*float64(p.size)/float64(b)))
	}
	if s.Stage == StageChecking && s.Estimated > 0 && s.Rate > 0 {
		s.ETA = time.Duration(float64(s.Estimated-s.Records) / s.Rate * float64(time.Second))
	}
	return s
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
