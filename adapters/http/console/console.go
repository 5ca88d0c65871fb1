package console

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the console needs from the node. Every field is required
// except Logger and Dev.
type Deps struct {
	// Auth logs users in and out, authenticates sessions, authorises
	// actions, manages users and tokens and keeps the audit log.
	Auth *auth.Service
	// Limiter slows password guessing on the login form.
	Limiter *auth.LoginLimiter
	// Jobs manages groups and jobs (create, edit, pause, resume, trigger,
	// delete, plan, preview).
	Jobs *jobs.Service
	// Query answers the read side: runs, pending fires, workers with their
	// running runs, nodes with the leader, run statistics.
	Query *query.Service
	// Groups and JobStore list groups and jobs (no use case lists them).
	Groups   ports.GroupStore
	JobStore ports.JobStore
	// Runs cancels and deletes runs.
	Runs  ports.RunStore
	Clock ports.Clock

	// TrustedOrigins are origins ("https://pink.example.com") whose
	// cross-origin form posts are accepted: set it when a proxy in front
	// of the console changes the Host header.
	TrustedOrigins []string
	// SecureCookies marks the cookies Secure even on plain HTTP requests:
	// set it behind a proxy that terminates TLS. (On TLS they are Secure
	// anyway.)
	SecureCookies bool

	// Dev serves every page without login, as the admin "dev", with a
	// DEV MODE banner on every page. The node allows it on loopback only.
	Dev bool
	// Logger receives the errors the console could not show a user (and
	// those it shows as a 500 page); nil means slog.Default().
	Logger *slog.Logger
}

