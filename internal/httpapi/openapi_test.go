package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestServer_OpenAPI: every registered route is in /openapi.json and every route there is
// registered, method by method.
func TestServer_OpenAPI(t *testing.T) {
	s := newStack(t, stackOptions{})
	code, doc := s.do("GET", "/openapi.json")
	if code != 200 {
		t.Fatalf("/openapi.json = %d", code)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Errorf("openapi = %v, want 3.1.x", doc["openapi"])
	}
	var documented []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	var registered []string
	for _, r := range s.api.Routes() {
		registered = append(registered, r.Method+" "+r.Pattern)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json documents %s, which is not registered", d)
		}
	}
	var check map[string]any
	if err := json.Unmarshal(openapiDoc, &check); err != nil {
		t.Fatalf("embedded document: %v", err)
	}
}
