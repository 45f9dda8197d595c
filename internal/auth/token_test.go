package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func TestMint_Verify(t *testing.T) {
	good := Mint(secret, "Streamer", time.Hour, t0)
	// tamper flips one character of a part, keeping it valid base64url.
	tamper := func(tok string, part int) string {
		parts := strings.Split(tok, ".")
		b := []byte(parts[part])
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		parts[part] = string(b)
		return strings.Join(parts, ".")
	}
	otherRoom := func() string {
		// The payload of another room with the MAC of this one: a splice.
		parts := strings.Split(good, ".")
		o := strings.Split(Mint(secret, "other", time.Hour, t0), ".")
		return parts[0] + "." + o[1] + "." + parts[2]
	}()
	tests := []struct {
		name     string
		secret   []byte
		tok      string
		now      time.Time
		wantErr  error
		wantRoom string
	}{
		{name: "valid", secret: secret, tok: good, now: t0, wantRoom: "streamer"},
		{name: "valid until the last second", secret: secret, tok: good, now: t0.Add(time.Hour - time.Nanosecond), wantRoom: "streamer"},
		{name: "expired at expiry", secret: secret, tok: good, now: t0.Add(time.Hour), wantErr: ErrExpired, wantRoom: "streamer"},
		{name: "expired later", secret: secret, tok: good, now: t0.Add(48 * time.Hour), wantErr: ErrExpired, wantRoom: "streamer"},
		{name: "zero ttl is expired", secret: secret, tok: Mint(secret, "a", 0, t0), now: t0, wantErr: ErrExpired, wantRoom: "a"},
		{name: "other secret", secret: []byte("another secret, long enough....."), tok: good, now: t0, wantErr: ErrBadSignature},
		{name: "no secret", secret: nil, tok: good, now: t0, wantErr: ErrNoSecret},
		{name: "payload altered", secret: secret, tok: tamper(good, 1), now: t0, wantErr: ErrBadSignature},
		{name: "mac altered", secret: secret, tok: tamper(good, 2), now: t0, wantErr: ErrBadSignature},
		{name: "payload spliced", secret: secret, tok: otherRoom, now: t0, wantErr: ErrBadSignature},
		{name: "empty", secret: secret, tok: "", now: t0, wantErr: ErrMalformed},
		{name: "two parts", secret: secret, tok: "v1.abc", now: t0, wantErr: ErrMalformed},
		{name: "four parts", secret: secret, tok: good + ".x", now: t0, wantErr: ErrMalformed},
		{name: "version", secret: secret, tok: "v2" + good[2:], now: t0, wantErr: ErrMalformed},
		{name: "padded base64", secret: secret, tok: good + "=", now: t0, wantErr: ErrMalformed},
		{name: "std base64 alphabet", secret: secret, tok: strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+", now: t0, wantErr: ErrMalformed},
		{name: "short mac", secret: secret, tok: "v1." + strings.Split(good, ".")[1] + ".AAAA", now: t0, wantErr: ErrMalformed},
		{name: "newline inside (the decoder would skip it)", secret: secret, tok: good[:40] + "\n" + good[40:], now: t0, wantErr: ErrMalformed},
		{name: "too long", secret: secret, tok: "v1." + strings.Repeat("A", MaxTokenLen) + ".x", now: t0, wantErr: ErrMalformed},
		{name: "signed garbage payload", secret: secret, tok: signRaw(secret, "no separator"), now: t0, wantErr: ErrMalformed},
		{name: "signed empty room", secret: secret, tok: signRaw(secret, "99999999999|"), now: t0, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(tt.secret, tt.tok, tt.now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Verify = %+v, %v; want error %v", c, err, tt.wantErr)
			}
			if c.Room != tt.wantRoom {
				t.Errorf("Room = %q, want %q", c.Room, tt.wantRoom)
			}
			if err != nil {
				// Never the token or the secret in a message (they end up in logs and answers).
				if msg := err.Error(); (tt.tok != "" && strings.Contains(msg, tt.tok)) || strings.Contains(msg, string(secret)) {
					t.Errorf("error %q contains the token or the secret", msg)
				}
				for _, part := range strings.Split(tt.tok, ".")[1:] {
					if len(part) > 8 && strings.Contains(err.Error(), part) {
						t.Errorf("error %q contains a part of the token", err)
					}
				}
			}
		})
	}
}

// signRaw signs an arbitrary payload the way Mint does.
func signRaw(secret []byte, payload string) string {
	signed := "v1." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sign(secret, signed))
}

func TestMint_Format(t *testing.T) {
	tok := Mint(secret, "a.b_c", 24*time.Hour, t0)
	if !strings.HasPrefix(tok, "v1.") || strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not v1.<payload>.<mac>", tok)
	}
	for _, r := range tok {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			t.Fatalf("token %q has %q, not URL-safe", tok, r)
		}
	}
	c, err := Verify(secret, tok, t0)
	if err != nil || !c.Expires.Equal(t0.Add(24*time.Hour)) || c.Room != "a.b_c" {
		t.Errorf("Verify = %+v, %v", c, err)
	}
}

func TestMint_EmptySecretPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Mint with an empty secret did not panic")
		}
	}()
	Mint(nil, "room", time.Hour, t0)
}

func TestClaims_Allows(t *testing.T) {
	tests := []struct {
		claim, room string
		want        bool
	}{
		{"streamer", "streamer", true},
		{"streamer", "STREAMER", true},
		{"streamer", "streamer2", false},
		{"streamer", "", false},
		{"", "", false},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := (Claims{Room: tt.claim}).Allows(tt.room); got != tt.want {
			t.Errorf("Claims{%q}.Allows(%q) = %v, want %v", tt.claim, tt.room, got, tt.want)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	if err := CheckSecret([]byte("short")); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("CheckSecret(short) = %v; want an error without the secret", err)
	}
	if err := CheckSecret(secret); err != nil {
		t.Errorf("CheckSecret(32 bytes) = %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(Mint(secret, "streamer", time.Hour, t0))
	f.Add(Mint([]byte("some other secret 123"), "streamer", time.Hour, t0))
	f.Add("")
	f.Add("v1..")
	f.Add("v1.AAAA.AAAA")
	f.Add("v1." + base64.RawURLEncoding.EncodeToString([]byte("9999999999|x")) + "." + strings.Repeat("A", 43))
	f.Add(strings.Repeat(".", 600))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(secret, tok, t0)
		if err == nil {
			// Only tokens Mint made with this secret verify: the fuzzer cannot forge a MAC.
			if want := Mint(secret, c.Room, c.Expires.Sub(t0), t0); want != tok {
				t.Fatalf("Verify accepted %q, which Mint would write as %q", tok, want)
			}
		}
		if _, err := Verify(nil, tok, t0); !errors.Is(err, ErrNoSecret) {
			t.Fatalf("Verify without a secret = %v", err)
		}
		if err != nil && len(tok) > 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error %q contains the token", err)
		}
	})
}
