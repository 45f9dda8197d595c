package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// State is where a delivery stands.
type State string

// Delivery states. failed means the last attempt failed and another is scheduled; dead means the
// retries are exhausted (or expired, refused with 410 or aborted by the receiver): the dead letter,
// kept and listable until resent or pruned.
const (
	StatePending   State = "pending"
	StateDelivered State = "delivered"
	StateFailed    State = "failed"
	StateDead      State = "dead"
)

// ErrNotFound is returned for an unknown endpoint or delivery.
var ErrNotFound = errors.New("webhook: not found")

// Endpoint is a receiver and what it wants. Secrets are tagged json:"-" and left out of LogValue:
// the API shows the secret once, on create and rotate, and nothing logs it.
type Endpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	Secret      string `json:"-"`
	// PreviousSecret still signs, next to Secret, until PreviousUntil (a rotation's overlap).
	PreviousSecret string    `json:"-"`
	PreviousUntil  time.Time `json:"previousSecretUntil,omitzero"`
	Filter         Filter    `json:"filter"`
	Disabled       bool      `json:"disabled"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	DisabledAt     time.Time `json:"disabledAt,omitzero"`
	// FailingSince is the first failed attempt since the last success: the clock of the
	// auto-disable rule. Zero while the endpoint succeeds.
	FailingSince time.Time `json:"failingSince,omitzero"`
	// LastDeliveredAt is the last attempt answered 2xx (zero: none yet).
	LastDeliveredAt time.Time `json:"lastDeliveredAt,omitzero"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// NewEndpoint checks an endpoint as created through the API (the URL against guard, the filter)
// and gives it an id and a fresh secret.
func NewEndpoint(rawURL string, f Filter, guard Guard, now time.Time) (Endpoint, error) {
	if _, err := guard.CheckURL(rawURL); err != nil {
		return Endpoint{}, err
	}
	if err := f.Validate(); err != nil {
		return Endpoint{}, err
	}
	id, err := randomID("ep_")
	if err != nil {
		return Endpoint{}, err
	}
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	now = now.UTC()
	return Endpoint{ID: id, URL: rawURL, Secret: secret, Filter: f, CreatedAt: now, UpdatedAt: now}, nil
}

// Secrets returns the secrets that sign at now: the current one, then the previous one while its
// overlap lasts.
func (e *Endpoint) Secrets(now time.Time) []string {
	if e.PreviousSecret != "" && now.Before(e.PreviousUntil) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// LogValue names an endpoint in logs by id and host only: no secret, and no path or query, which
// often carry a token of the receiver's.
func (e Endpoint) LogValue() slog.Value {
	host := ""
	if u, err := url.Parse(e.URL); err == nil {
		host = u.Host
	}
	return slog.GroupValue(slog.String("id", e.ID), slog.String("host", host))
}

// Delivery is one webhook for one endpoint, keyed (EndpointID, MsgID).
type Delivery struct {
	EndpointID string `json:"endpointId"`
	MsgID      string `json:"msgId"` // the webhook-id
	Type       string `json:"type"`
	Room       string `json:"room,omitempty"`
	Body       []byte `json:"-"`
	State      State  `json:"state"`
	Attempts   int    `json:"attempts"` // every attempt ever made
	// Step counts the failures since it was last queued (enqueue, resend, recover): its place in
	// the retry schedule.
	Step          int       `json:"step"`
	NextAt        time.Time `json:"nextAt,omitzero"`
	ExpiresAt     time.Time `json:"expiresAt,omitzero"` // no attempt after this; zero = never
	CreatedAt     time.Time `json:"createdAt"`
	LastAttemptAt time.Time `json:"lastAttemptAt,omitzero"`
	DeliveredAt   time.Time `json:"deliveredAt,omitzero"`
	LastStatus    int       `json:"lastStatus,omitempty"` // HTTP status of the last attempt; 0 = none
	LastError     string    `json:"lastError,omitempty"`
}

// Claim is a due delivery leased to one dispatcher, with its endpoint as it is now (so a rotation
// or URL change applies to the next attempt). Token proves the lease in Complete and Release.
type Claim struct {
	Delivery
	Endpoint Endpoint
	Token    string
}

// Outcome is the result of handling a claim.
type Outcome struct {
	EndpointID, MsgID, Token string
	State                    State     // delivered, failed (retry at NextAt) or dead
	NextAt                   time.Time // for failed
	At                       time.Time
	Attempted                bool // a request was made (false: expired before any)
	Status                   int
	Err                      string
	// Disable, when set, disables the endpoint with this reason in the same transaction.
	Disable string
}

// ListFilter selects deliveries to list. Zero fields select everything; Limit 0 means 100.
type ListFilter struct {
	EndpointID   string
	States       []State
	Since, Until time.Time // on CreatedAt, [Since, Until)
	Limit        int
}

// Queue is the durable delivery queue the Dispatcher works from. The SQLite implementation is
// SQLiteQueue; a JetStream one can come later (webhooks.md §3.5).
type Queue interface {
	// Enqueue adds deliveries, due at now unless NextAt is set; one already queued under the same
	// (EndpointID, MsgID) is left alone, so enqueuing an event twice sends it once. It returns how
	// many were new.
	Enqueue(ctx context.Context, now time.Time, ds ...Delivery) (int, error)
	// Claim leases up to limit deliveries due at now (pending or failed, endpoint enabled, lease
	// free) until now+lease.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Claim, error)
	// Complete records an outcome, if the lease is still the caller's.
	Complete(ctx context.Context, o Outcome) error
	// Release gives a claim back untouched (the dispatcher is stopping).
	Release(ctx context.Context, endpointID, msgID, token string) error
	// NextDue is when the earliest delivery becomes claimable; false when none waits.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Deliveries lists deliveries, newest first.
	Deliveries(ctx context.Context, f ListFilter) ([]Delivery, error)
	// Resend queues one delivery again, in any state, from the start of the schedule.
	Resend(ctx context.Context, endpointID, msgID string, now time.Time) error
	// Recover queues again an endpoint's dead deliveries created in [since, until).
	Recover(ctx context.Context, endpointID string, since, until, now time.Time) (int, error)
}

// Endpoints is the endpoint registry the API manages (SQLiteQueue implements it beside Queue).
type Endpoints interface {
	CreateEndpoint(ctx context.Context, ep Endpoint) error
	Endpoint(ctx context.Context, id string) (Endpoint, error)
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
	// UpdateEndpoint replaces URL, description and filter.
	UpdateEndpoint(ctx context.Context, ep Endpoint, now time.Time) error
	// SetEnabled enables (clearing reason and failure clock) or disables an endpoint.
	SetEnabled(ctx context.Context, id string, enabled bool, reason string, now time.Time) error
	// RotateSecret installs secret (NewSecret's) and keeps the current one signing for RotationOverlap.
	RotateSecret(ctx context.Context, id, secret string, now time.Time) error
	// DeleteEndpoint removes an endpoint and its deliveries.
	DeleteEndpoint(ctx context.Context, id string) error
}

func validStates(states []State) error {
	for _, s := range states {
		switch s {
		case StatePending, StateDelivered, StateFailed, StateDead:
		default:
			return fmt.Errorf("webhook: unknown state %q (want %s)", s, strings.Join([]string{
				string(StatePending), string(StateDelivered), string(StateFailed), string(StateDead)}, ", "))
		}
	}
	return nil
}
