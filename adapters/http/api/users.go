package api

import (
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func (a *api) handleListUsers(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	page, err := a.auth.ListUsers(c.r.Context(), p)
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toUserOut), page.NextCursor), nil
}

func (a *api) handleCreateUser(c *call) (any, error) {
	var in userInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	c.target, c.detail = "user/"+in.Name, "role "+in.Role
	u, err := a.auth.CreateUser(c.r.Context(), in.Name, domain.Role(in.Role), in.Password)
	if err != nil {
		return nil, err
	}
	c.w.Header().Set("Location", "users/"+u.Name)
	return toUserOut(u), nil
}

func (a *api) handleGetUser(c *call) (any, error) {
	u, err := a.auth.GetUser(c.r.Context(), c.urlParam("name"))
	if err != nil {
		return nil, err
	}
	return toUserOut(u), nil
}

func (a *api) handleDeleteUser(c *call) (any, error) {
	return nil, a.auth.DeleteUser(c.r.Context(), c.urlParam("name"))
}

func (a *api) handleSetRole(c *call) (any, error) {
	var in roleInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	c.detail = "role set to " + in.Role
	u, err := a.auth.SetRole(c.r.Context(), c.urlParam("name"), domain.Role(in.Role))
	if err != nil {
		return nil, err
	}
	return toUserOut(u), nil
}

func (a *api) handleSetPassword(c *call) (any, error) {
	var in passwordInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	c.detail = "password set by an admin; sessions ended"
	return nil, a.auth.SetPassword(c.r.Context(), c.urlParam("name"), in.Password)
}

func (a *api) handleDisableUser(c *call) (any, error) {
	c.detail = "disabled; sessions ended"
	u, err := a.auth.DisableUser(c.r.Context(), c.urlParam("name"))
	if err != nil {
		return nil, err
	}
	return toUserOut(u), nil
}

func (a *api) handleEnableUser(c *call) (any, error) {
	c.detail = "enabled"
	u, err := a.auth.EnableUser(c.r.Context(), c.urlParam("name"))
	if err != nil {
		return nil, err
	}
	return toUserOut(u), nil
}

// requireAdmin refuses (and audits) a caller who is not an admin, for the
// parts of a route open to everyone that act on others.
func (a *api) requireAdmin(c *call) error {
	if err := a.auth.Authorize(c.p, domain.ActionAdmin); err != nil {
		return a.deny(c, err)
	}
	return nil
}

// handleListTokens lists the caller's own tokens, or (admin) another
// user's or everyone's. Expired tokens are left out.
func (a *api) handleListTokens(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	kind := domain.TokenAPI
	switch k := c.query("kind"); k {
	case "", "api":
	case "session":
		kind = domain.TokenSession
	default:
		return nil, invalidParam("kind", "must be api or session (worker tokens: GET /worker-tokens)")
	}
	all, err := c.boolParam("all", false)
	if err != nil {
		return nil, err
	}
	owner, err := c.nameParam("owner")
	if err != nil {
		return nil, err
	}
	if all && owner != "" {
		return nil, invalidParam("all", "cannot be combined with owner")
	}
	if !all && owner == "" {
		owner = c.p.User
	}
	if all || owner != c.p.User {
		if err := a.requireAdmin(c); err != nil {
			return nil, err
		}
	}
	page, err := a.auth.ListTokens(c.r.Context(), ports.TokenFilter{Kind: kind, Owner: owner,
		Now: a.d.Clock.Now(), PageRequest: p})
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toTokenOut), page.NextCursor), nil
}

// handleCreateToken makes an API token for the caller (admins: for any
// user). Any role may: the token acts with its owner's role, never more.
func (a *api) handleCreateToken(c *call) (any, error) {
	var in tokenInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	owner := in.Owner
	if owner == "" {
		owner = c.p.User
	}
	c.target, c.detail = "user/"+owner, fmt.Sprintf("api token %q for %s", in.Name, owner)
	if owner != c.p.User {
		if err := a.requireAdmin(c); err != nil {
			return nil, err
		}
	}
	ttl, err := parseDuration("ttl", in.TTL)
	if err != nil {
		return nil, err
	}
	secret, t, err := a.auth.CreateAPIToken(c.r.Context(), owner, in.Name, time.Duration(ttl))
	if err != nil {
		return nil, err
	}
	c.target = "token/" + t.ID
	return tokenCreatedOut{tokenOut: toTokenOut(t), Secret: secret}, nil
}

// handleRevokeToken revokes one of the caller's tokens or sessions (admins:
// anyone's, worker tokens included).
func (a *api) handleRevokeToken(c *call) (any, error) {
	ctx := c.r.Context()
	t, err := a.auth.GetToken(ctx, c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	c.detail = fmt.Sprintf("%s token %q of %s", t.Kind, t.Name, t.Owner)
	if t.Kind == domain.TokenWorker || t.Owner != c.p.User {
		if err := a.requireAdmin(c); err != nil {
			return nil, err
		}
	}
	return nil, a.auth.RevokeToken(ctx, t.ID)
}

func (a *api) handleListWorkerTokens(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	group, err := c.nameParam("group")
	if err != nil {
		return nil, err
	}
	page, err := a.auth.ListTokens(c.r.Context(), ports.TokenFilter{Kind: domain.TokenWorker, Owner: group, PageRequest: p})
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toTokenOut), page.NextCursor), nil
}

func (a *api) handleCreateWorkerToken(c *call) (any, error) {
	var in workerTokenInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	c.target, c.detail = "group/"+in.Group, fmt.Sprintf("worker token %q for group %s", in.Name, in.Group)
	secret, t, err := a.auth.CreateWorkerToken(c.r.Context(), in.Group, in.Name)
	if err != nil {
		if domain.FieldOf(err) == "owner" {
			return nil, &domain.ValidationError{Field: "group", Reason: fmt.Sprintf("group %q does not exist", in.Group)}
		}
		return nil, err
	}
	c.target = "token/" + t.ID
	return tokenCreatedOut{tokenOut: toTokenOut(t), Secret: secret}, nil
}

func (a *api) handleRevokeWorkerToken(c *call) (any, error) {
	ctx := c.r.Context()
	t, err := a.auth.GetToken(ctx, c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	if t.Kind != domain.TokenWorker {
		return nil, fmt.Errorf("token %s is not a worker token: %w", t.ID, domain.ErrNotFound)
	}
	c.detail = fmt.Sprintf("worker token %q of group %s", t.Name, t.Owner)
	return nil, a.auth.RevokeToken(ctx, t.ID)
}

func (a *api) handleListAudit(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	f := ports.AuditFilter{Actor: c.query("actor"), Action: c.query("action"), Target: c.query("target"), PageRequest: p}
	switch r := domain.AuditResult(c.query("result")); {
	case r == "":
	case r.Valid():
		f.Result = r
	default:
		return nil, invalidParam("result", "must be ok, denied or error")
	}
	if f.From, err = c.timeParam("from"); err != nil {
		return nil, err
	}
	if f.To, err = c.timeParam("to"); err != nil {
		return nil, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return nil, invalidParam("to", "must be after from")
	}
	for _, q := range []struct{ name, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if len(q.v) > domain.MaxAuditTargetLen {
			return nil, invalidParam(q.name, "too long")
		}
	}
	page, err := a.auth.ListAudit(c.r.Context(), f)
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toAuditOut), page.NextCursor), nil
}
