package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// badComponents is a CSV of components: one at the point p, one with swapped coordinates,
// one without a class.
func badComponents(lon, lat float64) string {
	return "id,class,name,lon,lat\n" +
		fmt.Sprintf(",01037,lamp ok,%v,%v\n", lon, lat) +
		fmt.Sprintf("50010301037900001,01037,lamp swapped,%v,%v\n", lat, lon) +
		fmt.Sprintf("50010301037900002,,lamp without class,%v,%v\n", lon, lat)
}

type rejectedResp struct {
	Type   string `json:"type"`
	Report struct {
		Total    int  `json:"total"`
		Rejected int  `json:"rejected"`
		Created  int  `json:"created"`
		Stored   bool `json:"stored"`
		DryRun   bool `json:"dry_run"`
		Problems []struct {
			Index   int    `json:"index"`
			Feature int    `json:"feature"`
			ID      string `json:"id"`
			Code    string `json:"code"`
			Hint    string `json:"hint"`
		} `json:"problems"`
	} `json:"report"`
	Features []struct {
		Geometry   json.RawMessage `json:"geometry"`
		Properties map[string]any  `json:"properties"`
	} `json:"features"`
}

// TestCensusRejectedGeoJSON: ?rejected=geojson answers the refused features with their
// problems as a FeatureCollection carrying the report; 422 when nothing was stored, 200 when
// something was; dry_run stores nothing.
func TestCensusRejectedGeoJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	p, _ := cellPoint(t, e.idx, 0)
	doc := badComponents(p[0], p[1])
	before := e.idx.Stats().Components
	for _, tc := range []struct {
		name, query string
		status      int
		created     int
		stored      bool
	}{
		{"strict", "?rejected=geojson", 422, 0, false},
		{"partial dry run", "?rejected=geojson&mode=partial&dry_run=true", 200, 1, false},
		{"partial", "?rejected=geojson&mode=partial", 200, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, "POST", "/api/v1/census/components"+tc.query, doc, "Content-Type", "text/csv")
			if ct := rec.Header().Get("Content-Type"); ct != "application/geo+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var fc rejectedResp
			decode(t, rec, tc.status, &fc)
			if fc.Type != "FeatureCollection" || len(fc.Features) != 2 {
				t.Fatalf("answer: %s", rec.Body)
			}
			r := fc.Report
			if r.Total != 3 || r.Rejected != 2 || r.Created != tc.created || r.Stored != tc.stored || len(r.Problems) != 2 {
				t.Errorf("report %+v", r)
			}
			if pr := r.Problems[0]; pr.Index != 1 || pr.Feature != 2 || pr.ID != "50010301037900001" || !strings.Contains(pr.Hint, "swapped") {
				t.Errorf("problem 0: %+v", pr)
			}
			for i, id := range []string{"50010301037900001", "50010301037900002"} {
				props := fc.Features[i].Properties
				probs, _ := props["citygrid_problems"].([]any)
				if props["id"] != id || len(probs) != 1 {
					t.Errorf("feature %d: %v", i, props)
				}
			}
		})
	}
	if got := e.idx.Stats().Components; got != before+1 {
		t.Errorf("components %d, want %d (one stored by the partial import only)", got, before+1)
	}
	runErrCases(t, e, []errCase{
		{name: "rejected other than geojson", method: "POST", target: "/api/v1/census/components?rejected=csv", body: doc, status: 400, code: "invalid_input"},
		{name: "rejected for units", method: "POST", target: "/api/v1/census/units?rejected=geojson", body: `{"units":[]}`, status: 400, code: "invalid_input"},
		{name: "dry_run not a bool", method: "POST", target: "/api/v1/census/components?dry_run=maybe", body: doc, status: 400, code: "invalid_input"},
		{name: "empty census", method: "POST", target: "/api/v1/census/components?format=csv", body: "id,class,lon,lat\n", status: 422, code: "empty_census"},
		{name: "empty rules", method: "POST", target: "/api/v1/census/rules", body: `{"rules":[]}`, status: 422, code: "empty_census"},
	})
}

