package natsapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/registry/internal/natsapi"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
)

// TestClientOverNATS drives the request-reply API with the shared client of
// libs/model, against two replicas in the queue group.
func TestClientOverNATS(t *testing.T) {
	url := registrytest.RealNATSURL(t)
	nc, js := registrytest.Connect(t, url)
	prefix := registrytest.Isolated(t, js)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		rnc, rjs := registrytest.Connect(t, url)
		reg, _ := registrytest.NewRegistry(t, rjs, prefix)
		srv := natsapi.New(reg, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Run(ctx, rnc); err != nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	c := model.NewClient(nc, js, model.WithPrefix(prefix), model.WithTimeout(10*time.Second))
	name := registrytest.ModelName(t)
	// Wait until both replicas subscribed.
	testkit.EventuallyContext(t, 5*time.Second, func(ctx context.Context) error {
		if _, err := c.Models(ctx); err != nil {
			return fmt.Errorf("registry not answering: %w", err)
		}
		return nil
	})

	content := []byte("model bytes over the object store")
	a, err := c.PutArtifact(ctx, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for i := 0; i < 3; i++ {
		v, err := c.Register(ctx, registrytest.Request(name, a, ""))
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		versions = append(versions, v.Version)
	}
	if versions[0] != 1 || versions[2] != 3 {
		t.Fatalf("versions %v", versions)
	}
	moved, err := c.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 2, Actor: "trainer", Reason: "better auc"})
	if err != nil || moved.ToVersion != 2 {
		t.Fatalf("move: %+v, %v", moved, err)
	}
	stale := moved.Revision - 1
	if _, err := c.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 3, Actor: "x", ExpectedRevision: &stale}); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("stale move: %v, want ErrConflict over NATS", err)
	}
	if _, err := c.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 3, Actor: "x", ExpectedRevision: &moved.Revision}); err != nil {
		t.Fatalf("move with the current revision: %v", err)
	}
	if rb, err := c.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "monitor"}); err != nil || rb.ToVersion != 2 {
		t.Fatalf("rollback: %+v, %v", rb, err)
	}
	v, err := c.Version(ctx, name, "production")
	if err != nil || v.Version != 2 || v.Lineage.Reference.Prediction.Kind != model.KindNumeric {
		t.Fatalf("version production: %+v, %v", v, err)
	}
	rc, err := c.OpenArtifact(ctx, v.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("artifact: %q, %v", got, err)
	}
	if arch, err := c.Archive(ctx, model.ArchiveRequest{Model: name, Version: 1, Actor: "a"}); err != nil || arch.Status != model.StatusArchived {
		t.Fatalf("archive: %+v, %v", arch, err)
	}
	if vs, err := c.Versions(ctx, name); err != nil || len(vs) != 3 {
		t.Fatalf("versions: %d, %v", len(vs), err)
	}
	if m, err := c.Model(ctx, name); err != nil || len(m.Aliases) != 1 {
		t.Fatalf("model: %+v, %v", m, err)
	}
	if audit, err := c.Audit(ctx, name); err != nil || len(audit) != 3 {
		t.Fatalf("audit: %+v, %v", audit, err)
	}
	if _, err := c.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "shadow", Version: 3, Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	del, err := c.DeleteAlias(ctx, model.DeleteAliasRequest{Model: name, Alias: "shadow", Actor: "a", Reason: "done"})
	if err != nil || !del.Deleted || del.FromVersion != 3 {
		t.Fatalf("delete alias: %+v, %v", del, err)
	}
	if _, err := c.Version(ctx, name, "shadow"); !errors.Is(err, model.ErrAliasNotFound) {
		t.Fatalf("version of a deleted alias: %v", err)
	}
	if _, err := c.DeleteAlias(ctx, model.DeleteAliasRequest{Model: name, Alias: "shadow", Actor: "a"}); !errors.Is(err, model.ErrAliasNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	ms, err := c.Models(ctx)
	if err != nil || len(ms) != 1 || ms[0].Name != name {
		t.Fatalf("models: %+v, %v", ms, err)
	}

	// Errors keep their ids over the wire.
	if _, err := c.Version(ctx, name, "9"); !errors.Is(err, model.ErrVersionNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := c.Versions(ctx, "nope-"+name); !errors.Is(err, model.ErrModelNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
	if _, err := c.Model(ctx, "bad.name"); !errors.Is(err, model.ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}

	// A request that is not a CloudEvent gets an invalid_request reply.
	resp, err := nc.RequestWithContext(ctx, model.Subject(prefix, model.VerbModel), []byte("plain text"))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := event.FromNATSMsg(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reply.Data()), `"id":"invalid_request"`) || reply.Type() != model.ReplyType {
		t.Fatalf("reply to garbage: %s %s", reply.Type(), reply.Data())
	}
	// Unknown fields are refused, as by the HTTP API: a misspelt field
	// must not register a version without what it meant to say.
	for _, data := range []string{
		`{"model":"` + name + `","versoin":"1"}`,
		`{"model":"` + name + `"} {}`,
	} {
		e := ce.New()
		e.SetID(registrytest.RandomID(t))
		e.SetSource("/test")
		e.SetType(model.RequestType(model.VerbModel))
		if err := e.SetData(ce.ApplicationJSON, []byte(data)); err != nil {
			t.Fatal(err)
		}
		msg, err := event.ToNATSMsg(e, model.Subject(prefix, model.VerbModel))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := event.FromNATSMsg(resp)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(reply.Data()), `"id":"invalid_request"`) {
			t.Errorf("reply to %s: %s, want invalid_request", data, reply.Data())
		}
	}
	// The request subjects stay outside the stream.
	if event.InStream(model.Subject("", model.VerbRegister)) {
		t.Fatal("request subject captured by the stream")
	}
}

// Stopping the server while requests keep arriving, more than it handles
// at once, neither races on its WaitGroup (run with -race) nor leaves a
// handler running after Run returned.
func TestShutdownUnderLoad(t *testing.T) {
	url := registrytest.RealNATSURL(t)
	nc, js := registrytest.Connect(t, url)
	prefix := registrytest.Isolated(t, js)
	rnc, rjs := registrytest.Connect(t, url)
	metrics := prometheus.NewRegistry()
	reg, st := registrytest.NewRegistryWith(t, rjs, prefix, metrics)
	// Registrations read their artifact in full: slow enough that the
	// requests queue behind the server's bound of requests in flight.
	a := registrytest.PutBytes(t, st, bytes.Repeat([]byte("slow "), 400000))
	name := registrytest.ModelName(t)
	c := model.NewClient(nc, js, model.WithPrefix(prefix), model.WithTimeout(2*time.Second))
	handled := func() float64 {
		mfs, err := metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var n float64
		for _, mf := range mfs {
			if mf.GetName() == "tributary_registry_operations_total" {
				for _, m := range mf.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	for round := 0; round < 3; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		srv := natsapi.New(reg, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
		go func() { done <- srv.Run(ctx, rnc) }()
		testkit.EventuallyContext(t, 5*time.Second, func(ctx context.Context) error {
			if _, err := c.Models(ctx); err != nil {
				return fmt.Errorf("registry not answering: %w", err)
			}
			return nil
		})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 96; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = c.Register(context.Background(), registrytest.Request(name, a, ""))
				}
			}()
		}
		time.AfterFunc(300*time.Millisecond, cancel)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		atReturn := handled()
		close(stop)
		wg.Wait() // the requesters time out: nothing answers any more
		if after := handled(); after != atReturn {
			t.Fatalf("round %d: %v operations handled after Run returned", round, after-atReturn)
		}
	}
}
