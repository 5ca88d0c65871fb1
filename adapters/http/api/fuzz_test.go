package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCreateJobBody sends arbitrary bodies to POST /jobs: the answer is
// never a 5xx and the handler never panics (a recovered panic would be a
// 500); a 201 carries a job, anything else the one error shape.
func FuzzCreateJobBody(f *testing.F) {
	valid, _ := json.Marshal(job())
	for _, seed := range []string{
		string(valid), `{}`, `[]`, `null`, `"x"`, `{"group":`, `{"group":"billing"}{}`,
		`{"group":"billing","name":"n","schedule":"@every 1s","handler":"h","shards":256,"route":"broadcast"}`,
		`{"group":"billing","name":"n","schedule":"0 0 30 2 *","handler":"h"}`,
		`{"group":"billing","name":"n","schedule":"@hourly","handler":"h","params":` + strings.Repeat("[", 10000) + `}`,
		`{"retry":{"max_attempts":1e400},"timeout":"9999999999999h"}`,
		`{"misfire":{"window":"-1s"},"selector":{"":""},"labels":{"a/b":"\u0000"}}`,
		`{"id":"","ID":"x","Group":"billing"}`,
		`{"params":{"a":` + "\xff" + `}}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		hr := httptest.NewRequest(http.MethodPost, "/jobs", strings.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Authorization", "Bearer "+e.tokens[admin])
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, hr)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body.String())
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not a JSON object: %q", rec.Body.String())
		}
		if rec.Code == http.StatusCreated {
			if _, ok := m["id"].(string); !ok {
				t.Fatalf("created without an id: %s", rec.Body.String())
			}
			return
		}
		if e, ok := m["error"].(map[string]any); !ok || e["code"] == "" || e["message"] == "" {
			t.Fatalf("not the error shape: %s", rec.Body.String())
		}
	})
}