func (d *Deps) check() error {
	if d.Auth == nil || d.Limiter == nil || d.Jobs == nil || d.Query == nil || d.Groups == nil ||
		d.JobStore == nil || d.Runs == nil || d.Clock == nil {
		return errors.New("console: Deps.Auth, Limiter, Jobs, Query, Groups, JobStore, Runs and Clock are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	for _, o := range d.TrustedOrigins {
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil {
			return fmt.Errorf("console: trusted origin: %w", err)
		}
	}
	return nil
}

// console holds the handlers' shared state.
type console struct {
	d     Deps
	log   *slog.Logger
	pages *pages
}

// Handler returns the console: pages, their form posts, two small JSON
// endpoints for the JavaScript (schedule preview and run polling) and the
// static assets. Mount it at "/". It panics if a required dependency is
// missing (a wiring mistake, found at start-up).
func Handler(d Deps) http.Handler {
	h, err := New(d)
	if err != nil {
		panic(err)
	}
	return h
}

// New is Handler returning the wiring mistake as an error instead.
func New(d Deps) (http.Handler, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	c := &console{d: d, log: d.Logger.With("component", "console"), pages: p}
	return c.routes(), nil
}

// routes mounts every console endpoint. Reads are GET; every change is a
// POST from a form (never a GET), checked for cross-origin requests.
//
//	GET  /                          dashboard                         read
//	GET  /login, POST /login        login form (rate limited)          -
//	POST /logout                    end the session                   -
//	GET  /jobs                      jobs: search, filter by group/state read
//	GET  /jobs/new, POST /jobs/new  create a job                      write
//	GET  /jobs/{id}                 job detail: plan, runs, history   read
//	GET  /jobs/{id}/edit, POST      edit a job                        write
//	POST /jobs/{id}/pause|resume|trigger                              operate
//	POST /jobs/{id}/delete                                            write
//	GET  /groups, POST /groups      list, create                      read, write
//	POST /groups/{name}/delete                                        write
//	GET  /workers                   workers per group, running runs   read
//	GET  /nodes                     scheduler nodes, leader           read
//	GET  /pending                   fires whose runs wait for a worker read
//	POST /fires/{id}/cancel         cancel a fire's active runs       operate
//	GET  /runs                      runs: filter by job, group, state read
//	GET  /runs/{id}                 run detail, live output           read
//	POST /runs/{id}/cancel                                            operate
//	POST /runs/{id}/delete                                            write
//	GET  /audit                     audit log                         admin
//	GET  /users, POST /users        users; create                     admin
//	POST /users/{name}/role|disable|enable|delete|password            admin
//	GET  /tokens, POST /tokens      api and worker tokens; create     admin
//	POST /tokens/{id}/revoke                                          admin
//	GET  /console/preview?expr=&tz=&count=   next fire times (JSON)   read
//	GET  /console/runs/{id}         a run as JSON, for live output    read
//	GET  /console/static/*          CSS, JS, icon                     -
func (c *console) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(c.recoverer, securityHeaders)
	if c.d.SecureCookies {
		r.Use(secureCookies)
	}

	cop := http.NewCrossOriginProtection()
	for _, o := range c.d.TrustedOrigins {
		_ = cop.AddTrustedOrigin(o) // checked by Deps.check
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusForbidden, "Cross-origin request refused",
			"This form was sent from another site, so it was refused. Reload the page and try again.")
	}))
	r.Use(cop.Handler)

	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/console/static/*", http.StripPrefix("/console/static/", staticHandler(static)))

	r.Get("/login", c.loginPage)
	r.Post("/login", c.loginSubmit)
	r.Post("/logout", c.logout)

	r.Group(func(r chi.Router) {
		r.Use(c.requireSession)

		r.Get("/", c.need(domain.ActionRead, c.dashboard))

		r.Get("/jobs", c.need(domain.ActionRead, c.jobsPage))
		r.Get("/jobs/new", c.need(domain.ActionWrite, c.jobNewForm))
		r.Post("/jobs/new", c.change(domain.ActionWrite, domain.AuditJobCreate, c.jobCreate))
		r.Get("/jobs/{id}", c.need(domain.ActionRead, c.jobDetail))
		r.Get("/jobs/{id}/edit", c.need(domain.ActionWrite, c.jobEditForm))
		r.Post("/jobs/{id}/edit", c.change(domain.ActionWrite, domain.AuditJobUpdate, c.jobUpdate))
		r.Post("/jobs/{id}/pause", c.change(domain.ActionOperate, domain.AuditJobPause, c.jobPause))
		r.Post("/jobs/{id}/resume", c.change(domain.ActionOperate, domain.AuditJobResume, c.jobResume))
		r.Post("/jobs/{id}/trigger", c.change(domain.ActionOperate, domain.AuditJobTrigger, c.jobTrigger))
		r.Post("/jobs/{id}/delete", c.change(domain.ActionWrite, domain.AuditJobDelete, c.jobDelete))

		r.Get("/groups", c.need(domain.ActionRead, c.groupsPage))
		r.Post("/groups", c.change(domain.ActionWrite, domain.AuditGroupCreate, c.groupCreate))
		r.Post("/groups/{name}/delete", c.change(domain.ActionWrite, domain.AuditGroupDelete, c.groupDelete))

		r.Get("/workers", c.need(domain.ActionRead, c.workersPage))
		r.Get("/nodes", c.need(domain.ActionRead, c.nodesPage))
		r.Get("/pending", c.need(domain.ActionRead, c.pendingPage))
		r.Post("/fires/{id}/cancel", c.change(domain.ActionOperate, domain.AuditRunCancel, c.fireCancel))

		r.Get("/runs", c.need(domain.ActionRead, c.runsPage))
		r.Get("/runs/{id}", c.need(domain.ActionRead, c.runDetail))
		r.Post("/runs/{id}/cancel", c.change(domain.ActionOperate, domain.AuditRunCancel, c.runCancel))
		r.Post("/runs/{id}/delete", c.change(domain.ActionWrite, domain.AuditRunDelete, c.runDelete))

		r.Get("/audit", c.need(domain.ActionAdmin, c.auditPage))

		r.Get("/users", c.need(domain.ActionAdmin, c.usersPage))
		r.Post("/users", c.change(domain.ActionAdmin, domain.AuditUserCreate, c.userCreate))
		r.Post("/users/{name}/role", c.change(domain.ActionAdmin, domain.AuditUserUpdate, c.userSetRole))
		r.Post("/users/{name}/disable", c.change(domain.ActionAdmin, domain.AuditUserUpdate, c.userDisable))
		r.Post("/users/{name}/enable", c.change(domain.ActionAdmin, domain.AuditUserUpdate, c.userEnable))
		r.Post("/users/{name}/password", c.change(domain.ActionAdmin, domain.AuditUserUpdate, c.userSetPassword))
		r.Post("/users/{name}/delete", c.change(domain.ActionAdmin, domain.AuditUserDelete, c.userDelete))
		r.Get("/tokens", c.need(domain.ActionAdmin, c.tokensPage))
		r.Post("/tokens", c.change(domain.ActionAdmin, domain.AuditTokenCreate, c.tokenCreate))
		r.Post("/tokens/{id}/revoke", c.change(domain.ActionAdmin, domain.AuditTokenRevoke, c.tokenRevoke))

		r.Get("/console/preview", c.need(domain.ActionRead, c.previewJSON))
		r.Get("/console/runs/{id}", c.need(domain.ActionRead, c.runJSON))
	})

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "This address does not take that kind of request.")
	})
	return r
}
