package e2e

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/web"
)

// module evaluates an expression over one of the page's ES modules (bound as m) and returns its
// value: the modules' small functions tested in the browser that runs them.
func module[T any](b *browser, path, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](`import('`+path+`').then(m => `+expr+`)`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s on %s: %v", expr, path, err)
	}
	return v
}

// TestModules_WordsAndParams: room states in plain words, and URL parameters validated (a token
// passed on, bad styling values refused).
func TestModules_WordsAndParams(t *testing.T) {
	needBrowser(t)
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	s := &server{base: srv.URL, host: strings.TrimPrefix(srv.URL, "http://")}
	b := newBrowser(t, s)
	b.open("/overlay/chat?token=abc.DEF-1_2&color=javascript:alert(1)&size=12")

	const now = `Date.parse('2026-01-01T00:00:00.000Z')`
	for _, tt := range []struct{ status, want string }{
		{`{state: 'connected'}`, "connected"},
		{`{state: 'rate_limited', nextRetryAt: '2026-01-01T00:00:12.000Z'}`, "rate limited, retrying in 12 s"},
		{`{state: 'waiting_for_live', nextRetryAt: '2026-01-01T00:00:20.000Z'}`, "waiting for the host to go live, next check in 20 s"},
		{`{state: 'reconnecting', attempt: 3, nextRetryAt: null}`, "reconnecting (attempt 3)"},
		{`{state: 'reconnecting', attempt: 2, nextRetryAt: '2026-01-01T00:03:00.000Z'}`, "reconnecting (attempt 2), next try in 3 min"},
		{`{state: 'stopped', stopReason: 'requested'}`, "disconnected"},
		{`{state: 'stopped', stopReason: 'user_not_found'}`, "stopped: user not found"},
	} {
		if got := module[string](b, "/assets/dom.js", `m.describeState(`+tt.status+`, `+now+`)`); got != tt.want {
			t.Errorf("describeState(%s) = %q, want %q", tt.status, got, tt.want)
		}
	}
	for in, want := range map[string]string{"@Some.One": "some.one", "https://www.tiktok.com/@host_1/live": "host_1", "bad name!": "", "": ""} {
		if got := module[string](b, "/assets/params.js", `m.normalizeRoom(`+jsString(in)+`)`); got != want {
			t.Errorf("normalizeRoom(%q) = %q, want %q", in, got, want)
		}
	}
	if got := module[string](b, "/assets/params.js", `m.wsURL('/v1/ws', {rooms: 'x'})`); got != "ws://"+s.host+"/v1/ws?rooms=x&token=abc.DEF-1_2" {
		t.Errorf("wsURL = %q: the token is not passed on", got)
	}
	if got := module[string](b, "/assets/params.js", `m.colorParam('color', 'default') + '|' + m.intParam('size', 8, 200, 0)`); got != "default|12" {
		t.Errorf("color|size = %q, want default|12", got)
	}
	if got := module[string](b, "/assets/dom.js", `[m.initials({nickname: 'Sakura 🌸'}), m.initials({nickname: 'lena rose'}), m.initials({}), m.initials({nickname: '🔥'})].join(',')`); got != "S,LR,S,?" {
		t.Errorf("initials = %q", got)
	}
}
