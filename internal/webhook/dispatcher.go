package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of DispatcherOptions.
const (
	DefaultTimeout        = 15 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultMaxRetryAfter  = time.Hour
	DefaultWorkers        = 4
	DefaultPollInterval   = time.Minute
	DefaultDisableAfter   = 5 * 24 * time.Hour // Svix's rule: every attempt failing for 5 days
	maxResponseRead       = 4 << 10            // read so the connection can be reused; never kept
)

// DefaultSchedule is the wait after each failed attempt (Standard Webhooks / Svix): after the
// first, immediate attempt 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, so 8 attempts over ~27.6 h.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// DispatcherOptions configures a Dispatcher. Zero values take the defaults.
type DispatcherOptions struct {
	Queue Queue
	Guard Guard
	// Client sends the requests; nil builds NewClient(Guard, ConnectTimeout). A client given here
	// must not follow redirects and should dial through Guard.Control.
	Client         *http.Client
	Timeout        time.Duration // per attempt, connect to last byte
	ConnectTimeout time.Duration
	Schedule       []time.Duration
	// Jitter spreads a scheduled wait; nil is ±20 %. Tests pass func(d) d.
	Jitter func(time.Duration) time.Duration
	// MaxRetryAfter caps how long a receiver's Retry-After can push an attempt back.
	MaxRetryAfter time.Duration
	// Lease is how long a claimed delivery is ours; it must outlast an attempt. Default
	// Timeout + 30 s. After a crash, deliveries that were in flight wait this long.
	Lease   time.Duration
	Workers int // attempts in flight at once
	// PollInterval bounds the wait between looks at the queue when nothing calls Notify.
	PollInterval time.Duration
	// DisableAfter disables an endpoint whose attempts have all failed for this long; < 0 never.
	DisableAfter time.Duration
	Clock        Clock
	Logger       *slog.Logger
	UserAgent    string
}

// Dispatcher delivers due webhooks from a Queue. Run is its life; its owner starts it and cancels
// the context to stop it.
type Dispatcher struct {
	o        DispatcherOptions
	log      *slog.Logger
	wake     chan struct{}
	inflight atomic.Int64

	mu    sync.Mutex
	stats map[string]*EndpointStats
}

// EndpointStats are one endpoint's counters since the dispatcher started (for metrics).
type EndpointStats struct {
	Attempts      uint64        `json:"attempts"`  // requests made
	Delivered     uint64        `json:"delivered"` // answered 2xx
	Failures      uint64        `json:"failures"`  // attempts that did not get a 2xx
	Dead          uint64        `json:"dead"`      // deliveries given up (dead letters)
	Disabled      uint64        `json:"disabled"`  // times this dispatcher disabled the endpoint
	InFlight      int           `json:"inFlight"`
	LastStatus    int           `json:"lastStatus"`
	LastAttemptAt time.Time     `json:"lastAttemptAt,omitzero"`
	LastLatency   time.Duration `json:"lastLatencyNs"`
}

// NewDispatcher checks the options and fills in the defaults.
func NewDispatcher(o DispatcherOptions) (*Dispatcher, error) {
	if o.Queue == nil {
		return nil, errors.New("webhook: dispatcher needs a queue")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.Jitter == nil {
		o.Jitter = jitter
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Lease <= 0 {
		o.Lease = o.Timeout + 30*time.Second
	}
	if o.Lease <= o.Timeout {
		return nil, fmt.Errorf("webhook: lease %v must outlast the attempt timeout %v", o.Lease, o.Timeout)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.DisableAfter == 0 {
		o.DisableAfter = DefaultDisableAfter
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "tiktok-live-server-webhooks/1"
	}
	if o.Client == nil {
		o.Client = NewClient(o.Guard, o.ConnectTimeout)
	}
	return &Dispatcher{o: o, log: o.Logger, wake: make(chan struct{}, 1), stats: map[string]*EndpointStats{}}, nil
}

// NewClient is the HTTP client of webhook requests: every connection dialled through the guard
// (so the connected IP is what is checked), no proxy from the environment (the guard would check
// the proxy instead), TLS 1.2 or newer, and redirects returned as responses, never followed (a
// 3xx is a failed attempt).
func NewClient(g Guard, connectTimeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connectTimeout, Control: g.Control}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: connectTimeout,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Notify tells the dispatcher that deliveries were enqueued, so it looks now rather than at its
// next poll. It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stats returns a copy of the per-endpoint counters, by endpoint id.
func (d *Dispatcher) Stats() map[string]EndpointStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]EndpointStats, len(d.stats))
	for id, s := range d.stats {
		out[id] = *s
	}
	return out
}

