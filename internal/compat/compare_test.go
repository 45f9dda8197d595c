//go:build unix

package compat

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// recorder is a reporter that keeps what compare reports.
type recorder struct{ errs, logs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

// TestCompare_ReportsDifferences checks compare itself (no Node needed): a superset passes, and
// each kind of contract break is reported.
func TestCompare_ReportsDifferences(t *testing.T) {
	base := func(t *testing.T) *transcript {
		return &transcript{
			rest: []restResult{
				{step: "health", method: "GET", path: "/health", status: 200,
					body: obj(t, `{"status":"ok","currentUser":null,"lastError":{"code":"x","message":"y"}}`)},
				{step: "nope", method: "GET", path: "/nope", status: 404,
					body: obj(t, `{"success":false,"code":"not_found","error":"no route"}`)},
			},
			ws: []map[string]any{
				obj(t, `{"type":"connection_created","username":"u","data":{"roomId":"1","isLive":true,"timestamp":"2026-01-01T00:00:00.000Z"}}`),
				obj(t, `{"type":"chat","username":"u","data":{"comment":"hi","sender":"a","user":{"userId":"1","uniqueId":"a"},"timestamp":"2026-01-01T00:00:01.000Z"}}`),
				obj(t, `{"type":"connection_closed","username":"u","data":{"reason":"requested","timestamp":"2026-01-01T00:00:02.000Z"}}`),
			},
			closeCode: 1001,
		}
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, o *transcript)
		want   string // substring of a reported error; "" = no error
	}{
		{"identical", func(*testing.T, *transcript) {}, ""},
		{"superset", func(t *testing.T, o *transcript) {
			o.rest[0].body["extra"] = 1.0
			o.rest[0].body["currentUser"] = "someone" // null vs string is allowed
			o.ws[1]["seq"] = 2.0
			o.ws[1]["data"].(map[string]any)["emotes"] = []any{}
			o.ws[1]["data"].(map[string]any)["user"].(map[string]any)["badges"] = []any{}
			o.ws[0]["data"].(map[string]any)["timestamp"] = "2026-01-01T00:00:09.000Z" // server clock: not compared
			o.ws = append(o.ws, obj(t, `{"type":"roomUser","username":"u","data":{"viewerCount":3}}`))
		}, ""},
		{"status", func(_ *testing.T, o *transcript) { o.rest[1].status = 405 }, "status seed-node 404, go 405"},
		{"code", func(_ *testing.T, o *transcript) { o.rest[1].body["code"] = "nope" }, "code seed-node not_found, go nope"},
		{"rest key", func(_ *testing.T, o *transcript) { delete(o.rest[0].body, "status") }, "key status missing"},
		{"rest kind", func(_ *testing.T, o *transcript) { o.rest[0].body["status"] = 1.0 }, "key status: seed-node string, go number"},
		{"nested key", func(_ *testing.T, o *transcript) { delete(o.rest[0].body["lastError"].(map[string]any), "code") }, "key lastError.code missing"},
		{"ws type", func(_ *testing.T, o *transcript) { o.ws = o.ws[:2] }, `seed-node sent "connection_closed" events, we sent none`},
		{"ws top key", func(_ *testing.T, o *transcript) { delete(o.ws[1], "username") }, "top-level keys [username] missing"},
		{"ws data key", func(_ *testing.T, o *transcript) { delete(o.ws[1]["data"].(map[string]any), "comment") }, "data keys [comment] missing"},
		{"ws user key", func(_ *testing.T, o *transcript) {
			delete(o.ws[1]["data"].(map[string]any)["user"].(map[string]any), "uniqueId")
		}, "data.user keys [uniqueId] missing"},
		{"ws kind", func(_ *testing.T, o *transcript) { o.ws[0]["data"].(map[string]any)["roomId"] = 1.0 }, "data.roomId is [string] from seed-node, [number] from us"},
		{"ws value", func(_ *testing.T, o *transcript) { o.ws[1]["data"].(map[string]any)["comment"] = "ho" }, `data.comment: seed-node "hi", go "ho"`},
		{"ws user value", func(_ *testing.T, o *transcript) {
			o.ws[1]["data"].(map[string]any)["user"].(map[string]any)["userId"] = "2"
		}, `data.user.userId: seed-node "1", go "2"`},
		{"ws reason", func(_ *testing.T, o *transcript) {
			o.ws[2]["data"].(map[string]any)["reason"] = "replaced"
		}, "no counterpart of seed-node event 2 (connection_closed|u|requested|<nil>#1)"},
		{"ws lifecycle order", func(_ *testing.T, o *transcript) { o.ws[0], o.ws[2] = o.ws[2], o.ws[0] }, "order differs"},
		{"close code", func(_ *testing.T, o *transcript) { o.closeCode = 1000 }, "close code"},
		{"exit code", func(_ *testing.T, o *transcript) { o.exitCode = 1 }, "exit code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := base(t)
			tt.mutate(t, ours)
			var r recorder
			compare(&r, base(t), ours)
			all := strings.Join(r.errs, "\n")
			switch {
			case tt.want == "" && len(r.errs) > 0:
				t.Errorf("unexpected reports:\n%s", all)
			case tt.want != "" && !strings.Contains(all, tt.want):
				t.Errorf("no report containing %q; got:\n%s", tt.want, all)
			}
		})
	}
}
