package server_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/server"
)

// hubEntry is a tree or paths-info entry.
type hubEntry struct {
	Type       string `json:"type"`
	OID        string `json:"oid"`
	Size       int64  `json:"size"`
	Path       string `json:"path"`
	LastCommit *struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Date  string `json:"date"`
	} `json:"lastCommit"`
}

// decodeEntries decodes a JSON array of entries and checks that each
// entry has exactly the fields the clients accept, and no lfs or Xet
// fields.
func decodeEntries(tb testing.TB, r hubResponse) []hubEntry {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
	}
	wantNoXet(tb, r)
	var raw []map[string]any
	decodeJSON(tb, r, &raw)
	for _, e := range raw {
		keys := sortedKeys(e)
		if !slices.Equal(keys, []string{"oid", "path", "size", "type"}) &&
			!slices.Equal(keys,
				[]string{"lastCommit", "oid", "path", "size", "type"}) {
			tb.Errorf("entry fields = %q, want type, oid, size, path "+
				"and an optional lastCommit", keys)
		}
	}
	var entries []hubEntry
	decodeJSON(tb, r, &entries)
	return entries
}

// wantLastCommit checks that every entry has a lastCommit whose id is
// commit when expand is true, and none otherwise.
func wantLastCommit(tb testing.TB, entries []hubEntry, expand bool,
	commit string,
) {
	tb.Helper()
	for _, e := range entries {
		if (e.LastCommit != nil) != expand {
			tb.Errorf("%s: lastCommit = %v, want present = %v", e.Path,
				e.LastCommit, expand)
			continue
		}
		if expand && e.LastCommit.ID != commit {
			tb.Errorf("%s: lastCommit.id = %q, want %q", e.Path,
				e.LastCommit.ID, commit)
		}
	}
}

// entryNames returns "d:path" for directories and "f:path" for files.
func entryNames(entries []hubEntry) []string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Type[:1] + ":" + e.Path
	}
	return names
}

func TestTreeListings(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tests := []struct {
		name, path string
		want       []string
	}{
		{"root", "tree/main", []string{
			"f:README.md", "f:config.json", "d:dir with space",
			"f:empty.txt", "d:tokenizer", "d:weights"}},
		{"root recursive", "tree/main?recursive=true", []string{
			"f:README.md", "f:config.json", "d:dir with space",
			"f:dir with space/naïve é.txt", "f:empty.txt", "d:tokenizer",
			"f:tokenizer/special tokens.txt", "f:tokenizer/vocab.txt",
			"d:weights", "f:weights/model.safetensors", "d:weights/shards",
			"f:weights/shards/part-1.bin", "f:weights/shards/part-2.bin"}},
		{"folder", "tree/main/weights", []string{
			"f:weights/model.safetensors", "d:weights/shards"}},
		{"folder recursive", "tree/HEAD/weights?recursive=True", []string{
			"f:weights/model.safetensors", "d:weights/shards",
			"f:weights/shards/part-1.bin", "f:weights/shards/part-2.bin"}},
		{"nested folder", "tree/main/weights/shards/", []string{
			"f:weights/shards/part-1.bin", "f:weights/shards/part-2.bin"}},
		{"escaped folder", "tree/main/dir%20with%20space", []string{
			"f:dir with space/naïve é.txt"}},
		{"file", "tree/main/tokenizer/vocab.txt", []string{
			"f:tokenizer/vocab.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.get(t, "/api/models/acme/tiny/"+tt.path)
			got := entryNames(decodeEntries(t, r))
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries = %q,\nwant %q", got, tt.want)
			}
			if link := r.header.Get("Link"); link != "" {
				t.Errorf("Link = %q on a single page, want none", link)
			}
		})
	}
}

func TestTreeEntryFields(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	files := hubFiles()
	r := f.get(t, "/api/models/acme/tiny/tree/main?recursive=true")
	for _, e := range decodeEntries(t, r) {
		switch e.Type {
		case "file":
			body, ok := files[e.Path]
			if !ok {
				t.Errorf("file %q is not in the model", e.Path)
				continue
			}
			if e.Size != int64(len(body)) {
				t.Errorf("%s: size = %d, want %d", e.Path, e.Size, len(body))
			}
			if want := strings.Trim(hubETag(body), `"`); e.OID != want {
				t.Errorf("%s: oid = %q, want the ETag %q", e.Path, e.OID, want)
			}
		case "directory":
			if e.OID == "" || e.Size != 0 {
				t.Errorf("%s: oid = %q, size = %d, want an oid and size 0",
					e.Path, e.OID, e.Size)
			}
		default:
			t.Errorf("%s: type = %q, want file or directory", e.Path, e.Type)
		}
	}
}

