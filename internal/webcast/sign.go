package webcast

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// SignRequest asks a sign server for a signed push-socket URL of a room.
type SignRequest struct {
	RoomID    string
	UniqueID  string // optional; some sign plans resolve the room themselves
	UserAgent string // must be the UA the socket is opened with
	Cursor    string
}

// SignResult is a sign server's answer: the first fetch (with the socket URL and recent history)
// and the cookies the socket must carry.
type SignResult struct {
	Fetch   *pb.FetchResult
	Cookies []*http.Cookie // from X-Set-TT-Cookie
	RoomID  string         // X-Room-Id, when the sign server overrides the room
	LogID   string         // X-Log-Id / X-Request-Id, for support requests
}

// Signer turns a room into a signed socket URL. EulerSigner is the one implementation we ship;
// tests and alternative providers implement it too.
type Signer interface {
	Sign(ctx context.Context, req SignRequest) (*SignResult, error)
}

// SignRoute selects the sign server's connect route.
type SignRoute string

const (
	// RouteConnect is the current route: GET {sign}/webcast/rooms/{roomId}/connect.
	RouteConnect SignRoute = "connect"
	// RouteFetch is the route of tiktok-live-connector 2.0.7-beta1: GET {sign}/webcast/fetch.
	RouteFetch SignRoute = "fetch"
)

// EulerSigner calls an Euler-Stream-compatible sign server.
type EulerSigner struct {
	BaseURL    string // default DefaultSignURL
	APIKey     string // sent as X-Api-Key; never logged or put in errors
	Route      SignRoute
	ClientName string // the client= parameter; default "ttlive-node", the label the sign plans know
	HTTPClient *http.Client
}

// String describes the signer without its API key, so a %v in a log line cannot leak it.
func (s *EulerSigner) String() string {
	key := "none"
	if s.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("EulerSigner{BaseURL: %s, Route: %s, APIKey: %s}", orDefault(s.BaseURL, DefaultSignURL), orDefault(string(s.Route), string(RouteConnect)), key)
}

// GoString keeps %#v from printing the key too.
func (s *EulerSigner) GoString() string { return s.String() }

// redact removes the API key from text the sign server sent back, in case it echoes the request.
func (s *EulerSigner) redact(text string) string {
	if s.APIKey == "" {
		return text
	}
	return strings.ReplaceAll(text, s.APIKey, "[redacted]")
}

