package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the Service's endpoint operations that are the caller's fault (the API answers 400).
// A refused address is ErrForbiddenAddress.
var (
	ErrBadURL    = errors.New("webhook: bad url")
	ErrBadFilter = errors.New("webhook: bad filter")
)

// DefaultRetention is how long delivered and dead deliveries are kept (listable, resendable).
const DefaultRetention = 7 * 24 * time.Hour

const pruneInterval = time.Hour

// Options configures a Service.
type Options struct {
	// Path is the queue's file (webhooks.db in the data directory); "" keeps it in memory.
	Path string
	// Dispatcher configures delivery; its Queue is the service's. Its Guard also checks the URLs
	// of endpoints created and changed. A zero Lease is Timeout plus Timeout (at least 5 s): after
	// a crash, the deliveries that were in flight wait that long.
	Dispatcher DispatcherOptions
	// Follower tunes the follower; its Queue, Log and Queued are the service's.
	Follower FollowerOptions
	// Retention prunes delivered and dead deliveries created longer ago; 0 = DefaultRetention,
	// < 0 keeps them.
	Retention time.Duration
}

// Service is the webhook side of a server: the queue in webhooks.db, the Dispatcher, the Follower
// of the event log, pruning, and the endpoint operations of the /v1/webhooks API. Its owner opens
// it, calls Follow with the event log, runs Run in a goroutine it waits for, and closes it.
type Service struct {
	Queue      *SQLiteQueue
	Dispatcher *Dispatcher
	guard      Guard
	clock      Clock
	log        *slog.Logger
	retention  time.Duration
	fo         FollowerOptions
	follower   atomic.Pointer[Follower] // set by Follow; read on every commit (Notify)
}

// Open opens the queue and builds the dispatcher.
func Open(ctx context.Context, o Options) (*Service, error) {
	q, err := OpenSQLite(ctx, o.Path)
	if err != nil {
		return nil, err
	}
	do := o.Dispatcher
	do.Queue = q
	if do.Timeout <= 0 {
		do.Timeout = DefaultTimeout
	}
	if do.Lease <= 0 {
		do.Lease = do.Timeout + max(do.Timeout, 5*time.Second)
	}
	if do.Clock == nil {
		do.Clock = SystemClock{}
	}
	if do.Logger == nil {
		do.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := NewDispatcher(do)
	if err != nil {
		q.Close()
		return nil, err
	}
	ret := o.Retention
	if ret == 0 {
		ret = DefaultRetention
	}
	return &Service{Queue: q, Dispatcher: d, guard: do.Guard, clock: do.Clock, log: do.Logger, retention: ret, fo: o.Follower}, nil
}

// Close closes the queue. Run must have returned.
func (s *Service) Close() error { return s.Queue.Close() }

// Guard is the SSRF guard of the service's requests.
func (s *Service) Guard() Guard { return s.guard }

// Follow makes the service follow the event log and settles where it starts (Follower.Start),
// before it returns: nothing the log commits afterwards is missed. Call it once, before Run.
func (s *Service) Follow(ctx context.Context, log Log) error {
	fo := s.fo
	fo.Queue, fo.Log, fo.Queued = s.Queue, log, s.Dispatcher.Notify
	if fo.Clock == nil {
		fo.Clock = s.clock
	}
	if fo.Logger == nil {
		fo.Logger = s.log
	}
	f, err := NewFollower(fo)
	if err != nil {
		return err
	}
	if err := f.Start(ctx); err != nil {
		return err
	}
	s.follower.Store(f)
	return nil
}

// Notify is the live nudge: events were committed (the store's Deliver calls it). It only wakes
// the follower, which reads what is new from the log; it never blocks.
func (s *Service) Notify() {
	if f := s.follower.Load(); f != nil {
		f.Notify()
	}
}

// Cursor is how far the follower has read the event log (0 before Follow).
func (s *Service) Cursor() int64 {
	if f := s.follower.Load(); f != nil {
		return f.Cursor()
	}
	return 0
}

// Run delivers, follows the log (after Follow; it first catches up from its cursor) and prunes
// until ctx ends, and returns once all of them have stopped (in-flight attempts are cancelled and
// their deliveries released).
func (s *Service) Run(ctx context.Context) error {
	f := s.follower.Load()
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Dispatcher.Run(ctx) })
	if f != nil {
		wg.Go(func() { _ = f.Run(ctx) })
	}
	if s.retention > 0 {
		wg.Go(func() { s.prune(ctx) })
	}
	wg.Wait()
	return nil
}

