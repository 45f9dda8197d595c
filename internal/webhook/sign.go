package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (lower case, as the spec writes them; net/http canonicalises on the wire).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	secretPrefix = "whsec_"
	// SecretBytes is the size of a generated key: the spec asks for 24 to 64 random bytes.
	SecretBytes = 32
	// DefaultTolerance is how far a webhook-timestamp may be from the verifier's clock, either way.
	DefaultTolerance = 5 * time.Minute
	// RotationOverlap is how long the previous secret keeps signing after a rotation.
	RotationOverlap = 24 * time.Hour
)

// Errors of ParseSecret and Verify.
var (
	ErrBadSecret      = errors.New("webhook: bad secret")
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp      = errors.New("webhook: timestamp outside the tolerance")
	ErrSignature      = errors.New("webhook: no matching signature")
)

var b64 = base64.StdEncoding

// NewSecret returns a fresh endpoint secret in the form shown to users: whsec_ + base64 of
// SecretBytes random bytes.
func NewSecret() (string, error) {
	var k [SecretBytes]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", fmt.Errorf("webhook: secret: %w", err)
	}
	return secretPrefix + b64.EncodeToString(k[:]), nil
}

// ParseSecret returns the HMAC key of a secret: the base64-decoded part after whsec_. The prefix is
// optional, as in the reference libraries, so a receiver can paste either form.
func ParseSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(secret, secretPrefix)
	key, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSecret, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadSecret)
	}
	return key, nil
}

// ValidateSecret checks a secret a user supplies for an endpoint: whsec_ and 24 to 64 bytes.
func ValidateSecret(secret string) error {
	if !strings.HasPrefix(secret, secretPrefix) {
		return fmt.Errorf("%w: want the whsec_ prefix", ErrBadSecret)
	}
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	if len(key) < 24 || len(key) > 64 {
		return fmt.Errorf("%w: key is %d bytes, want 24 to 64", ErrBadSecret, len(key))
	}
	return nil
}

// Sign returns one signature entry, "v1," + base64(HMAC-SHA256(key, id.timestamp.body)).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + b64.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

// SignatureHeader returns the webhook-signature value for every secret, space separated, in the
// order given (the current secret first during a rotation).
func SignatureHeader(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, ts, body)
		if err != nil {
			return "", err
		}
		parts = append(parts, sig)
	}
	return strings.Join(parts, " "), nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received webhook as a receiver must: the three headers present, the timestamp
// within tolerance of now (0 = DefaultTolerance; negative skips the check), and one v1 signature of
// the header matching the secret (constant-time). Entries of other versions are ignored.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrTimestamp, tsText)
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: %v off", ErrTimestamp, d.Round(time.Second))
		}
	}
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	want := mac(key, id, unix, body)
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := b64.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
