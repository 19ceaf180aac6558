package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/registry/internal/httpapi"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
	"github.com/tributary-ml/tributary/services/registry/internal/store"
)

type fixture struct {
	url string
	st  *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureMax(t, 200<<20)
}

func newFixtureMax(t *testing.T, maxArtifact int64) *fixture {
	t.Helper()
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	prefix := registrytest.Isolated(t, js)
	reg, st := registrytest.NewRegistry(t, js, prefix)
	mux := http.NewServeMux()
	for pattern, h := range httpapi.New(reg, slog.New(slog.NewTextHandler(io.Discard, nil)), t.TempDir(), maxArtifact).Routes() {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{url: srv.URL, st: st}
}

// upload registers a version over HTTP with a multipart body whose artifact
// part is written by writeArtifact, streamed through a pipe.
func upload(t *testing.T, url string, meta model.RegisterRequest, writeArtifact func(io.Writer) error) *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			mp, err := mw.CreateFormField("metadata")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(mp).Encode(meta); err != nil {
				return err
			}
			ap, err := mw.CreateFormFile("artifact", "model.bin")
			if err != nil {
				return err
			}
			if err := writeArtifact(ap); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/models/"+meta.Model+"/versions", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func decode[T any](t *testing.T, resp *http.Response, wantStatus int) T {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, wantStatus, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// decodeError decodes an error answer, which must be the envelope of
// libs/httperror and nothing else: Content-Type application/json, no
// unknown field, a message and a well-formed reason of the registry's
// catalog; a 503 also has Retry-After.
func decodeError(t *testing.T, resp *http.Response, wantStatus int) httperror.Body {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, wantStatus, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer with Content-Type %q", ct)
	}
	if wantStatus == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != httpapi.RetryAfter {
		t.Errorf("503 with Retry-After %q, want %q", resp.Header.Get("Retry-After"), httpapi.RetryAfter)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var e httperror.Body
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s is not the envelope: %v", body, err)
	}
	d, ok := reason.Registry().Lookup(e.Reason)
	if e.Error == "" || !ok || d.Status != wantStatus {
		t.Fatalf("error body %s: want a message and a reason of the registry's catalog with status %d", body, wantStatus)
	}
	return e
}

