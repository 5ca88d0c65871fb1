package auth_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
)

func TestAuthorizeByRole(t *testing.T) {
	e := newEnv(t)
	allowed := map[domain.Role][]domain.Action{
		domain.RoleAdmin:    {domain.ActionRead, domain.ActionOperate, domain.ActionWrite, domain.ActionAdmin},
		domain.RoleOperator: {domain.ActionRead, domain.ActionOperate},
		domain.RoleViewer:   {domain.ActionRead},
	}
	for role, actions := range allowed {
		for _, kind := range []domain.TokenKind{domain.TokenSession, domain.TokenAPI} {
			p := auth.Principal{User: "u", Role: role, TokenID: "t", Kind: kind}
			for _, a := range []domain.Action{domain.ActionRead, domain.ActionOperate, domain.ActionWrite, domain.ActionAdmin} {
				err := e.svc.Authorize(p, a)
				want := false
				for _, x := range actions {
					want = want || x == a
				}
				if want {
					require.NoError(t, err, "%s %s %s", role, kind, a)
				} else {
					require.ErrorIs(t, err, domain.ErrForbidden, "%s %s %s", role, kind, a)
				}
			}
			require.ErrorIs(t, e.svc.Authorize(p, "launch"), domain.ErrForbidden, "unknown actions are refused")
		}
	}
}

func TestAuthorizeWithoutAUser(t *testing.T) {
	e := newEnv(t)
	require.ErrorIs(t, e.svc.Authorize(auth.Principal{}, domain.ActionRead), domain.ErrUnauthenticated)
	require.ErrorIs(t, e.svc.AuthorizeWorker(auth.Principal{}, "g"), domain.ErrUnauthenticated)
	worker := auth.Principal{TokenID: "t", Kind: domain.TokenWorker, Group: "g"}
	for _, a := range []domain.Action{domain.ActionRead, domain.ActionOperate, domain.ActionWrite, domain.ActionAdmin} {
		require.ErrorIs(t, e.svc.Authorize(worker, a), domain.ErrForbidden, a)
	}
	admin := auth.Principal{User: "root", Role: domain.RoleAdmin, TokenID: "t", Kind: domain.TokenAPI}
	require.ErrorIs(t, e.svc.AuthorizeWorker(admin, "g"), domain.ErrForbidden, "even an admin needs a worker token on the worker API")
	require.NoError(t, e.svc.Authorize(auth.System, domain.ActionAdmin))
}

func TestActor(t *testing.T) {
	for _, tc := range []struct {
		p    auth.Principal
		want string
	}{
		{auth.Principal{User: "alice", Role: domain.RoleViewer, TokenID: "t1", Kind: domain.TokenSession}, "alice"},
		{auth.Principal{User: "alice", Role: domain.RoleViewer, TokenID: "t1", Kind: domain.TokenAPI}, "alice"},
		{auth.Principal{TokenID: "t1", Kind: domain.TokenWorker, Group: "g"}, "token:t1"},
		{auth.System, domain.ActorSystem},
		{auth.Principal{}, domain.ActorAnonymous},
		{auth.Principal{User: "Not A Name"}, domain.ActorAnonymous},
	} {
		require.Equal(t, tc.want, tc.p.Actor(), "%+v", tc.p)
	}
}
