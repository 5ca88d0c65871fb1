package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/pink-scheduler/pink/domain"
)

// pages holds one template set per page: the layout and partials, and the
// page's own "content" (and optional "head") blocks.
type pages struct {
	byName map[string]*template.Template
}

// loadPages parses the embedded templates.
func loadPages() (*pages, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what the layout renders around a page.
type view struct {
	Title string
	// Nav is the key of the current navigation entry.
	Nav  string
	User string
	Role domain.Role
	// LoggedIn is false on the login and error pages of a visitor.
	LoggedIn bool
	Dev      bool
	Flash    *flash
	// What the user may do: the pages hide or disable the rest (and the
	// server refuses it anyway).
	CanOperate, CanWrite, CanAdmin bool
	Data                           any
}

// render writes page name with status. The page is executed into a buffer
// first, so a template error becomes a clean 500.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.log.Error("console: no such template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p := principalOf(r)
	v := view{
		Title: title, Nav: nav, User: p.User, Role: p.Role, LoggedIn: !p.IsZero(), Dev: c.d.Dev,
		CanOperate: c.can(r, domain.ActionOperate), CanWrite: c.can(r, domain.ActionWrite),
		CanAdmin: c.can(r, domain.ActionAdmin), Data: data,
	}
	v.Flash = takeFlash(w, r)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Message string
}

// renderError shows an error page (or a JSON error on a JSON endpoint).
func (c *console) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	if isJSONPath(r.URL.Path) {
		writeJSON(w, status, jsonError{Error: jsonErrorBody{Code: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Message: msg}})
		return
	}
	c.render(w, r, status, "error", title, "", errorData{Status: status, Message: msg})
}

// serverError logs err and shows a 500 (or 503 when the store is down).
func (c *console) serverError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "The console hit an internal error; it has been logged."
	if isUnavailable(err) {
		status, msg = http.StatusServiceUnavailable, "The store did not answer. Try again in a moment."
	}
	c.log.Error("console: request failed", "path", r.URL.Path, "err", err)
	c.renderError(w, r, status, "Something went wrong", msg)
}

// flash is a one-time message shown on the page after a redirect.
type flash struct {
	Kind    string // "ok" or "error"
	Message string
}

const flashCookie = "pink_flash"

// setFlash stores a message for the next page the browser renders.
func setFlash(w http.ResponseWriter, r *http.Request, kind, msg string) {
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	v := base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + msg))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: isSecure(r), SameSite: http.SameSiteLaxMode})
}

// takeFlash reads and clears the pending message, if any.
func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: isSecure(r), SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	kind, msg, ok := strings.Cut(string(b), "\x00")
	if !ok || (kind != "ok" && kind != "error") || msg == "" {
		return nil
	}
	return &flash{Kind: kind, Message: msg}
}

// redirect answers a successful form post: back to a page, with a message.
func redirect(w http.ResponseWriter, r *http.Request, to, okMsg string) {
	if okMsg != "" {
		setFlash(w, r, "ok", okMsg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// redirectError answers a failed form post whose page has no form to
// re-render: back to a page, with the error.
func redirectError(w http.ResponseWriter, r *http.Request, to, msg string) {
	setFlash(w, r, "error", msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

type jsonError struct {
	Error jsonErrorBody `json:"error"`
}

type jsonErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func shortHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}