func do(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRESTFlow(t *testing.T) {
	f := newFixture(t)
	name := registrytest.ModelName(t)
	meta := registrytest.Request(name, model.Artifact{}, "")
	for i := 1; i <= 2; i++ {
		content := fmt.Sprintf("artifact %d of %s", i, name)
		v := decode[model.Version](t, upload(t, f.url, meta, func(w io.Writer) error { _, err := io.WriteString(w, content); return err }), http.StatusCreated)
		if v.Version != i || v.Artifact.Size != int64(len(content)) {
			t.Fatalf("registered %+v", v)
		}
	}
	// JSON registration of an artifact already stored.
	a := registrytest.PutBytes(t, f.st, []byte("stored before"))
	req := registrytest.Request(name, a, "")
	body, _ := json.Marshal(req)
	if v := decode[model.Version](t, do(t, "POST", f.url+"/v1/models/"+name+"/versions", string(body)), http.StatusCreated); v.Version != 3 {
		t.Fatalf("json register: %+v", v)
	}
	moved := decode[model.AuditEntry](t, do(t, "PUT", f.url+"/v1/models/"+name+"/aliases/production", `{"version":1,"actor":"alice"}`), http.StatusOK)
	decode[model.AuditEntry](t, do(t, "PUT", f.url+"/v1/models/"+name+"/aliases/production", `{"version":2,"actor":"alice","reason":"better"}`), http.StatusOK)
	// A move conditioned on a stale revision conflicts.
	stale := fmt.Sprintf(`{"version":3,"actor":"bob","expected_revision":%d}`, moved.Revision)
	e := decodeError(t, do(t, "PUT", f.url+"/v1/models/"+name+"/aliases/production", stale), http.StatusConflict)
	if e.Reason != model.CodeConflict {
		t.Fatalf("stale move: %+v", e)
	}
	rb := decode[model.AuditEntry](t, do(t, "POST", f.url+"/v1/models/"+name+"/rollback", `{"actor":"bob","reason":"errors up"}`), http.StatusOK)
	if rb.ToVersion != 1 || !rb.Rollback {
		t.Fatalf("rollback %+v", rb)
	}
	v := decode[model.Version](t, do(t, "GET", f.url+"/v1/models/"+name+"/versions/production", ""), http.StatusOK)
	if v.Version != 1 || v.Lineage.Metrics["auc"] != 0.91 || v.Lineage.Reference.Features["txn:count_1h"].Kind != model.KindNumeric {
		t.Fatalf("lineage %+v", v)
	}
	resp := do(t, "GET", f.url+"/v1/models/"+name+"/versions/1/artifact", "")
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "artifact 1 of "+name || resp.Header.Get("X-Tributary-Artifact-SHA256") != v.Artifact.SHA256 {
		t.Fatalf("download: %d %q %v", resp.StatusCode, got, resp.Header)
	}
	arch := decode[model.Version](t, do(t, "POST", f.url+"/v1/models/"+name+"/versions/3/archive", `{"actor":"bob"}`), http.StatusOK)
	if arch.Status != model.StatusArchived {
		t.Fatalf("archive %+v", arch)
	}
	if vs := decode[[]model.Version](t, do(t, "GET", f.url+"/v1/models/"+name+"/versions", ""), http.StatusOK); len(vs) != 3 {
		t.Fatalf("%d versions", len(vs))
	}
	if audit := decode[[]model.AuditEntry](t, do(t, "GET", f.url+"/v1/models/"+name+"/audit", ""), http.StatusOK); len(audit) != 3 {
		t.Fatalf("audit %+v", audit)
	}
	if ms := decode[[]model.ModelInfo](t, do(t, "GET", f.url+"/v1/models", ""), http.StatusOK); len(ms) != 1 || ms[0].LatestVersion != 3 {
		t.Fatalf("models %+v", ms)
	}
	if as := decode[[]model.Alias](t, do(t, "GET", f.url+"/v1/models/"+name+"/aliases", ""), http.StatusOK); len(as) != 1 || as[0].Version != 1 {
		t.Fatalf("aliases %+v", as)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     model.Code
	}{
		{"unknown model", "GET", "/v1/models/nope-" + name, "", 404, model.CodeModelNotFound},
		{"unknown model versions", "GET", "/v1/models/nope-" + name + "/versions", "", 404, model.CodeModelNotFound},
		{"unknown version", "GET", "/v1/models/" + name + "/versions/42", "", 404, model.CodeVersionNotFound},
		{"unknown version artifact", "GET", "/v1/models/" + name + "/versions/42/artifact", "", 404, model.CodeVersionNotFound},
		{"unknown alias", "GET", "/v1/models/" + name + "/versions/shadow", "", 404, model.CodeAliasNotFound},
		{"bad model name", "GET", "/v1/models/a.b/versions", "", 400, model.CodeInvalidName},
		{"bad alias name", "PUT", "/v1/models/" + name + "/aliases/a.b", `{"version":1,"actor":"a"}`, 400, model.CodeInvalidName},
		{"archived target", "PUT", "/v1/models/" + name + "/aliases/shadow", `{"version":3,"actor":"a"}`, 409, model.CodeVersionArchived},
		{"aliased archive", "POST", "/v1/models/" + name + "/versions/1/archive", `{"actor":"a"}`, 409, model.CodeVersionAliased},
		{"unknown field", "PUT", "/v1/models/" + name + "/aliases/shadow", `{"version":1,"actor":"a","colour":"red"}`, 400, model.CodeInvalidRequest},
		{"not json", "POST", "/v1/models/" + name + "/rollback", `rollback please`, 400, model.CodeInvalidRequest},
		{"archive by alias", "POST", "/v1/models/" + name + "/versions/production/archive", `{"actor":"a"}`, 400, model.CodeInvalidRequest},
		{"register without metadata", "POST", "/v1/models/" + name + "/versions", `{}`, 400, model.CodeInvalidRequest},
		{"register for another model", "POST", "/v1/models/" + name + "/versions", `{"model":"other"}`, 400, model.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decodeError(t, do(t, tc.method, f.url+tc.path, tc.body), tc.status)
			if e.Reason != tc.code || e.Error == "" {
				t.Fatalf("error %+v, want reason %s", e, tc.code)
			}
		})
	}

	// A corrupted artifact is refused before a byte is sent.
	if _, err := f.st.ObjectStore().PutBytes(context.Background(), model.ArtifactName(v.Artifact.SHA256), []byte(strings.Repeat("?", int(v.Artifact.Size)))); err != nil {
		t.Fatal(err)
	}
	e = decodeError(t, do(t, "GET", f.url+"/v1/models/"+name+"/versions/1/artifact", ""), http.StatusUnprocessableEntity)
	if e.Reason != model.CodeArtifactCorrupt {
		t.Fatalf("corrupted download: %+v", e)
	}
}

