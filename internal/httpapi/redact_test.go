package httpapi

import (
	"strings"
	"testing"
)

func TestRedactProxy(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"http://proxy.example:8080", "http://proxy.example:8080"},
		{"socks5://user:s3cret@proxy.example:1080", "socks5://redacted@proxy.example:1080"},
		{"http://tokenonly@proxy.example", "http://redacted@proxy.example"},
		{"http://us er:p@ss:w@rd@proxy.example:1", "http://redacted@proxy.example:1"}, // not a URL Go parses
		{"user:s3cret@host:1", "redacted@host:1"},
	}
	for _, tt := range tests {
		got := redactProxy(tt.in)
		if got != tt.want {
			t.Errorf("redactProxy(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "p@ss") || strings.Contains(got, "tokenonly") {
			t.Errorf("redactProxy(%q) = %q still shows a credential", tt.in, got)
		}
	}
}
