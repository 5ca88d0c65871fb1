package api

import (
	"net/http"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// route is one endpoint: how it is matched, who may call it, what it is
// audited as, how the OpenAPI document describes it, and its handler.
type route struct {
	Method, Pattern string
	// ID is the OpenAPI operationId.
	ID string
	// Audit is the audit action of the route ("job.create"): every call
	// of an unsafe method is audited under it, and so is every refused
	// call.
	Audit string
	// Action is what the caller's role must allow; "" for a public route.
	Action domain.Action
	// OptionalAuth authenticates a public route's caller if it can.
	OptionalAuth bool
	Summary      string
	// Params are the query parameters; path parameters come from Pattern.
	Params []param
	// Body names the request body's schema (components/schemas); "" for
	// none. BodyOptional allows an empty body.
	Body         string
	BodyOptional bool
	// Status is the success status; Result names its body's schema ("" for
	// no body).
	Status int
	Result string
	handle func(*call) (any, error)
}

// param is a query parameter.
type param struct {
	Name, Desc string
	// Type is the JSON Schema type: "string", "integer" or "boolean";
	// Format refines it ("date-time").
	Type, Format string
	Enum         []string
	Min, Max     int
	Repeat       bool
	Required     bool
}

func (rt *route) param(name string) (param, bool) {
	for _, p := range rt.Params {
		if p.Name == name {
			return p, true
		}
	}
	return param{}, false
}

// Parameter helpers.
func pStr(name, desc string) param { return param{Name: name, Desc: desc, Type: "string"} }
func pTime(name, desc string) param {
	return param{Name: name, Desc: desc, Type: "string", Format: "date-time"}
}
func pInt(name, desc string, lo, hi int) param {
	return param{Name: name, Desc: desc, Type: "integer", Min: lo, Max: hi}
}
func pBool(name, desc string) param { return param{Name: name, Desc: desc, Type: "boolean"} }
func pEnum(name, desc string, values ...string) param {
	return param{Name: name, Desc: desc, Type: "string", Enum: values}
}

// paging are the parameters of every listing.
var paging = []param{
	pInt("limit", "Items per page (default 100).", 1, ports.MaxPageLimit),
	pStr("cursor", "The next_cursor of the previous page."),
}

func withPaging(ps ...param) []param { return append(ps, paging...) }

func runStates() []string {
	out := make([]string, len(domain.AllRunStates))
	for i, s := range domain.AllRunStates {
		out[i] = string(s)
	}
	return out
}

// table lists every route of the API. The router, the OpenAPI document
// and the tests are all made from it.
func (a *api) table() []*route {
	const (
		read, operate, write, admin = domain.ActionRead, domain.ActionOperate, domain.ActionWrite, domain.ActionAdmin
		get, post, put, del         = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
		ok, created, noContent      = http.StatusOK, http.StatusCreated, http.StatusNoContent
	)
	stateParam := pEnum("state", "Run state; repeat it or separate states with commas.", runStates()...)
	stateParam.Repeat = true
	rs := []*route{
		{Method: get, Pattern: "/openapi.json", ID: "getOpenAPI", Summary: "This OpenAPI document (no authentication).",
			Status: ok, Result: "OpenAPIDocument", handle: a.handleOpenAPI},

		// Authentication.
		{Method: post, Pattern: "/auth/login", ID: "login", Audit: domain.AuditUserLogin,
			Summary: "Log in with a password: sets the session cookie. Rate-limited (429 with Retry-After).",
			Body:    "LoginRequest", Status: ok, Result: "Me", handle: a.handleLogin},
		{Method: post, Pattern: "/auth/logout", ID: "logout", Audit: domain.AuditUserLogout, OptionalAuth: true,
			Summary: "End the session of the cookie and clear it.", Status: noContent, handle: a.handleLogout},
		{Method: get, Pattern: "/auth/me", ID: "getMe", Audit: "user.me", Action: read,
			Summary: "Who the request acts as.", Status: ok, Result: "Me", handle: a.handleMe},
		{Method: post, Pattern: "/auth/password", ID: "changePassword", Audit: domain.AuditUserUpdate, Action: read,
			Summary: "Change one's own password (the current one is checked; other sessions end).",
			Body:    "ChangePasswordRequest", Status: noContent, handle: a.handleChangePassword},

		// Groups.
		{Method: get, Pattern: "/groups", ID: "listGroups", Audit: "group.list", Action: read,
			Summary: "List groups by name.", Params: withPaging(), Status: ok, Result: "GroupList", handle: a.handleListGroups},
		{Method: post, Pattern: "/groups", ID: "createGroup", Audit: domain.AuditGroupCreate, Action: write,
			Summary: "Create a group.", Body: "GroupInput", Status: created, Result: "Group", handle: a.handleCreateGroup},
		{Method: get, Pattern: "/groups/{name}", ID: "getGroup", Audit: "group.get", Action: read,
			Summary: "Get a group.", Status: ok, Result: "Group", handle: a.handleGetGroup},
		{Method: put, Pattern: "/groups/{name}", ID: "updateGroup", Audit: domain.AuditGroupUpdate, Action: write,
			Summary: "Change a group's description.", Body: "GroupInput", Status: ok, Result: "Group", handle: a.handleUpdateGroup},
		{Method: del, Pattern: "/groups/{name}", ID: "deleteGroup", Audit: domain.AuditGroupDelete, Action: write,
			Summary: "Delete an empty group (409 while it has jobs) and revoke its worker tokens.",
			Status:  noContent, handle: a.handleDeleteGroup},

		// Jobs.
		{Method: get, Pattern: "/jobs", ID: "listJobs", Audit: "job.list", Action: read,
			Summary: "List jobs by group, then ID.",
			Params:  withPaging(pStr("group", "Only jobs of this group."), pBool("paused", "Only paused (true) or active (false) jobs.")),
			Status:  ok, Result: "JobList", handle: a.handleListJobs},
		{Method: post, Pattern: "/jobs", ID: "createJob", Audit: domain.AuditJobCreate, Action: write,
			Summary: "Create a job (the ID is generated unless given).", Body: "JobInput", Status: created, Result: "Job",
			handle: a.handleCreateJob},
		{Method: get, Pattern: "/jobs/{id}", ID: "getJob", Audit: "job.get", Action: read,
			Summary: "Get a job.", Status: ok, Result: "Job", handle: a.handleGetJob},
		{Method: put, Pattern: "/jobs/{id}", ID: "replaceJob", Audit: domain.AuditJobUpdate, Action: write,
			Summary: "Replace a job's definition (the group cannot change; a version, if given, must be current).",
			Body:    "JobInput", Status: ok, Result: "Job", handle: a.handleReplaceJob},
		{Method: del, Pattern: "/jobs/{id}", ID: "deleteJob", Audit: domain.AuditJobDelete, Action: write,
			Summary: "Delete a job; the leader removes its pending runs.", Status: noContent, handle: a.handleDeleteJob},
		{Method: post, Pattern: "/jobs/{id}/pause", ID: "pauseJob", Audit: domain.AuditJobPause, Action: operate,
			Summary: "Pause a job (idempotent).", Status: ok, Result: "Job", handle: a.handlePauseJob},
		{Method: post, Pattern: "/jobs/{id}/resume", ID: "resumeJob", Audit: domain.AuditJobResume, Action: operate,
			Summary: "Resume a job from now on (idempotent).", Status: ok, Result: "Job", handle: a.handleResumeJob},
		{Method: post, Pattern: "/jobs/{id}/trigger", ID: "triggerJob", Audit: domain.AuditJobTrigger, Action: operate,
			Summary: "Fire a job now, optionally with other params; returns the manual fire.",
			Body:    "TriggerInput", BodyOptional: true, Status: created, Result: "Fire", handle: a.handleTriggerJob},
		{Method: get, Pattern: "/jobs/{id}/plan", ID: "planJob", Audit: "job.plan", Action: read,
			Summary: "The job's next fire times, in its time zone.",
			Params:  []param{pInt("count", "How many (default 10).", 1, maxPlan)},
			Status:  ok, Result: "Plan", handle: a.handlePlan},
		{Method: get, Pattern: "/schedule/preview", ID: "previewSchedule", Audit: "schedule.preview", Action: read,
			Summary: "Validate a schedule and list its next fire times (400 with field expr or tz if invalid).",
			Params: []param{
				{Name: "expr", Desc: "Cron expression, macro, @every or @at.", Type: "string", Required: true},
				pStr("tz", "IANA time zone (default UTC)."),
				pInt("count", "How many (default 10).", 1, maxPlan),
				pTime("after", "List the times after this one (default now)."),
			},
			Status: ok, Result: "Plan", handle: a.handlePreview},

		// Cluster.
		{Method: get, Pattern: "/workers", ID: "listWorkers", Audit: "worker.list", Action: read,
			Summary: "List live workers by ID, with their handlers, labels and running runs.",
			Params:  withPaging(pStr("group", "Only workers of this group.")), Status: ok, Result: "WorkerList",
			handle: a.handleListWorkers},
		{Method: get, Pattern: "/nodes", ID: "listNodes", Audit: "node.list", Action: read,
			Summary: "List live scheduler nodes by ID, marking the leader.", Params: withPaging(),
			Status: ok, Result: "NodeList", handle: a.handleListNodes},

		// Fires and runs.
		{Method: get, Pattern: "/fires", ID: "listFires", Audit: "fire.list", Action: read,
			Summary: "List fire records newest first; status=pending lists the fires with runs waiting for a worker.",
			Params: withPaging(pStr("job_id", "Only fires of this job."),
				pEnum("status", "Fire status, or pending.", "dispatched", "skipped", "pending")),
			Status: ok, Result: "FireList", handle: a.handleListFires},
		{Method: get, Pattern: "/fires/{id}", ID: "getFire", Audit: "fire.get", Action: read,
			Summary: "Get a fire record.", Status: ok, Result: "Fire", handle: a.handleGetFire},
		{Method: del, Pattern: "/fires/{id}", ID: "deleteFire", Audit: domain.AuditFireDelete, Action: write,
			Summary: "Cancel a pending fire: its pending runs are cancelled (the record stays; 409 if none is pending).",
			Status:  ok, Result: "FireCancelled", handle: a.handleDeleteFire},
		{Method: get, Pattern: "/runs", ID: "listRuns", Audit: "run.list", Action: read,
			Summary: "List runs newest first; output is cut to its last 4 KiB (see output_truncated).",
			Params: withPaging(pStr("job_id", "Only runs of this job."), pStr("group", "Only runs of this group."),
				pStr("worker_id", "Only runs of this worker."), stateParam,
				pTime("from", "Scheduled at or after."), pTime("to", "Scheduled before.")),
			Status: ok, Result: "RunList", handle: a.handleListRuns},
		{Method: get, Pattern: "/runs/{id}", ID: "getRun", Audit: "run.get", Action: read,
			Summary: "Get a run with its whole output and earlier attempts.", Status: ok, Result: "Run", handle: a.handleGetRun},
		{Method: post, Pattern: "/runs/{id}/cancel", ID: "cancelRun", Audit: domain.AuditRunCancel, Action: operate,
			Summary: "Cancel an active run (409 if it has finished).", Status: ok, Result: "Run", handle: a.handleCancelRun},
		{Method: del, Pattern: "/runs/{id}", ID: "deleteRun", Audit: domain.AuditRunDelete, Action: write,
			Summary: "Delete a finished run (409 while it is active).", Status: noContent, handle: a.handleDeleteRun},
		{Method: get, Pattern: "/stats", ID: "getStats", Audit: "stats.get", Action: read,
			Summary: "Runs per state per hour (last 24 h) and per day (last 30 days).",
			Params:  []param{pStr("tz", "IANA time zone of the hour and day boundaries (default UTC).")},
			Status:  ok, Result: "Stats", handle: a.handleStats},

		// Users (admin).
		{Method: get, Pattern: "/users", ID: "listUsers", Audit: "user.list", Action: admin,
			Summary: "List users by name.", Params: withPaging(), Status: ok, Result: "UserList", handle: a.handleListUsers},
		{Method: post, Pattern: "/users", ID: "createUser", Audit: domain.AuditUserCreate, Action: admin,
			Summary: "Create a user.", Body: "UserInput", Status: created, Result: "User", handle: a.handleCreateUser},
		{Method: get, Pattern: "/users/{name}", ID: "getUser", Audit: "user.get", Action: admin,
			Summary: "Get a user.", Status: ok, Result: "User", handle: a.handleGetUser},
		{Method: del, Pattern: "/users/{name}", ID: "deleteUser", Audit: domain.AuditUserDelete, Action: admin,
			Summary: "Delete a user and their tokens (409 for the last active admin).", Status: noContent, handle: a.handleDeleteUser},
		{Method: put, Pattern: "/users/{name}/role", ID: "setUserRole", Audit: domain.AuditUserUpdate, Action: admin,
			Summary: "Change a user's role (409 for the last active admin).", Body: "RoleInput", Status: ok, Result: "User",
			handle: a.handleSetRole},
		{Method: put, Pattern: "/users/{name}/password", ID: "setUserPassword", Audit: domain.AuditUserUpdate, Action: admin,
			Summary: "Set a user's password; their sessions end.", Body: "PasswordInput", Status: noContent,
			handle: a.handleSetPassword},
		{Method: post, Pattern: "/users/{name}/disable", ID: "disableUser", Audit: domain.AuditUserUpdate, Action: admin,
			Summary: "Disable a user: no login, no token works, sessions end.", Status: ok, Result: "User",
			handle: a.handleDisableUser},
		{Method: post, Pattern: "/users/{name}/enable", ID: "enableUser", Audit: domain.AuditUserUpdate, Action: admin,
			Summary: "Enable a disabled user.", Status: ok, Result: "User", handle: a.handleEnableUser},

		// API tokens and sessions.
		{Method: get, Pattern: "/tokens", ID: "listTokens", Audit: "token.list", Action: read,
			Summary: "List one's own API tokens (or sessions); admins may list another user's, or everyone's.",
			Params: withPaging(pStr("owner", "The user whose tokens to list (admin; default oneself)."),
				pBool("all", "Every user's tokens (admin)."), pEnum("kind", "api (default) or session.", "api", "session")),
			Status: ok, Result: "TokenList", handle: a.handleListTokens},
		{Method: post, Pattern: "/tokens", ID: "createToken", Audit: domain.AuditTokenCreate, Action: read,
			Summary: "Create an API token for oneself (admins: for any user); the secret is in this answer only.",
			Body:    "TokenInput", Status: created, Result: "TokenCreated", handle: a.handleCreateToken},
		{Method: del, Pattern: "/tokens/{id}", ID: "revokeToken", Audit: domain.AuditTokenRevoke, Action: read,
			Summary: "Revoke one's own token or session (admins: anyone's).", Status: noContent, handle: a.handleRevokeToken},

		// Worker tokens (admin).
		{Method: get, Pattern: "/worker-tokens", ID: "listWorkerTokens", Audit: "token.list", Action: admin,
			Summary: "List worker tokens.", Params: withPaging(pStr("group", "Only tokens of this group.")),
			Status: ok, Result: "TokenList", handle: a.handleListWorkerTokens},
		{Method: post, Pattern: "/worker-tokens", ID: "createWorkerToken", Audit: domain.AuditTokenCreate, Action: admin,
			Summary: "Create a worker token for a group; the secret is in this answer only.",
			Body:    "WorkerTokenInput", Status: created, Result: "TokenCreated", handle: a.handleCreateWorkerToken},
		{Method: del, Pattern: "/worker-tokens/{id}", ID: "revokeWorkerToken", Audit: domain.AuditTokenRevoke, Action: admin,
			Summary: "Revoke a worker token.", Status: noContent, handle: a.handleRevokeWorkerToken},

		// Audit log (admin).
		{Method: get, Pattern: "/audit", ID: "listAudit", Audit: "audit.list", Action: admin,
			Summary: "List audit entries newest first.",
			Params: withPaging(pStr("actor", "Exact actor."), pStr("action", "Action or action prefix (job. for every job action)."),
				pStr("target", "Exact target, e.g. job/nightly."), pEnum("result", "Outcome.", "ok", "denied", "error"),
				pTime("from", "At or after."), pTime("to", "Before.")),
			Status: ok, Result: "AuditList", handle: a.handleListAudit},
	}
	return rs
}

// pathParams returns the names of the {parameters} of a chi pattern.
func pathParams(pattern string) []string {
	var out []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name, _, _ := strings.Cut(seg[1:len(seg)-1], ":")
			out = append(out, name)
		}
	}
	return out
}
