package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// The /v1/webhooks routes: endpoint management over webhook.Service. All are admin routes: an
// endpoint's URL may carry the receiver's own token, and a webhook is the server calling out.

// Bounds of what an endpoint is given.
const (
	maxWebhookURL         = 2048
	maxWebhookDescription = 500
	maxWebhookDeliveries  = 1000
)

// webhookIn is the body of POST /v1/webhooks (url required) and of PATCH /v1/webhooks/{id}
// (every field optional).
type webhookIn struct {
	URL         *string         `json:"url"`
	Description *string         `json:"description"`
	Filter      *webhook.Filter `json:"filter"`
	Enabled     *bool           `json:"enabled"`
}

// webhookView is an endpoint as the API shows it. Secret is set only in the answers to create and
// rotate: the one time it is shown.
type webhookView struct {
	webhook.EndpointStatus
	Secret string `json:"secret,omitempty"`
}

func (s *Server) needWebhooks(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Webhooks == nil {
			msg := "this server runs without webhooks"
			if s.cfg.Cluster != nil {
				msg = "this node has no webhooks role (--role ...,webhooks, one node of the cluster)"
				if n := s.cfg.Cluster.WebhooksNode(r.Context()); n != "" {
					msg += "; node " + n + " sends the webhooks: manage them there"
				}
			}
			writeError(w, http.StatusServiceUnavailable, "no_webhooks", msg)
			return
		}
		h(w, r)
	}
}

// decodeBody reads one JSON object into v, refusing unknown fields (a typo must not be ignored);
// on a bad body it answers and returns false. An empty body is {} when empty is allowed.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, example string, emptyOK bool) bool {
	b, ok := requestBody(w, r)
	if !ok {
		return false
	}
	if emptyOK && len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_body", fmt.Sprintf("the body must be a JSON object like %s: %v", example, err))
		return false
	}
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		writeError(w, http.StatusBadRequest, "bad_body", "the body must be one JSON object, with nothing after it")
		return false
	}
	return true
}

const webhookExample = `{"url":"https://example.com/hook","filter":{"types":["room.gift"],"giftMinDiamonds":100}}`

func (in *webhookIn) check(w http.ResponseWriter) bool {
	switch {
	case in.URL != nil && len(*in.URL) > maxWebhookURL:
		writeError(w, http.StatusBadRequest, "bad_url", fmt.Sprintf("the url is over %d bytes", maxWebhookURL))
		return false
	case in.Description != nil && len(*in.Description) > maxWebhookDescription:
		writeError(w, http.StatusBadRequest, "bad_body", fmt.Sprintf("the description is over %d bytes", maxWebhookDescription))
		return false
	}
	return true
}

// webhookError answers an error of a webhook operation.
func (s *Server) webhookError(w http.ResponseWriter, err error) {
	var code, msg string
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		status, code, msg = http.StatusNotFound, "not_found", strings.TrimPrefix(err.Error(), "webhook: not found: ")+" does not exist"
	case errors.Is(err, webhook.ErrForbiddenAddress):
		code = "forbidden_address"
		msg = strings.TrimPrefix(err.Error(), "webhook: forbidden address: ") + ": webhooks to loopback, private, link-local, " +
			"metadata and other non-public addresses are refused (SSRF protection); a server whose receivers are on its own " +
			"machine or network runs with --webhooks-allow-private"
	case errors.Is(err, webhook.ErrBadURL):
		code, msg = "bad_url", strings.TrimPrefix(err.Error(), "webhook: bad url: ")
	case errors.Is(err, webhook.ErrBadFilter):
		code, msg = "bad_filter", strings.TrimPrefix(err.Error(), "webhook: bad filter: ")
	default:
		s.log.Error("webhooks: operation failed", "err", err)
		status, code, msg = http.StatusInternalServerError, "internal", "the webhook store failed; see the server log"
	}
	writeError(w, status, code, msg)
}

