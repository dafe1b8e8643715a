package gateway

import (
	"embed"
	"io/fs"
	"net/http"
)

// openapiYAML documents every endpoint of the API and the webhook; a test
// checks the running handler against it.
//
//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the gateway's OpenAPI 3 document (YAML).
func OpenAPI() []byte { return openapiYAML }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiYAML)
}

// The dashboard: plain HTML, CSS and JavaScript, embedded, no CDN.
//
//go:embed web
var webFiles embed.FS

// dashboard serves index.html at / and the assets under /static/.
func dashboard() http.Handler {
	sub, _ := fs.Sub(webFiles, "web")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		http.StripPrefix("/static", files).ServeHTTP(w, r)
	})
}
