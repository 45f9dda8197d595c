package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

const liveRoom = "streamer"

// TestDashboard_Watch: a user types a username and connects; chat and a finished gift streak show
// up in the feed (the streak as one line that grew and settled), the counters, leaderboard and
// viewer chart fill, pause holds new lines back, filters hide a type, and disconnect stops the room.
func TestDashboard_Watch(t *testing.T) {
	needBrowser(t)
	s := startServer(t, map[string]faketiktok.UserConfig{liveRoom: {Stream: faketiktok.StreamConfig{Rate: 8, Seed: 3}}})
	b := newBrowser(t, s)
	b.open("/")
	b.run("connect form", chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "@Streamer"),
		chromedp.Click(chromedp.ID("connect-btn")))
	b.waitJS("the room connected", `document.getElementById('room-state').textContent === 'connected'`)
	b.waitJS("the page's socket open", `window.__dash.socket && window.__dash.socket.readyState === 1`)

	chat(s.fake, liveRoom, carl, "hello from the e2e test")
	const group = 1_799_000_000_001
	streak(s.fake, liveRoom, gina, group, 3)
	b.waitJS("the chat line", `[...document.querySelectorAll('#feed li[data-type=chat]')].some(li => li.textContent.includes('hello from the e2e test'))`)
	sel := fmt.Sprintf(`#feed li[data-streak-id="%d"]`, group)
	b.waitJS("the settled streak", `document.querySelector('`+sel+`[data-streak=final]')`)
	if n := eval[int](b, `document.querySelectorAll('`+sel+`').length`); n != 1 {
		t.Errorf("the streak has %d feed lines, want 1 (updated in place)", n)
	}
	row := eval[map[string]string](b, `(() => { const li = document.querySelector('`+sel+`'); return {seqs: li.dataset.seqs, repeat: li.dataset.repeat, text: li.textContent}; })()`)
	if len(strings.Fields(row["seqs"])) != 3 || row["repeat"] != "3" || !strings.Contains(row["text"], "Gina Gift") || !strings.Contains(row["text"], "Rose ×3") {
		t.Errorf("streak line %q: want 3 steps merged into one line by Gina Gift, Rose ×3", row)
	}

	counter := func(name string) string {
		return `Number(document.getElementById('c-` + name + `').textContent.replace(/\D/g, ''))`
	}
	b.waitJS("diamonds counted", counter("diamonds")+` >= 3`)
	b.waitJS("likes and viewers counted", counter("likes")+` > 0 && `+counter("viewers")+` > 0`)
	b.waitJS("Gina on the gifters board", `[...document.querySelectorAll('#top-gifters li')].some(li => li.textContent.includes('Gina Gift'))`)
	b.waitJS("likers on the board", `document.querySelector('#top-likers li[data-user]')`)
	b.waitJS("the chart has points", `Number(document.getElementById('chart').dataset.points) >= 2`)
	if eval[bool](b, `[...document.querySelectorAll('#feed li[data-type=roomUser]')].some(li => getComputedStyle(li).display !== 'none')`) {
		t.Errorf("viewer counts are shown although their box is not ticked")
	}
	b.waitJS("avatars as initials", `document.querySelector('#feed li[data-type=chat] .avatar').textContent.length <= 2`)
	if n := eval[int](b, `document.querySelectorAll('img[src^="http"]').length`); n != 0 {
		t.Errorf("%d remote images in the page", n)
	}
	b.shot("dashboard.png", false)
	if os.Getenv("E2E_SCREENSHOT_DOCS") == "1" {
		saveDocsScreenshot(t, b)
	}

	// Pause: new lines are held and counted, and appear on resume.
	b.run("pause", chromedp.Click(chromedp.ID("pause")))
	chat(s.fake, liveRoom, carl, "said during the pause")
	b.waitJS("held while paused", `Number(document.getElementById('buffered').dataset.count) > 0 && window.__dash.seqs('`+liveRoom+`').length > 0`)
	b.waitJS("the held chat counted", `document.getElementById('buffered').textContent.includes('new while paused')`)
	if eval[bool](b, `document.getElementById('feed').textContent.includes('said during the pause')`) {
		t.Errorf("a line appeared in the feed while it was paused")
	}
	b.run("resume", chromedp.Click(chromedp.ID("pause")))
	b.waitJS("held lines shown on resume", `document.getElementById('feed').textContent.includes('said during the pause')`)

	// Filters: unticking chat hides chat lines, and only them.
	b.run("untick chat", chromedp.Click(chromedp.ID("f-chat")))
	b.waitJS("chat lines hidden", `[...document.querySelectorAll('#feed li[data-type=chat]')].every(li => getComputedStyle(li).display === 'none')`)
	if eval[bool](b, `[...document.querySelectorAll('#feed li[data-type=gift]')].some(li => getComputedStyle(li).display === 'none')`) {
		t.Errorf("unticking chat hid gift lines")
	}
	b.run("tick chat", chromedp.Click(chromedp.ID("f-chat")))

	noDuplicates(t, b)

	b.run("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	b.waitJS("the room stopped", `document.getElementById('room-state').textContent === 'disconnected'`)
}

