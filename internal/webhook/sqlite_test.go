package webhook

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func openQueue(t *testing.T, path string) *SQLiteQueue {
	t.Helper()
	q, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func addEndpoint(t *testing.T, q *SQLiteQueue, url string, f Filter) Endpoint {
	t.Helper()
	ep, err := NewEndpoint(url, f, Guard{AllowPrivate: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CreateEndpoint(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	return ep
}

func delivery(ep, id string) Delivery {
	return Delivery{EndpointID: ep, MsgID: id, Type: TypeGift, Room: "creator", Body: []byte(`{"id":"` + id + `"}`)}
}

func TestSQLiteQueue_Enqueue(t *testing.T) {
	q := openQueue(t, "")
	ctx := t.Context()
	a := addEndpoint(t, q, "http://a.example/", Filter{})
	b := addEndpoint(t, q, "http://b.example/", Filter{})
	n, err := q.Enqueue(ctx, t0, delivery(a.ID, "msg_1"), delivery(b.ID, "msg_1"), delivery(a.ID, "msg_2"))
	if err != nil || n != 3 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	// The same event again (a replay after a restart): nothing new.
	if n, err := q.Enqueue(ctx, t0.Add(time.Minute), delivery(a.ID, "msg_1"), delivery(b.ID, "msg_1")); err != nil || n != 0 {
		t.Fatalf("Enqueue again = %d, %v", n, err)
	}
	if n, err := q.Enqueue(ctx, t0, delivery("ep_gone", "msg_3")); err != nil || n != 0 {
		t.Fatalf("Enqueue for a deleted endpoint = %d, %v", n, err)
	}
	if _, err := q.Enqueue(ctx, t0, delivery(a.ID, "msg.dot")); err == nil {
		t.Fatal("an id with a dot was accepted")
	}
	ds, err := q.Deliveries(ctx, ListFilter{EndpointID: a.ID})
	if err != nil || len(ds) != 2 {
		t.Fatalf("Deliveries = %v, %v", ds, err)
	}
	d, err := q.Delivery(ctx, a.ID, "msg_1")
	if err != nil || d.State != StatePending || !d.NextAt.Equal(t0) || !d.CreatedAt.Equal(t0) || string(d.Body) != `{"id":"msg_1"}` || d.Type != TypeGift {
		t.Fatalf("Delivery = %+v, %v", d, err)
	}
	if _, err := q.Delivery(ctx, a.ID, "msg_9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing delivery: %v", err)
	}
}

func TestSQLiteQueue_Claim(t *testing.T) {
	q := openQueue(t, "")
	ctx := t.Context()
	a := addEndpoint(t, q, "http://a.example/", Filter{})
	later := delivery(a.ID, "msg_later")
	later.NextAt = t0.Add(time.Hour)
	if _, err := q.Enqueue(ctx, t0, delivery(a.ID, "msg_1"), delivery(a.ID, "msg_2"), later); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := q.NextDue(ctx); err != nil || !ok || !next.Equal(t0) {
		t.Fatalf("NextDue = %v %v %v", next, ok, err)
	}
	cs, err := q.Claim(ctx, t0, 10, time.Minute)
	if err != nil || len(cs) != 2 {
		t.Fatalf("Claim = %d, %v", len(cs), err)
	}
	if cs[0].Endpoint.ID != a.ID || cs[0].Endpoint.Secret != a.Secret || cs[0].Token == "" || cs[0].Token == cs[1].Token {
		t.Fatalf("claim %+v", cs[0])
	}
	// Leased: nobody else gets them until the lease ends.
	if again, _ := q.Claim(ctx, t0.Add(30*time.Second), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed %d leased deliveries", len(again))
	}
	if next, _, _ := q.NextDue(ctx); !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextDue while leased = %v, want the lease's end", next)
	}
	// A failed attempt: step and attempts count, the next attempt is scheduled.
	if err := q.Complete(ctx, Outcome{EndpointID: a.ID, MsgID: "msg_1", Token: cs[0].Token, State: StateFailed, NextAt: t0.Add(5 * time.Second),
		At: t0, Attempted: true, Status: 500, Err: "HTTP 500"}); err != nil {
		t.Fatal(err)
	}
	d, _ := q.Delivery(ctx, a.ID, "msg_1")
	if d.State != StateFailed || d.Attempts != 1 || d.Step != 1 || d.LastStatus != 500 || d.LastError != "HTTP 500" || !d.NextAt.Equal(t0.Add(5*time.Second)) || !d.LastAttemptAt.Equal(t0) {
		t.Fatalf("after failure %+v", d)
	}
	if ep, _ := q.Endpoint(ctx, a.ID); !ep.FailingSince.Equal(t0) {
		t.Fatalf("failing since %v", ep.FailingSince)
	}
	// The lease of msg_2 ran out and someone else claimed it: the old token no longer counts.
	cs2, _ := q.Claim(ctx, t0.Add(2*time.Minute), 1, time.Minute)
	if len(cs2) != 1 || cs2[0].MsgID != "msg_2" {
		t.Fatalf("re-claim %+v", cs2)
	}
	if err := q.Complete(ctx, Outcome{EndpointID: a.ID, MsgID: "msg_2", Token: cs[1].Token, State: StateDead, At: t0, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	if d, _ := q.Delivery(ctx, a.ID, "msg_2"); d.State != StatePending || d.Attempts != 0 {
		t.Fatalf("a stale outcome was recorded: %+v", d)
	}
	at := t0.Add(2 * time.Minute)
	if err := q.Complete(ctx, Outcome{EndpointID: a.ID, MsgID: "msg_2", Token: cs2[0].Token, State: StateDelivered, At: at, Attempted: true, Status: 204}); err != nil {
		t.Fatal(err)
	}
	if d, _ := q.Delivery(ctx, a.ID, "msg_2"); d.State != StateDelivered || !d.DeliveredAt.Equal(at) || d.Attempts != 1 || d.LastError != "" {
		t.Fatalf("delivered %+v", d)
	}
	if ep, _ := q.Endpoint(ctx, a.ID); !ep.FailingSince.IsZero() {
		t.Fatalf("a success left failing since %v", ep.FailingSince)
	}
	// Release gives a claim back as it was.
	cs3, _ := q.Claim(ctx, t0.Add(time.Hour), 10, time.Minute)
	if len(cs3) != 2 {
		t.Fatalf("claimed %d", len(cs3))
	}
	for _, c := range cs3 {
		if err := q.Release(ctx, c.EndpointID, c.MsgID, c.Token); err != nil {
			t.Fatal(err)
		}
	}
	if cs4, _ := q.Claim(ctx, t0.Add(time.Hour), 10, time.Minute); len(cs4) != 2 {
		t.Fatalf("after release claimed %d", len(cs4))
	}
}

func TestSQLiteQueue_Disable(t *testing.T) {
	q := openQueue(t, "")
	ctx := t.Context()
	a := addEndpoint(t, q, "http://a.example/", Filter{})
	q.Enqueue(ctx, t0, delivery(a.ID, "msg_1"), delivery(a.ID, "msg_2"))
	cs, _ := q.Claim(ctx, t0, 1, time.Minute)
	if err := q.Complete(ctx, Outcome{EndpointID: a.ID, MsgID: cs[0].MsgID, Token: cs[0].Token, State: StateDead, At: t0, Attempted: true,
		Status: 410, Disable: "410 Gone"}); err != nil {
		t.Fatal(err)
	}
	ep, _ := q.Endpoint(ctx, a.ID)
	if !ep.Disabled || ep.DisabledReason != "410 Gone" || !ep.DisabledAt.Equal(t0) {
		t.Fatalf("endpoint %+v", ep)
	}
	// The endpoint's other deliveries wait, untouched, until it is enabled again.
	if cs, _ := q.Claim(ctx, t0.Add(time.Hour), 10, time.Minute); len(cs) != 0 {
		t.Fatalf("claimed %d of a disabled endpoint", len(cs))
	}
	if _, ok, _ := q.NextDue(ctx); ok {
		t.Fatal("NextDue counts a disabled endpoint")
	}
	if err := q.SetEnabled(ctx, a.ID, true, "", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ep, _ := q.Endpoint(ctx, a.ID); ep.Disabled || ep.DisabledReason != "" {
		t.Fatalf("enabled %+v", ep)
	}
	if cs, _ := q.Claim(ctx, t0.Add(time.Hour), 10, time.Minute); len(cs) != 1 {
		t.Fatalf("claimed %d after enabling", len(cs))
	}
}

func TestSQLiteQueue_ResendRecover(t *testing.T) {
	q := openQueue(t, "")
	ctx := t.Context()
	a := addEndpoint(t, q, "http://a.example/", Filter{})
	for i, id := range []string{"msg_1", "msg_2", "msg_3"} {
		d := delivery(a.ID, id)
		d.ExpiresAt = t0.Add(time.Hour)
		q.Enqueue(ctx, t0.Add(time.Duration(i)*time.Minute), d)
	}
	cs, _ := q.Claim(ctx, t0.Add(time.Hour), 10, time.Minute)
	for _, c := range cs {
		q.Complete(ctx, Outcome{EndpointID: c.EndpointID, MsgID: c.MsgID, Token: c.Token, State: StateDead, At: t0, Attempted: true})
	}
	dead, err := q.Deliveries(ctx, ListFilter{EndpointID: a.ID, States: []State{StateDead}})
	if err != nil || len(dead) != 3 || dead[0].MsgID != "msg_3" {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
	// Recover the window [t0+1m, t0+2m): msg_2 only.
	n, err := q.Recover(ctx, a.ID, t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	if d, _ := q.Delivery(ctx, a.ID, "msg_2"); d.State != StatePending || d.Step != 0 || !d.ExpiresAt.IsZero() || !d.NextAt.Equal(t0.Add(2*time.Hour)) || d.Attempts != 1 {
		t.Fatalf("recovered %+v", d)
	}
	if err := q.Resend(ctx, a.ID, "msg_3", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d, _ := q.Delivery(ctx, a.ID, "msg_3"); d.State != StatePending || !d.NextAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("resent %+v", d)
	}
	if err := q.Resend(ctx, a.ID, "msg_9", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resend unknown = %v", err)
	}
	if _, err := q.Deliveries(ctx, ListFilter{States: []State{"lost"}}); err == nil {
		t.Fatal("an unknown state was accepted")
	}
	if ds, _ := q.Deliveries(ctx, ListFilter{Since: t0.Add(time.Minute), Limit: 1}); len(ds) != 1 || ds[0].MsgID != "msg_3" {
		t.Fatalf("since+limit %v", ds)
	}
	// Prune: dead and delivered older than the cut go, with their messages.
	if n, err := q.Prune(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	var msgs int
	q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_messages`).Scan(&msgs)
	if msgs != 2 {
		t.Fatalf("%d messages left, want 2", msgs)
	}
}

func TestSQLiteQueue_Endpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	q := openQueue(t, path)
	ctx := t.Context()
	a := addEndpoint(t, q, "http://a.example/", Filter{Rooms: []string{"creator"}, GiftMinDiamonds: 100})
	b := addEndpoint(t, q, "http://b.example/", Filter{})
	q.Enqueue(ctx, t0, delivery(a.ID, "msg_1"), delivery(b.ID, "msg_1"), delivery(b.ID, "msg_2"))

	a.URL, a.Description, a.Filter = "https://a2.example/hook", "ops", Filter{Types: []string{TypeLiveStarted}}
	if err := q.UpdateEndpoint(ctx, a, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	newSecret, _ := NewSecret()
	if err := q.RotateSecret(ctx, a.ID, newSecret, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.RotateSecret(ctx, a.ID, "whsec_short", t0); err == nil {
		t.Fatal("a short secret was accepted")
	}
	if err := q.DeleteEndpoint(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{q.DeleteEndpoint(ctx, b.ID), q.SetEnabled(ctx, b.ID, false, "x", t0), q.UpdateEndpoint(ctx, b, t0)} {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("on a deleted endpoint: %v", err)
		}
	}
	if _, err := q.Endpoint(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Endpoint(deleted) = %v", err)
	}
	q.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("webhooks.db mode %v, %v: it holds secrets, want 0600", fi.Mode(), err)
	}

	// Everything is on disk.
	q = openQueue(t, path)
	eps, err := q.ListEndpoints(ctx)
	if err != nil || len(eps) != 1 {
		t.Fatalf("ListEndpoints = %v, %v", eps, err)
	}
	got := eps[0]
	if got.ID != a.ID || got.URL != a.URL || got.Description != "ops" || len(got.Filter.Types) != 1 || got.Secret != newSecret ||
		got.PreviousSecret != a.Secret || !got.PreviousUntil.Equal(t0.Add(time.Hour+RotationOverlap)) || !got.CreatedAt.Equal(t0) ||
		!got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("endpoint after reopen %+v", got)
	}
	if s := got.Secrets(t0.Add(2 * time.Hour)); len(s) != 2 || s[0] != newSecret || s[1] != a.Secret {
		t.Fatal("both secrets do not sign during the overlap")
	}
	if s := got.Secrets(t0.Add(time.Hour + RotationOverlap)); len(s) != 1 || s[0] != newSecret {
		t.Fatal("the old secret still signs after the overlap")
	}
	if ds, _ := q.Deliveries(ctx, ListFilter{}); len(ds) != 1 || ds[0].EndpointID != a.ID {
		t.Fatalf("deliveries after deleting an endpoint: %v", ds)
	}
}

func TestOpenSQLite_SchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	openQueue(t, path).Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenSQLite(t.Context(), path); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("OpenSQLite = %v, want ErrSchemaTooNew", err)
	}
}

func TestEndpoint_LogValue(t *testing.T) {
	ep, err := NewEndpoint("https://hooks.example.com/t/secret-token?k=v", Filter{}, Guard{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ep.PreviousSecret = "whsec_old"
	s := ep.LogValue().String()
	for _, leak := range []string{ep.Secret, "whsec_", "secret-token", "k=v"} {
		if strings.Contains(s, leak) {
			t.Fatalf("LogValue %q shows %q", s, leak)
		}
	}
	if _, err := NewEndpoint("http://127.0.0.1/", Filter{}, Guard{}, t0); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("NewEndpoint(loopback) = %v", err)
	}
	if _, err := NewEndpoint("https://hooks.example.com/", Filter{Types: []string{"room.nope"}}, Guard{}, t0); err == nil {
		t.Fatal("NewEndpoint took a bad filter")
	}
}
