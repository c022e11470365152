package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestQueryNumbersFollowJSON: numbers in queries and headers (If-Match, Last-Event-ID) that
// strconv takes but JSON does not are 400.
func TestQueryNumbersFollowJSON(t *testing.T) {
	e := sharedEnv(t)
	p, _ := cellPoint(t, e.idx, 0)
	lon, lat := fmt.Sprint(p[0]), fmt.Sprint(p[1])
	bbox := bboxParam(cityBound(t, e.idx))
	var page struct {
		Features []struct {
			ID string `json:"id"`
		} `json:"features"`
	}
	decode(t, e.do(t, "GET", "/api/v1/components?limit=1&bbox="+bbox, ""), 200, &page)
	if len(page.Features) == 0 {
		t.Fatal("no component in the test city")
	}
	comp := "/api/v1/components/" + page.Features[0].ID
	// Integers (k, limit, version, If-Match, since) also refuse what JSON writes only as a
	// decimal.
	intCases := func(bad string) []errCase {
		return []errCase{
			{name: "k " + bad, method: "GET", target: "/api/v1/nearest?lon=" + lon + "&lat=" + lat + "&k=" + bad, status: 400, code: "invalid_k"},
			{name: "limit " + bad, method: "GET", target: "/api/v1/cells?bbox=" + bbox + "&limit=" + bad, status: 400, code: "invalid_limit"},
			{name: "version " + bad, method: "DELETE", target: comp + "?version=" + bad, status: 400, code: "invalid_version"},
			{name: "If-Match " + bad, method: "DELETE", target: comp, headers: []string{"If-Match", `"` + bad + `"`}, status: 400, code: "invalid_if_match"},
			{name: "since " + bad, method: "GET", target: "/api/v1/changes?since=" + bad, status: 400, code: "invalid_since"},
		}
	}
	var cases []errCase
	for _, bad := range []string{"0x1.aa2p6", "10_6.5", "+1", ".5", "1.", "Inf", "NaN", "1e", "01", "007"} {
		cases = append(cases,
			errCase{name: "lookup lon " + bad, method: "GET", target: "/api/v1/lookup?lon=" + bad + "&lat=" + lat, status: 400, code: "invalid_point"},
			errCase{name: "nearest lat " + bad, method: "GET", target: "/api/v1/nearest?lon=" + lon + "&lat=" + bad, status: 400, code: "invalid_point"},
			errCase{name: "radius " + bad, method: "GET", target: "/api/v1/nearest?lon=" + lon + "&lat=" + lat + "&radius=" + bad, status: 400, code: "invalid_radius"},
		)
		cases = append(cases, intCases(bad)...)
	}
	for _, bad := range []string{"1e1", "1.0", "%2B1"} { // %2B: a "+" in the query
		cases = append(cases, intCases(bad)...)
	}
	cases = append(cases,
		errCase{name: "bbox 0x", method: "GET", target: "/api/v1/components?bbox=0x1p6,29,107,30", status: 400, code: "invalid_bbox"},
	)
	runErrCases(t, e, cases)
	// Last-Event-ID, on the stream: served briefly, so that a stream wrongly opened ends.
	for _, bad := range []string{"+1", "01", "1e1", "1.0", "0x10"} {
		req := httptest.NewRequest("GET", "/api/v1/changes/stream", nil)
		req.Header.Set("Last-Event-ID", bad)
		if rec := serveShort(e.h, req); rec.Code != 400 || problemOf(t, rec).Code != "invalid_since" {
			t.Errorf("stream with Last-Event-ID %s = %d %s, want 400 invalid_since", bad, rec.Code, short(rec.Body))
		}
	}
	for _, target := range []string{
		"/api/v1/lookup?lon=" + lon + "&lat=" + lat,
		"/api/v1/nearest?lon=" + lon + "&lat=" + lat + "&k=3&radius=1e3",
		"/api/v1/cells?bbox=" + bbox + "&limit=10",
		"/api/v1/changes?since=0&limit=1",
		"/api/v1/changes?since=1",
	} {
		if rec := e.do(t, "GET", target, ""); rec.Code != 200 {
			t.Errorf("GET %s = %d %s, want 200", target, rec.Code, short(rec.Body))
		}
	}
}

