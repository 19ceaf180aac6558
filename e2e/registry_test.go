package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/reason"
)

// TestRegistryLifecycle drives the registry binary: register two versions
// over HTTP, promote them to production, roll back, download and verify the
// artifact, ask the NATS request-reply API, and find the lifecycle events
// on the JetStream stream.
func TestRegistryLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := stack.platform.Service("registry").BaseURL
	name := "e2e-" + randomID(t)
	start := time.Now().Add(-time.Second)

	ref := model.NewNumeric([]float64{0.1, 0.4, 0.35, 0.8, 0.9}, 4)
	meta := model.RegisterRequest{
		Format: "linear",
		Lineage: model.Lineage{
			TrainingSetID: "ds-e2e", TrainingSetSHA256: strings.Repeat("0", 64),
			Features: []string{"txn:amount"}, Trainer: "e2e", CodeVersion: "test",
			Metrics:   map[string]float64{"auc": 0.8},
			Reference: model.Reference{Features: map[string]model.Distribution{"txn:amount": ref}, Prediction: ref},
			Trigger:   event.TriggerManual,
		},
		Actor: "e2e",
	}
	artifacts := [][]byte{[]byte("version one " + name), bytes.Repeat([]byte("version two "), 50000)}
	for i, content := range artifacts {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mp, _ := mw.CreateFormField("metadata")
		_ = json.NewEncoder(mp).Encode(meta)
		ap, _ := mw.CreateFormFile("artifact", "model.bin")
		_, _ = ap.Write(content)
		_ = mw.Close()
		var v model.Version
		registryCall(t, ctx, "POST", base+"/v1/models/"+name+"/versions", mw.FormDataContentType(), &body, http.StatusCreated, &v)
		sum := sha256.Sum256(content)
		if v.Version != i+1 || v.Artifact.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("registered %+v", v)
		}
	}
	var e model.AuditEntry
	for _, v := range []string{"1", "2"} {
		registryCall(t, ctx, "PUT", base+"/v1/models/"+name+"/aliases/production", "application/json",
			strings.NewReader(`{"version":`+v+`,"actor":"e2e","reason":"promote"}`), http.StatusOK, &e)
	}
	registryCall(t, ctx, "POST", base+"/v1/models/"+name+"/rollback", "application/json",
		strings.NewReader(`{"actor":"e2e","reason":"roll back"}`), http.StatusOK, &e)
	if !e.Rollback || e.FromVersion != 2 || e.ToVersion != 1 {
		t.Fatalf("rollback %+v", e)
	}
	// Unknown versions are a clean 404 with the error envelope
	// (libs/httperror); so is a route that does not exist, and a method a
	// route does not have is 405 with Allow.
	for _, c := range []struct {
		method, path string
		status       int
		reason       reason.ID
	}{
		{"GET", "/v1/models/" + name + "/versions/7", http.StatusNotFound, reason.VersionNotFound},
		{"GET", "/v1/nothing", http.StatusNotFound, reason.NotFound},
		{"PATCH", "/v1/models/" + name + "/rollback", http.StatusMethodNotAllowed, reason.MethodNotAllowed},
	} {
		req, _ := http.NewRequestWithContext(ctx, c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Strictly the envelope, not a body only httperror.Parse's
		// compatibility with older bodies would read.
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var eb httperror.Body
		if err := dec.Decode(&eb); err != nil || resp.StatusCode != c.status || eb.Reason != c.reason || eb.Error == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d %s (%v), want %d %s", c.method, c.path, resp.StatusCode, b, err, c.status, c.reason)
		}
		if c.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "POST" {
			t.Fatalf("%s %s: Allow %q, want POST", c.method, c.path, resp.Header.Get("Allow"))
		}
	}

	// Download production (version 1) and verify it.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/models/"+name+"/versions/production/artifact", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, artifacts[0]) {
		t.Fatalf("download: status %d, %d bytes, %v", resp.StatusCode, len(got), err)
	}
	if sum := sha256.Sum256(got); resp.Header.Get("X-Tributary-Artifact-SHA256") != hex.EncodeToString(sum[:]) {
		t.Fatalf("download sha256 header %q", resp.Header.Get("X-Tributary-Artifact-SHA256"))
	}

	// The request-reply API of the same binary agrees.
	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := model.NewClient(nc, js)
	if v, err := c.Version(ctx, name, "production"); err != nil || v.Version != 1 {
		t.Fatalf("production over NATS: %d, %v", v.Version, err)
	}

	// The lifecycle events are on the stream, in order.
	cons, err := js.OrderedConsumer(ctx, natsx.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"tributary.model.>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{event.TypeModelRegistered, event.TypeModelRegistered, event.TypeModelAliasMoved, event.TypeModelAliasMoved, event.TypeModelAliasMoved}
	var types []string
	var last event.ModelAliasMoved
	for len(types) < len(want) && ctx.Err() == nil {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range msgs.Messages() {
			ev, err := event.FromJetStreamMsg(m)
			if err != nil {
				t.Fatalf("event on %s: %v", m.Subject(), err)
			}
			if ev.Subject() != name {
				continue
			}
			types = append(types, ev.Type())
			if ev.Type() == event.TypeModelAliasMoved {
				if err := json.Unmarshal(ev.Data(), &last); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if !slices.Equal(types, want) {
		t.Fatalf("lifecycle events %v, want %v", types, want)
	}
	if !last.Rollback || last.ToVersion != 1 || last.Model != name {
		t.Fatalf("last alias event %+v, want the rollback to 1", last)
	}
}

func registryCall(t *testing.T, ctx context.Context, method, url, contentType string, body io.Reader, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, wantStatus, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, url, b, err)
	}
}
