package model_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// bucket is the object store of the artifact tests.
const bucket = "artifacts"

// objectStore starts an embedded nats-server with JetStream and returns an
// object store on it (named bucket) and the JetStream context.
func objectStore(t *testing.T) (jetstream.JetStream, jetstream.ObjectStore) {
	t.Helper()
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := js.CreateObjectStore(context.Background(), jetstream.ObjectStoreConfig{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return js, obs
}

func TestArtifacts(t *testing.T) {
	js, obs := objectStore(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("weights!"), 70000)
	sum := sha256.Sum256(content)
	a, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content))
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
	if again, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content)); err != nil || again != a {
		t.Fatalf("second put: %+v, %v", again, err)
	}
	if info2, _ := obs.GetInfo(ctx, model.ArtifactName(a.SHA256)); info2.NUID != info.NUID {
		t.Fatal("the same content was uploaded again")
	}
	if _, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(nil)); !errors.Is(err, model.ErrInvalidRequest) {
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
	if _, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if _, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}

// chunkSubjects lists the chunk subjects of the bucket's stream with their
// message counts.
func chunkSubjects(t *testing.T, js jetstream.JetStream) map[string]uint64 {
	t.Helper()
	stream, err := js.Stream(context.Background(), "OBJ_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter("$O."+bucket+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

// A stored copy whose chunks were changed under the object store keeps the
// object store's digest of the original content; uploading the right bytes
// must still replace it.
func TestPutArtifactRepairsChangedChunks(t *testing.T) {
	js, obs := objectStore(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 3 chunks
	a, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(ctx, model.ArtifactName(a.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	subj := "$O." + bucket + ".C." + info.NUID
	last, err := stream.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(last.Data)
	data[0] ^= 0xff
	if err := stream.DeleteMsg(ctx, last.Sequence); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj, data); err != nil {
		t.Fatal(err)
	}
	if _, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size); !errors.Is(err, model.ErrArtifactCorrupt) {
		t.Fatalf("verify of a changed chunk: %v, want ErrArtifactCorrupt", err)
	}
	if _, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content)); err != nil {
		t.Fatalf("put of the right bytes: %v", err)
	}
	if _, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	// The corrupted copy's chunks are gone; only the new object's remain.
	info2, err := obs.GetInfo(ctx, model.ArtifactName(a.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if subs := chunkSubjects(t, js); len(subs) != 1 || subs["$O."+bucket+".C."+info2.NUID] != 3 {
		t.Fatalf("chunk subjects after repair: %v, want only the new object's 3 chunks", subs)
	}
}

// Concurrent uploads of one artifact, while others read it, all succeed:
// the object is created once and never replaced under a reader.
func TestPutArtifactConcurrent(t *testing.T) {
	js, obs := objectStore(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("concurrent weights "), 100000) // ~1.9 MB, 15 chunks
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	const uploaders = 8
	errs := make(chan error, 2*uploaders)
	var wg sync.WaitGroup
	for i := 0; i < uploaders; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content))
			errs <- err
		}()
		go func() {
			defer wg.Done()
			// Read whenever the object exists; every read must verify.
			var read error
			err := testkit.Poll(ctx, 5*time.Second, func(context.Context) error {
				_, err := model.VerifyArtifact(ctx, obs, want, int64(len(content)))
				if errors.Is(err, model.ErrArtifactNotFound) {
					return err
				}
				read = err
				return nil
			})
			if err != nil {
				err = fmt.Errorf("the artifact never appeared: %w", err)
			} else {
				err = read
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent put or read: %v", err)
		}
	}
	info, err := obs.GetInfo(ctx, model.ArtifactName(want))
	if err != nil {
		t.Fatal(err)
	}
	if subs := chunkSubjects(t, js); len(subs) != 1 || subs["$O."+bucket+".C."+info.NUID] != uint64(info.Chunks) {
		t.Fatalf("chunk subjects %v, want only the object's %d chunks (the losers removed theirs)", subs, info.Chunks)
	}
}

// The chunks of an upload killed before its metadata was written are
// removed once they are older than the grace period; those of stored
// objects and of recent uploads are kept.
func TestSweepArtifactChunks(t *testing.T) {
	js, obs := objectStore(t)
	ctx := context.Background()
	content := bytes.Repeat([]byte("kept "), 50000)
	a, err := model.PutArtifact(ctx, js, bucket, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	orphan := "$O." + bucket + ".C.orphan0123456789"
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx, orphan, bytes.Repeat([]byte{byte(i)}, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := model.SweepArtifactChunks(ctx, js, bucket, time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep with a 1h grace: removed %d, %v; want 0 (maybe an upload in progress)", n, err)
	}
	if subs := chunkSubjects(t, js); subs[orphan] != 3 {
		t.Fatalf("recent orphan chunks: %v", subs)
	}
	if n, err := model.SweepArtifactChunks(ctx, js, bucket, 0); err != nil || n != 1 {
		t.Fatalf("sweep: removed %d, %v; want 1", n, err)
	}
	if subs := chunkSubjects(t, js); len(subs) != 1 || subs[orphan] != 0 {
		t.Fatalf("chunk subjects after the sweep: %v, want the stored object's only", subs)
	}
	if _, err := model.VerifyArtifact(ctx, obs, a.SHA256, a.Size); err != nil {
		t.Fatalf("stored artifact after the sweep: %v", err)
	}
}
