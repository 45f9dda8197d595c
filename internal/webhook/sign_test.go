package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The published Standard Webhooks test vector (standard-webhooks/standard-webhooks,
// libraries/go/webhook_test.go, TestWebhookSign).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSign_StandardVector(t *testing.T) {
	got, err := Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
	// The reference libraries take the key without its prefix too.
	if got2, _ := Sign(vectorSecret[len("whsec_"):], vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody)); got2 != vectorSignature {
		t.Fatalf("Sign without prefix = %s", got2)
	}
}

func signedHeader(t *testing.T, secrets []string, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := SignatureHeader(secrets, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(1767225600, 0)
	body := []byte(`{"type":"room.gift"}`)
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		secret    string
		header    func() http.Header
		body      []byte
		tolerance time.Duration
		want      error
	}{
		{"valid", vectorSecret, func() http.Header { return signedHeader(t, []string{vectorSecret}, "msg_1", now, body) }, body, 0, nil},
		{"standard vector, timestamp not enforced", vectorSecret, func() http.Header {
			h := http.Header{}
			h.Set(HeaderID, vectorID)
			h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp))
			h.Set(HeaderSignature, vectorSignature)
			return h
		}, []byte(vectorBody), -1, nil},
		{"standard vector is stale", vectorSecret, func() http.Header {
			h := http.Header{}
			h.Set(HeaderID, vectorID)
			h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp))
			h.Set(HeaderSignature, vectorSignature)
			return h
		}, []byte(vectorBody), 0, ErrTimestamp},
		{"tampered body", vectorSecret, func() http.Header { return signedHeader(t, []string{vectorSecret}, "msg_1", now, body) }, []byte(`{"type":"room.gifT"}`), 0, ErrSignature},
		{"wrong secret", other, func() http.Header { return signedHeader(t, []string{vectorSecret}, "msg_1", now, body) }, body, 0, ErrSignature},
		{"id changed", vectorSecret, func() http.Header {
			h := signedHeader(t, []string{vectorSecret}, "msg_1", now, body)
			h.Set(HeaderID, "msg_2")
			return h
		}, body, 0, ErrSignature},
		{"too old", vectorSecret, func() http.Header {
			return signedHeader(t, []string{vectorSecret}, "msg_1", now.Add(-DefaultTolerance-time.Second), body)
		}, body, 0, ErrTimestamp},
		{"too new", vectorSecret, func() http.Header {
			return signedHeader(t, []string{vectorSecret}, "msg_1", now.Add(DefaultTolerance+time.Second), body)
		}, body, 0, ErrTimestamp},
		{"within tolerance", vectorSecret, func() http.Header {
			return signedHeader(t, []string{vectorSecret}, "msg_1", now.Add(-DefaultTolerance+time.Second), body)
		}, body, 0, nil},
		{"one of several signatures", vectorSecret, func() http.Header {
			h := signedHeader(t, []string{other, vectorSecret}, "msg_1", now, body)
			h.Set(HeaderSignature, "v2,Zm9v v1,bm9wZQ== "+h.Get(HeaderSignature))
			return h
		}, body, 0, nil},
		{"only other versions", vectorSecret, func() http.Header {
			h := signedHeader(t, []string{vectorSecret}, "msg_1", now, body)
			h.Set(HeaderSignature, "v1a"+h.Get(HeaderSignature)[2:])
			return h
		}, body, 0, ErrSignature},
		{"missing id", vectorSecret, func() http.Header {
			h := signedHeader(t, []string{vectorSecret}, "msg_1", now, body)
			h.Del(HeaderID)
			return h
		}, body, 0, ErrMissingHeaders},
		{"missing signature", vectorSecret, func() http.Header {
			h := signedHeader(t, []string{vectorSecret}, "msg_1", now, body)
			h.Del(HeaderSignature)
			return h
		}, body, 0, ErrMissingHeaders},
		{"timestamp not a number", vectorSecret, func() http.Header {
			h := signedHeader(t, []string{vectorSecret}, "msg_1", now, body)
			h.Set(HeaderTimestamp, "2026-01-01T00:00:00Z")
			return h
		}, body, 0, ErrTimestamp},
		{"secret not base64", "whsec_!!!", func() http.Header { return signedHeader(t, []string{vectorSecret}, "msg_1", now, body) }, body, 0, ErrBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header(), tt.body, now, tt.tolerance)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	key, err := ParseSecret(a)
	if err != nil || len(key) != SecretBytes {
		t.Fatalf("ParseSecret(%q) = %d bytes, %v", a, len(key), err)
	}
	if err := ValidateSecret(a); err != nil {
		t.Fatal(err)
	}
}

