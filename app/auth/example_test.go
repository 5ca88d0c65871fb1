package auth_test

import (
	"context"
	"fmt"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
)

// Example shows the life of a request: bootstrap on first start, a login,
// then authenticating the session secret and authorising actions.
func Example() {
	ctx := context.Background()
	store := memory.New(clock.System{})
	defer store.Close()
	svc, err := auth.New(auth.Config{Users: store, Tokens: store, Audit: store, Groups: store, Clock: clock.System{}})
	if err != nil {
		panic(err)
	}

	// First start: no users yet. With "" a password is generated and
	// returned, to be logged once.
	created, _, err := svc.Bootstrap(ctx, "correct horse battery staple")
	fmt.Println("admin created:", created, err)
	_, err = svc.CreateUser(ctx, "olivia", domain.RoleOperator, "a long operator passphrase")
	fmt.Println("operator created:", err)

	// The console: log in, keep the secret in a cookie.
	secret, _, err := svc.Login(ctx, "olivia", "a long operator passphrase")
	fmt.Println("login:", err)

	// Every request: who is it, and may they?
	p, err := svc.Authenticate(ctx, secret)
	fmt.Println("principal:", p.User, p.Role, p.Kind, err)
	fmt.Println("may trigger:", svc.Authorize(p, domain.ActionOperate) == nil)
	fmt.Println("may delete jobs:", svc.Authorize(p, domain.ActionWrite))
	_ = svc.Audit(ctx, p, domain.AuditJobTrigger, "job/nightly", "", domain.AuditOK)

	// A wrong password says nothing more than "no".
	_, _, err = svc.Login(ctx, "olivia", "a wrong passphrase!")
	fmt.Println("bad login:", err)
	// Output:
	// admin created: true <nil>
	// operator created: <nil>
	// login: <nil>
	// principal: olivia operator session <nil>
	// may trigger: true
	// may delete jobs: authorize write: user "olivia" has role "operator": pink: forbidden
	// bad login: login: invalid credentials: pink: unauthenticated
}
