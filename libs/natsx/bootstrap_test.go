package natsx_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// embeddedJetStream starts a nats-server with JetStream in a temporary
// directory, for tests that need a JetStream account of their own.
func embeddedJetStream(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return connect(t, natstest.Start(t).ClientURL())
}

// realJetStream connects to the real nats-server at TRIBUTARY_NATS_URL.
func realJetStream(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	url := testkit.NATSURL(t)
	nc, js := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream is not available at %s (set TRIBUTARY_NATS_URL): %v", url, err)
	}
	return nc, js
}

func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to nats at %s (set TRIBUTARY_NATS_URL): %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func defaultBootstrapConfig(t *testing.T) natsx.BootstrapConfig {
	t.Helper()
	var cfg natsx.BootstrapConfig
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// allResources lists the names Bootstrap ensures, in its order.
func allResources(prefix string) []string {
	return []string{
		"stream " + prefix + natsx.StreamName,
		"kv " + prefix + natsx.BucketModels,
		"kv " + prefix + natsx.BucketFeatures,
		"kv " + prefix + natsx.BucketJobs,
		"kv " + prefix + natsx.BucketSchemas,
		"object store " + prefix + natsx.ObjectStoreArtifacts,
	}
}

func assertActions(t *testing.T, what string, rs []natsx.Resource, prefix string, want natsx.Action) {
	t.Helper()
	var names []string
	for _, r := range rs {
		names = append(names, r.Kind+" "+r.Name)
		if r.Action != want {
			t.Errorf("%s: %s %s was %s (changed %v), want %s", what, r.Kind, r.Name, r.Action, r.Changed, want)
		}
	}
	if !slices.Equal(names, allResources(prefix)) {
		t.Errorf("%s: resources %q, want %q", what, names, allResources(prefix))
	}
}

// streamConfigs returns the configuration and creation time of every stream
// behind the resources, to show that a second run changed nothing.
func streamConfigs(t *testing.T, js jetstream.JetStream, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{
		prefix + natsx.StreamName,
		"KV_" + prefix + natsx.BucketModels, "KV_" + prefix + natsx.BucketFeatures,
		"KV_" + prefix + natsx.BucketJobs, "KV_" + prefix + natsx.BucketSchemas,
		"OBJ_" + prefix + natsx.ObjectStoreArtifacts,
	} {
		s, err := js.Stream(context.Background(), name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info := s.CachedInfo()
		out[name] = fmt.Sprintf("%+v created %v", info.Config, info.Created)
	}
	return out
}

func TestStreamSubjectsMatchEventContracts(t *testing.T) {
	if !slices.Equal(natsx.StreamSubjects(), event.StreamSubjects()) {
		t.Errorf("natsx.StreamSubjects() = %v, event.StreamSubjects() = %v; they must be equal", natsx.StreamSubjects(), event.StreamSubjects())
	}
	if natsx.StreamName != event.StreamName {
		t.Errorf("natsx.StreamName = %s, event.StreamName = %s", natsx.StreamName, event.StreamName)
	}
	for _, typ := range event.Types() {
		subject, err := event.Subject(typ)
		if err != nil {
			continue // travels on Kafka
		}
		if !subjectsMatch(natsx.StreamSubjects(), subject) {
			t.Errorf("control event %s (subject %s) is not captured by the stream", typ, subject)
		}
	}
}

func subjectsMatch(patterns []string, subject string) bool {
	for _, p := range patterns {
		if strings.HasSuffix(p, ">") && strings.HasPrefix(subject, strings.TrimSuffix(p, ">")) {
			return true
		}
	}
	return false
}

func TestBootstrapConfigValidate(t *testing.T) {
	good := natsx.BootstrapConfig{Replicas: 1, StreamMaxAge: time.Hour, Storage: "file", KVHistory: 64}
	tests := []struct {
		name    string
		edit    func(*natsx.BootstrapConfig)
		wantErr string
	}{
		{"good", func(*natsx.BootstrapConfig) {}, ""},
		{"memory, no max age", func(c *natsx.BootstrapConfig) { c.Storage, c.StreamMaxAge = "memory", 0 }, ""},
		{"three replicas", func(c *natsx.BootstrapConfig) { c.Replicas = 3 }, ""},
		{"zero replicas", func(c *natsx.BootstrapConfig) { c.Replicas = 0 }, "nats.replicas"},
		{"six replicas", func(c *natsx.BootstrapConfig) { c.Replicas = 6 }, "nats.replicas"},
		{"negative max age", func(c *natsx.BootstrapConfig) { c.StreamMaxAge = -time.Second }, "nats.stream.max-age"},
		{"bad storage", func(c *natsx.BootstrapConfig) { c.Storage = "disk" }, "nats.storage"},
		{"zero history", func(c *natsx.BootstrapConfig) { c.KVHistory = 0 }, "nats.kv.history"},
		{"history over 64", func(c *natsx.BootstrapConfig) { c.KVHistory = 65 }, "nats.kv.history"},
		{"prefix with a dot", func(c *natsx.BootstrapConfig) { c.Prefix = "a.b" }, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate error = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	nc, js := embeddedJetStream(t)
	ctx := context.Background()
	cfg := defaultBootstrapConfig(t)
	if cfg != (natsx.BootstrapConfig{Replicas: 1, StreamMaxAge: 720 * time.Hour, Storage: "file", KVHistory: 64}) {
		t.Errorf("flag defaults = %+v", cfg)
	}

	rs, err := natsx.Bootstrap(ctx, js, cfg)
	if err != nil {
		t.Fatalf("first Bootstrap: %v", err)
	}
	assertActions(t, "first Bootstrap", rs, "", natsx.Created)

	s, err := js.Stream(ctx, natsx.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	sc := s.CachedInfo().Config
	if !slices.Equal(sc.Subjects, natsx.StreamSubjects()) || sc.MaxAge != 720*time.Hour || sc.Storage != jetstream.FileStorage || sc.Replicas != 1 {
		t.Errorf("stream config = subjects %v, max age %v, storage %v, replicas %d", sc.Subjects, sc.MaxAge, sc.Storage, sc.Replicas)
	}
	for _, b := range []string{natsx.BucketModels, natsx.BucketFeatures, natsx.BucketJobs, natsx.BucketSchemas} {
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			t.Fatalf("bucket %s: %v", b, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.History() != 64 {
			t.Errorf("bucket %s history = %d, want 64", b, st.History())
		}
	}
	obj, err := js.ObjectStore(ctx, natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatalf("object store: %v", err)
	}
	if _, err := obj.PutBytes(ctx, "sha256-abc", []byte("model bytes")); err != nil {
		t.Fatalf("put an artifact: %v", err)
	}

	// KV history keeps revisions: the registry's audit trail reads them.
	models, err := js.KeyValue(ctx, natsx.BucketModels)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := models.Put(ctx, "churn.alias.production", fmt.Appendf(nil, "%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := models.History(ctx, "churn.alias.production")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history has %d revisions (err %v), want 3", len(hist), err)
	}

	before := streamConfigs(t, js, "")
	rs, err = natsx.Bootstrap(ctx, js, cfg)
	if err != nil {
		t.Fatalf("second Bootstrap: %v", err)
	}
	assertActions(t, "second Bootstrap", rs, "", natsx.Unchanged)
	if after := streamConfigs(t, js, ""); !reflect.DeepEqual(before, after) {
		t.Errorf("second Bootstrap changed the streams:\nbefore %v\nafter  %v", before, after)
	}
	if got, err := obj.GetBytes(ctx, "sha256-abc"); err != nil || string(got) != "model bytes" {
		t.Errorf("artifact after the second Bootstrap = %q, %v", got, err)
	}

	t.Run("control events are stored, requests are not", func(t *testing.T) {
		assertRequestsNotCaptured(t, nc, js, "")
	})

	t.Run("new configuration updates", func(t *testing.T) {
		changed := cfg
		changed.StreamMaxAge = 48 * time.Hour
		changed.KVHistory = 10
		rs, err := natsx.Bootstrap(ctx, js, changed)
		if err != nil {
			t.Fatalf("Bootstrap with a new configuration: %v", err)
		}
		got := map[string]string{}
		for _, r := range rs {
			got[r.Kind+" "+r.Name] = string(r.Action) + " " + strings.Join(r.Changed, ",")
		}
		want := map[string]string{
			"stream TRIBUTARY":                 "updated max_age",
			"kv tributary_models":              "updated history",
			"kv tributary_features":            "updated history",
			"kv tributary_jobs":                "updated history",
			"kv tributary_schemas":             "updated history",
			"object store tributary_artifacts": "unchanged ",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Bootstrap with a new configuration = %v, want %v", got, want)
		}
		s, err := js.Stream(ctx, natsx.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		if age := s.CachedInfo().Config.MaxAge; age != 48*time.Hour {
			t.Errorf("stream max age = %v after the update, want 48h", age)
		}
		if hist, err := models.History(ctx, "churn.alias.production"); err != nil || len(hist) != 3 {
			t.Errorf("history after the update has %d revisions (err %v), want 3", len(hist), err)
		}
	})

	t.Run("storage cannot change", func(t *testing.T) {
		changed := cfg
		changed.Storage = "memory"
		_, err := natsx.Bootstrap(ctx, js, changed)
		if err == nil || !strings.Contains(err.Error(), "update stream TRIBUTARY (") || !strings.Contains(err.Error(), "storage") {
			t.Fatalf("Bootstrap with another storage: error %v, want one about the stream's storage", err)
		}
	})
}

// assertRequestsNotCaptured checks that control events published to the
// stream's subjects are stored, and that a request-reply round trip on a
// service subject gets the responder's reply, not a PubAck, and stores
// nothing.
func assertRequestsNotCaptured(t *testing.T, nc *nats.Conn, js jetstream.JetStream, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, prefix+natsx.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	before := count()

	sub, err := nc.Subscribe(prefix+"tributary.registry.ping", func(m *nats.Msg) {
		_ = m.Respond([]byte("pong")) // the requester reports a lost reply
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sub.Unsubscribe(); err != nil {
			t.Errorf("unsubscribe: %v", err)
		}
	}()
	reply, err := nc.RequestWithContext(ctx, prefix+"tributary.registry.ping", []byte("ping"))
	if err != nil {
		t.Fatalf("request tributary.registry.ping: %v", err)
	}
	if string(reply.Data) != "pong" {
		t.Errorf("reply to tributary.registry.ping = %q, want pong (a PubAck means the stream captured the request)", reply.Data)
	}
	if n := count(); n != before {
		t.Errorf("stream has %d messages after a request, want %d: the request was stored", n, before)
	}

	for _, subject := range []string{"tributary.model.registered", "tributary.train.requested", "tributary.dataset.ready", "tributary.drift.detected", "tributary.performance.degraded"} {
		ack, err := js.Publish(ctx, prefix+subject, []byte("{}"))
		if err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
		if ack.Stream != prefix+natsx.StreamName {
			t.Errorf("%s stored in stream %s, want %s", subject, ack.Stream, prefix+natsx.StreamName)
		}
	}
	if n := count(); n != before+5 {
		t.Errorf("stream has %d messages after 5 control events, want %d", n, before+5)
	}
}

// TestBootstrapConcurrent runs Bootstrap from several processes at once, as
// several services do at start: all succeed, and a later run finds
// everything as configured.
func TestBootstrapConcurrent(t *testing.T) {
	_, js := embeddedJetStream(t)
	cfg := defaultBootstrapConfig(t)
	const callers = 4
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			_, errs[i] = natsx.Bootstrap(context.Background(), js, cfg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	rs, err := natsx.Bootstrap(context.Background(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertActions(t, "Bootstrap after concurrent ones", rs, "", natsx.Unchanged)
}

// TestBootstrapRealServer bootstraps prefixed resources on the real
// nats-server, so as not to touch the platform's own.
func TestBootstrapRealServer(t *testing.T) {
	nc, js := realJetStream(t)
	ctx := context.Background()
	cfg := defaultBootstrapConfig(t)
	cfg.Prefix = fmt.Sprintf("test_natsx_%d_", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, name := range []string{cfg.Prefix + natsx.StreamName, "KV_" + cfg.Prefix + natsx.BucketModels,
			"KV_" + cfg.Prefix + natsx.BucketFeatures, "KV_" + cfg.Prefix + natsx.BucketJobs,
			"KV_" + cfg.Prefix + natsx.BucketSchemas, "OBJ_" + cfg.Prefix + natsx.ObjectStoreArtifacts} {
			if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete test stream %s: %v", name, err)
			}
		}
	})

	start := time.Now()
	rs, err := natsx.Bootstrap(ctx, js, cfg)
	if err != nil {
		t.Fatalf("first Bootstrap: %v", err)
	}
	t.Logf("first Bootstrap on the real server: %v", time.Since(start))
	assertActions(t, "first Bootstrap", rs, cfg.Prefix, natsx.Created)

	start = time.Now()
	rs, err = natsx.Bootstrap(ctx, js, cfg)
	if err != nil {
		t.Fatalf("second Bootstrap: %v", err)
	}
	t.Logf("second Bootstrap on the real server: %v", time.Since(start))
	assertActions(t, "second Bootstrap", rs, cfg.Prefix, natsx.Unchanged)

	assertRequestsNotCaptured(t, nc, js, cfg.Prefix)
}
