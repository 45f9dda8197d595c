package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
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

// TestServer_OpenAPIResponses: real answers match the schemas the document gives for them, so the
// document cannot drift from the code (every key documented, every required key present, types).
func TestServer_OpenAPIResponses(t *testing.T) {
	s := newStack(t, stackOptions{maxRooms: 2})
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	s.connect("streamer")
	tests := []struct {
		method, path, template string
		status                 int
	}{
		{"GET", "/health", "/health", 200},
		{"GET", "/test/streamer", "/test/{username}", 200},
		{"GET", "/test/notfounduser9", "/test/{username}", 404},
		{"POST", "/connect/streamer", "/connect/{username}", 200},
		{"POST", "/connect/offlineuser9", "/connect/{username}", 404},
		{"PUT", "/v1/rooms/offlinehost", "/v1/rooms/{username}", 201},
		{"POST", "/connect/third", "/connect/{username}", 409}, // room_limit
		{"GET", "/status/streamer", "/status/{username}", 200},
		{"GET", "/status/nobody", "/status/{username}", 404},
		{"GET", "/status", "/status", 200},
		{"GET", "/v1/rooms", "/v1/rooms", 200},
		{"GET", "/v1/rooms/streamer", "/v1/rooms/{username}", 200},
		{"GET", "/v1/rooms/offlinehost", "/v1/rooms/{username}", 200},
		{"PUT", "/v1/rooms/streamer", "/v1/rooms/{username}", 200},
		{"PUT", "/v1/rooms/a%20b", "/v1/rooms/{username}", 400},
		{"PUT", "/v1/rooms/third", "/v1/rooms/{username}", 409},
		{"GET", "/v1/rooms/nobody", "/v1/rooms/{username}", 404},
		{"GET", "/v1/ws?gifts=x", "/v1/ws", 400},
		{"GET", "/healthz", "/healthz", 200},
		{"GET", "/readyz", "/readyz", 200},
		{"DELETE", "/v1/rooms/offlinehost", "/v1/rooms/{username}", 200},
		{"DELETE", "/connect/streamer", "/connect/{username}", 200},
		{"GET", "/status", "/status", 200}, // idle
	}
	for _, tt := range tests {
		code, body := s.do(tt.method, tt.path)
		if code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, code, tt.status)
			continue
		}
		op, _ := testutil.Dig(doc, "paths", tt.template, strings.ToLower(tt.method)).(map[string]any)
		schema := testutil.Dig(op, "responses", fmt.Sprint(code), "content", "application/json", "schema")
		if schema == nil {
			t.Errorf("%s %s: openapi.json has no JSON schema for status %d", tt.method, tt.template, code)
			continue
		}
		for _, p := range validate(doc, schema, any(body), "body") {
			t.Errorf("%s %s (%d): %s", tt.method, tt.path, code, p)
		}
	}
}

// validate checks v against the subset of JSON Schema the document uses: $ref, type (one or a
// list), enum, const, properties, required, additionalProperties, items, oneOf/anyOf.
func validate(doc map[string]any, schema, v any, path string) []string {
	sc, _ := schema.(map[string]any)
	if sc == nil {
		return nil
	}
	if ref, ok := sc["$ref"].(string); ok {
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		return validate(doc, testutil.Dig(doc, parts...), v, path)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts, ok := sc[key].([]any); ok {
			var all []string
			for _, alt := range alts {
				p := validate(doc, alt, v, path)
				if len(p) == 0 {
					return nil
				}
				all = append(all, p...)
			}
			return []string{fmt.Sprintf("%s matches none of %s: %v", path, key, all)}
		}
	}
	var problems []string
	if typ, ok := sc["type"]; ok {
		var types []string
		switch tt := typ.(type) {
		case string:
			types = []string{tt}
		case []any:
			for _, x := range tt {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			return []string{fmt.Sprintf("%s is %s, want %v", path, jsonType(v), types)}
		}
	}
	if enum, ok := sc["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		problems = append(problems, fmt.Sprintf("%s = %v, not in %v", path, v, enum))
	}
	if c, ok := sc["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		problems = append(problems, fmt.Sprintf("%s = %v, want %v", path, v, c))
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := sc["properties"].(map[string]any)
		for _, r := range asStrings(sc["required"]) {
			if _, ok := x[r]; !ok {
				problems = append(problems, fmt.Sprintf("%s lacks required %q", path, r))
			}
		}
		for k, val := range x {
			if ps, ok := props[k]; ok {
				problems = append(problems, validate(doc, ps, val, path+"."+k)...)
			} else if ap, ok := sc["additionalProperties"]; ok && ap != false {
				problems = append(problems, validate(doc, ap, val, path+"."+k)...)
			} else if props != nil {
				problems = append(problems, fmt.Sprintf("%s.%s is not documented", path, k))
			}
		}
	case []any:
		for i, item := range x {
			problems = append(problems, validate(doc, sc["items"], item, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return problems
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func asStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}
