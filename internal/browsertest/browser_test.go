package browsertest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which scripts/test.sh installs.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds each group of browser actions.
const stepTimeout = 30 * time.Second

// screenshotDir is where the tests save their screenshots: the
// test-output/pages folder at the repository root, which git ignores.
// Tests run in their package's folder, two levels below the root.
var screenshotDir = filepath.Join("..", "..", "test-output", "pages")

// newBrowser starts headless Chromium with a fresh profile and returns
// the context of one tab. The browser stops when the test ends.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		tb.Fatalf("Chromium is missing (scripts/test.sh installs "+
			"Debian's chromium package): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Resolve no host name, so the browser can reach nothing but
		// the loopback addresses that the tests use as IP literals.
		chromedp.Flag("host-resolver-rules",
			"MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(
		context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser, whose life is bound to the
	// context of that action, so it runs without a timeout.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// do runs steps in the tab of ctx, failing the test on an error.
func do(tb testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the tab of ctx and returns
// its value, awaiting it when it is a promise.
func eval[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr,
		chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves a full-page PNG of the tab as name in screenshotDir.
func screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		tb.Fatalf("screenshot folder: %v", err)
	}
	path := filepath.Join(screenshotDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatalf("save screenshot: %v", err)
	}
	tb.Logf("screenshot: %s", path)
}

// errDownloadCanceled reports a download that Chromium canceled.
var errDownloadCanceled = errors.New("download canceled")

// downloadByClick clicks the element sel, which must start a download,
// lets Chromium save it in dir and waits until it completes. It returns
// the name Chromium chose for the file.
func downloadByClick(tb testing.TB, ctx context.Context, dir string,
	sel chromedp.CSS,
) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()

	type result struct {
		name string
		err  error
	}
	done := make(chan result, 1)
	var mu sync.Mutex
	names := make(map[string]string) // GUID to suggested file name
	err := chromedp.ListenBrowser(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *browser.EventDownloadWillBegin:
			names[e.GUID] = e.SuggestedFilename
		case *browser.EventDownloadProgress:
			var r result
			switch e.State {
			case browser.DownloadProgressStateCompleted:
				r.name = names[e.GUID]
			case browser.DownloadProgressStateCanceled:
				r.err = errDownloadCanceled
			default:
				return
			}
			select {
			case done <- r:
			default:
			}
		}
	})
	if err != nil {
		tb.Fatalf("listen for downloads: %v", err)
	}

	events := true
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior,
		browser.SetDownloadBehaviorParams{
			Behavior:      browser.SetDownloadBehaviorBehaviorAllow,
			DownloadPath:  dir,
			EventsEnabled: &events,
		})
	if err != nil {
		tb.Fatalf("set download folder: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
		tb.Fatalf("click %s: %v", sel, err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			tb.Fatalf("download from %s: %v", sel, r.err)
		}
		return r.name
	case <-ctx.Done():
		tb.Fatalf("download from %s did not complete: %v", sel, ctx.Err())
	}
	return ""
}
