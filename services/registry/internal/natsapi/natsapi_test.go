package natsapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
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
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Models(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry not answering: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

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
	// The request subjects stay outside the stream.
	if event.InStream(model.Subject("", model.VerbRegister)) {
		t.Fatal("request subject captured by the stream")
	}
}
