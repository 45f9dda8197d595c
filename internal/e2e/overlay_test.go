package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
)

// quiet is a room with no synthetic traffic: the overlays show exactly what the test injects.
const quiet = "quietroom"

func quietServer(t *testing.T) *server {
	s := startServer(t, map[string]faketiktok.UserConfig{quiet: {Stream: faketiktok.StreamConfig{Rate: 0, HistorySize: -1}}})
	s.connect(t, quiet)
	return s
}

// TestOverlay_GiftsOneAlertPerStreak: a three-step streak gives exactly one alert (with the final
// count), not one per step.
func TestOverlay_GiftsOneAlertPerStreak(t *testing.T) {
	needBrowser(t)
	s := quietServer(t)
	b := newBrowser(t, s)
	b.open("/overlay/gifts?room=" + quiet + "&duration=30")
	b.waitJS("the overlay's socket open", `window.__overlay.socket && window.__overlay.socket.readyState === 1`)
	if bg := eval[string](b, `getComputedStyle(document.body).backgroundColor + '|' + getComputedStyle(document.documentElement).backgroundColor`); bg != "rgba(0, 0, 0, 0)|rgba(0, 0, 0, 0)" {
		t.Errorf("overlay background %q, want transparent", bg)
	}
	const group = 1_799_000_000_042
	streak(s.fake, quiet, gina, group, 3)
	single(s.fake, quiet, leo, lion) // a sentinel: once it is in, every step of the streak was too
	b.waitJS("the sentinel gift", `window.__overlay.received().some(a => a.user === 'leo.lion')`)
	got := eval[[]map[string]any](b, `window.__overlay.received()`)
	streakAlerts := 0
	for _, a := range got {
		if a["streakId"] == fmt.Sprint(group) {
			streakAlerts++
			if a["repeatCount"] != 3.0 {
				t.Errorf("streak alert with repeatCount %v, want 3", a["repeatCount"])
			}
		}
	}
	if streakAlerts != 1 || len(got) != 2 {
		t.Errorf("alerts %v: want one for the streak and one for the single gift", got)
	}
	b.run("an alert on screen", chromedp.WaitVisible(chromedp.CSS(".alert")))
	b.waitJS("the alert text", `document.querySelector('.alert').textContent.includes('Gina Gift') && document.querySelector('.alert').textContent.includes('Rose ×3')`)
	b.shot("overlay-gifts.png", true)
}

// TestOverlay_ChatAndLikes: the chat overlay shows chat lines and honours good styling parameters
// while ignoring bad ones; the likes overlay fills its goal bar from the room's total.
func TestOverlay_ChatAndLikes(t *testing.T) {
	needBrowser(t)
	s := quietServer(t)
	b := newBrowser(t, s)

	b.open("/overlay/chat?room=" + quiet + "&size=999999&color=red;background:url(x)&font=%22x%22;&max=abc")
	b.waitJS("the overlay's socket open", `window.__overlay.socket && window.__overlay.socket.readyState === 1`)
	if v := eval[string](b, `getComputedStyle(document.body).fontSize + '|' + getComputedStyle(document.body).color`); v != "28px|rgb(255, 255, 255)" {
		t.Errorf("bad parameters were not ignored: font-size|color = %q", v)
	}
	b.open("/overlay/chat?room=" + quiet + "&size=32&color=ffcc00&max=2&duration=60")
	b.waitJS("the overlay's socket open", `window.__overlay.socket && window.__overlay.socket.readyState === 1`)
	if v := eval[string](b, `getComputedStyle(document.body).fontSize + '|' + getComputedStyle(document.body).color`); v != "32px|rgb(255, 204, 0)" {
		t.Errorf("good parameters not applied: font-size|color = %q", v)
	}
	for i, text := range []string{"first line", "second line", "third line"} {
		chat(s.fake, quiet, carl, fmt.Sprint(text, " ", i))
	}
	b.waitJS("the chat lines", `window.__overlay.lines() === 3`)
	if n := eval[int](b, `document.querySelectorAll('.line').length`); n != 2 {
		t.Errorf("%d lines on screen, want max=2", n)
	}
	b.waitJS("the newest line", `document.querySelector('.chat').lastElementChild.textContent.includes('third line')`)
	b.shot("overlay-chat.png", true)

	b.open("/overlay/likes?room=" + quiet + "&goal=100&label=Road%20to%20100")
	b.waitJS("the overlay's socket open", `window.__overlay.socket && window.__overlay.socket.readyState === 1`)
	like(s.fake, quiet, carl, 40, 40)
	b.waitJS("40 likes", `window.__overlay.likes() === 40`)
	b.waitJS("the bar at 40%", `parseFloat(document.querySelector('.fill').style.width) === 40`)
	b.waitJS("the bar drawn at 40%", `Math.abs(document.querySelector('.fill').getBoundingClientRect().width / document.querySelector('.track').getBoundingClientRect().width - 0.4) < 0.01`)
	if txt := eval[string](b, `document.querySelector('.goal').textContent`); txt != "Road to 10040 / 100" {
		t.Errorf("goal text %q", txt)
	}
	b.shot("overlay-likes.png", true)
	like(s.fake, quiet, carl, 70, 110)
	b.waitJS("the goal reached", `document.querySelector('.goal').classList.contains('done')`)
}
