package api_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
)

// openAPIDoc fetches the document, without credentials.
func (e *env) openAPIDoc() map[string]any {
	e.t.Helper()
	r := e.get(anon, "/openapi.json").status(http.StatusOK)
	require.Equal(e.t, "application/json; charset=utf-8", r.Header().Get("Content-Type"))
	return r.obj()
}

// operations lists "METHOD /path" -> operation of the document.
func operations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			out[strings.ToUpper(method)+" "+path] = op.(map[string]any)
		}
	}
	return out
}

func TestOpenAPIDocumentListsExactlyTheRoutes(t *testing.T) {
	e := newEnv(t)
	doc := e.openAPIDoc()
	require.Equal(t, "3.1.0", doc["openapi"])
	ops := operations(t, doc)

	var routes []string
	require.NoError(t, chi.Walk(e.h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	}))
	var documented []string
	for k := range ops {
		documented = append(documented, k)
	}
	sort.Strings(routes)
	sort.Strings(documented)
	require.Equal(t, routes, documented, "every route is documented, and nothing else")
	require.Len(t, routes, 45)

	ids := map[string]bool{}
	for key, op := range ops {
		id := op["operationId"].(string)
		require.False(t, ids[id], "operationId %s is unique", id)
		ids[id] = true
		require.NotEmpty(t, op["summary"], key)
		require.NotEmpty(t, op["responses"], key)
		// Every path parameter is declared.
		var declared []string
		if ps, ok := op["parameters"].([]any); ok {
			for _, p := range ps {
				p := p.(map[string]any)
				if p["in"] == "path" {
					declared = append(declared, p["name"].(string))
					require.Equal(t, true, p["required"])
				}
			}
		}
		var inPath []string
		for _, seg := range strings.Split(strings.SplitN(key, " ", 2)[1], "/") {
			if strings.HasPrefix(seg, "{") {
				inPath = append(inPath, strings.Trim(seg, "{}"))
			}
		}
		require.ElementsMatch(t, inPath, declared, key)
	}

	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(ref, "#/"), ref)
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, ok := cur.(map[string]any)
					require.True(t, ok, ref)
					cur, ok = m[part]
					require.True(t, ok, "unresolved %s", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// schemaOf returns a component schema of the document.
func schemaOf(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "schema %s", name)
	return s
}

// requireMatchesSchema checks that an answer's keys are exactly the
// required properties of its (closed) schema, plus optional ones.
func requireMatchesSchema(t *testing.T, doc map[string]any, name string, m map[string]any) {
	t.Helper()
	s := schemaOf(t, doc, name)
	props := s["properties"].(map[string]any)
	for _, r := range s["required"].([]any) {
		require.Contains(t, m, r.(string), "%s: required %s", name, r)
	}
	for k := range m {
		require.Contains(t, props, k, "%s: %s is documented", name, k)
	}
}

func TestOpenAPISchemasMatchTheAnswers(t *testing.T) {
	e := newEnv(t)
	doc := e.openAPIDoc()
	id := e.createJob()
	requireMatchesSchema(t, doc, "Job", e.get(viewer, "/jobs/"+id).status(http.StatusOK).obj())
	fire := e.trigger(id)
	requireMatchesSchema(t, doc, "Fire", fire)
	runs := e.get(viewer, "/runs").items()
	require.NotEmpty(t, runs)
	requireMatchesSchema(t, doc, "Run", runs[0])
	requireMatchesSchema(t, doc, "Group", e.get(viewer, "/groups/billing").obj())
	requireMatchesSchema(t, doc, "Plan", e.get(viewer, "/jobs/"+id+"/plan").obj())
	requireMatchesSchema(t, doc, "Stats", e.get(viewer, "/stats").obj())
	requireMatchesSchema(t, doc, "NodeList", e.get(viewer, "/nodes").obj())
	requireMatchesSchema(t, doc, "Me", e.get(viewer, "/auth/me").obj())
	requireMatchesSchema(t, doc, "User", e.get(admin, "/users/victor").obj())
	requireMatchesSchema(t, doc, "TokenCreated", e.post(viewer, "/tokens", map[string]any{"name": "ci"}).status(http.StatusCreated).obj())
	requireMatchesSchema(t, doc, "Token", e.get(viewer, "/tokens").items()[0])
	requireMatchesSchema(t, doc, "AuditEntry", e.get(admin, "/audit").items()[0])
	requireMatchesSchema(t, doc, "FireListItem", e.get(viewer, "/fires?status=pending").items()[0])
	requireMatchesSchema(t, doc, "Error", e.get(viewer, "/jobs/nope").obj())
	requireMatchesSchema(t, doc, "FireCancelled", e.del(admin, "/fires/"+fire["id"].(string)).status(http.StatusOK).obj())

	// The job input schema accepts what the job answer has: GET, PUT back.
	in := schemaOf(t, doc, "JobInput")["properties"].(map[string]any)
	for k := range e.get(viewer, "/jobs/"+id).obj() {
		require.Contains(t, in, k)
	}
	require.True(t, slices.Contains(toStrings(schemaOf(t, doc, "JobInput")["required"]), "schedule"))
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
