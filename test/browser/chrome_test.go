package browser_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Viewport of every test and screenshot.
const (
	viewportW = 1280
	viewportH = 800
)

// waitTimeout bounds every wait for a condition in the page.
const waitTimeout = 20 * time.Second

// browser is one headless Chromium tab on the console under test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // errors and exceptions the pages logged
}

// chromium returns the path of Debian's chromium, or skips the test,
// saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("browser tests need Debian's chromium: apt-get install -y chromium")
	}
	return path
}

// newBrowser starts Debian's chromium, headless, with a fresh profile, or
// skips the test when it is not installed.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportW, viewportH),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx, base: base}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		wg.Wait()
	})
	// Start the browser (with no deadline: see chromedp's docs, example 21)
	// and size the viewport.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(viewportW, viewportH)))

	// Answer every confirm() yes, as a user clicking OK.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	wg.Go(func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil && ctx.Err() == nil {
				t.Errorf("accept dialog: %v", err)
			}
		}
	})
	// Keep what the pages log as errors: a CSP violation or a script error
	// fails the test.
	msgs := chromedp.Console(ctx)
	wg.Go(func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.console = append(b.console, m)
				b.mu.Unlock()
			}
		}
	})
	return b
}

// do runs actions, failing the test on error.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// open navigates to a console path.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// text returns the text of the element sel selects.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	require.NoError(b.t, err, sel)
	return s
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(b.t, err, expr)
	return v
}

// waitJS waits until a JavaScript expression is true in the page. A
// navigation while it waits (a form post and its redirect) restarts the
// wait in the new page.
func (b *browser) waitJS(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("waiting for %s: %v", expr, err)
		}
		pause(b.ctx, 50*time.Millisecond) // navigated: poll the new page
	}
}

// pause waits d or until ctx ends. It paces retries; it never stands in
// for waiting on a condition.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waitText waits until the element sel selects shows text containing want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	b.waitJS("(function(){var e=document.querySelector(" + strconv.Quote(sel) + ");return !!e&&e.textContent.indexOf(" + strconv.Quote(want) + ")>=0})()")
}

// reloadUntil reloads path until expr is true in it: for what changes on
// the server (a run appears, a state moves), which a server-rendered page
// only shows after a reload.
func (b *browser) reloadUntil(path, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		b.open(path)
		if eval[bool](b, "!!("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: %s still false after %s", path, expr, waitTimeout)
		}
		pause(b.ctx, 250*time.Millisecond)
	}
}

// login logs in as the bootstrapped admin.
func (b *browser) login() {
	b.t.Helper()
	b.open("/login")
	b.do(
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS("svg.chart-svg")),
	)
}

// location returns the path of the current page.
func (b *browser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(b.t, err)
	return strings.TrimPrefix(loc, b.base)
}

// screenshot saves a full-page PNG to docs/screenshots/<name>.png when
// PINK_SCREENSHOTS=1.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.screenshotAs(name, viewportW, viewportH)
}

// screenshotAs is screenshot for a viewport of w x h.
func (b *browser) screenshotAs(name string, w, h int64) {
	b.t.Helper()
	if os.Getenv("PINK_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	dir := filepath.Join("..", "..", "docs", "screenshots")
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	// Keep the viewport as it was after a full-page capture.
	if w == viewportW {
		b.do(chromedp.EmulateViewport(w, h))
	} else {
		b.do(chromedp.EmulateViewport(w, h, chromedp.EmulateMobile))
	}
}

// consoleErrors returns what the pages logged as errors, except failed
// loads of resources (the 4xx answers the tests cause on purpose).
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		if strings.Contains(m.Text, "Failed to load resource") {
			continue
		}
		out = append(out, string(m.Type)+": "+m.Text)
	}
	return out
}