func (d *Dispatcher) count(endpointID string, f func(s *EndpointStats)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats[endpointID]
	if s == nil {
		s = &EndpointStats{}
		d.stats[endpointID] = s
	}
	f(s)
}

// Run delivers until ctx ends, then waits for the attempts in flight (cancelled with ctx; their
// deliveries are released, not counted as failures) and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		d.o.Client.CloseIdleConnections()
	}()
	done := make(chan struct{}, 1) // an attempt finished: a worker is free
	for {
		now := d.o.Clock.Now()
		free := d.o.Workers - int(d.inflight.Load())
		claimed := 0
		var wait time.Duration
		if free > 0 {
			cs, err := d.o.Queue.Claim(ctx, now, free, d.o.Lease)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil
			case err != nil:
				d.log.Warn("webhook queue: claim failed", "err", err)
				wait = time.Second // the database is unhappy; do not spin on it
			}
			// Claims are handed on even when ctx just ended: handle releases them at once, so a
			// restart need not wait for their leases.
			for _, c := range cs {
				d.inflight.Add(1)
				d.count(c.EndpointID, func(s *EndpointStats) { s.InFlight++ })
				wg.Go(func() {
					d.handle(ctx, c)
					d.count(c.EndpointID, func(s *EndpointStats) { s.InFlight-- })
					d.inflight.Add(-1)
					select {
					case done <- struct{}{}:
					default:
					}
				})
			}
			claimed = len(cs)
		}
		if wait == 0 {
			wait = d.o.PollInterval
			if free-claimed > 0 {
				next, ok, err := d.o.Queue.NextDue(ctx)
				switch {
				case ctx.Err() != nil:
					return nil
				case err != nil:
					d.log.Warn("webhook queue: next due failed", "err", err)
				case ok:
					wait = min(wait, max(next.Sub(d.o.Clock.Now()), time.Millisecond))
				}
			}
		}
		t := d.o.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.wake:
		case <-done:
		case <-t.C():
		}
		t.Stop()
	}
}

// handle makes one attempt of a claim and records its outcome.
func (d *Dispatcher) handle(ctx context.Context, c Claim) {
	o := d.attempt(ctx, c)
	// Record even while stopping: a request made must be remembered, or a 2xx could be sent again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if o == nil { // stopped before or during the attempt: give the delivery back untouched
		if err := d.o.Queue.Release(rctx, c.EndpointID, c.MsgID, c.Token); err != nil {
			d.log.Warn("webhook queue: release failed", "endpoint", c.Endpoint, "msgId", c.MsgID, "err", err)
		}
		return
	}
	if err := d.o.Queue.Complete(rctx, *o); err != nil {
		// The lease runs out and the delivery is tried again: at least once, with the same id.
		d.log.Warn("webhook queue: recording an attempt failed", "endpoint", c.Endpoint, "msgId", c.MsgID, "err", err)
	}
}

// Result is what one request got.
type Result struct {
	Status     int
	Latency    time.Duration
	RetryAfter time.Duration // from a Retry-After header, 0 if none
	Abort      bool          // the receiver answered webhook-delivery: abort-message
	Err        error         // transport error or timeout; nil when a response came
}

// OK reports a 2xx.
func (r Result) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

func (r Result) describe() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	if r.OK() {
		return ""
	}
	return fmt.Sprintf("HTTP %d %s", r.Status, http.StatusText(r.Status))
}

// Send makes one signed request of body to an endpoint now, outside the queue: webhook.test
// (POST /v1/webhooks/{id}/test answers with its status and latency).
func (d *Dispatcher) Send(ctx context.Context, ep Endpoint, msgID string, body []byte) Result {
	now := d.o.Clock.Now()
	res := d.post(ctx, &ep, msgID, body, now)
	d.record(ep.ID, res, now)
	return res
}

func (d *Dispatcher) record(endpointID string, res Result, at time.Time) {
	d.count(endpointID, func(s *EndpointStats) {
		s.Attempts++
		if res.OK() {
			s.Delivered++
		} else {
			s.Failures++
		}
		s.LastStatus, s.LastAttemptAt, s.LastLatency = res.Status, at, res.Latency
	})
}

