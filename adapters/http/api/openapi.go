package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pink-scheduler/pink/domain"
)

// The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json. The
// paths are made from the route table (so no route can be missing from
// it), the schemas are written by hand below, next to nothing else: keep
// them in step with dto.go (the tests compare them with real answers).

type obj = map[string]any

func (a *api) handleOpenAPI(*call) (any, error) { return json.RawMessage(a.doc), nil }

// openAPI builds the document.
func openAPI(routes []*route) obj {
	paths := obj{}
	for _, rt := range routes {
		item, _ := paths[rt.Pattern].(obj)
		if item == nil {
			item = obj{}
			paths[rt.Pattern] = item
		}
		item[strings.ToLower(rt.Method)] = operation(rt)
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "Pink REST API",
			"version": "1",
			"description": "Manage Pink's groups, jobs, fires, runs, workers, nodes, users, tokens and audit log. " +
				"Authenticate with Authorization: Bearer <token> (POST /tokens makes one) or the session cookie of " +
				"POST /auth/login. Errors are {\"error\":{\"code\",\"message\",\"field\"}}. Listings take limit and cursor " +
				"and answer {\"items\":[...],\"next_cursor\":\"\"} (\"\" on the last page). Roles: viewer reads, operator " +
				"also triggers, pauses, resumes and cancels, admin does everything (x-pink-role gives each operation's minimum).",
		},
		"servers":  []obj{{"url": "/api/v1"}},
		"security": []obj{{"bearer": []string{}}, {"session": []string{}}},
		"paths":    paths,
		"components": obj{
			"securitySchemes": obj{
				"bearer":  obj{"type": "http", "scheme": "bearer", "description": "An API token (pink_api_...)."},
				"session": obj{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "The console session set by POST /auth/login."},
			},
			"responses": obj{
				"Error": obj{"description": "An error.", "content": jsonContent(ref("Error"))},
			},
			"schemas": schemas(),
		},
	}
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonContent(schema obj) obj { return obj{"application/json": obj{"schema": schema}} }

// minRole names the least role allowed an action.
func minRole(a domain.Action) string {
	switch a {
	case domain.ActionRead:
		return string(domain.RoleViewer)
	case domain.ActionOperate:
		return string(domain.RoleOperator)
	}
	return string(domain.RoleAdmin)
}

