// Package e2e drives the dashboard and the OBS overlays in a real browser (Debian's chromium, headless)
// against the whole server and a fake TikTok, all on loopback. Without a chromium binary the tests
// skip, unless REQUIRE_BROWSER=1 (CI), where that is a failure. Screenshots go to $E2E_OUT, or to a
// temporary folder whose path is logged; E2E_SCREENSHOT_DOCS=1 also writes docs/img/dashboard.png.
package e2e
