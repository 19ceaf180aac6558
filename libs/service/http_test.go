package service

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-ml/tributary/libs/httperror"
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

func TestUnmatchedRequestsGetTheErrorBody(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", func(http.ResponseWriter, *http.Request) {})
	h := newHTTPMetrics(reg, "demo").instrument(mux)
	for _, c := range []struct {
		method, path string
		status       int
		reason       string
	}{
		{"GET", "/nowhere", http.StatusNotFound, "not_found"},
		{"GET", "/v1/events", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		e := httperror.Parse(w.Code, w.Body.Bytes())
		if w.Code != c.status || string(e.Reason) != c.reason || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %q", c.method, c.path, w.Code, w.Header().Get("Content-Type"), w.Body.String())
		}
	}
	want := `
# HELP tributary_demo_http_requests_total HTTP requests answered, by mux pattern and status code.
# TYPE tributary_demo_http_requests_total counter
tributary_demo_http_requests_total{code="404",handler="unmatched"} 1
tributary_demo_http_requests_total{code="405",handler="unmatched"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_demo_http_requests_total"); err != nil {
		t.Error(err)
	}
}