func (s *Server) webhookStatus(w http.ResponseWriter, r *http.Request, id string) (webhook.EndpointStatus, bool) {
	st, err := s.cfg.Webhooks.EndpointStatus(r.Context(), id)
	if err != nil {
		s.webhookError(w, err)
		return st, false
	}
	return st, true
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhookIn
	if !decodeBody(w, r, &in, webhookExample, false) || !in.check(w) {
		return
	}
	if in.URL == nil || *in.URL == "" {
		writeError(w, http.StatusBadRequest, "bad_url", "url is required: the receiver's http or https URL")
		return
	}
	var f webhook.Filter
	if in.Filter != nil {
		f = *in.Filter
	}
	var desc string
	if in.Description != nil {
		desc = *in.Description
	}
	wh := s.cfg.Webhooks
	ep, err := wh.Create(r.Context(), *in.URL, desc, f)
	if err != nil {
		s.webhookError(w, err)
		return
	}
	if in.Enabled != nil && !*in.Enabled {
		if _, err := wh.Update(r.Context(), ep.ID, webhook.Patch{Enabled: in.Enabled}); err != nil {
			s.webhookError(w, err)
			return
		}
	}
	st, ok := s.webhookStatus(w, r, ep.ID)
	if !ok {
		return
	}
	w.Header().Set("Location", "/v1/webhooks/"+ep.ID)
	writeJSON(w, http.StatusCreated, webhookView{EndpointStatus: st, Secret: ep.Secret})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Webhooks.Status(r.Context())
	if err != nil {
		s.webhookError(w, err)
		return
	}
	out := make([]webhookView, 0, len(list))
	for _, st := range list {
		out = append(out, webhookView{EndpointStatus: st})
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.webhookStatus(w, r, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, webhookView{EndpointStatus: st})
	}
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhookIn
	if !decodeBody(w, r, &in, webhookExample, false) || !in.check(w) {
		return
	}
	id := r.PathValue("id")
	if _, err := s.cfg.Webhooks.Update(r.Context(), id, webhook.Patch{URL: in.URL, Description: in.Description, Filter: in.Filter, Enabled: in.Enabled}); err != nil {
		s.webhookError(w, err)
		return
	}
	s.getWebhook(w, r)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.cfg.Webhooks.Delete(r.Context(), id); err != nil {
		s.webhookError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "id": id})
}

func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request) {
	ep, err := s.cfg.Webhooks.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		s.webhookError(w, err)
		return
	}
	if st, ok := s.webhookStatus(w, r, ep.ID); ok {
		writeJSON(w, http.StatusOK, webhookView{EndpointStatus: st, Secret: ep.Secret})
	}
}

// testResult is the answer of POST /v1/webhooks/{id}/test: what the receiver answered.
type testResult struct {
	Success   bool    `json:"success"` // the receiver answered 2xx
	MsgID     string  `json:"msgId"`
	Status    int     `json:"status"` // 0: no answer
	LatencyMs float64 `json:"latencyMs"`
	Error     string  `json:"error,omitempty"`
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) {
	p, res, err := s.cfg.Webhooks.Test(r.Context(), r.PathValue("id"))
	if err != nil {
		s.webhookError(w, err)
		return
	}
	out := testResult{Success: res.OK(), MsgID: p.ID, Status: res.Status, LatencyMs: float64(res.Latency.Microseconds()) / 1000}
	switch {
	case res.Err != nil:
		out.Error = res.Err.Error()
	case !res.OK():
		out.Error = fmt.Sprintf("HTTP %d %s", res.Status, http.StatusText(res.Status))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var states []webhook.State
	for v := range strings.SplitSeq(q.Get("status"), ",") {
		switch v = strings.TrimSpace(v); v {
		case "":
		case string(webhook.StatePending), string(webhook.StateDelivered), string(webhook.StateFailed), string(webhook.StateDead):
			states = append(states, webhook.State(v))
		default:
			writeError(w, http.StatusBadRequest, "bad_status", fmt.Sprintf("status %q: want pending, delivered, failed (retrying) or dead (given up), comma separated", clip(v)))
			return
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWebhookDeliveries {
			writeError(w, http.StatusBadRequest, "bad_limit", fmt.Sprintf("limit must be 1 to %d", maxWebhookDeliveries))
			return
		}
		limit = n
	}
	ds, err := s.cfg.Webhooks.Deliveries(r.Context(), r.PathValue("id"), states, limit)
	if err != nil {
		s.webhookError(w, err)
		return
	}
	if ds == nil {
		ds = []webhook.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

func (s *Server) resendWebhook(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.Webhooks.Resend(r.Context(), r.PathValue("id"), r.PathValue("did"))
	if err != nil {
		s.webhookError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, d)
}

// recoverIn is the body of POST /v1/webhooks/{id}/recover: the window of dead deliveries (by
// when they were queued) to queue again.
type recoverIn struct {
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until"` // default now
}

func (s *Server) recoverWebhook(w http.ResponseWriter, r *http.Request) {
	var in recoverIn
	if !decodeBody(w, r, &in, `{"since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z"}`, false) {
		return
	}
	until := time.Now()
	if in.Until != nil {
		until = *in.Until
	}
	if in.Since.IsZero() || !in.Since.Before(until) {
		writeError(w, http.StatusBadRequest, "bad_window", "since (required) must be before until (default now), both RFC 3339 times")
		return
	}
	n, err := s.cfg.Webhooks.Recover(r.Context(), r.PathValue("id"), in.Since, until)
	if err != nil {
		s.webhookError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"success": true, "recovered": n})
}
