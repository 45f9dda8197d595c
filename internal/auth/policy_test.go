package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPolicy_Admin(t *testing.T) {
	tests := []struct {
		name      string
		p         Policy
		presented string
		want      bool
	}{
		{"zero policy is closed", Policy{}, "", false},
		{"zero policy ignores any token", Policy{}, "anything", false},
		{"open on purpose", Policy{Open: true}, "", true},
		{"token required", Policy{AdminToken: "adm"}, "", false},
		{"right token", Policy{AdminToken: "adm"}, "adm", true},
		{"wrong token", Policy{AdminToken: "adm"}, "adm2", false},
		{"prefix is not enough", Policy{AdminToken: "admin"}, "adm", false},
		{"Open does not weaken a token", Policy{AdminToken: "adm", Open: true}, "", false},
		{"read token is not admin", Policy{AdminToken: "adm", ReadToken: "rd"}, "rd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Admin(tt.presented); got != tt.want {
				t.Errorf("Admin(%q) = %v, want %v", tt.presented, got, tt.want)
			}
		})
	}
}

func TestPolicy_Read(t *testing.T) {
	scoped := Mint(secret, "streamer", time.Hour, t0)
	expired := Mint(secret, "streamer", time.Minute, t0.Add(-time.Hour))
	foreign := Mint([]byte("not the server's secret 1234"), "streamer", time.Hour, t0)
	full := Policy{AdminToken: "adm", ReadToken: "rd", TokenSecret: secret}
	tests := []struct {
		name            string
		p               Policy
		presented, room string
		want            bool
	}{
		{"zero policy: reads open", Policy{}, "", "streamer", true},
		{"admin token only: reads open", Policy{AdminToken: "adm"}, "", "streamer", true},
		{"read token: none presented", Policy{ReadToken: "rd"}, "", "streamer", false},
		{"read token", full, "rd", "streamer", true},
		{"read token, every room", full, "rd", "", true},
		{"admin token reads", full, "adm", "streamer", true},
		{"wrong token", full, "nope", "streamer", false},
		{"scoped token, its room", full, scoped, "streamer", true},
		{"scoped token, case", full, scoped, "StreamER", true},
		{"scoped token, other room", full, scoped, "other", false},
		{"scoped token, every room", full, scoped, "", false},
		{"scoped token expired", full, expired, "streamer", false},
		{"scoped token of another secret", full, foreign, "streamer", false},
		{"secret alone closes reads", Policy{TokenSecret: secret}, "", "streamer", false},
		{"secret alone, scoped token", Policy{TokenSecret: secret}, scoped, "streamer", true},
		{"scoped token without a secret configured", Policy{ReadToken: "rd"}, scoped, "streamer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Read(tt.presented, tt.room, t0); got != tt.want {
				t.Errorf("Read(%q, %q) = %v, want %v", tt.presented, tt.room, got, tt.want)
			}
		})
	}
}

func TestPolicy_Access(t *testing.T) {
	full := Policy{AdminToken: "adm", ReadToken: "rd", TokenSecret: secret}
	adminOnly := Policy{AdminToken: "adm"} // reads open
	expired := Mint(secret, "Bob", -time.Hour, t0)
	forged := Mint([]byte("another-secret-0123456789"), "bob", time.Hour, t0)
	tests := []struct {
		name      string
		p         Policy
		presented string
		want      Grant
		rejected  string // a word the rejection must say; "" = not rejected
	}{
		{"admin", full, "adm", Grant{Level: LevelAdmin}, ""},
		{"read", full, "rd", Grant{Level: LevelReadAll}, ""},
		{"room", full, Mint(secret, "Bob", time.Hour, t0), Grant{Level: LevelRoom, Room: "bob"}, ""},
		{"none", full, "", Grant{}, ""},
		{"malformed room token", full, "v1.garbage", Grant{}, "malformed"},
		{"expired room token", full, expired, Grant{}, "expired"},
		{"forged room token", full, forged, Grant{}, "signature"},
		{"wrong shared token", full, "not-a-token", Grant{}, "neither"},
		// Reads are open, but a presented token that is not accepted is not ignored.
		{"open reads, nothing presented", adminOnly, "", Grant{Level: LevelReadAll}, ""},
		{"open reads, wrong token", adminOnly, "not-a-token", Grant{}, "neither"},
		{"open reads, room token without a secret", adminOnly, Mint(secret, "bob", time.Hour, t0), Grant{}, "not enabled"},
		{"open reads, admin", adminOnly, "adm", Grant{Level: LevelAdmin}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Access(tt.presented, t0)
			if tt.rejected == "" {
				if got != tt.want {
					t.Errorf("Access(%q) = %+v, want %+v", tt.presented, got, tt.want)
				}
				return
			}
			if got.Level != LevelNone || !strings.Contains(got.Rejected, tt.rejected) {
				t.Errorf("Access(%q) = %+v, want a rejection saying %q", tt.presented, got, tt.rejected)
			}
			if strings.Contains(got.Rejected, tt.presented) {
				t.Errorf("the rejection %q holds the token", got.Rejected)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		headers map[string]string
		want    string
	}{
		{"none", "/x", nil, ""},
		{"bearer", "/x", map[string]string{"Authorization": "Bearer abc"}, "abc"},
		{"bearer case and spaces", "/x", map[string]string{"Authorization": "  bearer   abc  "}, "abc"},
		{"basic is ignored", "/x?token=q", map[string]string{"Authorization": "Basic abc"}, "q"},
		{"empty bearer falls through", "/x", map[string]string{"Authorization": "Bearer ", "X-Api-Key": "k"}, "k"},
		{"api key", "/x", map[string]string{"X-Api-Key": "k"}, "k"},
		{"query", "/x?token=q", nil, "q"},
		{"bearer beats the rest", "/x?token=q", map[string]string{"Authorization": "Bearer abc", "X-Api-Key": "k"}, "abc"},
		{"api key beats query", "/x?token=q", map[string]string{"X-Api-Key": "k"}, "k"},
		{"scoped token in the query", "/x?token=v1.a-b.c_d", nil, "v1.a-b.c_d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.url, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := FromRequest(r); got != tt.want {
				t.Errorf("FromRequest = %q, want %q", got, tt.want)
			}
		})
	}
}
