package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
)

// TestDatasetsBuildAnswers runs `datasets build` against an embedded
// nats-server where a stand-in for the features service answers each request:
// dataset.failed for a request of view zz, dataset.ready otherwise. The cli
// prints the ready event and exits 0, or prints the reason and exits 1.
func TestDatasetsBuildAnswers(t *testing.T) {
	ctx := context.Background()
	srv := runNATS(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: event.StreamName, Subjects: []string{"tributary.dataset.>"}}); err != nil {
		t.Fatal(err)
	}
	reqSubject, _ := event.Subject(event.TypeDatasetRequested)
	var handlers sync.WaitGroup
	sub, err := nc.Subscribe(reqSubject, func(m *nats.Msg) {
		defer handlers.Done()
		re, err := event.FromNATSMsg(m)
		if err != nil {
			t.Error(err)
			return
		}
		var req event.DatasetRequested
		if err := json.Unmarshal(re.Data(), &req); err != nil {
			t.Error(err)
			return
		}
		// Another request's answer first: the cli must skip it.
		answer(ctx, t, js, event.TypeDatasetFailed, event.DatasetFailed{RequestID: "other", Reason: "error", Message: "not yours"})
		if strings.HasPrefix(req.Features[0], "zz:") {
			answer(ctx, t, js, event.TypeDatasetFailed, event.DatasetFailed{RequestID: req.RequestID, Reason: event.DatasetFailedUnknownView, Message: `unknown view "zz" in "zz:f"`, Features: req.Features})
			return
		}
		answer(ctx, t, js, event.TypeDatasetReady, event.DatasetReady{RequestID: req.RequestID, DatasetID: "abc", Bucket: "tributary_artifacts", ObjectName: "datasets/abc.parquet", RowCount: 7, Features: req.Features, LabelStream: req.LabelStream, Start: req.Start, End: req.End})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // the server knows the subscription
		t.Fatal(err)
	}
	// The stand-in finishes its answers (one per request) before the server
	// stops.
	handlers.Add(2)
	defer func() {
		done := make(chan struct{})
		go func() { handlers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the stand-in did not answer both requests")
		}
	}()
	defer func() { _ = sub.Unsubscribe() }()
	build := func(features string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"datasets", "build", "-nats.url", srv.ClientURL(), "-features", features, "-labels", "l",
			"-start", "2026-01-01T00:00:00Z", "-end", "2026-01-02T00:00:00Z", "-timeout", "10s"}, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := build("zz:f")
	if code != 1 || !strings.Contains(errOut, `dataset failed`) || !strings.Contains(errOut, `unknown_view: unknown view "zz" in "zz:f"`) || out != "" {
		t.Errorf("failed request: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = build("v:f")
	if code != 0 || !strings.Contains(out, `"row_count": 7`) {
		t.Errorf("ready request: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func answer(ctx context.Context, t *testing.T, js jetstream.JetStream, typ string, data any) {
	e := ce.New()
	e.SetID(typ + "-" + time.Now().String())
	e.SetSource("/test")
	e.SetType(typ)
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		t.Error(err)
		return
	}
	subject, _ := event.Subject(typ)
	msg, err := event.ToNATSMsg(e, subject)
	if err != nil {
		t.Error(err)
		return
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Error(err)
	}
}
