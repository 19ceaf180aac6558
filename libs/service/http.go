package service

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/httperror"
)

// Timeouts of the HTTP server. Handlers that need longer (streaming) extend
// their own deadlines with http.ResponseController.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// httpMetrics counts and times the requests the service's HTTP server
// answers, labelled by the mux pattern that matched them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer, service string) *httpMetrics {
	return &httpMetrics{
		requests: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_" + service + "_http_requests_total",
			Help: "HTTP requests answered, by mux pattern and status code.",
		}, []string{"handler", "code"}),
		duration: promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_" + service + "_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by mux pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler"}),
	}
}

// instrument wraps the service's mux. The handler label is the pattern the
// mux matched (ServeMux records it in the request), so its values are bounded
// by the registered patterns; requests that matched none are "unmatched",
// and answered with the JSON error body of libs/httperror (404 not_found,
// 405 method_not_allowed).
func (m *httpMetrics) instrument(mux *http.ServeMux) http.Handler {
	h := httperror.Unmatched(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		handler := r.Pattern
		if handler == "" {
			handler = "unmatched"
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(handler, strconv.Itoa(code)).Inc()
		m.duration.WithLabelValues(handler).Observe(time.Since(start).Seconds())
	})
}

// statusWriter records the status code a handler sends.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx are interim answers
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers that assert http.Flusher keep working.
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
