package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// refreshTimeout bounds the wait for the gateway to list the bucket
// again after a change.
const refreshTimeout = 30 * time.Second

// TestStaleCommitAfterUpload changes an object between a client's
// listing and its per-file requests, as an upload during a snapshot
// download would. Once the gateway has listed the bucket again, every
// request at the old commit id fails with RevisionNotFound, and the new
// commit serves the new bytes.
func TestStaleCommitAfterUpload(t *testing.T) {
	const model = "acme/changing"
	seed(t, model, map[string][]byte{
		"a.bin":     []byte("version one"),
		"b.bin":     []byte("unchanged"),
		"c/d.bin":   []byte("nested"),
		"e.bin":     []byte("more"),
		"empty.txt": {},
	})
	gw := startGateway(t, gatewayOptions{extra: []string{
		"--page-size", "2", "--refresh-interval", "1s"}})
	api := gw.URL + "/api/models/" + model

	// The listing a snapshot download starts with.
	old := modelSHA(t, api)
	page := send(t, http.MethodGet, api+"/tree/"+old+"?recursive=true")
	next := page.header.Get("Link")
	if page.status != http.StatusOK || next == "" {
		t.Fatalf("first tree page: status %d, Link %q; want 200 and a "+
			"next page", page.status, next)
	}
	next = strings.TrimSuffix(strings.TrimPrefix(next, "<"),
		`>; rel="next"`)
	before := send(t, http.MethodHead, gw.URL+"/"+model+"/resolve/"+old+
		"/a.bin")
	if before.status != http.StatusOK {
		t.Fatalf("HEAD at the commit before the change: status %d, "+
			"want 200", before.status)
	}

	newBody := []byte("version two, longer")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	put(t, ctx, model+"/a.bin", newBody)
	current := waitForNewCommit(t, api, old)

	stale := []struct {
		method, url string
	}{
		{http.MethodHead, gw.URL + "/" + model + "/resolve/" + old + "/a.bin"},
		{http.MethodGet, gw.URL + "/" + model + "/resolve/" + old + "/b.bin"},
		{http.MethodGet, gw.URL + "/" + model + "/resolve/" + old +
			"/empty.txt"},
		{http.MethodGet, next},
		{http.MethodGet, api + "/revision/" + old},
	}
	for _, s := range stale {
		r := send(t, s.method, s.url)
		if r.status != http.StatusNotFound ||
			r.header.Get("X-Error-Code") != "RevisionNotFound" {
			t.Errorf("%s %s: status %d, X-Error-Code %q; want 404 "+
				"RevisionNotFound", s.method, s.url, r.status,
				r.header.Get("X-Error-Code"))
		}
	}

	r := send(t, http.MethodGet, gw.URL+"/"+model+"/resolve/"+current+
		"/a.bin")
	if r.status != http.StatusFound {
		t.Fatalf("GET at the new commit: status %d, want 302", r.status)
	}
	if got := r.header.Get("X-Repo-Commit"); got != current {
		t.Errorf("X-Repo-Commit = %q, want %q", got, current)
	}
	size := strconv.Itoa(len(newBody))
	if got := r.header.Get("X-Linked-Size"); got != size {
		t.Errorf("X-Linked-Size = %q, want %q", got, size)
	}
	if got := fetch(t, r.header.Get("Location")); !bytes.Equal(got, newBody) {
		t.Errorf("download at the new commit = %q, want %q", got, newBody)
	}
}

// modelSHA returns the commit id the gateway reports for main.
func modelSHA(tb testing.TB, api string) string {
	tb.Helper()
	r := send(tb, http.MethodGet, api+"/revision/main")
	var info struct {
		SHA string `json:"sha"`
	}
	if r.status != http.StatusOK {
		tb.Fatalf("GET %s/revision/main: status %d", api, r.status)
	}
	if err := json.Unmarshal(r.body, &info); err != nil {
		tb.Fatalf("parse model info: %v", err)
	}
	if !commitPattern.MatchString(info.SHA) {
		tb.Fatalf("sha = %q, want 40 lower-case hex", info.SHA)
	}
	return info.SHA
}

// waitForNewCommit polls the model until its commit id differs from old,
// which happens at the gateway's next listing of the bucket.
func waitForNewCommit(tb testing.TB, api, old string) string {
	tb.Helper()
	deadline := time.Now().Add(refreshTimeout)
	for {
		if sha := modelSHA(tb, api); sha != old {
			return sha
		}
		if time.Now().After(deadline) {
			tb.Fatalf("commit still %s after %v; the gateway did not "+
				"list the bucket again", old, refreshTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// fetch downloads a pre-signed URL.
func fetch(tb testing.TB, u string) []byte {
	tb.Helper()
	resp, err := http.Get(u)
	if err != nil {
		tb.Fatalf("GET pre-signed URL: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read pre-signed URL: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET pre-signed URL: status %d: %s", resp.StatusCode, body)
	}
	return body
}
