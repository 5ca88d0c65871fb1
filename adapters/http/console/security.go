package console

import (
	"io/fs"
	"net/http"
	"strings"
)

// ContentSecurityPolicy is the console's CSP: only its own scripts, styles
// and images (plus data: images), no framing, forms posted to itself only.
// There is no inline script or style anywhere in the console, so none is
// allowed.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every console response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// staticHandler serves the embedded assets. They change only with the
// binary, but have no content hash in their names, so browsers revalidate
// them (the embedded files have no modification time; ETags do the work).
func staticHandler(files fs.FS) http.Handler {
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		etags[path] = `"` + shortHash(b) + `"`
		return nil
	})
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		tag, ok := etags[name]
		if !ok { // no directory listings, no guessing
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", tag)
		w.Header().Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}

// recoverer turns a panic in a handler into a logged 500 page.
func (c *console) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.log.Error("console handler panicked", "path", r.URL.Path, "panic", v)
				c.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
					"The console hit an internal error; it has been logged.")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
