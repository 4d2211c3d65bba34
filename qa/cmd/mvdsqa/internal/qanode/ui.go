package qanode

import (
	_ "embed"
	"net/http"
)

// uiPage is the reference GUI (docs/gui.md): plain HTML and JavaScript that
// use only the public API, embedded so that nothing is fetched at run time.
//
//go:embed ui/index.html
var uiPage []byte

// withUI serves the reference GUI at /ui and everything else through api.
// The page itself holds no data, so it needs no token: opened as
// /ui#token=..., it sends the token with each API call it makes.
func withUI(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ui" && r.URL.Path != "/ui/" {
			api.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			fail(w, &apiError{405, r.Method + " is not allowed on /ui (allowed: GET, HEAD)"})
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		// Inline script and style, and connections to this node only.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		_, _ = w.Write(uiPage)
	})
}