func TestTreeFlagsIgnoreCase(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	commit := hubCommit(hubFiles())
	tests := []struct {
		query             string
		recursive, expand bool
	}{
		{"", false, false},
		{"recursive=true&expand=false", true, false},
		{"recursive=True&expand=False", true, false},
		{"recursive=TRUE&expand=TRUE", true, true},
		{"recursive=False&expand=True", false, true},
		{"recursive=false&expand=true", false, true},
		{"recursive=1&expand=0", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := f.get(t, "/api/models/acme/tiny/tree/main?"+tt.query)
			entries := decodeEntries(t, r)
			nested := slices.ContainsFunc(entries, func(e hubEntry) bool {
				return strings.Contains(e.Path, "/")
			})
			if nested != tt.recursive {
				t.Errorf("nested entries listed = %v, want %v", nested,
					tt.recursive)
			}
			wantLastCommit(t, entries, tt.expand, commit)
		})
	}
}

func TestTreeErrors(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	commit := hubCommit(hubFiles())
	tests := []struct {
		name, path string
		status     int
		code       string
		commit     string
	}{
		{"missing path", "tree/main/additional_chat_templates?" +
			"recursive=false&expand=false",
			http.StatusNotFound, "EntryNotFound", commit},
		{"missing nested path", "tree/main/weights/nope",
			http.StatusNotFound, "EntryNotFound", commit},
		{"missing revision", "tree/dev", http.StatusNotFound,
			"RevisionNotFound", ""},
		{"invalid flag", "tree/main?recursive=maybe",
			http.StatusBadRequest, "BadRequest", ""},
		{"invalid cursor", "tree/main?cursor=!!", http.StatusBadRequest,
			"BadRequest", ""},
		{"unknown cursor", "tree/main?cursor=Zm5vcGU",
			http.StatusBadRequest, "BadRequest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.get(t, "/api/models/acme/tiny/"+tt.path)
			wantError(t, r, false, tt.status, tt.code)
			if got := r.header.Get("X-Repo-Commit"); got != tt.commit {
				t.Errorf("X-Repo-Commit = %q, want %q", got, tt.commit)
			}
		})
	}
	r := f.get(t, "/api/models/acme/nope/tree/main")
	wantError(t, r, false, http.StatusNotFound, "RepoNotFound")
}

// followTree lists path page by page through the Link headers, which
// must be absolute URLs under public, and returns the entries and the
// page URLs.
func followTree(tb testing.TB, f *hubFixture, public, path string) (
	[]hubEntry, []string,
) {
	tb.Helper()
	var all []hubEntry
	var links []string
	for next := path; next != ""; {
		if len(links) > 100 {
			tb.Fatalf("more than 100 pages; the Link never ends")
		}
		r := f.get(tb, next)
		all = append(all, decodeEntries(tb, r)...)
		next = nextLink(tb, r.header)
		if next == "" {
			break
		}
		links = append(links, next)
		rest, ok := strings.CutPrefix(next, public)
		if !ok {
			tb.Fatalf("Link URL = %q, want it under %s", next, public)
		}
		next = rest
	}
	return all, links
}

func TestTreePages(t *testing.T) {
	const public = "https://gw.example.com/hub"
	whole := newHubFixture(t, server.Config{})
	commit := hubCommit(hubFiles())

	tests := []struct {
		name, path string
		pageSize   int
	}{
		{"recursive by 2", "tree/main?recursive=true&expand=false", 2},
		{"recursive by 1", "tree/main?recursive=True", 1},
		{"root by 2", "tree/main", 2},
		{"folder by 1", "tree/main/weights?recursive=true", 1},
		{"escaped folder by 1", "tree/HEAD/dir%20with%20space?expand=true",
			1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := decodeEntries(t,
				whole.get(t, "/api/models/acme/tiny/"+tt.path))
			f := newHubFixture(t, server.Config{PageSize: tt.pageSize,
				PublicURL: public})

			got, links := followTree(t, f, public,
				"/api/models/acme/tiny/"+tt.path)
			if !slices.Equal(entryNames(got), entryNames(want)) {
				t.Errorf("entries = %q,\nwant %q", entryNames(got),
					entryNames(want))
			}
			wantPages := (len(want) + tt.pageSize - 1) / tt.pageSize
			if len(links) != wantPages-1 {
				t.Errorf("%d Link headers, want %d", len(links), wantPages-1)
			}
			for _, link := range links {
				if !strings.HasPrefix(link,
					public+"/api/models/acme/tiny/tree/"+commit) {
					t.Errorf("Link URL = %q, want the tree at commit %s",
						link, commit)
				}
				if !strings.Contains(link, "cursor=") {
					t.Errorf("Link URL = %q, want a cursor", link)
				}
			}
		})
	}
}