// post signs and sends one request.
func (d *Dispatcher) post(ctx context.Context, ep *Endpoint, msgID string, body []byte, now time.Time) Result {
	start := time.Now() // latency is wall time whatever the clock says
	sig, err := SignatureHeader(ep.Secrets(now), msgID, now, body)
	if err != nil {
		return Result{Err: fmt.Errorf("sign: %w", err)}
	}
	actx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.o.UserAgent)
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := d.o.Client.Do(req)
	if err != nil {
		// Not the *url.Error itself: its text holds the whole URL, whose path or query often
		// carries the receiver's token, and this error is logged and listed.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %v", d.o.Timeout)
		}
		return Result{Err: err, Latency: time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	res := Result{Status: resp.StatusCode, Latency: time.Since(start)}
	res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), d.o.Clock.Now())
	res.Abort = strings.EqualFold(strings.TrimSpace(resp.Header.Get("Webhook-Delivery")), "abort-message")
	return res
}

// parseRetryAfter reads delay-seconds or an HTTP-date; 0 when absent, malformed or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(365*24*time.Hour/time.Second) {
			n = int64(365 * 24 * time.Hour / time.Second) // no overflow; capped by MaxRetryAfter anyway
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// attempt handles one claim; nil means the dispatcher stopped and the claim is to be released.
func (d *Dispatcher) attempt(ctx context.Context, c Claim) *Outcome {
	if ctx.Err() != nil {
		return nil
	}
	now := d.o.Clock.Now()
	o := &Outcome{EndpointID: c.EndpointID, MsgID: c.MsgID, Token: c.Token, At: now}
	if !c.ExpiresAt.IsZero() && now.After(c.ExpiresAt) {
		o.State, o.Err = StateDead, "expired before it could be delivered"
		d.count(c.EndpointID, func(s *EndpointStats) { s.Dead++ })
		return o
	}
	res := d.post(ctx, &c.Endpoint, c.MsgID, c.Body, now)
	if ctx.Err() != nil && res.Err != nil {
		return nil // cut short by shutdown: not the receiver's failure
	}
	d.record(c.EndpointID, res, now)
	o.Attempted, o.Status, o.Err = true, res.Status, res.describe()
	logArgs := []any{"endpoint", c.Endpoint, "msgId", c.MsgID, "type", c.Type, "attempt", c.Attempts + 1, "status", res.Status}
	switch {
	case res.OK():
		o.State = StateDelivered
		d.log.Debug("webhook delivered", logArgs...)
		return o
	case res.Status == http.StatusGone:
		o.State = StateDead
		o.Disable = "the receiver answered 410 Gone"
	case res.Abort:
		o.State = StateDead
		o.Err += " (webhook-delivery: abort-message)"
	case c.Step >= len(d.o.Schedule):
		o.State = StateDead
		o.Err += fmt.Sprintf(" (gave up after %d attempts)", c.Attempts+1)
	default:
		wait := d.o.Jitter(d.o.Schedule[c.Step])
		if res.RetryAfter > 0 {
			wait = max(wait, min(res.RetryAfter, d.o.MaxRetryAfter))
		}
		after := d.o.Clock.Now()
		o.State, o.NextAt = StateFailed, after.Add(wait)
		if !c.ExpiresAt.IsZero() && o.NextAt.After(c.ExpiresAt) {
			o.State, o.NextAt = StateDead, time.Time{}
			o.Err += " (expires before the next attempt)"
		}
	}
	if fs := c.Endpoint.FailingSince; d.o.DisableAfter > 0 && o.Disable == "" && !fs.IsZero() && now.Sub(fs) >= d.o.DisableAfter {
		o.Disable = fmt.Sprintf("every attempt failed since %s", fs.UTC().Format(time.RFC3339))
	}
	if o.State == StateDead {
		d.count(c.EndpointID, func(s *EndpointStats) { s.Dead++ })
	}
	if o.Disable != "" {
		d.count(c.EndpointID, func(s *EndpointStats) { s.Disabled++ })
		d.log.Warn("webhook endpoint disabled", append(logArgs, "reason", o.Disable)...)
	}
	d.log.Info("webhook attempt failed", append(logArgs, "state", o.State, "err", o.Err, "nextAt", o.NextAt)...)
	return o
}
