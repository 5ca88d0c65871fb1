package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// auditPerPage is the length of a page of the audit log.
const auditPerPage = 50

type auditData struct {
	Actor, Action, Target, Result string
	Entries                       []domain.AuditEntry
	NextURL                       string
	Filtered                      bool
}

// auditPage shows the audit log, newest first, filtered by actor, action
// (prefix), target and result.
func (c *console) auditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")), Result: q.Get("result")}
	d.Filtered = d.Actor != "" || d.Action != "" || d.Target != "" || d.Result != ""
	f := ports.AuditFilter{Actor: d.Actor, Action: d.Action, Target: d.Target, Result: domain.AuditResult(d.Result),
		PageRequest: ports.PageRequest{Limit: auditPerPage, Cursor: q.Get("cursor")}}
	if !f.Result.Valid() {
		f.Result, d.Result = "", ""
	}
	page, err := c.d.Auth.ListAudit(r.Context(), f)
	if err != nil {
		if msg, ok := userMessage(err); ok && errors.Is(err, domain.ErrInvalid) {
			c.renderError(w, r, http.StatusBadRequest, "Bad request", msg)
			return
		}
		c.serverError(w, r, err)
		return
	}
	d.Entries = page.Items
	if page.NextCursor != "" {
		d.NextURL = withParam(r, "cursor", page.NextCursor)
	}
	c.render(w, r, http.StatusOK, "audit", "Audit log", "audit", d)
}

type usersData struct {
	Users []domain.User
	Self  string
	// The create form, shown again with its errors.
	Name, Role string
	Errors     map[string]string
}

// usersPage lists users with their role and state, and the form to
// create one.
func (c *console) usersPage(w http.ResponseWriter, r *http.Request) {
	c.renderUsers(w, r, http.StatusOK, &usersData{Role: string(domain.RoleViewer)})
}

func (c *console) renderUsers(w http.ResponseWriter, r *http.Request, status int, d *usersData) {
	var users []domain.User
	p := ports.PageRequest{Limit: ports.MaxPageLimit}
	for {
		page, err := c.d.Auth.ListUsers(r.Context(), p)
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		users = append(users, page.Items...)
		if page.NextCursor == "" || len(users) >= maxGroupsScan {
			break
		}
		p.Cursor = page.NextCursor
	}
	for i := range users {
		users[i].PasswordHash = "" // never leaves the server
	}
	d.Users, d.Self = users, principalOf(r).User
	c.render(w, r, status, "users", "Users", "users", d)
}

// userCreate creates a user from the form.
func (c *console) userCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	d := &usersData{Name: strings.TrimSpace(r.PostForm.Get("name")), Role: r.PostForm.Get("role")}
	u, err := c.d.Auth.CreateUser(r.Context(), d.Name, domain.Role(d.Role), r.PostForm.Get("password"))
	if err != nil {
		field := domain.FieldOf(err)
		switch {
		case field != "":
			d.Errors = map[string]string{field: fieldReason(err)}
		case errors.Is(err, domain.ErrAlreadyExists):
			d.Errors = map[string]string{"name": "a user with this name exists already"}
		default:
			c.serverError(w, r, err)
			return
		}
		c.renderUsers(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	c.audit(r, domain.AuditUserCreate, "user/"+u.Name, "role "+string(u.Role), domain.AuditOK)
	redirect(w, r, "/users", fmt.Sprintf("User %s created with role %s.", u.Name, u.Role))
}

// userChange runs one of the buttons of a user row.
func (c *console) userChange(w http.ResponseWriter, r *http.Request, detail, done string, fn func(name string) error) {
	name := urlParam(r, "name")
	if err := fn(name); err != nil {
		c.audit(r, domain.AuditUserUpdate, "user/"+name, detail+": "+err.Error(), domain.AuditError)
		if errors.Is(err, domain.ErrConflict) {
			redirectError(w, r, "/users", "Refused: Pink must keep at least one active admin.")
			return
		}
		c.actionFailed(w, r, "/users", err)
		return
	}
	c.audit(r, domain.AuditUserUpdate, "user/"+name, detail, domain.AuditOK)
	redirect(w, r, "/users", fmt.Sprintf("User %s %s.", name, done))
}

func (c *console) userSetRole(w http.ResponseWriter, r *http.Request) {
	role := domain.Role(r.PostFormValue("role"))
	c.userChange(w, r, "role "+string(role), "is now "+string(role), func(name string) error {
		_, err := c.d.Auth.SetRole(r.Context(), name, role)
		return err
	})
}

func (c *console) userDisable(w http.ResponseWriter, r *http.Request) {
	c.userChange(w, r, "disabled", "disabled (sessions ended)", func(name string) error {
		_, err := c.d.Auth.DisableUser(r.Context(), name)
		return err
	})
}

func (c *console) userEnable(w http.ResponseWriter, r *http.Request) {
	c.userChange(w, r, "enabled", "enabled", func(name string) error {
		_, err := c.d.Auth.EnableUser(r.Context(), name)
		return err
	})
}

func (c *console) userSetPassword(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	pw := r.PostFormValue("password")
	c.userChange(w, r, "password reset", "has a new password (sessions ended)", func(name string) error {
		return c.d.Auth.SetPassword(r.Context(), name, pw)
	})
}

func (c *console) userDelete(w http.ResponseWriter, r *http.Request) {
	name := urlParam(r, "name")
	if err := c.d.Auth.DeleteUser(r.Context(), name); err != nil {
		c.audit(r, domain.AuditUserDelete, "user/"+name, err.Error(), domain.AuditError)
		if errors.Is(err, domain.ErrConflict) {
			redirectError(w, r, "/users", "Refused: Pink must keep at least one active admin.")
			return
		}
		c.actionFailed(w, r, "/users", err)
		return
	}
	c.audit(r, domain.AuditUserDelete, "user/"+name, "", domain.AuditOK)
	redirect(w, r, "/users", fmt.Sprintf("User %s deleted, with their tokens.", name))
}

type tokensData struct {
	API, Worker []domain.Token
	Users       []string
	Groups      []string
	Now         time.Time
	// The create form, shown again with its errors.
	Kind, Owner, Name, TTL string
	Errors                 map[string]string
}

// tokensPage lists API and worker tokens and the forms to create them.
func (c *console) tokensPage(w http.ResponseWriter, r *http.Request) {
	c.renderTokens(w, r, http.StatusOK, &tokensData{})
}

func (c *console) renderTokens(w http.ResponseWriter, r *http.Request, status int, d *tokensData) {
	ctx := r.Context()
	list := func(kind domain.TokenKind) ([]domain.Token, error) {
		page, err := c.d.Auth.ListTokens(ctx, ports.TokenFilter{Kind: kind, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}})
		for i := range page.Items {
			page.Items[i].Hash = ""
		}
		return page.Items, err
	}
	var err error
	if d.API, err = list(domain.TokenAPI); err != nil {
		c.serverError(w, r, err)
		return
	}
	if d.Worker, err = list(domain.TokenWorker); err != nil {
		c.serverError(w, r, err)
		return
	}
	users, err := c.d.Auth.ListUsers(ctx, ports.PageRequest{Limit: ports.MaxPageLimit})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	for _, u := range users.Items {
		if !u.Disabled {
			d.Users = append(d.Users, u.Name)
		}
	}
	groups, err := c.allGroups(ctx)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Groups, d.Now = groupNames(groups), c.d.Clock.Now()
	if d.Owner == "" {
		d.Owner = principalOf(r).User
	}
	c.render(w, r, status, "tokens", "Tokens", "tokens", d)
}

