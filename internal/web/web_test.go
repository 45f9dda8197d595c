package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHandler_ContentTypes: every page and asset answers 200 with its type, nosniff and a CSP that
// allows only this origin.
func TestHandler_ContentTypes(t *testing.T) {
	h := Handler()
	want := map[string]string{
		".html": "text/html; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	paths := append(Pages(), Assets()...)
	if len(Assets()) < 5 {
		t.Fatalf("only %d assets embedded: %v", len(Assets()), Assets())
	}
	for _, p := range paths {
		ext := path.Ext(p)
		if ext == "" {
			ext = ".html"
		}
		rec := get(t, h, "GET", p)
		if rec.Code != 200 {
			t.Errorf("GET %s: %d", p, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != want[ext] {
			t.Errorf("GET %s: Content-Type %q, want %q", p, ct, want[ext])
		}
		if v := rec.Header().Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", p, v)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "style-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") || strings.Contains(csp, "http") {
			t.Errorf("GET %s: CSP %q is not strict", p, csp)
		}
		if rec.Body.Len() == 0 {
			t.Errorf("GET %s: empty body", p)
		}
		if head := get(t, h, "HEAD", p); head.Code != 200 || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", p, head.Code, head.Body.Len())
		}
	}
	if rec := get(t, h, "GET", "/"); !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the dashboard may be framed: CSP %q", rec.Header().Get("Content-Security-Policy"))
	}
}

func TestHandler_NotFoundAndMethods(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/assets/nope.js", "/overlay/nope", "/assets/", "/index.html", "/assets/../web.go", "/static/index.html"} {
		if rec := get(t, h, "GET", p); rec.Code != 404 {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	rec := get(t, h, "POST", "/")
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestHandler_Revalidate: assets carry an ETag and answer 304 to it, so a browser revalidates
// cheaply but never runs a stale script after an upgrade.
func TestHandler_Revalidate(t *testing.T) {
	h := Handler()
	rec := get(t, h, "GET", "/assets/dashboard.js")
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, rec.Header().Get("Cache-Control"))
	}
	if rec := get(t, h, "GET", "/assets/dashboard.js", "If-None-Match", etag); rec.Code != 304 {
		t.Errorf("If-None-Match: %d, want 304", rec.Code)
	}
}

var (
	htmlRef   = regexp.MustCompile(`(?i)\s(?:src|href|action|poster|data)\s*=\s*"([^"]*)"`)
	jsImport  = regexp.MustCompile(`(?m)(?:^|;|\s)import\s*(?:[\w*{}\s,]+from\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)`)
	cssURL    = regexp.MustCompile(`url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]`)
	remoteURL = regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
)

// servedPath maps an embedded file to the path it is served at.
func servedPath(name string) string {
	rel := strings.TrimPrefix(name, "static")
	switch {
	case rel == "/index.html":
		return "/"
	case strings.HasPrefix(rel, "/overlay/"):
		return strings.TrimSuffix(rel, ".html")
	}
	return rel
}

// references returns what a file loads (scripts, styles, modules, images), by its own syntax.
func references(name string, body string) []string {
	var out []string
	add := func(ms [][]string) {
		for _, m := range ms {
			for _, g := range m[1:] {
				if g != "" {
					out = append(out, g)
				}
			}
		}
	}
	switch path.Ext(name) {
	case ".html":
		add(htmlRef.FindAllStringSubmatch(body, -1))
	case ".js":
		add(jsImport.FindAllStringSubmatch(body, -1))
	case ".css":
		add(cssURL.FindAllStringSubmatch(body, -1))
	}
	return out
}

func embedded(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, err := static.ReadFile(p)
			if err != nil {
				return err
			}
			files[p] = string(b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestFiles_ReferencesExist: every src/href of the pages, every module import and every CSS url()
// resolves to a file the handler serves, with the type its use needs.
func TestFiles_ReferencesExist(t *testing.T) {
	h := Handler()
	files := embedded(t)
	checked := 0
	for name, body := range files {
		base := servedPath(name)
		for _, ref := range references(name, body) {
			if strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") || strings.HasPrefix(ref, "data:") {
				t.Errorf("%s references %q: only paths on this server are allowed", name, ref)
				continue
			}
			target := ref
			if !strings.HasPrefix(ref, "/") {
				target = path.Join(path.Dir(base), ref)
			}
			target, _, _ = strings.Cut(target, "?")
			rec := get(t, h, "GET", target)
			if rec.Code != 200 {
				t.Errorf("%s references %q (%s): %d", name, ref, target, rec.Code)
				continue
			}
			if path.Ext(name) == ".js" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
				t.Errorf("%s imports %q served as %q", name, ref, rec.Header().Get("Content-Type"))
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d references found; is the parsing broken?", checked)
	}
	// Every page loads its own module, and every module is used by something.
	used := map[string]bool{}
	for name, body := range files {
		for _, ref := range references(name, body) {
			used[path.Base(ref)] = true
		}
	}
	for _, a := range Assets() {
		if !used[path.Base(a)] {
			t.Errorf("%s is embedded but nothing references it", a)
		}
	}
}

// TestFiles_NoRemoteURLs: nothing in any page, style or script points off the machine. The SVG
// namespace is a name, not a request, and is the one exception.
func TestFiles_NoRemoteURLs(t *testing.T) {
	for name, body := range embedded(t) {
		clean := strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
		for _, m := range remoteURL.FindAllString(clean, -1) {
			t.Errorf("%s contains the remote URL %q", name, m)
		}
		if path.Ext(name) == ".js" {
			// Text from events must never be parsed as HTML.
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
				if strings.Contains(body, bad) {
					t.Errorf("%s uses %s", name, bad)
				}
			}
		}
		if path.Ext(name) == ".html" && regexp.MustCompile(`(?i)\sstyle\s*=|<script>|\son[a-z]+\s*=`).MatchString(body) {
			t.Errorf("%s has inline style or script, which the CSP blocks", name)
		}
	}
}

// TestPages_Overlays: each overlay page is transparent and loads its own module.
func TestPages_Overlays(t *testing.T) {
	css, _ := static.ReadFile("static/assets/overlay.css")
	if !regexp.MustCompile(`html,\s*body\s*\{[^}]*background:\s*transparent`).Match(css) {
		t.Errorf("overlay.css does not make html, body transparent")
	}
	h := Handler()
	for _, p := range Pages() {
		if !strings.HasPrefix(p, "/overlay/") {
			continue
		}
		body := get(t, h, "GET", p).Body.String()
		mod := "/assets/overlay-" + path.Base(p) + ".js"
		if !strings.Contains(body, `src="`+mod+`"`) || !strings.Contains(body, "/assets/overlay.css") {
			t.Errorf("%s does not load %s and overlay.css", p, mod)
		}
		if !slices.Contains(Assets(), mod) {
			t.Errorf("%s is not embedded", mod)
		}
	}
}