// TestFreeTextLimits: the retire note in the query has the census limit, X-Actor has one,
// and a path or query that is not UTF-8 is refused rather than stored as U+FFFD.
func TestFreeTextLimits(t *testing.T) {
	e := newEnv(t, envOptions{})
	var page struct {
		Features []struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	bbox := bboxParam(cityBound(t, e.idx))
	decode(t, e.do(t, "GET", "/api/v1/components?limit=2&bbox="+bbox, ""), 200, &page)
	if len(page.Features) < 2 {
		t.Fatalf("want 2 components, got %d", len(page.Features))
	}
	id, id2 := page.Features[0].ID, page.Features[1].ID
	note := func(n int) string { return strings.Repeat("注", n) }
	runErrCases(t, e, []errCase{
		{name: "note 1001", method: "DELETE", target: "/api/v1/components/" + id + "?version=1&note=" + note(1001), status: 400, code: "too_long"},
		{name: "note not UTF-8", method: "DELETE", target: "/api/v1/components/" + id + "?version=1&note=%FF", status: 400, code: "invalid_encoding"},
		{name: "actor 101", method: "DELETE", target: "/api/v1/components/" + id + "?version=1", headers: []string{"X-Actor", strings.Repeat("a", 101)}, status: 400, code: "invalid_actor"},
		{name: "actor control", method: "DELETE", target: "/api/v1/components/" + id + "?version=1", headers: []string{"X-Actor", "a\x01b"}, status: 400, code: "invalid_actor"},
		{name: "actor not UTF-8", method: "DELETE", target: "/api/v1/components/" + id + "?version=1", headers: []string{"X-Actor", "a\xffb"}, status: 400, code: "invalid_actor"},
		{name: "unit id not UTF-8", method: "PUT", target: "/api/v1/units/a%FFb", body: `{"id":"a\ufffdb","name":"x","type":"admin_department"}`, status: 400, code: "invalid_encoding"},
		{name: "unit get not UTF-8", method: "GET", target: "/api/v1/units/%C3", status: 400, code: "invalid_encoding"},
		{name: "unit id 65", method: "PUT", target: "/api/v1/units/" + strings.Repeat("u", 65), body: `{"name":"x","type":"admin_department"}`, status: 400, code: "too_long"},
		{name: "unit parent 65", method: "PUT", target: "/api/v1/units/u", body: `{"name":"x","type":"admin_department","parent":"` + strings.Repeat("p", 65) + `"}`, status: 400, code: "too_long"},
		{name: "unit body not UTF-8", method: "PUT", target: "/api/v1/units/u", body: `{"name":"a` + "\xff" + `b","type":"admin_department"}`, status: 400, code: "invalid_encoding"},
		{name: "rule id 65", method: "PUT", target: "/api/v1/rules/" + strings.Repeat("r", 65), body: `{"class":"*","unit":"u"}`, status: 400, code: "too_long"},
		{name: "class not UTF-8", method: "GET", target: "/api/v1/components?bbox=" + bbox + "&class=%FE", status: 400, code: "invalid_encoding"},
		{name: "query name not UTF-8", method: "GET", target: "/api/v1/cells?bbox=" + bbox + "&%FF=1", status: 400, code: "invalid_encoding"},
	})
	rec := e.do(t, "DELETE", "/api/v1/components/"+id+"?version=1&note="+note(1000), "", "X-Actor", strings.Repeat("名", 100))
	if rec.Code != http.StatusOK {
		t.Fatalf("retire with a 1000-character note and a 100-character actor = %d %s", rec.Code, short(rec.Body))
	}
	var h struct {
		Changes []struct{ Note string } `json:"changes"`
	}
	decode(t, e.do(t, "GET", "/api/v1/components/"+id+"/history", ""), 200, &h)
	if n := len(h.Changes); n == 0 || h.Changes[n-1].Note != note(1000) {
		t.Errorf("history %+v: want the retirement's note of the 1000 characters sent", h.Changes)
	}
	if rec := e.do(t, "DELETE", "/api/v1/components/"+id2+"?version=1", ""); rec.Code != http.StatusOK {
		t.Errorf("retire without note or actor = %d %s", rec.Code, short(rec.Body))
	}
}

// TestCensusIDLimits: a census entry whose id is not UTF-8 or longer than 64 characters is
// refused with that problem, as PUT refuses it.
func TestCensusIDLimits(t *testing.T) {
	e := newEnv(t, envOptions{kinds: []string{"cells", "units"}})
	unit := e.idx.Units()[0].ID
	for _, tt := range []struct {
		name, kind, body string
		wantField        string
		wantCode         string
	}{
		{"unit id not UTF-8", "units", `[{"id":"a` + "\xff" + `b","name":"x","type":"admin_department"}]`, "", "invalid_encoding"},
		{"unit id 65", "units", `[{"id":"` + strings.Repeat("编", 65) + `","name":"x","type":"admin_department"}]`, "id", "too_long"},
		{"rule id 65", "rules", `[{"id":"` + strings.Repeat("r", 65) + `","class":"*","unit":"` + unit + `"}]`, "id", "too_long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, "POST", "/api/v1/census/"+tt.kind, tt.body)
			if rec.Code != 422 {
				t.Fatalf("POST /census/%s = %d %s, want 422", tt.kind, rec.Code, short(rec.Body))
			}
			var rep reportResp
			if p := problemOf(t, rec); p.Code != "import_rejected" || json.Unmarshal(p.Report, &rep) != nil {
				t.Fatalf("problem = %+v, want import_rejected with a report", p)
			}
			if len(rep.Problems) != 1 || rep.Problems[0].Field != tt.wantField || rep.Problems[0].Code != tt.wantCode {
				t.Errorf("problems = %+v, want one %s on field %q", rep.Problems, tt.wantCode, tt.wantField)
			}
		})
	}
}
