package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// collector reads the figures the rooms, streams and hub keep anyway, at scrape time, so the hot
// path pays nothing for metrics.
type collector struct {
	rooms *room.Manager
	hub   *hub.Hub

	events, duplicates, streakTimeouts, reconnects, roomState         *prometheus.Desc
	signCalls, signLimited, signFailed, quotaLeft                     *prometheus.Desc
	clients, published, deliveries, slowCloses, queuedBytes, queuedMs *prometheus.Desc
	undelivered                                                       *prometheus.Desc
	store                                                             *store.Store
	storePending, storeStored, storeUnstored, storeShed, storeErrors  *prometheus.Desc
	storeBatches, storeCommit, storeBehind                            *prometheus.Desc
}

const ns = "tiktok_live"

func newRegistry(rooms *room.Manager, h *hub.Hub, st *store.Store) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
	}
	reg.MustRegister(&collector{
		rooms: rooms, hub: h,
		events:         d("events_total", "Events published, by room and type.", "room", "type"),
		duplicates:     d("duplicates_dropped_total", "TikTok messages dropped as already delivered (by msgId).", "room"),
		streakTimeouts: d("streaks_timed_out_total", "Gift streaks finalised by the timeout because TikTok never sent their end.", "room"),
		reconnects:     d("reconnects_total", "Upstream connections that dropped and were retried.", "room"),
		roomState:      d("room_state", "1 for the state each room is in.", "room", "state"),
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
	return reg
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
	for _, st := range c.rooms.List() {
		counter(c.reconnects, float64(st.Reconnects), st.Username)
		gauge(c.roomState, 1, st.Username, string(st.State))
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
