package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
)

func readArtifact(t *testing.T, f *fixture, name string, ref model.VersionRef) ([]byte, error) {
	t.Helper()
	_, rc, err := f.reg.OpenArtifact(context.Background(), name, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// A stored artifact that no longer matches its sha256 is refused on read,
// whether it was replaced by other content (the object store's own digest
// matches) or its chunks were changed under the object store.
func TestCorruptedArtifact(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	obs := f.st.ObjectStore()

	t.Run("replaced content", func(t *testing.T) {
		name := registrytest.ModelName(t)
		v := registrytest.Register(t, f.reg, f.st, name, "the real model "+name)
		if got, err := readArtifact(t, f, name, "1"); err != nil || string(got) != "the real model "+name {
			t.Fatalf("intact artifact: %q, %v", got, err)
		}
		// Same size, other bytes, written straight to the object store.
		if _, err := obs.PutBytes(ctx, model.ArtifactName(v.Artifact.SHA256), []byte(strings.Repeat("X", int(v.Artifact.Size)))); err != nil {
			t.Fatal(err)
		}
		_, err := readArtifact(t, f, name, "1")
		if !errors.Is(err, model.ErrArtifactCorrupt) || !strings.Contains(err.Error(), "corrupted") {
			t.Fatalf("read of a replaced artifact: %v, want ErrArtifactCorrupt", err)
		}
		if err := f.reg.VerifyArtifact(ctx, v); !errors.Is(err, model.ErrArtifactCorrupt) {
			t.Fatalf("verify: %v", err)
		}
		// Registering the corrupted address is refused too.
		if _, err := f.reg.Register(ctx, registrytest.Request(name, v.Artifact, "")); !errors.Is(err, model.ErrArtifactCorrupt) {
			t.Fatalf("register of a corrupted artifact: %v", err)
		}
		// Uploading the real content again repairs it.
		if _, err := f.st.PutArtifact(ctx, bytes.NewReader([]byte("the real model "+name))); err != nil {
			t.Fatal(err)
		}
		if _, err := readArtifact(t, f, name, "1"); err != nil {
			t.Fatalf("after repair: %v", err)
		}
	})

	t.Run("changed chunk", func(t *testing.T) {
		name := registrytest.ModelName(t)
		content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // several chunks
		a := registrytest.PutBytes(t, f.st, content)
		if _, err := f.reg.Register(ctx, registrytest.Request(name, a, "")); err != nil {
			t.Fatal(err)
		}
		info, err := obs.GetInfo(ctx, model.ArtifactName(a.SHA256))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := f.js.Stream(ctx, "OBJ_"+f.prefix+natsx.ObjectStoreArtifacts)
		if err != nil {
			t.Fatal(err)
		}
		chunks := "$O." + f.prefix + natsx.ObjectStoreArtifacts + ".C." + info.NUID
		first, err := stream.GetLastMsgForSubject(ctx, chunks)
		if err != nil {
			t.Fatal(err)
		}
		// Flip one byte of the last chunk in place: delete the message and
		// publish the altered copy on the same subject.
		data := bytes.Clone(first.Data)
		data[0] ^= 0xff
		if err := stream.DeleteMsg(ctx, first.Sequence); err != nil {
			t.Fatal(err)
		}
		if _, err := f.js.Publish(ctx, chunks, data); err != nil {
			t.Fatal(err)
		}
		_, err = readArtifact(t, f, name, "1")
		if !errors.Is(err, model.ErrArtifactCorrupt) {
			t.Fatalf("read of an artifact with a changed chunk: %v, want ErrArtifactCorrupt", err)
		}
	})

	t.Run("missing object", func(t *testing.T) {
		name := registrytest.ModelName(t)
		v := registrytest.Register(t, f.reg, f.st, name, "to be deleted "+name)
		if err := obs.Delete(ctx, model.ArtifactName(v.Artifact.SHA256)); err != nil {
			t.Fatal(err)
		}
		if _, err := readArtifact(t, f, name, "1"); !errors.Is(err, model.ErrArtifactNotFound) {
			t.Fatalf("read of a deleted artifact: %v, want ErrArtifactNotFound", err)
		}
	})
}

// Everything written survives a restart of nats-server. This test uses an
// embedded nats-server with its store in a temporary directory (the shared
// server must not be restarted), with sync_interval always as in the local
// stack.
func TestNATSServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts an embedded nats-server")
	}
	srv := registrytest.StartEmbedded(t)
	_, js := registrytest.Connect(t, srv.URL())
	prefix := registrytest.Isolated(t, js)
	reg, st := registrytest.NewRegistry(t, js, prefix)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	content := bytes.Repeat([]byte("weights "), 100000)
	a := registrytest.PutBytes(t, st, content)
	for i := 0; i < 3; i++ {
		if _, err := reg.Register(ctx, registrytest.Request(name, a, "")); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []int{1, 3} {
		if _, err := reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: v, Actor: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Archive(ctx, model.ArchiveRequest{Model: name, Version: 2, Actor: "a"}); err != nil {
		t.Fatal(err)
	}

	srv.Restart()

	// The old connection reconnects; wait until JetStream answers.
	testkit.EventuallyContext(t, 20*time.Second, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := js.AccountInfo(actx); err != nil {
			return fmt.Errorf("JetStream not back after the restart: %w", err)
		}
		return nil
	})
	reg2, st2 := registrytest.NewRegistry(t, js, prefix)
	vs, err := reg2.Versions(ctx, name)
	if err != nil || len(vs) != 3 || vs[1].Status != model.StatusArchived {
		t.Fatalf("versions after restart: %+v, %v", vs, err)
	}
	if v, err := reg2.Version(ctx, name, "production"); err != nil || v.Version != 3 {
		t.Fatalf("production after restart: %d, %v", v.Version, err)
	}
	if audit, err := reg2.Audit(ctx, name); err != nil || len(audit) != 2 {
		t.Fatalf("audit after restart: %+v, %v", audit, err)
	}
	_, rc, err := reg2.OpenArtifact(ctx, name, "production")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("artifact after restart: %d bytes, %v", len(got), err)
	}
	if v := registrytest.Register(t, reg2, st2, name, "four"); v.Version != 4 {
		t.Fatalf("first version after restart is %d, want 4", v.Version)
	}
	if rb, err := reg2.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "a"}); err != nil || rb.ToVersion != 1 {
		t.Fatalf("rollback after restart: %+v, %v", rb, err)
	}
	evs := registrytest.Events(t, js, prefix, name, 8)
	if len(evs) != 8 {
		t.Fatalf("%d lifecycle events after the restart, want 8 (3 registered, 2 moves, 1 archive, 1 registered, 1 rollback)", len(evs))
	}
}
