package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/auth"
)

// Lister lists the live streams.
type Lister interface {
	List() []*streamspec.Stream
}

// StreamInfo describes a live stream in GET /v1/streams.
type StreamInfo struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Topic     string          `json:"topic"`
	EntityKey string          `json:"entity_key"`
	EventTime string          `json:"event_time,omitempty"`
	Source    string          `json:"source"`
	Schema    json.RawMessage `json:"schema"`
}

// StreamsHandler serves GET /v1/streams: the streams live on this replica,
// for producers checking what they may send. It takes any valid API key.
func StreamsHandler(keys *auth.Keys, streams Lister) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := keys.Authenticate(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tributary-ingest"`)
			httperror.Write(w, http.StatusUnauthorized, reason.Unauthenticated, err.Error())
			return
		}
		out := struct {
			Streams []StreamInfo `json:"streams"`
		}{Streams: []StreamInfo{}}
		for _, s := range streams.List() {
			out.Streams = append(out.Streams, StreamInfo{Name: s.Name, Type: s.Type, Topic: s.Topic, EntityKey: s.EntityKey, EventTime: s.EventTime, Source: s.Revision, Schema: s.Schema})
		}
		writeJSON(w, http.StatusOK, out)
	})
}
