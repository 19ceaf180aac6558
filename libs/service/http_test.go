package service

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newHTTPMetrics(reg, "demo")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no such item", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("item"))
	})
	mux.HandleFunc("POST /silent", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush() // the wrapper must keep Flusher
	})
	h := m.instrument(mux)
	for _, req := range []struct{ method, path string }{
		{"GET", "/items/1"}, {"GET", "/items/2"}, {"GET", "/items/missing"},
		{"POST", "/silent"}, {"GET", "/stream"}, {"GET", "/nowhere"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	want := `
# HELP tributary_demo_http_requests_total HTTP requests answered, by mux pattern and status code.
# TYPE tributary_demo_http_requests_total counter
tributary_demo_http_requests_total{code="200",handler="GET /items/{id}"} 2
tributary_demo_http_requests_total{code="200",handler="GET /stream"} 1
tributary_demo_http_requests_total{code="200",handler="POST /silent"} 1
tributary_demo_http_requests_total{code="404",handler="GET /items/{id}"} 1
tributary_demo_http_requests_total{code="404",handler="unmatched"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_demo_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration, "tributary_demo_http_request_duration_seconds"); n != 4 {
		t.Errorf("duration histogram has %d series, want 4 (one per handler)", n)
	}
}
