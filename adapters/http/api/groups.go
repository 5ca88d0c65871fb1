package api

import (
	"context"
	"fmt"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/pink-scheduler/pink/domain"
)

// urlParam returns a path parameter, unescaped: chi hands it over as sent,
// and a client may well send the "~" of run and fire IDs as %7E.
func (c *call) urlParam(name string) string {
	v := chi.URLParam(c.r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func (a *api) handleListGroups(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	page, err := a.d.Groups.ListGroups(c.r.Context(), p)
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toGroupOut), page.NextCursor), nil
}

func (a *api) handleCreateGroup(c *call) (any, error) {
	var in groupInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	c.target = "group/" + in.Name
	g, err := a.jobs.CreateGroup(c.r.Context(), domain.Group{Name: in.Name, Description: in.Description})
	if err != nil {
		return nil, err
	}
	c.w.Header().Set("Location", "groups/"+g.Name)
	return toGroupOut(g), nil
}

func (a *api) handleGetGroup(c *call) (any, error) {
	g, err := a.d.Groups.GetGroup(c.r.Context(), c.urlParam("name"))
	if err != nil {
		return nil, err
	}
	return toGroupOut(g), nil
}

func (a *api) handleUpdateGroup(c *call) (any, error) {
	name := c.urlParam("name")
	var in groupInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	if in.Name != "" && in.Name != name {
		return nil, &domain.ValidationError{Field: "name", Reason: fmt.Sprintf("a group cannot be renamed (from %q to %q)", name, in.Name)}
	}
	g, err := a.jobs.UpdateGroup(c.r.Context(), name, in.Description)
	if err != nil {
		return nil, err
	}
	return toGroupOut(g), nil
}

// handleDeleteGroup deletes an empty group, then revokes its worker
// tokens: they no longer authenticate (their group is gone), and must not
// come back to life if a group of the same name is created later.
func (a *api) handleDeleteGroup(c *call) (any, error) {
	name := c.urlParam("name")
	if err := a.jobs.DeleteGroup(c.r.Context(), name); err != nil {
		return nil, err
	}
	n, err := a.auth.RevokeTokens(context.WithoutCancel(c.r.Context()), domain.TokenWorker, name)
	if err != nil {
		// The group is gone and its tokens no longer authenticate; the
		// leftovers are only a risk if the name is reused.
		a.log.Error("api: group deleted but its worker tokens were not all revoked", "group", name, "revoked", n, "err", err)
		c.detail = fmt.Sprintf("revoked %d worker tokens; revoking the rest failed: %v", n, err)
	} else if n > 0 {
		c.detail = fmt.Sprintf("revoked %d worker tokens", n)
	}
	return nil, nil
}
