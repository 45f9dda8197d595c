package httpapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// collector reads the figures the rooms, streams and hub keep anyway, at scrape time, so the hot
// path pays nothing for metrics.
type collector struct {
	rooms *room.Manager // this node's supervisors and streams
	view  Rooms         // every room (the cluster's in cluster mode)
	hub   *hub.Hub

	events, duplicates, streakTimeouts, reconnects, roomState, roomOwner *prometheus.Desc
	signCalls, signLimited, signFailed, quotaLeft                        *prometheus.Desc
	clients, published, deliveries, slowCloses, queuedBytes, queuedMs    *prometheus.Desc
	undelivered                                                          *prometheus.Desc
	store                                                                *store.Store
	storePending, storeStored, storeUnstored, storeShed, storeErrors     *prometheus.Desc
	storeBatches, storeCommit, storeBehind                               *prometheus.Desc
}

const ns = "tiktok_live"

func newRegistry(rooms *room.Manager, view Rooms, h *hub.Hub, st *store.Store, wh *webhook.Service) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
	}
	reg.MustRegister(&collector{
		rooms: rooms, view: view, hub: h,
		events:         d("events_total", "Events published, by room and type.", "room", "type"),
		duplicates:     d("duplicates_dropped_total", "TikTok messages dropped as already delivered (by msgId).", "room"),
		streakTimeouts: d("streaks_timed_out_total", "Gift streaks finalised by the timeout because TikTok never sent their end.", "room"),
		reconnects:     d("reconnects_total", "Upstream connections that dropped and were retried.", "room"),
		roomState:      d("room_state", "1 for the state each room is in.", "room", "state"),
		roomOwner:      d("room_owner", "Cluster mode: 1 for the node that owns each room.", "room", "node"),
		signCalls:      d("sign_calls_total", "Calls to the sign server."),
		signLimited:    d("sign_rate_limited_total", "Sign calls answered 429."),
		signFailed:     d("sign_failures_total", "Sign calls that failed otherwise."),
		quotaLeft:      d("sign_quota_remaining", "Sign calls left in the shared budget (-1 = unlimited)."),
		clients:        d("clients", "Stream clients connected, by transport.", "transport"),
		published:      d("hub_published_total", "Events handed to the hub."),
		deliveries:     d("deliveries_total", "Events queued for clients (one per client per event)."),
		slowCloses:     d("slow_client_closes_total", "Clients closed for falling behind, by reason: queue_full (close 4001) or write_timeout (4002, and SSE writes past --client-write-timeout). Clients that disconnect, even in the middle of a write, are not counted.", "reason"),
		queuedBytes:    d("queue_bytes", "Bytes waiting in client queues."),
		undelivered:    d("undelivered_total", "Events dropped from the queues of clients that were closed or left before receiving them."),
		queuedMs:       d("queue_messages", "Events waiting in client queues."),
		store:          st,
		storePending:   d("store_pending", "Events waiting for the event log's writer; delivery waits for the commit."),
		storeStored:    d("store_stored_total", "Events committed to the event log."),
		storeUnstored:  d("store_unstored_total", "Events delivered without being stored: the writer was over --store-queue behind, or a commit failed."),
		storeShed:      d("store_shed_total", "Events dropped because the writer was twice --store-queue behind."),
		storeErrors:    d("store_commit_errors_total", "Failed commits of the event log."),
		storeBatches:   d("store_commits_total", "Commits of the event log (one per batch)."),
		storeCommit:    d("store_last_commit_seconds", "Duration of the last commit."),
		storeBehind:    d("store_behind", "1 while the writer is over --store-queue behind."),
	}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if wh != nil {
		reg.MustRegister(&webhookCollector{
			wh: wh, store: st,
			deliveries:  d("webhook_deliveries_total", "Webhook outcomes per endpoint since the server started: delivered (answered 2xx), failed (an attempt without a 2xx; retried unless dead follows), dead (given up: a dead letter).", "endpoint", "outcome"),
			attempts:    d("webhook_attempts_total", "Webhook requests made per endpoint since the server started (tests included).", "endpoint"),
			queued:      d("webhook_queue", "Webhook deliveries per endpoint not delivered, by state: pending (first attempt due), failed (retry scheduled), dead (dead letters kept).", "endpoint", "state"),
			inFlight:    d("webhook_in_flight", "Webhook requests in flight per endpoint.", "endpoint"),
			lastSuccess: d("webhook_last_success_timestamp_seconds", "Unix time of the endpoint's last 2xx (absent before the first).", "endpoint"),
			enabled:     d("webhook_endpoint_enabled", "1 while the endpoint is enabled, 0 once disabled (410 Gone, days of failures, or the API).", "endpoint"),
			lag:         d("webhook_log_lag_events", "Committed events the webhook follower has not read yet."),
		})
	}
	return reg
}

