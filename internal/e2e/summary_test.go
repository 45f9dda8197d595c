package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

const recapRoom = "recapper"

// TestDashboard_SessionSummary: a session with a known set of events ends (disconnected here); the
// dashboard's past sessions panel shows its summary with the figures the server computed, the end
// reason in words, the gifts table and the leaderboards, and keeps the export links.
func TestDashboard_SessionSummary(t *testing.T) {
	needBrowser(t)
	s := startServer(t, map[string]faketiktok.UserConfig{recapRoom: {Stream: faketiktok.StreamConfig{Rate: 0, HistorySize: -1}}})
	s.connect(t, recapRoom)

	chat(s.fake, recapRoom, carl, "first")
	chat(s.fake, recapRoom, leo, "second")
	chat(s.fake, recapRoom, carl, "third")
	streak(s.fake, recapRoom, gina, 1_799_000_000_201, 3)
	like(s.fake, recapRoom, carl, 5, 5)
	s.fake.Inject(recapRoom, webcast.MethodSocial, &pb.SocialMessage{User: leo, Action: 1})

	var id int64
	testutil.Eventually(t, wait, func() bool {
		var list struct{ Sessions []store.Session }
		if getJSON(s.base+"/v1/rooms/"+recapRoom+"/sessions", &list) != nil || len(list.Sessions) != 1 {
			return false
		}
		id = list.Sessions[0].ID
		return true
	}, "no session of %s", recapRoom)
	path := fmt.Sprintf("/v1/sessions/%d/summary", id)
	var sum store.Summary
	testutil.Eventually(t, wait, func() bool {
		return getJSON(s.base+path, &sum) == nil && sum.Chats == 3 && sum.Follows == 1 && sum.Likes == 5 && len(sum.Gifts) == 1
	}, "the server never stored the injected events; last summary %+v", sum)

	if code := s.do(t, "DELETE", "/v1/rooms/"+recapRoom); code != http.StatusOK {
		t.Fatalf("DELETE /v1/rooms/%s: %d", recapRoom, code)
	}
	testutil.Eventually(t, wait, func() bool {
		return getJSON(s.base+path, &sum) == nil && sum.Session.EndReason != nil
	}, "the session never ended")
	if *sum.Session.EndReason != "requested" {
		t.Fatalf("end reason %q, want requested", *sum.Session.EndReason)
	}
	wantDiamonds := 3 * int64(rose.Diamonds)
	if sum.Diamonds != wantDiamonds || sum.UniqueChatters != 2 || sum.Gifts[0].GiftName != "Rose" || sum.Gifts[0].Count != 3 {
		t.Fatalf("the server's summary is not what was sent: %+v", sum)
	}

	b := newBrowser(t, s)
	b.open("/?room=" + recapRoom)
	row := fmt.Sprintf(`#sessions li[data-session="%d"] button`, id)
	b.waitJS("the past session listed", `document.querySelector('`+row+`')`)
	b.run("open the session", chromedp.Click(chromedp.CSS(row)))
	b.waitJS("the summary", fmt.Sprintf(`document.querySelector('#summary [data-summary="%d"]')`, id))

	// Every figure shows the server's number, written with the locale's separators.
	figures := eval[map[string]map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#summary [data-figure]')].map(el =>
		[el.dataset.figure, {value: el.dataset.value, text: el.querySelector('dd').textContent, fmt: new Intl.NumberFormat().format(Number(el.dataset.value))}]))`)
	for name, want := range map[string]int64{
		"diamonds": sum.Diamonds, "chats": sum.Chats, "uniqueChatters": sum.UniqueChatters, "follows": sum.Follows,
		"likes": sum.Likes, "shares": sum.Shares, "joins": sum.Joins, "subscribers": sum.Subscribers,
		"peakViewers": sum.Viewers.Peak, "events": sum.Session.Events,
	} {
		f, ok := figures[name]
		if !ok {
			t.Errorf("no figure %q on the page", name)
			continue
		}
		if f["value"] != strconv.FormatInt(want, 10) || f["text"] != f["fmt"] {
			t.Errorf("figure %s: %v, want %d (the server's)", name, f, want)
		}
	}

	head := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#summary [data-field]')].map(el => [el.dataset.field, el.textContent]))`)
	if head["end"] != "disconnected here" {
		t.Errorf("end reason %q, want %q", head["end"], "disconnected here")
	}
	if head["start"] == "" || head["duration"] != duration(sum.DurationMs) {
		t.Errorf("heading %v: want a start time and the duration %q", head, duration(sum.DurationMs))
	}

	gifts := eval[[][]string](b, `[...document.querySelectorAll('#summary table.gifts tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))`)
	if len(gifts) != 1 || gifts[0][0] != "Rose" || gifts[0][1] != "3" || gifts[0][2] != strconv.FormatInt(wantDiamonds, 10) {
		t.Errorf("gifts table %q, want one row: Rose, 3, %d", gifts, wantDiamonds)
	}

	top := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#summary [data-board]')].map(sec => {
		const li = sec.querySelector('li[data-rank="1"]');
		return [sec.dataset.board, li ? li.querySelector('.who').textContent + '|' + li.dataset.value : ''];
	}))`)
	for board, want := range map[string]string{
		"topGifters":  fmt.Sprintf("Gina Gift|%d", wantDiamonds),
		"topLikers":   "Carl Chat|5",
		"topChatters": "Carl Chat|2",
	} {
		if top[board] != want {
			t.Errorf("%s first place %q, want %q", board, top[board], want)
		}
	}

	links := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#summary a[data-export]')].map(a => [a.dataset.export, a.getAttribute('href')]))`)
	for kind, want := range map[string]string{
		"csv":     fmt.Sprintf("/v1/sessions/%d/events?format=csv", id),
		"ndjson":  fmt.Sprintf("/v1/sessions/%d/events?format=ndjson", id),
		"capture": fmt.Sprintf("/v1/sessions/%d/capture", id),
	} {
		if links[kind] != want {
			t.Errorf("export link %s = %q, want %q", kind, links[kind], want)
		}
	}

	// The words for every end reason, and durations in h m s.
	for reason, want := range map[string]string{
		"'ended'": "the LIVE ended", "'offline'": "the host went offline", "'new_broadcast'": "a new LIVE began",
		"'requested'": "disconnected here", "'replaced'": "replaced by another room", "'shutdown'": "the server stopped",
		"'error'": "stopped on an error", "null": "live now",
	} {
		if got := module[string](b, "/assets/summary.js", `m.endText(`+reason+`)`); got != want {
			t.Errorf("endText(%s) = %q, want %q", reason, got, want)
		}
	}
	for _, ms := range []int64{0, 59_999, 61_000, 3_725_000, 90_061_000} {
		if got := module[string](b, "/assets/summary.js", `m.fmtDuration(`+strconv.FormatInt(ms, 10)+`)`); got != duration(ms) {
			t.Errorf("fmtDuration(%d) = %q, want %q", ms, got, duration(ms))
		}
	}

	eval[bool](b, `document.getElementById('summary').closest('section').scrollIntoView({block: 'start'}), true`)
	b.shot("summary.png", false)
}

// getJSON decodes a 200 answer of url into v.
func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// duration is how the page writes a duration: "1h 2m 5s", leading zero units left out.
func duration(ms int64) string {
	s := ms / 1000
	switch h, m := s/3600, s%3600/60; {
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, s%60)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s%60)
	}
	return fmt.Sprintf("%ds", s%60)
}
