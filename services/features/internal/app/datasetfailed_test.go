package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// requestFailing publishes a dataset request and returns the
// tributary.dataset.failed.v1 that answers it; a dataset.ready fails the test.
func (h *harness) requestFailing(t *testing.T, req event.DatasetRequested, data any) event.DatasetFailed {
	t.Helper()
	failedSubject, _ := event.Subject(event.TypeDatasetFailed)
	readySubject, _ := event.Subject(event.TypeDatasetReady)
	sub, err := h.nc.SubscribeSync(h.prefix + "tributary.dataset.*")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	e := ce.New()
	e.SetID("ev-" + req.RequestID)
	e.SetSource("/test")
	e.SetType(event.TypeDatasetRequested)
	want := req.RequestID
	if data == nil {
		_ = e.SetData(ce.ApplicationJSON, req)
	} else {
		_ = e.SetData(ce.ApplicationJSON, data)
		want = e.ID() // undecodable: answered under the request's event id
	}
	decoded := req.RequestID // ... unless the refused data had it
	subject, _ := event.Subject(event.TypeDatasetRequested)
	msg, err := event.ToNATSMsg(e, h.prefix+subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	// Each attempt reads one message; the subscription keeps the others.
	var failed event.DatasetFailed
	testkit.Eventually(t, 30*time.Second, func() error {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			return fmt.Errorf("no dataset.failed for %s: %w", req.RequestID, err)
		}
		switch m.Subject {
		case h.prefix + readySubject:
			t.Fatalf("dataset.ready for a bad request: %s", m.Data)
		case h.prefix + failedSubject:
		default:
			return fmt.Errorf("no dataset.failed for %s: only %s", req.RequestID, m.Subject)
		}
		re, err := event.FromNATSMsg(m)
		if err != nil {
			t.Fatal(err)
		}
		if re.Type() != event.TypeDatasetFailed {
			t.Fatalf("type %q on %s", re.Type(), m.Subject)
		}
		v, err := event.NewValidator()
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(event.TypeDatasetFailed, re.Data()); err != nil {
			t.Errorf("dataset.failed does not match its schema: %v", err)
		}
		failed = event.DatasetFailed{}
		if err := json.Unmarshal(re.Data(), &failed); err != nil {
			t.Fatal(err)
		}
		if failed.RequestID != want && failed.RequestID != decoded {
			return fmt.Errorf("no dataset.failed for %s: one for %s", req.RequestID, failed.RequestID)
		}
		return nil
	})
	return failed
}

// TestDatasetFailed: requests that can never succeed are answered with
// tributary.dataset.failed.v1 over the real NATS, with a stable reason, a
// message naming the culprit and the request's fields.
func TestDatasetFailed(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(24 * time.Hour)
	n := time.Now().UnixNano()
	for _, tc := range []struct {
		name    string
		req     event.DatasetRequested
		data    any
		reason  string
		message string
	}{
		{"unknown view", event.DatasetRequested{Features: []string{"uc:clicks_1h", "zz:clicks_1h"}, LabelStream: "l"}, nil, event.DatasetFailedUnknownView, `unknown view "zz"`},
		{"unknown feature", event.DatasetRequested{Features: []string{"uc:nope"}, LabelStream: "l"}, nil, event.DatasetFailedUnknownFeature, `view uc has no feature "nope"`},
		{"not a ref", event.DatasetRequested{Features: []string{"clicks_1h"}, LabelStream: "l"}, nil, event.DatasetFailedUnknownFeature, `not view:feature`},
		{"empty range", event.DatasetRequested{Features: []string{"uc:clicks_1h"}, LabelStream: "l", End: start}, nil, event.DatasetFailedBadRequest, `is not after start`},
		{"no label stream", event.DatasetRequested{Features: []string{"uc:clicks_1h"}}, nil, event.DatasetFailedBadRequest, `label_stream empty`},
		{"undecodable", event.DatasetRequested{}, "not an object", event.DatasetFailedUndecodable, `undecodable dataset request`},
		{"misspelt field", event.DatasetRequested{}, map[string]any{
			"request_id": fmt.Sprintf("bad-%d-misspelt-field", n), "features": []string{"uc:clicks_1h"}, "labelstream": "l",
			"start": start, "end": end,
		}, event.DatasetFailedUndecodable, `unknown field "labelstream"`},
		{"trailing data", event.DatasetRequested{}, []byte(fmt.Sprintf(`{"request_id":"bad-%d-trailing-data"} {}`, n)), event.DatasetFailedUndecodable, `undecodable dataset request`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.RequestID = fmt.Sprintf("bad-%d-%s", n, strings.ReplaceAll(tc.name, " ", "-"))
			req.JobID = "job-1"
			if req.Start.IsZero() {
				req.Start = start
			}
			if req.End.IsZero() {
				req.End = end
			}
			got := h.requestFailing(t, req, tc.data)
			if got.Reason != tc.reason || !strings.Contains(got.Message, tc.message) {
				t.Errorf("reason %q, message %q; want %q containing %q", got.Reason, got.Message, tc.reason, tc.message)
			}
			if tc.data == nil && (got.LabelStream != req.LabelStream || !got.Start.Equal(req.Start) || !got.End.Equal(req.End) || got.JobID != "job-1" || strings.Join(got.Features, ",") != strings.Join(req.Features, ",")) {
				t.Errorf("failed %+v does not carry the request %+v", got, req)
			}
		})
	}
}
