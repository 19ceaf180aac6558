package service

import (
	"net/http"
	"strconv"
	"sync"
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
	// series caches the children of the two vectors by handler and code:
	// looking them up in the vectors hashes the label values and formats
	// the code on every request.
	mu     sync.RWMutex
	series map[seriesKey]series
}

type seriesKey struct {
	handler string
	code    int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// of returns the series of handler and code. Their number is bounded by the
// registered patterns times the status codes answered.
func (m *httpMetrics) of(handler string, code int) series {
	k := seriesKey{handler, code}
	m.mu.RLock()
	s, ok := m.series[k]
	m.mu.RUnlock()
	if ok {
		return s
	}
	s = series{requests: m.requests.WithLabelValues(handler, strconv.Itoa(code)), duration: m.duration.WithLabelValues(handler)}
	m.mu.Lock()
	m.series[k] = s
	m.mu.Unlock()
	return s
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
		series: map[seriesKey]series{},
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
		s := m.of(handler, code)
		s.requests.Inc()
		s.duration.Observe(time.Since(start).Seconds())
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