// TestTreePagesFileAndFolderOfSameName pages through a model that has
// both a file "a" and a folder "a", which S3 allows.
func TestTreePagesFileAndFolderOfSameName(t *testing.T) {
	f := newHubFixture(t, server.Config{PageSize: 1})
	f.put(hubRoot+"twin/model/a", "file")
	f.put(hubRoot+"twin/model/a/b", "nested")
	f.refresh(t)

	got, _ := followTree(t, f, f.url,
		"/api/models/twin/model/tree/main?recursive=true")
	want := []string{"f:a", "d:a", "f:a/b"}
	if !slices.Equal(entryNames(got), want) {
		t.Errorf("entries = %q, want %q", entryNames(got), want)
	}
}

func TestPathsInfoBodies(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	files := hubFiles()
	commit := hubCommit(files)
	const form = "application/x-www-form-urlencoded"
	const jsonType = "application/json"

	tests := []struct {
		name, contentType, body string
		want                    []string
		expand                  bool
	}{
		{"json expand", jsonType,
			`{"paths":["config.json","weights","missing.bin",` +
				`"dir with space/naïve é.txt"],"expand":true}`,
			[]string{"f:config.json", "d:weights",
				"f:dir with space/naïve é.txt"}, true},
		{"json one path", jsonType + "; charset=utf-8",
			`{"paths":["tokenizer/vocab.txt"],"expand":true}`,
			[]string{"f:tokenizer/vocab.txt"}, true},
		{"json without expand", jsonType, `{"paths":["empty.txt"]}`,
			[]string{"f:empty.txt"}, false},
		{"form expand True", form,
			"paths=config.json&paths=tokenizer&paths=nope&expand=True",
			[]string{"f:config.json", "d:tokenizer"}, true},
		{"form expand true", form,
			"paths=weights%2Fshards%2Fpart-1.bin&expand=true",
			[]string{"f:weights/shards/part-1.bin"}, true},
		{"form expand False", form, "paths=README.md&expand=False",
			[]string{"f:README.md"}, false},
		{"form without expand", form,
			"paths=dir+with+space%2Fna%C3%AFve+%C3%A9.txt",
			[]string{"f:dir with space/naïve é.txt"}, false},
		{"nothing found", jsonType, `{"paths":["nope"],"expand":true}`,
			[]string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tt.contentType}}
			r := f.do(t, http.MethodPost,
				"/api/models/acme/tiny/paths-info/main",
				strings.NewReader(tt.body), h)
			entries := decodeEntries(t, r)
			if got := entryNames(entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries = %q, want %q", got, tt.want)
			}
			wantLastCommit(t, entries, tt.expand, commit)
			for _, e := range entries {
				if e.Type == "file" && e.Size != int64(len(files[e.Path])) {
					t.Errorf("%s: size = %d, want %d", e.Path, e.Size,
						len(files[e.Path]))
				}
			}
		})
	}
}

func TestPathsInfoErrors(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "f" + strconv.Itoa(i)
	}
	tooManyJSON, err := json.Marshal(map[string]any{"paths": tooMany})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"invalid JSON", "acme/tiny/paths-info/main", `{"paths":`,
			http.StatusBadRequest, "BadRequest"},
		{"too many paths", "acme/tiny/paths-info/main",
			string(tooManyJSON), http.StatusBadRequest, "BadRequest"},
		{"too large", "acme/tiny/paths-info/main",
			`{"paths":["` + strings.Repeat("x", 1<<20) + `"]}`,
			http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"missing model", "acme/nope/paths-info/main", `{"paths":["a"]}`,
			http.StatusNotFound, "RepoNotFound"},
		{"missing revision", "acme/tiny/paths-info/dev",
			`{"paths":["a"]}`, http.StatusNotFound, "RevisionNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			r := f.do(t, http.MethodPost, "/api/models/"+tt.path,
				strings.NewReader(tt.body), h)
			wantError(t, r, false, tt.status, tt.code)
		})
	}
}

