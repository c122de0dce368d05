package browsertest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// crossOriginResult is what crossOriginScript reports.
type crossOriginResult struct {
	Error        string `json:"error"`
	ModelID      string `json:"modelID"`
	LinkedSize   string `json:"linkedSize"`
	Commit       string `json:"commit"`
	Size         int64  `json:"size"`
	URLExpires   string `json:"urlExpires"`
	Length       int64  `json:"length"`
	SHA256       string `json:"sha256"`
	ContentRange string `json:"contentRange"`
	Redirected   int64  `json:"redirected"`
}

// crossOriginScript reads a model and one of its files from the gateway
// with fetch(), as a script on another origin would. The X-Request-Id
// header makes the redirect=false request need a CORS preflight. The
// first error ends the script and is reported in "error".
const crossOriginScript = `(async (gw, file) => {
	const out = {};
	try {
		const info = await fetch(gw + "/api/models/acme/tiny-model");
		out.modelID = (await info.json()).id;

		const head = await fetch(gw + file, {method: "HEAD"});
		out.linkedSize = head.headers.get("X-Linked-Size");
		out.commit = head.headers.get("X-Repo-Commit");

		const res = await fetch(gw + file + "?redirect=false",
			{headers: {"X-Request-Id": "cross-origin-test"}});
		const signed = await res.json();
		out.size = signed.size;
		out.urlExpires = res.headers.get("X-Url-Expires");

		const body = await (await fetch(signed.url)).arrayBuffer();
		out.length = body.byteLength;
		const digest = await crypto.subtle.digest("SHA-256", body);
		out.sha256 = Array.from(new Uint8Array(digest),
			b => b.toString(16).padStart(2, "0")).join("");

		const probe = await fetch(signed.url,
			{headers: {Range: "bytes=0-0"}});
		out.contentRange = probe.headers.get("Content-Range");

		const followed = await fetch(gw + file);
		out.redirected = (await followed.arrayBuffer()).byteLength;
	} catch (e) {
		out.error = String(e);
	}
	return out;
})(%s, %s)`

// runCrossOrigin opens a page of origin and runs crossOriginScript
// against the gateway at gw.
func runCrossOrigin(tb testing.TB, origin, gw, file string,
) crossOriginResult {
	tb.Helper()
	ctx := newBrowser(tb)
	do(tb, ctx, chromedp.Navigate(origin+"/"))
	script := strings.Replace(crossOriginScript, "%s", jsString(gw), 1)
	script = strings.Replace(script, "%s", jsString(file), 1)
	return eval[crossOriginResult](tb, ctx, script)
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

func TestCrossOriginFetch(t *testing.T) {
	const file = "/acme/tiny-model/resolve/main/weights-%C3%BC%201.bin"
	object := env.objects[tinyModel+"/"+downloadName]
	sum := sha256.Sum256(object)
	size := int64(len(object))

	unlisted := newOriginPage()
	t.Cleanup(unlisted.Close)

	tests := []struct {
		name    string
		origin  string
		gateway string
		allowed bool
	}{
		{"any origin", env.originPage.URL, env.gateway.URL, true},
		{"listed origin", env.originPage.URL, env.listGateway.URL, true},
		{"unlisted origin", unlisted.URL, env.listGateway.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCrossOrigin(t, tt.origin, tt.gateway, file)
			t.Logf("from %s: %+v", tt.origin, got)
			if !tt.allowed {
				if got.Error == "" || got.ModelID != "" {
					t.Errorf("fetch from %s read %+v, want it blocked",
						tt.origin, got)
				}
				return
			}
			if got.Error != "" {
				t.Fatalf("fetch from %s failed after %+v", tt.origin, got)
			}
			checks := []struct {
				what      string
				got, want string
			}{
				{"model id", got.ModelID, tinyModel},
				{"X-Linked-Size", got.LinkedSize, strconv.FormatInt(size, 10)},
				{"X-Url-Expires set", strconv.FormatBool(got.URLExpires != ""),
					"true"},
				{"size in JSON", strconv.FormatInt(got.Size, 10),
					strconv.FormatInt(size, 10)},
				{"length fetched", strconv.FormatInt(got.Length, 10),
					strconv.FormatInt(size, 10)},
				{"SHA-256", got.SHA256, hex.EncodeToString(sum[:])},
				{"Content-Range", got.ContentRange,
					"bytes 0-0/" + strconv.FormatInt(size, 10)},
				{"length through the redirect",
					strconv.FormatInt(got.Redirected, 10),
					strconv.FormatInt(size, 10)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: %s = %q, want %q", tt.name, c.what,
						c.got, c.want)
				}
			}
			if len(got.Commit) != 40 {
				t.Errorf("%s: X-Repo-Commit %q, want a commit id",
					tt.name, got.Commit)
			}
		})
	}
}
