package browsertest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// rowHeaders is a script that returns the text of the row headers of
// the page's table: the model ids or file paths.
const rowHeaders = `Array.from(document.querySelectorAll("tbody th"),
	e => e.textContent)`

// fitsWidth is a script that reports whether the page has no horizontal
// scroll bar; wide tables scroll inside their own box instead.
const fitsWidth = `document.documentElement.scrollWidth <=
	document.documentElement.clientWidth`

func TestBrowseAndDownload(t *testing.T) {
	ctx := newBrowser(t)
	gw := env.gateway.URL

	do(t, ctx, chromedp.Navigate(gw+"/"),
		chromedp.WaitVisible(chromedp.CSS("table.models")))
	ids := eval[[]string](t, ctx, rowHeaders)
	for _, id := range []string{tinyModel, "acme/base-7b",
		"beta-labs/vision-small", hostileModel} {
		if !slices.Contains(ids, id) {
			t.Errorf("model list %q lacks %s", ids, id)
		}
	}
	screenshot(t, ctx, "index.png")

	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/acme/tiny-model"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.files")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc !=
		gw+"/acme/tiny-model" {
		t.Errorf("after the click the page is %s, want %s/acme/tiny-model",
			loc, gw)
	}
	paths := eval[[]string](t, ctx, rowHeaders)
	want := []string{"README.md", "config.json", "tokenizer/vocab.txt",
		downloadName}
	if !slices.Equal(paths, want) {
		t.Errorf("file table lists %q, want %q", paths, want)
	}
	if !eval[bool](t, ctx, fitsWidth) {
		t.Errorf("model page is wider than the window")
	}
	screenshot(t, ctx, "model.png")

	dir := t.TempDir()
	link := chromedp.CSS(`a[href="/acme/tiny-model/resolve/main/` +
		`weights-%C3%BC%201.bin"]`)
	name := downloadByClick(t, ctx, dir, link)
	if name != downloadName {
		t.Errorf("Chromium saved the file as %q, want %q", name,
			downloadName)
	}
	got, err := os.ReadFile(filepath.Join(dir, downloadName))
	if err != nil {
		t.Fatalf("read the downloaded file: %v", err)
	}
	if !bytes.Equal(got, env.objects[tinyModel+"/"+downloadName]) {
		t.Errorf("downloaded %d bytes that differ from the object's %d",
			len(got), len(env.objects[tinyModel+"/"+downloadName]))
	}
}

func TestPagesOnPhone(t *testing.T) {
	ctx := newBrowser(t)
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, page := range []struct{ path, table, shot string }{
		{"/", "table.models", "index-phone.png"},
		{"/acme/tiny-model", "table.files", "model-phone.png"},
	} {
		do(t, ctx, chromedp.Navigate(env.gateway.URL+page.path),
			chromedp.WaitVisible(chromedp.CSS(page.table)))
		if !eval[bool](t, ctx, fitsWidth) {
			t.Errorf("%s is wider than a phone's screen", page.path)
		}
		screenshot(t, ctx, page.shot)
	}
}

func TestErrorPageInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(env.gateway.URL+"/acme/missing"),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	heading := eval[string](t, ctx, `document.querySelector("h1").textContent`)
	if heading != "404 Not Found" {
		t.Errorf("error page heading %q, want 404 Not Found", heading)
	}
	screenshot(t, ctx, "error.png")
}

func TestHostileNamesStayText(t *testing.T) {
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(env.gateway.URL+"/?q=xss"),
		chromedp.WaitVisible(chromedp.CSS("table.models")))
	if ids := eval[[]string](t, ctx, rowHeaders); !slices.Equal(ids,
		[]string{hostileModel}) {
		t.Errorf("filtered model list %q, want only %q", ids, hostileModel)
	}
	checkNoInjection(t, ctx, "model list")
	screenshot(t, ctx, "hostile-index.png")

	do(t, ctx, chromedp.Click(chromedp.CSS("tbody a")),
		chromedp.WaitVisible(chromedp.CSS("table.files")))
	heading := eval[string](t, ctx, `document.querySelector("h1").textContent`)
	if heading != hostileModel {
		t.Errorf("model page heading %q, want %q", heading, hostileModel)
	}
	paths := eval[[]string](t, ctx, rowHeaders)
	if want := []string{hostileFile, scriptFile}; !slices.Equal(paths,
		want) {
		t.Errorf("file table lists %q, want %q", paths, want)
	}
	checkNoInjection(t, ctx, "model page")
	screenshot(t, ctx, "hostile-model.png")
}

// checkNoInjection checks that no markup from a name became an element
// and that no injected script ran. Each injected script would set
// window.__pwned.
func checkNoInjection(tb testing.TB, ctx context.Context, page string) {
	tb.Helper()
	if got := eval[string](tb, ctx, "typeof window.__pwned"); got !=
		"undefined" {
		tb.Errorf("%s: an injected script ran (window.__pwned is %s)",
			page, got)
	}
	if n := eval[int](tb, ctx, "document.images.length"); n != 0 {
		tb.Errorf("%s has %d img elements, want 0", page, n)
	}
	if n := eval[int](tb, ctx, "document.scripts.length"); n != 1 {
		tb.Errorf("%s has %d script elements, want 1 (copy.js)", page, n)
	}
}