// prng writes n deterministic pseudo-random bytes without holding them.
func prng(w io.Writer, n int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed))
	buf := make([]byte, 1<<20)
	for n > 0 {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		k := min(int64(len(buf)), n)
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// heapPeak samples the heap until stop is closed.
func heapPeak(stop <-chan struct{}) func() uint64 {
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { wg.Wait(); return peak.Load() }
}

// A 100 MB artifact goes up and comes back down streamed, with bounded
// memory, and verified.
func TestLargeArtifact(t *testing.T) {
	f := newFixture(t)
	name := registrytest.ModelName(t)
	const size = 100 << 20
	h := sha256.New()
	if err := prng(h, size, 42); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))

	runtime.GC()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	start := time.Now()
	v := decode[model.Version](t, upload(t, f.url, registrytest.Request(name, model.Artifact{}, ""), func(w io.Writer) error { return prng(w, size, 42) }), http.StatusCreated)
	up := time.Since(start)
	if v.Artifact.SHA256 != want || v.Artifact.Size != size {
		t.Fatalf("registered artifact %+v, want sha256 %s", v.Artifact, want)
	}
	start = time.Now()
	resp := do(t, "GET", f.url+"/v1/models/"+name+"/versions/1/artifact", "")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("download: status %d: %s", resp.StatusCode, b)
	}
	h.Reset()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	down := time.Since(start)
	close(stop)
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	p := peak()
	t.Logf("100 MB artifact: upload+register %v, verified download %v, peak heap in use %d MB", up.Round(time.Millisecond), down.Round(time.Millisecond), p>>20)
	// Less than the artifact: it is streamed, never held whole. (The
	// object store client may buffer pending chunks of a download, up to
	// its subscription's pending limit, so the bound is not tighter.)
	if p >= 90<<20 {
		t.Errorf("peak heap %d MB for a 100 MB artifact: it is held in memory", p>>20)
	}
}

func TestUploadLimitsAndOrder(t *testing.T) {
	f := newFixtureMax(t, 1024)
	name := registrytest.ModelName(t)
	meta := registrytest.Request(name, model.Artifact{}, "")
	e := decodeError(t, upload(t, f.url, meta, func(w io.Writer) error { return prng(w, 4096, 1) }), http.StatusRequestEntityTooLarge)
	if e.Reason != model.CodeTooLarge || !strings.Contains(e.Error, "larger than 1024 bytes") {
		t.Fatalf("oversized artifact: %+v", e)
	}
	bad := meta
	bad.Lineage.Trigger = "whim"
	e = decodeError(t, upload(t, f.url, bad, func(w io.Writer) error { return prng(w, 10, 1) }), http.StatusBadRequest)
	if !strings.Contains(e.Error, "lineage.trigger") {
		t.Fatalf("bad metadata: %+v", e)
	}
	// The artifact part before the metadata part is refused.
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	ap, _ := mw.CreateFormFile("artifact", "m.bin")
	io.WriteString(ap, "x")
	mw.Close()
	req, _ := http.NewRequest("POST", f.url+"/v1/models/"+name+"/versions", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	e = decodeError(t, resp, http.StatusBadRequest)
	if !strings.Contains(e.Error, `first part must be "metadata"`) {
		t.Fatalf("artifact first: %+v", e)
	}
	// Nothing was registered.
	e = decodeError(t, do(t, "GET", f.url+"/v1/models/"+name, ""), http.StatusNotFound)
	if e.Reason != model.CodeModelNotFound {
		t.Fatalf("model after refused uploads: %+v", e)
	}
}
