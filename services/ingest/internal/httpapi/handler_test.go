package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
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
	// panicOn, when set, makes Submit panic on an event whose raw bytes
	// hold it; panicked counts Panicked calls, items the items submitted.
	panicOn  string
	mu       sync.Mutex
	panicked int
	items    []intake.Item
}

func (s *submitter) Panicked(intake.Source, any, []byte) { s.mu.Lock(); s.panicked++; s.mu.Unlock() }

func (s *submitter) Submit(ctx context.Context, _ intake.Source, items []intake.Item) []intake.Result {
	s.mu.Lock()
	s.items = append(s.items, items...)
	s.mu.Unlock()
	for _, it := range items {
		if s.panicOn != "" && it.Rejection == nil && strings.Contains(string(it.Raw), s.panicOn) {
			panic("boom")
		}
	}
	if s.release != nil {
		s.entered <- struct{}{}
		<-s.release
	}
	out := make([]intake.Result, len(items))
	for i, it := range items {
		out[i] = intake.Result{Outcome: s.outcome}
		if it.Event != nil {
			out[i].ID = it.Event.ID()
		}
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
	herr := httperror.Check(resp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" || httperror.ReasonOf(herr) != reason.Unavailable {
		t.Fatalf("over the limit: %d, Retry-After %q, %v", resp.StatusCode, resp.Header.Get("Retry-After"), herr)
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
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var br httpapi.BatchResponse
	if err := json.Unmarshal(body, &br); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || br.Unavailable != 2 || len(br.Results) != 2 {
		t.Fatalf("%d %+v", resp.StatusCode, br)
	}
	for _, r := range br.Results {
		if r.Status != intake.Unavailable || r.Reason != reason.Unavailable {
			t.Errorf("result %+v, want unavailable with its reason", r)
		}
	}
	// The batch's 503 is an error body too, for clients that read only that.
	if e := httperror.Parse(resp.StatusCode, body); e.Reason != reason.Unavailable || !strings.Contains(e.Body.Error, "2 of 2") {
		t.Errorf("batch 503 as an error body: %+v", e)
	}
	resp2, err := http.Post(srv.URL, httpapi.ContentTypeStructured, strings.NewReader(oneEvent))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	body2, _ := io.ReadAll(resp2.Body)
	checkEnvelope(t, body2)
	if e := httperror.Parse(resp2.StatusCode, body2); resp2.StatusCode != http.StatusServiceUnavailable || resp2.Header.Get("Retry-After") == "" || e.Reason != reason.Unavailable || e.ID != "1" {
		t.Fatalf("single: %d %s", resp2.StatusCode, body2)
	}
}

// TestPanicAnswered: a request whose handling panics gets an answer (500
// internal_error), its body is dead-lettered and the panic counted; before,
// net/http dropped the connection without an answer.
func TestPanicAnswered(t *testing.T) {
	s := &submitter{outcome: intake.Accepted, panicOn: "PANIC"}
	srv := handler(t, s, 4)
	body := `{"specversion":"1.0","id":"PANIC","source":"/s","type":"t","data":{}}`
	resp, err := http.Post(srv.URL, httpapi.ContentTypeStructured, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := httperror.Check(resp); resp.StatusCode != http.StatusInternalServerError || httperror.ReasonOf(err) != reason.InternalError {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	last := s.items[len(s.items)-1]
	if s.panicked != 1 || last.Rejection == nil || last.Rejection.Reason != reason.InternalError || string(last.Raw) != body {
		t.Fatalf("panicked %d, dead-lettered %+v", s.panicked, last)
	}
}
