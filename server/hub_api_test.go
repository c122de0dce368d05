package server_test

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/server"
)

// hubModel is the part of the model API object that the clients read.
type hubModel struct {
	InternalID   string `json:"_id"`
	ID           string `json:"id"`
	SHA          string `json:"sha"`
	LastModified string `json:"lastModified"`
	Private      *bool  `json:"private"`
	Siblings     []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

func TestModelInfo(t *testing.T) {
	// A page size of 2 shows that siblings are never paginated.
	f := newHubFixture(t, server.Config{PageSize: 2})
	files := hubFiles()
	commit := hubCommit(files)
	wantPaths := slices.Sorted(maps.Keys(files))

	paths := []string{
		"/api/models/acme/tiny",
		"/api/models/acme/tiny/revision/main",
		"/api/models/acme/tiny/revision/HEAD",
		"/api/models/acme/tiny/revision/" + commit,
		"/api/models/acme/tiny/revision/main?expand=pipeline_tag" +
			"&expand=private&expand=sha",
		"/api/models/acme/tiny?blobs=true&securityStatus=true",
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			r := f.get(t, path)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
			}
			wantNoXet(t, r)
			var m hubModel
			decodeJSON(t, r, &m)
			if m.ID != "acme/tiny" {
				t.Errorf("id = %q, want acme/tiny", m.ID)
			}
			if m.SHA != commit || !commitPattern.MatchString(m.SHA) {
				t.Errorf("sha = %q, want %q", m.SHA, commit)
			}
			if m.InternalID == "" {
				t.Errorf("_id is empty")
			}
			if m.Private == nil || *m.Private {
				t.Errorf("private = %v, want false", m.Private)
			}
			_, err := time.Parse("2006-01-02T15:04:05.000Z", m.LastModified)
			if err != nil {
				t.Errorf("lastModified = %q: %v", m.LastModified, err)
			}
			var got []string
			for _, s := range m.Siblings {
				got = append(got, s.RFilename)
			}
			if !slices.Equal(got, wantPaths) {
				t.Errorf("siblings = %q, want %q", got, wantPaths)
			}
		})
	}
}

func TestModelInfoIDStableAcrossCommits(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	var before, after hubModel
	decodeJSON(t, f.get(t, "/api/models/acme/tiny"), &before)

	f.put(hubRoot+"acme/tiny/new.txt", "new")
	f.refresh(t)
	decodeJSON(t, f.get(t, "/api/models/acme/tiny"), &after)

	if after.SHA == before.SHA {
		t.Fatalf("sha stayed %q after an upload, want a new one", after.SHA)
	}
	if after.InternalID != before.InternalID {
		t.Errorf("_id = %q after an upload, want %q", after.InternalID,
			before.InternalID)
	}
}

func TestModelInfoErrors(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tests := []struct {
		path, code string
	}{
		{"/api/models/acme/nope", "RepoNotFound"},
		{"/api/models/acme/nope/revision/main", "RepoNotFound"},
		{"/api/models/acme/tiny/revision/dev", "RevisionNotFound"},
		{"/api/models/acme/tiny/revision/" + strings.Repeat("0", 40),
			"RevisionNotFound"},
		{"/api/models/acme/tiny/revision/refs%2Fpr%2F1", "RevisionNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			wantError(t, f.get(t, tt.path), false, http.StatusNotFound,
				tt.code)
		})
	}
}

func TestListModelsPages(t *testing.T) {
	const public = "https://models.example.com"
	f := newHubFixture(t, server.Config{PageSize: 2, PublicURL: public})
	want := []string{"acme/small", "acme/tiny", "beta/one", "beta/two",
		"gamma/x"}

	var got []string
	pages := 0
	for next := "/api/models"; next != ""; pages++ {
		if pages > len(want) {
			t.Fatalf("more than %d pages; the Link never ends", pages)
		}
		r := f.get(t, next)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: status = %d, want 200", next, r.status)
		}
		var page []hubModel
		decodeJSON(t, r, &page)
		if len(page) > 2 {
			t.Errorf("page of %d models, want at most 2", len(page))
		}
		for _, m := range page {
			got = append(got, m.ID)
			if !commitPattern.MatchString(m.SHA) {
				t.Errorf("%s: sha = %q, want 40 lower-case hex", m.ID, m.SHA)
			}
		}
		next = nextLink(t, r.header)
		if next != "" {
			rest, ok := strings.CutPrefix(next, public+"/api/models?")
			if !ok {
				t.Fatalf("Link URL = %q, want it under %s/api/models", next,
					public)
			}
			next = "/api/models?" + rest
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("models = %q, want %q", got, want)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
}

func TestListModelsLinkWithoutPublicURL(t *testing.T) {
	f := newHubFixture(t, server.Config{PageSize: 1})
	r := f.get(t, "/api/models")
	next := nextLink(t, r.header)
	if !strings.HasPrefix(next, f.url+"/api/models?") {
		t.Errorf("Link URL = %q, want it under %s", next, f.url)
	}
}

func TestListModelsFilters(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tests := []struct {
		query string
		want  []string
	}{
		{"author=beta", []string{"beta/one", "beta/two"}},
		{"search=TIN", []string{"acme/tiny"}},
		{"search=o&author=beta", []string{"beta/one", "beta/two"}},
		{"limit=1", []string{"acme/small"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var page []hubModel
			decodeJSON(t, f.get(t, "/api/models?"+tt.query), &page)
			var got []string
			for _, m := range page {
				got = append(got, m.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("models = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnknownAPIPaths(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tests := []struct {
		method, path string
	}{
		{http.MethodGet, "/api/agent-harnesses"},
		{http.MethodGet, "/api/whoami-v2"},
		{http.MethodHead, "/api/telemetry/hf_hub/download"},
		{http.MethodGet, "/api/models/acme/tiny/discussions"},
		{http.MethodGet, "/api/datasets/acme/tiny"},
		{http.MethodGet, "/api/models/acme/tiny/refs"},
		{http.MethodPost, "/api/repos/create"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, nil, nil)
			wantError(t, r, tt.method == http.MethodHead,
				http.StatusNotFound, "NotFound")
		})
	}
}

func TestErrorsAlwaysHaveCode(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/no/such/route/at/all", http.StatusNotFound},
		{http.MethodPost, "/acme/tiny/resolve/main/config.json",
			http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/models?cursor=%25%25", http.StatusBadRequest},
		{http.MethodGet, "/api/models?limit=-1", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, nil, nil)
			if r.status != tt.status {
				t.Errorf("status = %d, want %d", r.status, tt.status)
			}
			if r.header.Get("X-Error-Code") == "" {
				t.Errorf("X-Error-Code is missing")
			}
			var body map[string]string
			decodeJSON(t, r, &body)
			if body["error"] == "" {
				t.Errorf("body = %s, want {\"error\": ...}", r.body)
			}
		})
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