// TestCensusDryRun: ?dry_run=true on the cells of the city answers the report of a re-import
// (all updated) and changes nothing.
func TestCensusDryRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	before := e.idx.Stats()
	var rep struct {
		Created, Updated, Unchanged, Total int
		Stored                             bool
		DryRun                             bool `json:"dry_run"`
	}
	decode(t, e.do(t, "POST", "/api/v1/census/components?dry_run=true&format=csv", readFixture(t, "components")), 200, &rep)
	if !rep.DryRun || rep.Stored || rep.Unchanged != rep.Total || rep.Total == 0 {
		t.Errorf("dry run of the stored components: %+v, want all unchanged, nothing stored", rep)
	}
	if after := e.idx.Stats(); after != before {
		t.Errorf("index changed in a dry run: %+v → %+v", before, after)
	}
}

type jobResp struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	State   string   `json:"state"`
	Records int64    `json:"records"`
	Rate    float64  `json:"rate"`
	ETA     *float64 `json:"eta_seconds"`
	Status  int      `json:"status"`
	Report  *struct {
		Created int  `json:"created"`
		Total   int  `json:"total"`
		Stored  bool `json:"stored"`
	} `json:"report"`
	Problem *struct {
		Code string `json:"code"`
	} `json:"problem"`
}

// TestCensusAsync: ?async=true (or Prefer: respond-async) answers 202 with a job to poll;
// the job ends with the report, or with the status and problem the upload would have got.
func TestCensusAsync(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells"}})
	poll := func(t *testing.T, loc string) jobResp {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var j jobResp
			decode(t, e.do(t, "GET", loc, ""), 200, &j)
			if j.State == "done" || j.State == "failed" {
				return j
			}
			switch j.State {
			case "queued", "checking", "storing":
			default:
				t.Fatalf("job state %q", j.State)
			}
			if time.Now().After(deadline) {
				t.Fatalf("job still %s", j.State)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	p, _ := cellPoint(t, e.idx, 0)
	for _, tc := range []struct {
		name, query, body string
		headers           []string
		state             string
		status            int
		code              string
		created           int
	}{
		{"components", "?async=true&format=csv", readFixture(t, "components"), nil, "done", 200, "", testCity().Components},
		{"prefer header, rejected", "?format=csv", badComponents(p[0], p[1]), []string{"Prefer", "respond-async"}, "done", 422, "import_rejected", 0},
		{"empty", "?async=true&format=csv", "id,class,lon,lat\n", nil, "done", 422, "empty_census", 0},
		{"broken document", "?async=true&format=geojson", `{"type":"FeatureCollection","features":[`, nil, "failed", 400, "invalid_input", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, "POST", "/api/v1/census/components"+tc.query, tc.body, tc.headers...)
			var j jobResp
			decode(t, rec, 202, &j)
			loc := rec.Header().Get("Location")
			if loc != "/api/v1/jobs/"+j.ID || j.ID == "" || j.Kind != "components" {
				t.Fatalf("202: Location %q, job %+v", loc, j)
			}
			j = poll(t, loc)
			if j.State != tc.state || j.Status != tc.status {
				t.Fatalf("job ended %+v, want %s with status %d", j, tc.state, tc.status)
			}
			if tc.code != "" && (j.Problem == nil || j.Problem.Code != tc.code) {
				t.Errorf("job problem %+v, want %s", j.Problem, tc.code)
			}
			if tc.state == "done" && (j.Report == nil || j.Report.Created != tc.created) {
				t.Errorf("job report %+v, want %d created", j.Report, tc.created)
			}
			if tc.created > 0 && (j.Records != int64(tc.created) || j.Rate <= 0) {
				t.Errorf("job progress: %d records at %v/s, want %d", j.Records, j.Rate, tc.created)
			}
		})
	}
	if got := e.idx.Stats().Components; got != testCity().Components {
		t.Errorf("components after the jobs: %d, want %d", got, testCity().Components)
	}
	runErrCases(t, e, []errCase{
		{name: "unknown job", method: "GET", target: "/api/v1/jobs/0123", status: 404, code: "not_found"},
		{name: "rejected with async", method: "POST", target: "/api/v1/census/components?async=true&rejected=geojson", body: "x", status: 400, code: "invalid_input"},
	})
}