func (s *Service) prune(ctx context.Context) {
	for {
		if n, err := s.Queue.Prune(ctx, s.clock.Now().Add(-s.retention)); err != nil && ctx.Err() == nil {
			s.log.Warn("webhooks: pruning old deliveries failed", "err", err)
		} else if n > 0 {
			s.log.Info("webhooks: pruned old deliveries", "deliveries", n, "retention", s.retention)
		}
		t := s.clock.NewTimer(pruneInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// EndpointStatus is an endpoint with its queue and this process's counters.
type EndpointStatus struct {
	Endpoint
	Queue QueueCounts   `json:"queue"`
	Stats EndpointStats `json:"stats"`
}

// Status returns every endpoint with its queue and counters, oldest first.
func (s *Service) Status(ctx context.Context) ([]EndpointStatus, error) {
	eps, err := s.Queue.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := s.Queue.Counts(ctx)
	if err != nil {
		return nil, err
	}
	stats := s.Dispatcher.Stats()
	out := make([]EndpointStatus, 0, len(eps))
	for _, ep := range eps {
		out = append(out, EndpointStatus{Endpoint: ep, Queue: counts[ep.ID], Stats: stats[ep.ID]})
	}
	return out, nil
}

// EndpointStatus returns one endpoint with its queue and counters.
func (s *Service) EndpointStatus(ctx context.Context, id string) (EndpointStatus, error) {
	ep, err := s.Queue.Endpoint(ctx, id)
	if err != nil {
		return EndpointStatus{}, err
	}
	counts, err := s.Queue.Counts(ctx)
	if err != nil {
		return EndpointStatus{}, err
	}
	return EndpointStatus{Endpoint: ep, Queue: counts[id], Stats: s.Dispatcher.Stats()[id]}, nil
}

// checkURL is the guard's check with the error classified for the API.
func (s *Service) checkURL(raw string) error {
	if _, err := s.guard.CheckURL(raw); err != nil {
		if errors.Is(err, ErrForbiddenAddress) {
			return err
		}
		return fmt.Errorf("%w: %s", ErrBadURL, strings.TrimPrefix(err.Error(), "webhook: "))
	}
	return nil
}

func checkFilter(f Filter) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %s", ErrBadFilter, strings.TrimPrefix(err.Error(), "webhook: "))
	}
	return nil
}

// Create adds an endpoint. The one returned carries its secret: the only time it is shown.
func (s *Service) Create(ctx context.Context, rawURL, description string, f Filter) (Endpoint, error) {
	if err := s.checkURL(rawURL); err != nil {
		return Endpoint{}, err
	}
	if err := checkFilter(f); err != nil {
		return Endpoint{}, err
	}
	ep, err := NewEndpoint(rawURL, f, s.guard, s.clock.Now())
	if err != nil {
		return Endpoint{}, err
	}
	ep.Description = description
	if err := s.Queue.CreateEndpoint(ctx, ep); err != nil {
		return Endpoint{}, err
	}
	return ep, nil
}

// Patch is a change to an endpoint; nil fields stay as they are.
type Patch struct {
	URL         *string
	Description *string
	Filter      *Filter
	// Enabled re-enables an endpoint (clearing why it was disabled and its failure clock; its
	// waiting deliveries go out again) or disables it.
	Enabled *bool
}

// Update applies a patch and returns the endpoint as it is now.
func (s *Service) Update(ctx context.Context, id string, p Patch) (Endpoint, error) {
	ep, err := s.Queue.Endpoint(ctx, id)
	if err != nil {
		return Endpoint{}, err
	}
	if p.URL != nil {
		if err := s.checkURL(*p.URL); err != nil {
			return Endpoint{}, err
		}
		ep.URL = *p.URL
	}
	if p.Filter != nil {
		if err := checkFilter(*p.Filter); err != nil {
			return Endpoint{}, err
		}
		ep.Filter = *p.Filter
	}
	if p.Description != nil {
		ep.Description = *p.Description
	}
	now := s.clock.Now()
	if p.URL != nil || p.Filter != nil || p.Description != nil {
		if err := s.Queue.UpdateEndpoint(ctx, ep, now); err != nil {
			return Endpoint{}, err
		}
	}
	if p.Enabled != nil && *p.Enabled == ep.Disabled {
		if err := s.Queue.SetEnabled(ctx, id, *p.Enabled, "disabled through the API", now); err != nil {
			return Endpoint{}, err
		}
		if *p.Enabled {
			s.Dispatcher.Notify()
		}
	}
	return s.Queue.Endpoint(ctx, id)
}

// Delete removes an endpoint and its deliveries.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.Queue.DeleteEndpoint(ctx, id)
}

// Rotate gives an endpoint a new secret; the previous one keeps signing beside it for
// RotationOverlap. The endpoint returned carries the new secret: the only time it is shown.
func (s *Service) Rotate(ctx context.Context, id string) (Endpoint, error) {
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	if err := s.Queue.RotateSecret(ctx, id, secret, s.clock.Now()); err != nil {
		return Endpoint{}, err
	}
	return s.Queue.Endpoint(ctx, id)
}

// Test sends a webhook.test to an endpoint now, outside the queue, and returns what it got.
func (s *Service) Test(ctx context.Context, id string) (Payload, Result, error) {
	ep, err := s.Queue.Endpoint(ctx, id)
	if err != nil {
		return Payload{}, Result{}, err
	}
	p, err := TestPayload(id, s.clock.Now())
	if err != nil {
		return Payload{}, Result{}, err
	}
	return p, s.Dispatcher.Send(ctx, ep, p.ID, p.Body), nil
}

// Deliveries lists an endpoint's deliveries, newest first; ErrNotFound for an unknown endpoint.
func (s *Service) Deliveries(ctx context.Context, id string, states []State, limit int) ([]Delivery, error) {
	if _, err := s.Queue.Endpoint(ctx, id); err != nil {
		return nil, err
	}
	return s.Queue.Deliveries(ctx, ListFilter{EndpointID: id, States: states, Limit: limit})
}

// Resend queues one delivery again from the start of the schedule and returns it.
func (s *Service) Resend(ctx context.Context, id, msgID string) (Delivery, error) {
	if err := s.Queue.Resend(ctx, id, msgID, s.clock.Now()); err != nil {
		return Delivery{}, err
	}
	s.Dispatcher.Notify()
	return s.Queue.Delivery(ctx, id, msgID)
}

// Recover queues again an endpoint's dead deliveries created in [since, until).
func (s *Service) Recover(ctx context.Context, id string, since, until time.Time) (int, error) {
	if _, err := s.Queue.Endpoint(ctx, id); err != nil {
		return 0, err
	}
	n, err := s.Queue.Recover(ctx, id, since, until, s.clock.Now())
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.Dispatcher.Notify()
	}
	return n, nil
}
