package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tributary-ml/tributary/services/ingest/internal/auth"
	"github.com/tributary-ml/tributary/services/ingest/internal/httpapi"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// submitter answers every item with outcome, after waiting for release
// when it is set.
type submitter struct {
	outcome intake.Outcome
	entered chan struct{}
	release chan struct{}
}

func (s *submitter) Submit(ctx context.Context, _ intake.Source, items []intake.Item) []intake.Result {
	if s.release != nil {
		s.entered <- struct{}{}
		<-s.release
	}
	out := make([]intake.Result, len(items))
	for i, it := range items {
		out[i] = intake.Result{Outcome: s.outcome}
		if it.Rejection != nil {
			out[i] = intake.Result{Outcome: intake.Rejected, Reason: it.Rejection.Reason, Message: it.Rejection.Message}
		}
	}
	return out
}

func (s *submitter) Refused(intake.Source, intake.Reason) {}

func handler(t *testing.T, s *submitter, inFlight int) *httptest.Server {
	keys, _ := auth.New(auth.Config{Disabled: true})
	h := httpapi.New(httpapi.Config{MaxBodyBytes: 1 << 20, MaxBatch: 10, MaxInFlight: inFlight, RetryAfter: 1500 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), noop.NewTracerProvider(), propagation.TraceContext{}, keys, s)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

const oneEvent = `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{}}`

func TestInFlightLimit(t *testing.T) {
	s := &submitter{outcome: intake.Accepted, entered: make(chan struct{}), release: make(chan struct{})}
	srv := handler(t, s, 1)
	first := make(chan int)
	go func() {
		resp, err := http.Post(srv.URL, httpapi.ContentTypeStructured, strings.NewReader(oneEvent))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-s.entered // the first request holds the only slot
	resp, err := http.Post(srv.URL, httpapi.ContentTypeStructured, strings.NewReader(oneEvent))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("over the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(s.release)
	if code := <-first; code != http.StatusAccepted {
		t.Fatalf("first request: %d", code)
	}
}

func TestUnavailableBatch(t *testing.T) {
	srv := handler(t, &submitter{outcome: intake.Unavailable}, 4)
	resp, err := http.Post(srv.URL, httpapi.ContentTypeBatch, strings.NewReader("["+oneEvent+","+oneEvent+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var br httpapi.BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || br.Unavailable != 2 || len(br.Results) != 2 {
		t.Fatalf("%d %+v", resp.StatusCode, br)
	}
	resp2, err := http.Post(srv.URL, httpapi.ContentTypeStructured, strings.NewReader(oneEvent))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable || resp2.Header.Get("Retry-After") == "" {
		t.Fatalf("single: %d", resp2.StatusCode)
	}
}