func operation(rt *route) obj {
	tag, _, _ := strings.Cut(strings.TrimPrefix(rt.Pattern, "/"), "/")
	op := obj{"operationId": rt.ID, "summary": rt.Summary, "tags": []string{tag}}
	var params []obj
	for _, name := range pathParams(rt.Pattern) {
		params = append(params, obj{"name": name, "in": "path", "required": true, "schema": obj{"type": "string"}})
	}
	for _, p := range rt.Params {
		s := obj{"type": p.Type}
		if p.Format != "" {
			s["format"] = p.Format
		}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		if p.Type == "integer" {
			s["minimum"], s["maximum"] = p.Min, p.Max
		}
		if p.Repeat {
			s = obj{"type": "array", "items": s}
		}
		q := obj{"name": p.Name, "in": "query", "required": p.Required, "description": p.Desc, "schema": s}
		if p.Repeat {
			q["style"], q["explode"] = "form", true
		}
		params = append(params, q)
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.Body != "" {
		op["requestBody"] = obj{"required": !rt.BodyOptional, "content": jsonContent(ref(rt.Body))}
	}
	if rt.Action == "" {
		op["security"] = []obj{} // public
	} else {
		op["x-pink-role"] = minRole(rt.Action)
	}
	success := obj{"description": http.StatusText(rt.Status)}
	if rt.Result != "" {
		success["content"] = jsonContent(ref(rt.Result))
	}
	responses := obj{strconv.Itoa(rt.Status): success}
	errs := []int{http.StatusBadRequest, http.StatusServiceUnavailable, http.StatusInternalServerError}
	if rt.Action != "" {
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
	}
	if len(pathParams(rt.Pattern)) > 0 {
		errs = append(errs, http.StatusNotFound)
	}
	if !safeMethod(rt.Method) {
		errs = append(errs, http.StatusConflict)
		if rt.Action == "" && !slices.Contains(errs, http.StatusForbidden) {
			errs = append(errs, http.StatusForbidden) // cross-origin
		}
	}
	if rt.Body != "" {
		errs = append(errs, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if rt.ID == "login" || rt.ID == "changePassword" {
		errs = append(errs, http.StatusUnauthorized, http.StatusTooManyRequests)
	}
	for _, s := range errs {
		responses[strconv.Itoa(s)] = obj{"$ref": "#/components/responses/Error"}
	}
	op["responses"] = responses
	return op
}

// Schema helpers.

func str(desc string) obj { return obj{"type": "string", "description": desc} }
func strEnum(desc string, values ...string) obj {
	return obj{"type": "string", "description": desc, "enum": values}
}
func dateTime(desc string) obj {
	return obj{"type": "string", "format": "date-time", "description": desc}
}
func nullTime(desc string) obj {
	return obj{"type": []string{"string", "null"}, "format": "date-time", "description": desc}
}
func integer(desc string) obj { return obj{"type": "integer", "description": desc} }
func boolean(desc string) obj { return obj{"type": "boolean", "description": desc} }
func array(items obj) obj     { return obj{"type": "array", "items": items} }
func strMap(desc string) obj {
	return obj{"type": "object", "additionalProperties": obj{"type": "string"}, "description": desc}
}
func anyJSON(desc string) obj { return obj{"description": desc} }

// object is a closed object: its properties, those required.
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if required == nil {
		required = []string{}
	}
	o["required"] = required
	return o
}

// output is an object whose every property is always present.
func output(props obj) obj {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return object(props, keys...)
}

func listOf(item string) obj {
	return output(obj{"items": array(ref(item)), "next_cursor": str(`Pass as cursor for the next page; "" on the last one.`)})
}

func duration(desc string) obj {
	return obj{"type": "string", "description": desc + ` A Go duration such as "30s" or "1h30m".`}
}

func schemas() obj {
	runState := strEnum("Run state.", runStates()...)
	jobProps := func(out bool) obj {
		p := obj{
			"id":          str("Job ID, [a-z0-9][a-z0-9-_.]{0,62}; generated on create when absent."),
			"group":       str("Group the job runs on; it must exist and cannot change."),
			"name":        str("Human name."),
			"description": str("Free text."),
			"schedule":    str(`Cron (5 fields from minutes or 6 from seconds), a macro (@daily), "@every 5m" or "@at <RFC 3339>".`),
			"timezone":    str(`IANA zone of the schedule; "" is UTC.`),
			"handler":     str("Handler name workers look the code up by."),
			"params":      anyJSON("Any JSON value passed to the handler (null for none)."),
			"paused":      boolean("A paused job does not fire."),
			"misfire": object(obj{
				"policy": strEnum("What to do with fires missed while no leader was up (default fire_all).", "skip", "fire_once", "fire_all"),
				"window": duration("How late a missed fire may still run (default 1m)."),
			}),
			"overlap": strEnum("A fire due while a run is still active (default forbid).", "allow", "forbid", "replace"),
			"retry": object(obj{
				"max_attempts": integer("Attempts including the first (default 3, at most 20)."),
				"backoff":      duration("Delay before the second attempt, doubling after (default 1s)."),
				"max_backoff":  duration("Cap of the delay (default 1m)."),
			}),
			"timeout":   duration("Bound of one attempt (default 1h)."),
			"route":     strEnum("How a worker is chosen (default round_robin).", "round_robin", "random", "least_busy", "hash", "broadcast"),
			"route_key": str("Key of the hash strategy (default the job ID)."),
			"selector":  strMap("Only workers with all these labels."),
			"shards":    integer("Runs per fire, 1..256 (default 1)."),
			"labels":    strMap("Free labels."),
			"version":   integer("Store version; on PUT, if not 0, it must be current (else 409)."),
		}
		if out {
			p["created_at"], p["updated_at"] = dateTime("Creation time."), dateTime("Last change.")
			p["misfire"] = output(p["misfire"].(obj)["properties"].(obj))
			p["retry"] = output(p["retry"].(obj)["properties"].(obj))
			return output(p)
		}
		p["created_at"], p["updated_at"] = anyJSON("Ignored (so that a GET can be PUT back)."), anyJSON("Ignored.")
		return object(p, "group", "name", "schedule", "handler")
	}
	runProps := obj{
		"id": str("Run ID: <fire ID>~<index>."), "fire_id": str("The fire that created the run."),
		"job_id": str("Job ID."), "group": str("Group."), "handler": str("Handler."), "state": runState,
		"worker_id":    str(`Worker of the current attempt; "" before assignment.`),
		"attempt":      integer("Current attempt, from 1."),
		"max_attempts": integer("Attempts allowed."), "shard": integer("Shard index, from 0."),
		"shards": integer("Shards of the fire."), "manual": boolean("Created by a trigger."),
		"params": anyJSON("Params of the run."), "timeout": duration("Bound of one attempt."),
		"scheduled_at": dateTime("Nominal time of the fire."), "created_at": dateTime("Creation time."),
		"not_before": nullTime("A retry waits until then."), "assigned_at": nullTime("Assigned to the worker."),
		"started_at": nullTime("Started by the worker."), "finished_at": nullTime("Finished."),
		"output":           str("Output: the last 64 KiB kept; in listings only the last 4 KiB."),
		"output_truncated": boolean("The listing cut the output (GET /runs/{id} has it whole)."),
		"error":            str("Why the run failed, was cancelled or skipped."),
		"attempts": array(output(obj{
			"attempt": integer("Attempt."), "worker_id": str("Worker."), "state": runState,
			"started_at": nullTime("Start."), "finished_at": nullTime("End."), "error": str("Error."),
		})),
		"version": integer("Store version."),
	}
	fireProps := obj{
		"id": str("Fire ID: <UTC time>~<job ID>[~m<nonce>]."), "job_id": str("Job ID."), "group": str("Group."),
		"nominal": dateTime("The slot's nominal time."), "kind": strEnum("Why the fire exists.", "scheduled", "manual"),
		"status": strEnum("Outcome.", "dispatched", "skipped"), "reason": str("Why it was skipped."),
		"summary": obj{"description": "Set when the record stands for several skipped times.", "oneOf": []obj{{"type": "null"}, output(obj{
			"count": integer("Times folded."), "first": dateTime("First."), "last": dateTime("Last."),
			"truncated": boolean("More times than were counted."),
		})}},
		"run_ids": array(str("")), "params": anyJSON("Params override of a manual fire."),
		"triggered_by": str("Who triggered a manual fire."), "created_at": dateTime("Creation time."),
	}
	fire := output(fireProps)
	fireProps2 := obj{}
	for k, v := range fireProps {
		fireProps2[k] = v
	}
	fireProps2["pending_run_ids"] = array(str("A pending run."))
	fireListItem := object(fireProps2, fire["required"].([]string)...)
	tokenProps := obj{
		"id": str("Token ID (not secret)."), "kind": strEnum("Kind.", "api", "worker", "session"),
		"owner": str("User, or group for worker tokens."), "name": str("Label."),
		"created_at": dateTime("Creation time."), "expires_at": nullTime("Expiry; null never."),
		"last_used_at": nullTime("Last use (coarse)."),
	}
	created := obj{"secret": str("The secret: shown in this answer only.")}
	for k, v := range tokenProps {
		created[k] = v
	}
	bucket := output(obj{
		"start": dateTime("Bucket start, in the requested zone."), "end": dateTime("Bucket end (exclusive)."),
		"counts": obj{"type": "object", "description": "Runs per state; every state is present.",
			"additionalProperties": obj{"type": "integer"}},
		"total": integer("Runs in the bucket."),
	})
	me := output(obj{"user": str("User name."), "role": strEnum("Role.", "admin", "operator", "viewer"),
		"via": strEnum("How the request was authenticated.", "session", "bearer", "dev")})
	me["properties"].(obj)["token_id"] = str("Token or session of the request.")
	me["properties"].(obj)["expires_at"] = nullTime("When the session or token expires.")
	return obj{
		"OpenAPIDocument": obj{"type": "object", "description": "This document."},
		"Error": output(obj{"error": object(obj{
			"code": strEnum("Stable code.", "invalid", "unauthenticated", "forbidden", "cross_origin", "not_found",
				"method_not_allowed", "already_exists", "conflict", "stale", "illegal_transition", "too_large",
				"unsupported_media_type", "rate_limited", "unavailable", "internal"),
			"message": str("For people."),
			"field":   str("The bad JSON field or query parameter, for code invalid."),
		}, "code", "message")}),
		"LoginRequest":          object(obj{"username": str("User name."), "password": str("Password.")}, "username", "password"),
		"ChangePasswordRequest": object(obj{"current_password": str("Current."), "new_password": str("New: 12 to 128 characters.")}, "current_password", "new_password"),
		"Me":                    me,
		"GroupInput": object(obj{"name": str("Group name, [a-z0-9][a-z0-9-_.]{0,62} (on PUT, optional and equal to the path's)."),
			"description": str("Free text."), "version": integer("Ignored."),
			"created_at": anyJSON("Ignored."), "updated_at": anyJSON("Ignored.")}),
		"Group": output(obj{"name": str("Name."), "description": str("Description."), "created_at": dateTime("Created."),
			"updated_at": dateTime("Changed."), "version": integer("Store version.")}),
		"GroupList":     listOf("Group"),
		"JobInput":      jobProps(false),
		"Job":           jobProps(true),
		"JobList":       listOf("Job"),
		"TriggerInput":  object(obj{"params": anyJSON("Replaces the job's params for this fire only.")}),
		"Plan":          output(obj{"next": array(dateTime("A fire time, RFC 3339 with the zone's offset.")), "timezone": str("The zone.")}),
		"Fire":          fire,
		"FireListItem":  fireListItem,
		"FireList":      output(obj{"items": array(ref("FireListItem")), "next_cursor": str(`"" on the last page.`)}),
		"FireCancelled": output(obj{"id": str("Fire ID."), "cancelled_run_ids": array(str("A run cancelled."))}),
		"Run":           output(runProps),
		"RunList":       listOf("Run"),
		"Worker": output(obj{"id": str("Worker ID."), "group": str("Group."), "hostname": str("Host."),
			"address": str("Address."), "labels": strMap("Labels."), "handlers": array(str("Handler it runs (none: any).")),
			"capacity": integer("Runs at once."), "started_at": dateTime("Start."), "protocol": strEnum("How it connects.", "etcd", "http", ""),
			"version": str("Its version."), "running": array(ref("Run"))}),
		"WorkerList": listOf("Worker"),
		"Node": output(obj{"id": str("Node ID."), "address": str("HTTP address."), "hostname": str("Host."),
			"started_at": dateTime("Start."), "version": str("Version."), "leader": boolean("Leads the cluster.")}),
		"NodeList": output(obj{"items": array(ref("Node")), "next_cursor": str(`"" on the last page.`),
			"leader_id": str(`The leader's node ID; "" when there is none.`)}),
		"Bucket": bucket,
		"Stats": output(obj{"generated_at": dateTime("When computed."), "timezone": str("Zone of the boundaries."),
			"hourly": array(ref("Bucket")), "daily": array(ref("Bucket")), "scanned": integer("Runs read."),
			"truncated":     boolean("The scan stopped at its bound (20 000 runs): runs before complete_from are undercounted."),
			"complete_from": dateTime("Every run scheduled after this was counted.")}),
		"UserInput": object(obj{"name": str("User name."), "role": strEnum("Role.", "admin", "operator", "viewer"),
			"password": str("12 to 128 characters.")}, "name", "role", "password"),
		"RoleInput":     object(obj{"role": strEnum("Role.", "admin", "operator", "viewer")}, "role"),
		"PasswordInput": object(obj{"password": str("12 to 128 characters.")}, "password"),
		"User": output(obj{"name": str("Name."), "role": strEnum("Role.", "admin", "operator", "viewer"),
			"disabled": boolean("Disabled users cannot log in."), "created_at": dateTime("Created."), "updated_at": dateTime("Changed.")}),
		"UserList": listOf("User"),
		"TokenInput": object(obj{"name": str("Label, required."), "ttl": duration(`Lifetime; "" never expires.`),
			"owner": str("User the token acts as (default oneself; another user needs admin).")}, "name"),
		"WorkerTokenInput": object(obj{"group": str("Group whose workers it admits."), "name": str("Label, required.")}, "group", "name"),
		"Token":            output(tokenProps),
		"TokenList":        listOf("Token"),
		"TokenCreated":     output(created),
		"AuditEntry": output(obj{"id": str("Entry ID (sorts by time)."), "at": dateTime("When."),
			"actor": str("User, token:<id>, system or anonymous."), "token_id": str("Token used, if any."),
			"action": str("resource.verb, e.g. job.trigger."), "target": str("e.g. job/nightly."),
			"detail": str("Free text."), "result": strEnum("Outcome.", "ok", "denied", "error")}),
		"AuditList": listOf("AuditEntry"),
	}
}