func TestValidateSecret(t *testing.T) {
	tests := []struct {
		secret string
		ok     bool
	}{
		{vectorSecret, true}, // 24 bytes
		{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64)), true},
		{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), false},
		{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), false},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false}, // no prefix
		{"whsec_not base64", false},
		{"whsec_", false},
	}
	for _, tt := range tests {
		if err := ValidateSecret(tt.secret); (err == nil) != tt.ok {
			t.Errorf("ValidateSecret(%q) = %v, want ok %v", tt.secret, err, tt.ok)
		}
	}
}

// independent runs testdata/verify.py or verify.js: HMAC by another language's standard library.
type verifyRequest struct {
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
	BodyB64   string `json:"body_b64"`
	Now       int64  `json:"now"`
}

type verifyAnswer struct {
	OK       bool   `json:"ok"`
	Expected string `json:"expected"`
}

// independentVerifiers are the receivers in other languages, each as the command that runs it.
var independentVerifiers = []struct{ name, tool, script string }{
	{"python", "python3", "verify.py"},
	{"node", "node", "verify.js"},
}

func runVerifier(t *testing.T, tool, script string, req verifyRequest) verifyAnswer {
	t.Helper()
	in, _ := json.Marshal(req)
	cmd := exec.Command(tool, filepath.Join("testdata", script))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, script, err, stderr.String())
	}
	var a verifyAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("%s %s: %v in %q", tool, script, err, out)
	}
	return a
}

// requireTool skips when an independent implementation's runtime is missing: the Go test vector
// still runs; only the cross-check in another language cannot.
func requireTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed: the cross-check against an independent %s implementation cannot run", tool, tool)
	}
}

func TestSign_IndependentImplementations(t *testing.T) {
	now := time.Unix(1767225600, 0)
	newSecret, _ := NewSecret()
	oldSecret, _ := NewSecret()
	body := []byte(`{"type":"room.gift","timestamp":"2026-01-01T00:00:00.000Z","data":{"room":{"unique_id":"créateur ☃"}}}`)
	for _, v := range independentVerifiers {
		t.Run(v.name, func(t *testing.T) {
			requireTool(t, v.tool)
			// The published vector: their HMAC gives the published signature.
			a := runVerifier(t, v.tool, v.script, verifyRequest{Secret: vectorSecret, ID: vectorID, Timestamp: strconv.Itoa(vectorTimestamp),
				Signature: vectorSignature, BodyB64: base64.StdEncoding.EncodeToString([]byte(vectorBody)), Now: vectorTimestamp})
			if !a.OK || a.Expected != vectorSignature {
				t.Fatalf("vector: %+v, want ok with %s", a, vectorSignature)
			}
			// Our rotation header (new, old): each secret verifies on its own, a third does not.
			sig, err := SignatureHeader([]string{newSecret, oldSecret}, "msg_rot", now, body)
			if err != nil {
				t.Fatal(err)
			}
			req := verifyRequest{ID: "msg_rot", Timestamp: strconv.FormatInt(now.Unix(), 10), Signature: sig,
				BodyB64: base64.StdEncoding.EncodeToString(body), Now: now.Unix()}
			for _, s := range []string{newSecret, oldSecret} {
				req.Secret = s
				a := runVerifier(t, v.tool, v.script, req)
				ours, _ := Sign(s, "msg_rot", now, body)
				if !a.OK || a.Expected != ours {
					t.Fatalf("rotation: %+v, want ok with %s", a, ours)
				}
			}
			req.Secret = vectorSecret
			if a := runVerifier(t, v.tool, v.script, req); a.OK {
				t.Fatal("a third secret verified")
			}
			req.Secret, req.BodyB64 = newSecret, base64.StdEncoding.EncodeToString(append(body, ' '))
			if a := runVerifier(t, v.tool, v.script, req); a.OK {
				t.Fatal("a tampered body verified")
			}
		})
	}
}
