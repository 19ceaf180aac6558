package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestStartWithoutStreams runs the service while its NATS (a private
// server of this test) is not there yet, so that the KV bucket of stream
// definitions cannot be read: /readyz is not ready and an event, even of a
// file stream, is answered 503 unavailable with Retry-After, never a 400
// that a producer would drop. Once NATS is up the definitions load, the
// service turns ready and the same event is accepted.
func TestStartWithoutStreams(t *testing.T) {
	servicetest.RequireServers(t, "kafka")
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "loading" + hex.EncodeToString(suffix)
	typ := "com.example." + name + ".v1"
	dir := t.TempDir()
	def := `{"name":"` + name + `","type":"` + typ + `","entity_key":"/user","schema":{"type":"object","required":["user"]}}`
	if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testkit.FreePort(t)
	p := servicetest.Start(t, program(), fmt.Sprintf("-nats.url=nats://127.0.0.1:%d", port), "-nats.storage=memory",
		"-auth.disabled", "-streams.dir="+dir, "-raw.enabled=false")

	post := func(id string, typ string) (int, *http.Response, error) {
		body := `{"specversion":"1.0","id":"` + id + `","source":"/loading","type":"` + typ + `","data":{"user":"u"}}`
		resp, err := http.Post(p.URL+"/v1/events", "application/cloudevents+json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp, httperror.Check(resp)
	}
	for i := range 3 {
		status, resp, herr := post(fmt.Sprintf("ev-%d", i), typ)
		if status != http.StatusServiceUnavailable || httperror.ReasonOf(herr) != reason.Unavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("event before the stream definitions are loaded: %d %v (Retry-After %q), want 503 unavailable with Retry-After", status, herr, resp.Header.Get("Retry-After"))
		}
	}
	if checks := p.Checks(); checks["streams"] == "" {
		t.Errorf("/readyz checks before the stream definitions are loaded: %v, want streams failing", checks)
	}

	natstest.Start(t, func(o *server.Options) { o.Port = port })
	p.WaitReady(60 * time.Second)
	testkit.Eventually(t, 10*time.Second, func() error {
		if status, _, herr := post("ev-0", typ); status != http.StatusAccepted {
			return fmt.Errorf("event once loaded: %d %v", status, herr)
		}
		return nil
	})
	// Loaded: an unknown type is refused now.
	if status, _, herr := post("ev-unknown", "com.example.nope.v1"); status != http.StatusBadRequest || httperror.ReasonOf(herr) != reason.UnknownType {
		t.Errorf("unknown type once loaded: %d %v, want 400 unknown_type", status, herr)
	}
}
