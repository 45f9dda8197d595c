// Package web is what people see: the dashboard and the OBS overlays, plain HTML, CSS and
// JavaScript ES modules embedded in the binary. There is no build step and nothing is loaded from
// off the machine: no CDN, no web fonts, no remote images (TikTok avatars are drawn as initials).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// contentTypes is explicit so the answer does not depend on the host's MIME tables (a Windows
// registry entry can make .js text/plain, which browsers refuse for modules).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// ContentType returns the Content-Type served for a file name, "" for an extension not served.
func ContentType(name string) string { return contentTypes[path.Ext(name)] }

// csp allows only this server: scripts, styles and images from 'self' (images also data: for
// generated icons) and connections to 'self', which CSP Level 3 extends to ws:/wss: of the same
// host, so the page's WebSocket works and nothing else does.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'"

// file is one embedded file, read once.
type file struct {
	name string
	body []byte
	etag string
	ct   string
}

// pages maps request paths to the HTML they serve.
var pages = map[string]string{
	"/":               "static/index.html",
	"/overlay/chat":   "static/overlay/chat.html",
	"/overlay/gifts":  "static/overlay/gifts.html",
	"/overlay/likes":  "static/overlay/likes.html",
	"/overlay/chat/":  "static/overlay/chat.html",
	"/overlay/gifts/": "static/overlay/gifts.html",
	"/overlay/likes/": "static/overlay/likes.html",
}

// Pages lists the request paths of the HTML pages (for tests and docs).
func Pages() []string { return []string{"/", "/overlay/chat", "/overlay/gifts", "/overlay/likes"} }

// Assets lists the request paths of every file under /assets/.
func Assets() []string {
	var out []string
	entries, _ := fs.ReadDir(static, "static/assets")
	for _, e := range entries {
		if !e.IsDir() {
			out = append(out, "/assets/"+e.Name())
		}
	}
	return out
}

type handler struct {
	files map[string]*file // by request path
}

// Handler serves the dashboard at /, the overlays at /overlay/{chat,gifts,likes} and their files at
// /assets/. Anything else is a 404.
func Handler() http.Handler {
	h := &handler{files: map[string]*file{}}
	load := func(reqPath, name string) {
		body, err := static.ReadFile(name)
		if err != nil {
			panic("web: embedded file missing: " + name) // a build error, caught by the tests
		}
		sum := sha256.Sum256(body)
		h.files[reqPath] = &file{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ct: ContentType(name)}
	}
	for p, name := range pages {
		load(p, name)
	}
	for _, p := range Assets() {
		load(p, "static"+p)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; allowed: GET, HEAD")
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok || f.ct == "" {
		hdr.Set("Content-Security-Policy", csp)
		jsonError(w, http.StatusNotFound, "not_found", "no page or asset at "+strconv.Quote(r.URL.Path))
		return
	}
	hdr.Set("Content-Type", f.ct)
	hdr.Set("Content-Security-Policy", csp)
	if strings.HasSuffix(f.name, ".html") && r.URL.Path == "/" {
		// The dashboard has buttons that change state; it must not be framed by another site.
		hdr.Set("Content-Security-Policy", csp+"; frame-ancestors 'none'")
		hdr.Set("X-Frame-Options", "DENY")
	}
	// Revalidate every time (cheap with the ETag): a new binary must never run old scripts.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// jsonError answers in the server's error format ({success, code, error, message}), so every 4xx
// of the server is JSON, pages included.
func jsonError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]any{"success": false, "code": code, "error": msg, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
