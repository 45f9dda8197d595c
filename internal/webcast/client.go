package webcast

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default base URLs of TikTok. Every one is configurable so the same code runs against the fake.
const (
	DefaultWebURL     = "https://www.tiktok.com"
	DefaultWebcastURL = "https://webcast.tiktok.com"
	DefaultSignURL    = "https://tiktok.eulerstream.com"
	// DefaultUserAgent is the desktop browser the libraries present (Edge 128 on macOS).
	DefaultUserAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 Edg/128.0.0.0"
)

// maxBodyBytes bounds every HTTP body we read from upstream.
const maxBodyBytes = 4 << 20

// Config configures a Client. The zero value talks to TikTok itself.
type Config struct {
	WebURL     string       // www.tiktok.com: /@user/live and /api-live/user/room/
	WebcastURL string       // webcast.tiktok.com: /webcast/room/info/
	HTTPClient *http.Client // nil: a client with a 10 s timeout
	UserAgent  string
	// DeviceID is sent as device_id; empty: 19 random digits, fixed for the Client's life.
	DeviceID string
	Logger   *slog.Logger
}

// Client speaks TikTok's LIVE protocol: it resolves users to rooms and opens push sessions.
// It is safe for concurrent use.
type Client struct {
	web, webcast string
	http         *http.Client
	ua           string
	deviceID     string
	log          *slog.Logger
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		web:      strings.TrimRight(orDefault(cfg.WebURL, DefaultWebURL), "/"),
		webcast:  strings.TrimRight(orDefault(cfg.WebcastURL, DefaultWebcastURL), "/"),
		http:     cfg.HTTPClient,
		ua:       orDefault(cfg.UserAgent, DefaultUserAgent),
		deviceID: cfg.DeviceID,
		log:      cfg.Logger,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	if c.deviceID == "" {
		c.deviceID = randomDigits(19)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// UserAgent is the User-Agent this client presents (the sign call must use the same one).
func (c *Client) UserAgent() string { return c.ua }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func randomDigits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		if i == 0 && d.Int64() == 0 {
			d = big.NewInt(7)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// webParams are the query parameters the web client sends on every call (spec 1.5).
func (c *Client) webParams() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{
		{"aid", "1988"}, {"app_language", "en"}, {"app_name", "tiktok_web"}, {"browser_language", "en-US"},
		{"browser_name", "Mozilla"}, {"browser_online", "true"}, {"browser_platform", "MacIntel"},
		{"browser_version", strings.TrimPrefix(c.ua, "Mozilla/")}, {"cookie_enabled", "true"},
		{"device_platform", "web_pc"}, {"focus_state", "true"}, {"from_page", "user"}, {"history_len", "10"},
		{"is_fullscreen", "false"}, {"is_page_visible", "true"}, {"screen_height", "1080"}, {"screen_width", "1920"},
		{"tz_name", "Europe/Berlin"}, {"channel", "tiktok_web"}, {"data_collection_enabled", "true"},
		{"os", "mac"}, {"priority_region", "DE"}, {"region", "DE"}, {"user_is_login", "false"},
		{"webcast_language", "en"}, {"device_id", c.deviceID},
	} {
		v.Set(kv[0], kv[1])
	}
	return v
}

// get performs a GET with the browser-like headers and returns status, headers and a bounded body.
func (c *Client) get(ctx context.Context, op, rawURL string, accept string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, nil, nil, &Error{Kind: KindBadResponse, Op: op, Err: err, Hint: "check the configured base URL"}
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	req.Header.Set("Referer", "https://www.tiktok.com/")
	req.Header.Set("Origin", "https://www.tiktok.com")
	req.Header.Set("Sec-Fetch-Site", "same-site")
	req.Header.Set("Sec-Fetch-Mode", "cors")
	req.Header.Set("Sec-Fetch-Dest", "empty")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, networkError(op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, networkError(op, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

func networkError(op string, err error) *Error {
	return &Error{Kind: KindNetwork, Op: op, Err: stripURL(err), Hint: "check the network and the configured base URLs"}
}

// stripURL drops the URL (which carries device ids and session parameters) from *url.Error.
func stripURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// excerpt returns a short, single-line piece of an upstream body for an error message.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