// webhookCollector reads the webhook endpoints' figures at scrape time: the queue's counts from
// webhooks.db, the dispatcher's counters, the follower's cursor. Labels are endpoint ids, never
// URLs (a URL may hold the receiver's token) and never secrets.
type webhookCollector struct {
	wh                                                                *webhook.Service
	store                                                             *store.Store
	deliveries, attempts, queued, inFlight, lastSuccess, enabled, lag *prometheus.Desc
}

func (c *webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.deliveries, c.attempts, c.queued, c.inFlight, c.lastSuccess, c.enabled, c.lag} {
		ch <- d
	}
}

func (c *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	list, err := c.wh.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.queued, err)
		return
	}
	for _, st := range list {
		id := st.ID
		metric(c.deliveries, prometheus.CounterValue, float64(st.Stats.Delivered), id, "delivered")
		metric(c.deliveries, prometheus.CounterValue, float64(st.Stats.Failures), id, "failed")
		metric(c.deliveries, prometheus.CounterValue, float64(st.Stats.Dead), id, "dead")
		metric(c.attempts, prometheus.CounterValue, float64(st.Stats.Attempts), id)
		metric(c.queued, prometheus.GaugeValue, float64(st.Queue.Pending), id, "pending")
		metric(c.queued, prometheus.GaugeValue, float64(st.Queue.Failed), id, "failed")
		metric(c.queued, prometheus.GaugeValue, float64(st.Queue.Dead), id, "dead")
		metric(c.inFlight, prometheus.GaugeValue, float64(st.Stats.InFlight), id)
		if !st.LastDeliveredAt.IsZero() {
			metric(c.lastSuccess, prometheus.GaugeValue, float64(st.LastDeliveredAt.UnixMilli())/1000, id)
		}
		on := 1.0
		if st.Disabled {
			on = 0
		}
		metric(c.enabled, prometheus.GaugeValue, on, id)
	}
	if c.store != nil {
		if last, err := c.store.LastCursor(ctx); err == nil {
			metric(c.lag, prometheus.GaugeValue, float64(max(last-c.wh.Cursor(), 0)))
		}
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.duplicates, c.streakTimeouts, c.reconnects, c.roomState,
		c.signCalls, c.signLimited, c.signFailed, c.quotaLeft, c.clients, c.published, c.deliveries, c.slowCloses,
		c.queuedBytes, c.queuedMs, c.undelivered, c.storePending, c.storeStored, c.storeUnstored, c.storeShed,
		c.storeErrors, c.storeBatches, c.storeCommit, c.storeBehind} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range c.rooms.Streams() {
		for typ, n := range s.EventCounts {
			counter(c.events, float64(n), s.Username, typ)
		}
		counter(c.duplicates, float64(s.Counters.DuplicatesDropped), s.Username)
		counter(c.streakTimeouts, float64(s.Counters.StreaksTimedOut), s.Username)
	}
	for _, st := range c.view.List() {
		counter(c.reconnects, float64(st.Reconnects), st.Username)
		gauge(c.roomState, 1, st.Username, string(st.State))
		if st.Owner != "" {
			gauge(c.roomOwner, 1, st.Username, st.Owner)
		}
	}
	calls, limited, failed := c.rooms.SignStats()
	counter(c.signCalls, float64(calls))
	counter(c.signLimited, float64(limited))
	counter(c.signFailed, float64(failed))
	gauge(c.quotaLeft, c.rooms.Quota().Remaining())
	hs := c.hub.Stats()
	for _, t := range []string{transportLegacy, transportWS, transportSSE} {
		gauge(c.clients, float64(hs.ByTransport[t]), t)
	}
	counter(c.published, float64(hs.Published))
	counter(c.deliveries, float64(hs.Enqueued))
	counter(c.slowCloses, float64(hs.SlowCloses), "queue_full")
	counter(c.slowCloses, float64(hs.TimeoutCloses), "write_timeout")
	counter(c.undelivered, float64(hs.Dropped))
	gauge(c.queuedBytes, float64(hs.QueuedBytes))
	gauge(c.queuedMs, float64(hs.QueuedMessages))
	if c.store != nil {
		ss := c.store.Stats()
		gauge(c.storePending, float64(ss.Pending))
		counter(c.storeStored, float64(ss.Stored))
		counter(c.storeUnstored, float64(ss.Unstored))
		counter(c.storeShed, float64(ss.Shed))
		counter(c.storeErrors, float64(ss.Errors))
		counter(c.storeBatches, float64(ss.Batches))
		gauge(c.storeCommit, ss.LastCommit.Seconds())
		behind := 0.0
		if ss.Behind {
			behind = 1
		}
		gauge(c.storeBehind, behind)
	}
}
