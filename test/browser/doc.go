// Package browser holds the browser tests of the web console: a real
// console, scheduler and in-process worker on the in-memory store, driven
// through Debian's headless Chromium with chromedp. The tests skip, saying
// how to enable them, when chromium is not installed.
//
// With PINK_SCREENSHOTS=1 they save screenshots of the main pages to
// docs/screenshots/ (1280x800 viewport, full page, PNG).
package browser
