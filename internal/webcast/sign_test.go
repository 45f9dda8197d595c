package webcast

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAt(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    map[string]string
		want time.Time
	}{
		{"seconds", map[string]string{"Retry-After": "30"}, now.Add(30 * time.Second)},
		{"http date", map[string]string{"Retry-After": "Fri, 27 Nov 2026 12:05:00 GMT"}, now.Add(5 * time.Minute)},
		{"reset epoch", map[string]string{"X-RateLimit-Reset": "1795780000"}, time.Unix(1795780000, 0)},
		{"retry-after wins", map[string]string{"Retry-After": "2", "X-RateLimit-Reset": "1795780000"}, now.Add(2 * time.Second)},
		{"garbage falls back to a minute", map[string]string{"Retry-After": "soon"}, now.Add(time.Minute)},
		{"none", nil, now.Add(time.Minute)},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if got := retryAt(h, now); !got.Equal(tt.want) {
			t.Errorf("%s: retryAt = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseCookies(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"ttwid=abc", map[string]string{"ttwid": "abc"}},
		{"ttwid=abc; tt_csrf_token=x1", map[string]string{"ttwid": "abc", "tt_csrf_token": "x1"}},
		{"ttwid=a|b|c", map[string]string{"ttwid": "a|b|c"}},
	}
	for _, tt := range tests {
		got := map[string]string{}
		for _, c := range parseCookies(tt.in) {
			got[c.Name] = c.Value
		}
		if len(got) != len(tt.want) {
			t.Errorf("parseCookies(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("parseCookies(%q)[%s] = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestEulerSigner_String(t *testing.T) {
	const key = "sk_live_very_secret_1234567890"
	s := &EulerSigner{BaseURL: "http://127.0.0.1:1", APIKey: key}
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.redact("echo " + key)} {
		if strings.Contains(got, key) {
			t.Errorf("formatted signer leaks the key: %s", got)
		}
	}
}