// TestDashboard_ResumeAfterDrop: the page's socket dies; events published while it is down arrive
// after it reconnects, in order, with contiguous seqs and none twice (/v1/ws?since=&epoch=
// answers with a "resume" message first, then the missed events).
func TestDashboard_ResumeAfterDrop(t *testing.T) {
	needBrowser(t)
	s := startServer(t, map[string]faketiktok.UserConfig{liveRoom: {Stream: faketiktok.StreamConfig{Rate: 4, Seed: 5}}})
	s.connect(t, liveRoom)
	if err := probeResume(t, s); err != nil {
		t.Fatalf("resume: %v", err)
	}
	b := newBrowser(t, s)
	b.open("/?room=" + liveRoom)
	b.waitJS("the page's socket open", `window.__dash.socket && window.__dash.socket.readyState === 1`)
	b.waitJS("some events", `window.__dash.lastSeq('`+liveRoom+`') > 0`)

	// Kill the socket and keep the page from reconnecting until the missed events exist.
	watcher := testutil.DialWS(t, testutil.HTTPToWS(s.base)+"/v1/ws?types=chat&rooms="+liveRoom)
	eval[bool](b, `window.__dash.hold(true), window.__dash.socket.close(), true`)
	b.waitJS("the socket closed", `!window.__dash.socket || window.__dash.socket.readyState === 3`)
	const missed = 5
	for i := range missed {
		chat(s.fake, liveRoom, carl, "sent while the page was away #"+strconv.Itoa(i))
	}
	testutil.Eventually(t, wait, func() bool {
		n := 0
		for _, e := range watcher.Events() {
			if c, _ := testutil.Dig(e, "data", "comment").(string); strings.HasPrefix(c, "sent while the page was away") {
				n++
			}
		}
		return n == missed
	}, "the server never published the %d chats", missed)
	eval[bool](b, `window.__dash.hold(false), true`)
	b.waitJS("reconnected", `window.__dash.opens() >= 2 && window.__dash.socket && window.__dash.socket.readyState === 1`)
	b.waitJS("the missed chats", `[...document.querySelectorAll('#feed li[data-type=chat]')].filter(li => li.textContent.includes('sent while the page was away')).length === `+strconv.Itoa(missed))
	seqs := eval[[]int](b, `window.__dash.seqs('`+liveRoom+`')`)
	if err := contiguous(seqs); err != nil {
		t.Errorf("the page's seqs after the drop: %v", err)
	}
	noDuplicates(t, b)
}

// probeResume asks the server to resume a stream from seq 1 and reports whether it answers with
// the "resume" message first.
func probeResume(t *testing.T, s *server) error {
	t.Helper()
	live := testutil.DialWS(t, testutil.HTTPToWS(s.base)+"/v1/ws?rooms="+liveRoom)
	var epoch string
	testutil.Eventually(t, wait, func() bool {
		for _, e := range live.Events() {
			epoch, _ = e["epoch"].(string)
		}
		return epoch != ""
	}, "no event from %s", liveRoom)
	c := testutil.DialWS(t, testutil.HTTPToWS(s.base)+"/v1/ws?rooms="+liveRoom+"&since=1&epoch="+epoch)
	testutil.Eventually(t, wait, func() bool { return len(c.Events()) > 0 }, "no event after a resume request")
	if first := c.Events()[0]; first["type"] != "resume" {
		return fmt.Errorf("the first message after since=1 is %v, not resume", first["type"])
	}
	return nil
}

// noDuplicates checks no event is shown twice: every seq in the feed is unique.
func noDuplicates(t *testing.T, b *browser) {
	t.Helper()
	seqs := eval[[]string](b, `[...document.querySelectorAll('#feed li')].flatMap(li => (li.dataset.seqs || '').split(' ')).filter(s => s && s !== '0')`)
	seen := map[string]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Errorf("seq %s is shown twice in the feed", s)
		}
		seen[s] = true
	}
	log := eval[[]int](b, `window.__dash.seqs('`+liveRoom+`')`)
	for i := 1; i < len(log); i++ {
		if log[i] <= log[i-1] {
			t.Errorf("the page took seq %d after %d", log[i], log[i-1])
			break
		}
	}
}

// saveDocsScreenshot writes docs/img/dashboard.png (E2E_SCREENSHOT_DOCS=1) from a full window.
func saveDocsScreenshot(t *testing.T, b *browser) {
	t.Helper()
	// A few more seconds of the stream make a fuller picture: a chart with a shape, a longer board.
	b.waitJS("a fuller chart", `Number(document.getElementById('chart').dataset.points) >= 8`)
	b.waitJS("a longer gifters board", `document.querySelectorAll('#top-gifters li[data-user]').length >= 4`)
	src := b.shot("dashboard-docs.png", false)
	png, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join("..", "..", "docs", "img", "dashboard.png")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("docs screenshot: %s", dst)
}
