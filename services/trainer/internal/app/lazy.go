package app

import (
	"net/http"
	"sync"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/trainer/internal/httpapi"
)

// lazy serves the API once NATS is up; before, it answers 503.
type lazy struct {
	mu  sync.RWMutex
	mux *http.ServeMux
}

func (l *lazy) set(api *httpapi.API) {
	mux := http.NewServeMux()
	api.Handle(func(p string, h http.Handler) { mux.Handle(p, h) })
	l.mu.Lock()
	l.mux = mux
	l.mu.Unlock()
}

func (l *lazy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	mux := l.mux
	l.mu.RUnlock()
	if mux == nil {
		w.Header().Set("Retry-After", "1")
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, "the trainer is not connected to NATS yet")
		return
	}
	mux.ServeHTTP(w, r)
}
