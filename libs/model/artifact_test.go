package model_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/model"
)

// objectStore starts an embedded nats-server with JetStream and returns an
// object store on it.
func objectStore(t *testing.T) jetstream.ObjectStore {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := js.CreateObjectStore(context.Background(), jetstream.ObjectStoreConfig{Bucket: "artifacts"})
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

func TestArtifacts(t *testing.T) {
	obs := objectStore(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("weights!"), 70000)
	sum := sha256.Sum256(content)
	a, err := model.PutArtifact(ctx, obs, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != hex.EncodeToString(sum[:]) || a.Size != int64(len(content)) {
		t.Fatalf("artifact %+v", a)
	}
	info, err := obs.GetInfo(ctx, model.ArtifactName(a.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	// Storing the same content again uploads nothing.
	if again, err := model.PutArtifact(ctx, obs, bytes.NewReader(content)); err != nil || again != a {
		t.Fatalf("second put: %+v, %v", again, err)
	}
	if info2, _ := obs.GetInfo(ctx, model.ArtifactName(a.SHA256)); info2.NUID != info.NUID {
		t.Fatal("the same content was uploaded again")
	}
	if _, err := model.PutArtifact(ctx, obs, bytes.NewReader(nil)); !errors.Is(err, model.ErrInvalidRequest) {
		t.Fatalf("empty artifact: %v", err)
	}

	rc, size, err := model.OpenArtifact(ctx, obs, a.SHA256)
	if err != nil || size != a.Size {
		t.Fatalf("open: %d, %v", size, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if n, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size); err != nil || n != a.Size {
		t.Fatalf("verify: %d, %v", n, err)
	}
	if _, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size+1); !errors.Is(err, model.ErrInvalidRequest) {
		t.Fatalf("verify with a wrong size: %v", err)
	}
	if _, _, err := model.OpenArtifact(ctx, obs, "nothex"); !errors.Is(err, model.ErrInvalidRequest) {
		t.Fatalf("open of a bad address: %v", err)
	}
	missing := hex.EncodeToString(make([]byte, 32))
	if _, _, err := model.OpenArtifact(ctx, obs, missing); !errors.Is(err, model.ErrArtifactNotFound) {
		t.Fatalf("open of a missing artifact: %v", err)
	}

	// Other content under the address is refused at the end of the read,
	// after every byte went through the hash.
	if _, err := obs.PutBytes(ctx, model.ArtifactName(a.SHA256), bytes.Repeat([]byte("x"), len(content))); err != nil {
		t.Fatal(err)
	}
	rc, _, err = model.OpenArtifact(ctx, obs, a.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, model.ErrArtifactCorrupt) {
		t.Fatalf("read of replaced content: %v, want ErrArtifactCorrupt", err)
	}
	// PutArtifact repairs it: the stored digest differs, so it uploads.
	if _, err := model.PutArtifact(ctx, obs, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if _, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}
