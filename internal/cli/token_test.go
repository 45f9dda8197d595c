package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
)

const testSecret = "a-test-secret-of-32-bytes-......"

func TestRunToken(t *testing.T) {
	dir := t.TempDir()
	fileSecret := "another secret, from a file...."
	good := filepath.Join(dir, "secret")
	if err := os.WriteFile(good, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        string // TOKEN_SECRET
		args       []string
		code       int
		secret     string        // the secret the printed token verifies with
		ttl        time.Duration // its lifetime
		room       string
		stderrHas  string
		stderrNot  string // never in stderr (the secret)
		stdoutNone bool
	}{
		{name: "env secret", env: testSecret, args: []string{"--room", "Streamer", "--ttl", "2h"}, secret: testSecret, ttl: 2 * time.Hour, room: "streamer", stderrHas: "expires"},
		{name: "default ttl", env: testSecret, args: []string{"--room", "@streamer"}, secret: testSecret, ttl: 24 * time.Hour, room: "streamer", stderrHas: "in 24h0m0s"},
		{name: "profile URL", env: testSecret, args: []string{"--room", "https://www.tiktok.com/@streamer/live"}, secret: testSecret, ttl: 24 * time.Hour, room: "streamer"},
		{name: "file wins over env", env: testSecret, args: []string{"--room", "bob", "--secret-file", good}, secret: fileSecret, ttl: 24 * time.Hour, room: "bob"},
		{name: "no secret", args: []string{"--room", "bob"}, code: 2, stderrHas: "TOKEN_SECRET", stdoutNone: true},
		{name: "short secret", env: "tiny", args: []string{"--room", "bob"}, code: 2, stderrHas: "at least 16", stderrNot: "tiny", stdoutNone: true},
		{name: "short secret file", args: []string{"--room", "bob", "--secret-file", short}, code: 2, stderrHas: "at least 16", stderrNot: "tiny", stdoutNone: true},
		{name: "missing secret file", args: []string{"--room", "bob", "--secret-file", filepath.Join(dir, "nope")}, code: 2, stderrHas: "--secret-file", stdoutNone: true},
		{name: "no room", env: testSecret, args: nil, code: 2, stderrHas: "--room is required", stdoutNone: true},
		{name: "bad room", env: testSecret, args: []string{"--room", "not a name"}, code: 2, stderrHas: "2 to 24", stdoutNone: true},
		{name: "zero ttl", env: testSecret, args: []string{"--room", "bob", "--ttl", "0s"}, code: 2, stderrHas: "positive", stdoutNone: true},
		{name: "negative ttl", env: testSecret, args: []string{"--room", "bob", "--ttl", "-1h"}, code: 2, stderrHas: "positive", stdoutNone: true},
		{name: "bad ttl", env: testSecret, args: []string{"--room", "bob", "--ttl", "soon"}, code: 2, stdoutNone: true},
		{name: "extra argument", env: testSecret, args: []string{"--room", "bob", "extra"}, code: 2, stdoutNone: true},
		{name: "help", args: []string{"-h"}, code: 0, stderrHas: "usage: tiktok-live-server token", stdoutNone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TOKEN_SECRET", tt.env)
			var out, errOut bytes.Buffer
			before := time.Now()
			code := Run(context.Background(), append([]string{"token"}, tt.args...), strings.NewReader(""), &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderrHas) {
				t.Errorf("stderr %q, want it to mention %q", errOut.String(), tt.stderrHas)
			}
			if tt.stderrNot != "" && strings.Contains(errOut.String(), tt.stderrNot) {
				t.Errorf("stderr %q contains the secret", errOut.String())
			}
			if strings.Contains(errOut.String(), testSecret) || strings.Contains(errOut.String(), fileSecret) {
				t.Errorf("stderr %q contains a secret", errOut.String())
			}
			if tt.stdoutNone {
				if out.Len() != 0 {
					t.Errorf("stdout %q, want nothing", out.String())
				}
				return
			}
			tok := strings.TrimSuffix(out.String(), "\n")
			if strings.ContainsAny(tok, " \n") {
				t.Fatalf("stdout %q is not one token on one line", out.String())
			}
			c, err := auth.Verify([]byte(tt.secret), tok, time.Now())
			if err != nil {
				t.Fatalf("printed token does not verify: %v", err)
			}
			if c.Room != tt.room || !c.Allows(tt.room) {
				t.Errorf("claims room %q, want %q", c.Room, tt.room)
			}
			// Expiry is to the second: within [before+ttl-1s, now+ttl].
			if lo, hi := before.Add(tt.ttl-time.Second), time.Now().Add(tt.ttl); c.Expires.Before(lo) || c.Expires.After(hi) {
				t.Errorf("expires %v, want within [%v, %v]", c.Expires, lo, hi)
			}
			if !strings.Contains(errOut.String(), c.Expires.Format(time.RFC3339)) {
				t.Errorf("stderr %q does not give the expiry %s", errOut.String(), c.Expires.Format(time.RFC3339))
			}
		})
	}
}
