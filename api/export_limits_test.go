package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"citygrid/api"
)

// smallBuffers makes the server's socket send buffers small, so that an export's writes wait
// for its client to read instead of landing in the kernel.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(32 << 10)
	}
	return c, err
}

// startExportServer serves an export-only server over the shared env, with the server's read
// and write timeouts at timeout and small socket buffers on both sides.
func startExportServer(t *testing.T, cfg api.Config, timeout time.Duration) (*httptest.Server, *http.Client) {
	t.Helper()
	e := sharedEnv(t)
	cfg.Index, cfg.Service = e.idx, e.svc
	srv := httptest.NewUnstartedServer(api.NewServer(cfg).Handler())
	srv.Listener = smallBuffers{srv.Listener}
	srv.Config.ReadTimeout = timeout
	srv.Config.WriteTimeout = timeout
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(32 << 10)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return srv, &http.Client{Transport: tr}
}

// readSlowly reads r at about rate bytes a second.
func readSlowly(r io.Reader, rate int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 8<<10)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
	}
}

// TestExportTimeouts: an export read slowly outlives the server's WriteTimeout (200 ms here),
// as it moves its own deadline on, and is whole; one that runs past ExportTimeout is cut off
// (the connection breaks, the collection is never closed) and frees its place.
func TestExportTimeouts(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	cases := []struct {
		name          string
		exportTimeout time.Duration
		wantWhole     bool
	}{
		{"outlives WriteTimeout", time.Minute, true},
		{"cut off at ExportTimeout", 300 * time.Millisecond, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, client := startExportServer(t, api.Config{ExportTimeout: tc.exportTimeout, MaxExports: 1}, writeTimeout)
			start := time.Now()
			resp, err := client.Get(srv.URL + "/api/v1/export/components")
			if err != nil {
				t.Fatal(err)
			}
			body, err := readSlowly(resp.Body, 1<<20)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d %s", resp.StatusCode, body)
			}
			var fc struct {
				Type     string            `json:"type"`
				Features []json.RawMessage `json:"features"`
			}
			jerr := json.Unmarshal(body, &fc)
			whole := err == nil && jerr == nil && fc.Type == "FeatureCollection"
			t.Logf("%d bytes in %v, read error %v, JSON error %v", len(body), took, err, jerr)
			if whole != tc.wantWhole {
				t.Fatalf("export whole = %v (read error %v, JSON error %v, %d bytes in %v), want %v", whole, err, jerr, len(body), took, tc.wantWhole)
			}
			if tc.wantWhole {
				if len(fc.Features) == 0 {
					t.Errorf("the export has no features")
				}
				if took < 3*writeTimeout {
					t.Errorf("the export took %v, want it past the server's WriteTimeout %v for the test to show anything", took, writeTimeout)
				}
				return
			}
			if took > tc.exportTimeout+5*time.Second {
				t.Errorf("the export was cut off after %v, want about %v", took, tc.exportTimeout)
			}
			// Its place is free again (MaxExports 1), once the handler has ended.
			deadline := time.Now().Add(5 * time.Second)
			for {
				resp, err := client.Get(srv.URL + "/api/v1/export/cells")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("an export after the cut = %d, want 200 (the place freed)", resp.StatusCode)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestExportBusy: beyond MaxExports running at once, an export is refused at once with 503
// busy and Retry-After.
func TestExportBusy(t *testing.T) {
	srv, client := startExportServer(t, api.Config{MaxExports: 1}, time.Minute)
	first, err := client.Get(srv.URL + "/api/v1/export/components") // not read: it holds its place
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	resp, err := http.Get(srv.URL + "/api/v1/export/cells")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), `"code":"busy"`) {
		t.Fatalf("a second export = %d %s, want 503 busy", resp.StatusCode, b)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 busy without Retry-After")
	}
}