func TestPathsInfoFormErrors(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	tests := []struct {
		name, body, want string
	}{
		{"bad escape", "paths=%zz", `invalid form body: invalid URL ` +
			`escape "%zz"; percent-encode '%' as %25`},
		{"semicolon", "paths=a;paths=b", "invalid form body: invalid " +
			"semicolon separator in query; separate pairs with '&'"},
		{"bad expand", "paths=a&expand=maybe", `invalid expand "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {
				"application/x-www-form-urlencoded"}}
			r := f.do(t, http.MethodPost,
				"/api/models/acme/tiny/paths-info/main",
				strings.NewReader(tt.body), h)
			wantError(t, r, false, http.StatusBadRequest, "BadRequest")
			if got := r.header.Get("X-Error-Message"); !strings.Contains(
				got, tt.want) {
				t.Errorf("X-Error-Message %q, want it to contain %q", got,
					tt.want)
			}
		})
	}
}

// TestStaleCommitRejected changes the bucket between a client's listing
// and its per-file requests. Every request at the old commit id must
// fail with RevisionNotFound, so a client never mixes two versions.
func TestStaleCommitRejected(t *testing.T) {
	tests := []struct {
		name   string
		change func(files map[string]string, f *hubFixture)
	}{
		{"upload", func(files map[string]string, f *hubFixture) {
			files["extra.bin"] = "extra"
			f.put(hubRoot+"acme/tiny/extra.bin", "extra")
		}},
		{"overwrite", func(files map[string]string, f *hubFixture) {
			files["weights/model.safetensors"] = "new weights"
			f.put(hubRoot+"acme/tiny/weights/model.safetensors",
				"new weights")
		}},
		{"delete", func(files map[string]string, f *hubFixture) {
			delete(files, "README.md")
			f.delete(hubRoot + "acme/tiny/README.md")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHubFixture(t, server.Config{PageSize: 3})
			files := hubFiles()

			// The listing a snapshot download starts with.
			var info hubModel
			decodeJSON(t, f.get(t, "/api/models/acme/tiny/revision/main"),
				&info)
			old := info.SHA
			page := f.get(t, "/api/models/acme/tiny/tree/"+old+
				"?recursive=true&expand=false")
			decodeEntries(t, page)
			link := nextLink(t, page.header)
			if link == "" {
				t.Fatalf("first tree page has no Link; the model needs " +
					"more than one page")
			}

			// A listing at main pins its later pages to the commit.
			mainPage := f.get(t, "/api/models/acme/tiny/tree/main"+
				"?recursive=True&expand=False")
			decodeEntries(t, mainPage)
			mainLink := nextLink(t, mainPage.header)

			tt.change(files, f)
			f.refresh(t)

			stale := []struct {
				method, path string
			}{
				{http.MethodHead, "/acme/tiny/resolve/" + old + "/config.json"},
				{http.MethodGet, "/acme/tiny/resolve/" + old + "/config.json"},
				{http.MethodGet, "/acme/tiny/resolve/" + old + "/empty.txt"},
				{http.MethodHead, "/acme/tiny/raw/" + old + "/config.json"},
				{http.MethodGet, link},
				{http.MethodGet, mainLink},
				{http.MethodGet, "/api/models/acme/tiny/revision/" + old},
				{http.MethodGet, "/api/models/acme/tiny/tree/" + old},
			}
			for _, s := range stale {
				r := f.do(t, s.method, s.path, nil, nil)
				wantError(t, r, s.method == http.MethodHead,
					http.StatusNotFound, "RevisionNotFound")
			}
			r := f.do(t, http.MethodPost,
				"/api/models/acme/tiny/paths-info/"+old,
				strings.NewReader(`{"paths":["config.json"],"expand":true}`),
				http.Header{"Content-Type": {"application/json"}})
			wantError(t, r, false, http.StatusNotFound, "RevisionNotFound")

			// The retry at main gets the new commit and the new files.
			decodeJSON(t, f.get(t, "/api/models/acme/tiny"), &info)
			if info.SHA == old || info.SHA != hubCommit(files) {
				t.Errorf("sha after the change = %q, want %q (old %q)",
					info.SHA, hubCommit(files), old)
			}
			got := slices.Collect(maps.Keys(files))
			slices.Sort(got)
			if len(info.Siblings) != len(got) {
				t.Errorf("%d siblings after the change, want %d",
					len(info.Siblings), len(got))
			}
			r = f.head(t, "/acme/tiny/resolve/"+info.SHA+"/config.json")
			wantFileHeaders(t, r, info.SHA, files["config.json"])
		})
	}
}