// Sign calls the sign server once. Errors: ErrSignRateLimited (with RetryAt), ErrSignPayment,
// ErrSignStatus, ErrSignMissingCookie, ErrSignEmpty, ErrBadResponse, ErrNetwork.
func (s *EulerSigner) Sign(ctx context.Context, req SignRequest) (*SignResult, error) {
	op := "sign room " + req.RoomID
	base := strings.TrimRight(orDefault(s.BaseURL, DefaultSignURL), "/")
	client := orDefault(s.ClientName, "ttlive-node")
	q := url.Values{}
	q.Set("client", client)
	var target string
	switch s.Route {
	case RouteFetch:
		q.Set("room_id", req.RoomID)
		if req.UniqueID != "" {
			q.Set("unique_id", req.UniqueID)
		}
		q.Set("cursor", req.Cursor)
		q.Set("user_agent", req.UserAgent)
		q.Set("client_enter", "false")
		target = base + "/webcast/fetch?" + q.Encode()
	case RouteConnect, "":
		q.Set("cursor", req.Cursor)
		q.Set("user_agent", req.UserAgent)
		q.Set("client_enter", "true")
		q.Set("platform", "web")
		target = base + "/webcast/rooms/" + url.PathEscape(req.RoomID) + "/connect?" + q.Encode()
	default:
		return nil, &Error{Kind: KindBadResponse, Op: op, Detail: "unknown sign route " + string(s.Route),
			Hint: "use \"connect\" or \"fetch\""}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &Error{Kind: KindBadResponse, Op: op, Err: err, Hint: "check the sign server URL"}
	}
	hreq.Header.Set("Accept", "application/protobuf,application/json")
	hreq.Header.Set("User-Agent", "tiktok-live-server")
	if s.APIKey != "" {
		hreq.Header.Set("X-Api-Key", s.APIKey)
	}
	hc := s.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, &Error{Kind: KindNetwork, Op: op, Err: stripURL(err), Hint: "check that the sign server URL is reachable"}
	}
	defer resp.Body.Close()
	body, err := readBody(resp)
	if err != nil {
		return nil, &Error{Kind: KindNetwork, Op: op, Err: err}
	}
	logID := resp.Header.Get("X-Log-Id")
	if logID == "" {
		logID = resp.Header.Get("X-Request-Id")
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, &Error{Kind: KindSignRateLimited, Op: op, Status: resp.StatusCode, Detail: s.redact(signMessage(body)),
			RetryAt: retryAt(resp.Header, time.Now()), Hint: "the sign server's quota is used up; wait until retryAt or raise the plan"}
	case resp.StatusCode == http.StatusPaymentRequired:
		return nil, &Error{Kind: KindSignPayment, Op: op, Status: resp.StatusCode, Detail: s.redact(signMessage(body)),
			Hint: "this sign server plan does not include the feature; check the API key's plan"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, &Error{Kind: KindSignStatus, Op: op, Status: resp.StatusCode, Detail: s.redact(signMessage(body)),
			Hint: "check the sign API key (--sign-api-key or SIGN_API_KEY)"}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Kind: KindSignStatus, Op: op, Status: resp.StatusCode, Detail: s.redact(signMessage(body)),
			Hint: "the sign server failed; it is retried with backoff"}
	}
	cookieHeader := resp.Header.Get("X-Set-TT-Cookie")
	if cookieHeader == "" {
		return nil, &Error{Kind: KindSignMissingCookie, Op: op, Status: resp.StatusCode,
			Detail: "no X-Set-TT-Cookie header", Hint: "the sign server answered without the socket cookie; retry later"}
	}
	if len(body) == 0 {
		return nil, &Error{Kind: KindSignEmpty, Op: op, Status: resp.StatusCode, Detail: "empty body"}
	}
	fetch := new(pb.FetchResult)
	if err := proto.Unmarshal(body, fetch); err != nil {
		return nil, &Error{Kind: KindBadResponse, Op: op, Detail: "body is not a fetch result", Err: err}
	}
	if fetch.GetCursor() == "" {
		return nil, &Error{Kind: KindSignEmpty, Op: op, Detail: "fetch result has no cursor"}
	}
	if fetch.GetWsUrl() == "" {
		return nil, &Error{Kind: KindBadResponse, Op: op, Detail: "fetch result has no socket URL"}
	}
	return &SignResult{
		Fetch:   fetch,
		Cookies: parseCookies(cookieHeader),
		RoomID:  resp.Header.Get("X-Room-Id"),
		LogID:   logID,
	}, nil
}

func readBody(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("body larger than %d bytes", maxBodyBytes)
	}
	return body, nil
}

// signMessage extracts {message, limit_label} from a sign server's JSON error, else a body excerpt.
func signMessage(body []byte) string {
	var r struct {
		Message    string `json:"message"`
		LimitLabel string `json:"limit_label"`
	}
	if json.Unmarshal(body, &r) == nil && (r.Message != "" || r.LimitLabel != "") {
		if r.LimitLabel != "" {
			return "(" + r.LimitLabel + ") " + r.Message
		}
		return r.Message
	}
	return excerpt(body)
}

// retryAt reads Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (epoch seconds).
// With neither, it falls back to one minute, the shortest window the sign plans use.
func retryAt(h http.Header, now time.Time) time.Time {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return now.Add(time.Duration(secs * float64(time.Second)))
		}
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			return time.Unix(secs, 0)
		}
	}
	return now.Add(time.Minute)
}

// parseCookies reads a cookie string such as "ttwid=abc; tt_csrf=1", leniently.
func parseCookies(s string) []*http.Cookie {
	if cs, err := http.ParseCookie(s); err == nil {
		return cs
	}
	var out []*http.Cookie
	for _, part := range strings.Split(s, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && name != "" {
			out = append(out, &http.Cookie{Name: name, Value: value})
		}
	}
	return out
}