type tokenCreatedData struct {
	Token  domain.Token
	Secret string
}

// tokenCreate makes an API token (for a user) or a worker token (for a
// group) and shows its secret, once: it is stored nowhere.
func (c *console) tokenCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	d := &tokensData{Kind: r.PostForm.Get("kind"), Owner: strings.TrimSpace(r.PostForm.Get("owner")),
		Name: strings.TrimSpace(r.PostForm.Get("name")), TTL: strings.TrimSpace(r.PostForm.Get("ttl"))}
	var (
		secret string
		tok    domain.Token
		err    error
	)
	switch domain.TokenKind(d.Kind) {
	case domain.TokenAPI:
		var ttl time.Duration
		if d.TTL != "" {
			if ttl, err = time.ParseDuration(d.TTL); err != nil {
				d.Errors = map[string]string{"ttl": "write a duration like 720h, or leave empty for no expiry"}
				c.renderTokens(w, r, http.StatusUnprocessableEntity, d)
				return
			}
		}
		secret, tok, err = c.d.Auth.CreateAPIToken(r.Context(), d.Owner, d.Name, ttl)
	case domain.TokenWorker:
		secret, tok, err = c.d.Auth.CreateWorkerToken(r.Context(), d.Owner, d.Name)
	default:
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "Unknown token kind.")
		return
	}
	if err != nil {
		field := domain.FieldOf(err)
		switch {
		case field != "":
			d.Errors = map[string]string{field: fieldReason(err)}
		case errors.Is(err, domain.ErrConflict):
			d.Errors = map[string]string{"owner": "this user is disabled"}
		default:
			c.serverError(w, r, err)
			return
		}
		c.renderTokens(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	c.audit(r, domain.AuditTokenCreate, "token/"+tok.ID, fmt.Sprintf("%s token %q for %s", tok.Kind, tok.Name, tok.Owner), domain.AuditOK)
	tok.Hash = ""
	c.render(w, r, http.StatusOK, "tokencreated", "Token created", "tokens", tokenCreatedData{Token: tok, Secret: secret})
}

// tokenRevoke deletes a token.
func (c *console) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	id := urlParam(r, "id")
	if err := c.d.Auth.RevokeToken(r.Context(), id); err != nil {
		c.audit(r, domain.AuditTokenRevoke, "token/"+id, err.Error(), domain.AuditError)
		c.actionFailed(w, r, "/tokens", err)
		return
	}
	c.audit(r, domain.AuditTokenRevoke, "token/"+id, "", domain.AuditOK)
	redirect(w, r, "/tokens", "Token revoked: it stopped working at once.")
}
