package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/registry/internal/httpapi"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
)

// serve serves the API of a registry on js under prefix and returns its URL
// and metrics.
func serve(t *testing.T, js jetstream.JetStream, prefix string) (string, *prometheus.Registry) {
	t.Helper()
	metrics := prometheus.NewRegistry()
	reg, _ := registrytest.NewRegistryWith(t, js, prefix, metrics)
	mux := http.NewServeMux()
	for pattern, h := range httpapi.New(reg, slog.New(slog.NewTextHandler(io.Discard, nil)), t.TempDir(), 200<<20).Routes() {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, metrics
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// chunkSubjects counts the chunk subjects of the fixture's object store:
// one per stored object, plus those of uploads that left chunks behind.
func chunkSubjects(t *testing.T, js jetstream.JetStream, prefix string) int {
	t.Helper()
	bucket := prefix + natsx.ObjectStoreArtifacts
	stream, err := js.Stream(context.Background(), "OBJ_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter("$O."+bucket+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	return len(info.State.Subjects)
}

// Concurrent uploads of one artifact all register (none times out reading
// an object another upload replaced) and store it once, and with a shared
// request id exactly one version is registered, which a retry then
// returns.
func TestConcurrentUploadsOfOneArtifact(t *testing.T) {
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	prefix := registrytest.Isolated(t, js)
	url, _ := serve(t, js, prefix)
	f := &fixture{url: url}
	content := bytes.Repeat([]byte("same weights "), 400000) // ~5 MB, 40 chunks
	const n = 6
	t.Run("without request id", func(t *testing.T) {
		name := registrytest.ModelName(t)
		meta := registrytest.Request(name, model.Artifact{}, "")
		var wg sync.WaitGroup
		versions := make(chan int, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := upload(t, f.url, meta, writeBytes(content))
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("upload: %d %s", resp.StatusCode, body)
					return
				}
				var v model.Version
				_ = json.Unmarshal(body, &v)
				versions <- v.Version
			}()
		}
		wg.Wait()
		close(versions)
		seen := map[int]bool{}
		for v := range versions {
			seen[v] = true
		}
		if len(seen) != n {
			t.Fatalf("versions %v, want %d distinct", seen, n)
		}
		if c := chunkSubjects(t, js, prefix); c != 1 {
			t.Fatalf("%d chunk subjects in the object store, want 1: the artifact stored once, no upload's chunks left behind", c)
		}
	})
	t.Run("shared request id", func(t *testing.T) {
		content := append(bytes.Clone(content), "and another"...)
		name := registrytest.ModelName(t)
		meta := registrytest.Request(name, model.Artifact{}, "")
		meta.RequestID = "job-" + registrytest.RandomID(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[int]int{}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := upload(t, f.url, meta, writeBytes(content))
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusCreated:
					var v model.Version
					_ = json.Unmarshal(body, &v)
					mu.Lock()
					got[v.Version]++
					mu.Unlock()
				case http.StatusConflict: // the first attempt is still running
				default:
					t.Errorf("upload: %d %s", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		if len(got) != 1 || got[1] == 0 {
			t.Fatalf("registered versions %v, want only version 1", got)
		}
		v := decode[model.Version](t, upload(t, f.url, meta, writeBytes(content)), http.StatusCreated)
		if v.Version != 1 {
			t.Fatalf("retry: version %d, want 1", v.Version)
		}
		if vs := decode[[]model.Version](t, do(t, "GET", f.url+"/v1/models/"+name+"/versions", ""), http.StatusOK); len(vs) != 1 {
			t.Fatalf("%d versions stored, want 1", len(vs))
		}
		if c := chunkSubjects(t, js, prefix); c != 2 {
			t.Fatalf("%d chunk subjects in the object store, want 2 (one per artifact)", c)
		}
	})
}

// An artifact whose stored chunks were changed keeps the object store's
// digest of the original; uploading the right bytes repairs it.
func TestUploadRepairsCorruptedArtifact(t *testing.T) {
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	prefix := registrytest.Isolated(t, js)
	url, _ := serve(t, js, prefix)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 3 chunks
	meta := registrytest.Request(name, model.Artifact{}, "")
	v := decode[model.Version](t, upload(t, url, meta, writeBytes(content)), http.StatusCreated)

	obs, err := js.ObjectStore(ctx, prefix+natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(ctx, model.ArtifactName(v.Artifact.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "OBJ_"+prefix+natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	chunks := "$O." + prefix + natsx.ObjectStoreArtifacts + ".C." + info.NUID
	last, err := stream.GetLastMsgForSubject(ctx, chunks)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(last.Data)
	data[0] ^= 0xff
	if err := stream.DeleteMsg(ctx, last.Sequence); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, chunks, data); err != nil {
		t.Fatal(err)
	}
	e := decodeError(t, do(t, "GET", url+"/v1/models/"+name+"/versions/1/artifact", ""), http.StatusUnprocessableEntity)
	if e.Reason != model.CodeArtifactCorrupt {
		t.Fatalf("download of the corrupted copy: %+v", e)
	}
	if v2 := decode[model.Version](t, upload(t, url, meta, writeBytes(content)), http.StatusCreated); v2.Artifact != v.Artifact {
		t.Fatalf("re-upload registered %+v, want artifact %+v", v2.Artifact, v.Artifact)
	}
	resp := do(t, "GET", url+"/v1/models/"+name+"/versions/1/artifact", "")
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("download after the repair: %d, %d bytes", resp.StatusCode, len(got))
	}
}

// Metadata that does not fit a KV value is refused with 413 before a
// version number is taken; a body over the JSON limit says it is too large.
func TestMetadataTooLarge(t *testing.T) {
	f := newFixture(t)
	name := registrytest.ModelName(t)
	meta := registrytest.Request(name, model.Artifact{}, "")
	big := meta
	big.Lineage.Params = map[string]string{"blob": strings.Repeat("p", 2<<20)}
	e := decodeError(t, upload(t, f.url, big, writeBytes([]byte("weights"))), http.StatusRequestEntityTooLarge)
	if e.Reason != model.CodeTooLarge || !strings.Contains(e.Error, "registration metadata") {
		t.Fatalf("2 MB metadata: %+v", e)
	}
	huge := meta
	huge.Lineage.Params = map[string]string{"blob": strings.Repeat("p", 9<<20)}
	e = decodeError(t, upload(t, f.url, huge, writeBytes([]byte("weights"))), http.StatusRequestEntityTooLarge)
	if e.Reason != model.CodeTooLarge || !strings.Contains(e.Error, "larger than") {
		t.Fatalf("9 MB metadata: %+v", e)
	}
	a := registrytest.PutBytes(t, f.st, []byte("stored for json"))
	jbig := registrytest.Request(name, a, "")
	jbig.Lineage.Params = big.Lineage.Params
	b, _ := json.Marshal(jbig)
	e = decodeError(t, do(t, "POST", f.url+"/v1/models/"+name+"/versions", string(b)), http.StatusRequestEntityTooLarge)
	if e.Reason != model.CodeTooLarge {
		t.Fatalf("2 MB JSON registration: %+v", e)
	}
	// No version number was used up.
	if v := decode[model.Version](t, upload(t, f.url, meta, writeBytes([]byte("weights"))), http.StatusCreated); v.Version != 1 {
		t.Fatalf("next registration got version %d, want 1", v.Version)
	}
}

// When NATS goes away after the start, the API answers 503 unavailable at
// once instead of 500 after a timeout. The test runs its own nats-server.
func TestNATSGoesAway(t *testing.T) {
	srv := registrytest.StartEmbedded(t)
	nc, js := registrytest.Connect(t, srv.URL())
	// The server's store is the test's temporary directory: no cleanup,
	// which could not reach the stopped server anyway.
	const prefix = ""
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := natsx.Bootstrap(ctx, js, natsx.BootstrapConfig{Replicas: 1, Storage: "file", KVHistory: 8}); err != nil {
		t.Fatal(err)
	}
	url, _ := serve(t, js, prefix)
	name := registrytest.ModelName(t)
	decode[model.Version](t, upload(t, url, registrytest.Request(name, model.Artifact{}, ""), writeBytes([]byte("weights"))), http.StatusCreated)
	srv.Shutdown()
	// The client notices the closed connection by itself (a request sent
	// before it does waits for its timeout, then is unavailable too).
	tick, timeout := time.NewTicker(10*time.Millisecond), time.After(10*time.Second)
	defer tick.Stop()
	for nc.Status() == nats.CONNECTED {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatal("the client did not notice that the server stopped")
		}
	}
	for _, path := range []string{"/v1/models", "/v1/models/" + name, "/v1/models/" + name + "/versions/1", "/v1/models/" + name + "/versions/1/artifact"} {
		start := time.Now()
		e := decodeError(t, do(t, "GET", url+path, ""), http.StatusServiceUnavailable)
		if e.Reason != model.CodeUnavailable {
			t.Errorf("GET %s: %+v, want unavailable", path, e)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("GET %s took %v, want an answer at once", path, d)
		}
	}
	start := time.Now()
	e := decodeError(t, do(t, "PUT", url+"/v1/models/"+name+"/aliases/production", `{"version":1,"actor":"a"}`), http.StatusServiceUnavailable)
	if e.Reason != model.CodeUnavailable || time.Since(start) > time.Second {
		t.Errorf("alias move: %+v after %v", e, time.Since(start))
	}
}

// The smaller faults of the hardening issue, over HTTP.
func TestRequestChecks(t *testing.T) {
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	prefix := registrytest.Isolated(t, js)
	url, metrics := serve(t, js, prefix)
	name := registrytest.ModelName(t)
	content := []byte("checked weights")
	meta := registrytest.Request(name, model.Artifact{}, "")
	decode[model.Version](t, upload(t, url, meta, writeBytes(content)), http.StatusCreated)

	send := func(method, path, contentType, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	wrongSize := meta
	wrongSize.Artifact.Size = int64(len(content)) + 5
	wrongSHA := meta
	wrongSHA.Artifact.SHA256 = strings.Repeat("ab", 32)
	aliases := "/v1/models/" + name + "/aliases/"
	for _, tc := range []struct {
		name   string
		resp   func() *http.Response
		status int
		code   model.Code
		msg    string
	}{
		{"wrong artifact.size", func() *http.Response { return upload(t, url, wrongSize, writeBytes(content)) }, 400, model.CodeInvalidRequest, "artifact.size"},
		{"wrong artifact.sha256", func() *http.Response { return upload(t, url, wrongSHA, writeBytes(content)) }, 400, model.CodeInvalidRequest, "artifact.sha256"},
		{"text/plain body", func() *http.Response {
			return send("PUT", aliases+"production", "text/plain", `{"version":1,"actor":"a"}`)
		}, 415, model.CodeUnsupportedMedia, "application/json"},
		{"no content type", func() *http.Response {
			return send("POST", "/v1/models/"+name+"/rollback", "", `{"actor":"a"}`)
		}, 415, model.CodeUnsupportedMedia, "application/json"},
		{"form-encoded registration", func() *http.Response {
			return send("POST", "/v1/models/"+name+"/versions", "application/x-www-form-urlencoded", `{}`)
		}, 415, model.CodeUnsupportedMedia, "multipart/form-data"},
		{"trailing data", func() *http.Response {
			return send("PUT", aliases+"production", "application/json", `{"version":1,"actor":"a"} {"version":2}`)
		}, 400, model.CodeInvalidRequest, "trailing data"},
		{"numeric alias", func() *http.Response {
			return send("PUT", aliases+"123", "application/json", `{"version":1,"actor":"a"}`)
		}, 400, model.CodeInvalidName, "version number"},
		{"conditional move of a missing alias", func() *http.Response {
			return send("PUT", aliases+"shadow", "application/json", `{"version":1,"actor":"a","expected_revision":7}`)
		}, 409, model.CodeConflict, "does not exist"},
		{"weight below 0", func() *http.Response {
			return send("PUT", aliases+"canary", "application/json", `{"version":1,"actor":"a","weight":-0.5}`)
		}, 400, model.CodeInvalidRequest, "between 0 and 1"},
		{"delete of a missing alias", func() *http.Response {
			return send("DELETE", aliases+"shadow", "application/json", `{"actor":"a"}`)
		}, 404, model.CodeAliasNotFound, "shadow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decodeError(t, tc.resp(), tc.status)
			if e.Reason != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("error %+v, want reason %s with %q", e, tc.code, tc.msg)
			}
		})
	}
	if vs := decode[[]model.Version](t, do(t, "GET", url+"/v1/models/"+name+"/versions", ""), http.StatusOK); len(vs) != 1 {
		t.Fatalf("%d versions after the refused requests, want 1", len(vs))
	}
	// Rejections before the registry are counted like the others.
	for _, c := range []struct {
		op, outcome string
		want        float64
	}{
		{"register", "invalid_request", 2},
		{"register", "unsupported_media_type", 1},
		{"move_alias", "unsupported_media_type", 1},
		{"move_alias", "invalid_request", 2},
		{"rollback", "unsupported_media_type", 1},
	} {
		if got := counterValue(t, metrics, "tributary_registry_operations_total", map[string]string{"operation": c.op, "outcome": c.outcome}); got != c.want {
			t.Errorf("operations_total{operation=%q,outcome=%q} = %v, want %v", c.op, c.outcome, got, c.want)
		}
	}
}

func counterValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Deleting an alias removes it, writes an audit entry and publishes
// tributary.model.alias_deleted.v1; a stale conditional delete conflicts.
func TestDeleteAlias(t *testing.T) {
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	prefix := registrytest.Isolated(t, js)
	url, _ := serve(t, js, prefix)
	name := registrytest.ModelName(t)
	decode[model.Version](t, upload(t, url, registrytest.Request(name, model.Artifact{}, ""), writeBytes([]byte("deletable"))), http.StatusCreated)
	moved := decode[model.AuditEntry](t, do(t, "PUT", url+"/v1/models/"+name+"/aliases/shadow", `{"version":1,"actor":"alice"}`), http.StatusOK)
	stale := fmt.Sprintf(`{"actor":"bob","expected_revision":%d}`, moved.Revision+100)
	e := decodeError(t, do(t, "DELETE", url+"/v1/models/"+name+"/aliases/shadow", stale), http.StatusConflict)
	if e.Reason != model.CodeConflict {
		t.Fatalf("stale delete: %+v", e)
	}
	body := fmt.Sprintf(`{"actor":"bob","reason":"shadow test done","expected_revision":%d}`, moved.Revision)
	del := decode[model.AuditEntry](t, do(t, "DELETE", url+"/v1/models/"+name+"/aliases/shadow", body), http.StatusOK)
	if !del.Deleted || del.FromVersion != 1 || del.ToVersion != 0 || del.Actor != "bob" || del.Revision <= moved.Revision {
		t.Fatalf("delete entry %+v", del)
	}
	e = decodeError(t, do(t, "GET", url+"/v1/models/"+name+"/versions/shadow", ""), http.StatusNotFound)
	if e.Reason != model.CodeAliasNotFound {
		t.Fatalf("resolve after delete: %+v", e)
	}
	audit := decode[[]model.AuditEntry](t, do(t, "GET", url+"/v1/models/"+name+"/audit", ""), http.StatusOK)
	if len(audit) != 2 || audit[1] != del {
		t.Fatalf("audit %+v, want the move then %+v", audit, del)
	}
	// The alias can be created again (expected revision 0: must not exist).
	decode[model.AuditEntry](t, do(t, "PUT", url+"/v1/models/"+name+"/aliases/shadow", `{"version":1,"actor":"alice","expected_revision":0}`), http.StatusOK)
	evs := registrytest.Events(t, js, prefix, name, 4)
	var found bool
	for _, ev := range evs {
		if ev.Type == "tributary.model.alias_deleted.v1" {
			found = true
			if ev.ID != fmt.Sprintf("model/%s/alias/shadow/%d", name, del.Revision) || !strings.Contains(string(ev.Data), `"from_version":1`) {
				t.Errorf("event %s", ev)
			}
		}
	}
	if !found {
		t.Fatalf("no alias_deleted event in %v", evs)
	}
}
