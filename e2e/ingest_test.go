package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// ingestKey is the API key the e2e tests send to the ingest service.
const ingestKey = "tributary-e2e-ingest-key"

// ingestEnv configures the ingest service the harness starts: the key above,
// stored hashed as the service keeps its keys (name:sha256:allowed types).
func ingestEnv() []string {
	sum := sha256.Sum256([]byte(ingestKey))
	return []string{"TRIBUTARY_AUTH_KEYS=e2e:" + hex.EncodeToString(sum[:]) + ":*"}
}

// TestIngest drives the real ingest binary: a stream applied to the KV
// bucket goes live without a restart; events posted over HTTP and written
// to the raw topic land on tributary.events.<stream> keyed by entity with
// their CloudEvents headers; an invalid one is answered 400 and
// dead-lettered; a request without a key gets 401.
func TestIngest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := stack.platform.Service("ingest").BaseURL
	name := "e2e" + randomID(t)[:10]
	typ := "com.example." + name + ".v1"
	topic := event.EventsTopic(name)

	// Apply the stream as `tributary streams apply` does.
	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctx, "tributary_schemas")
	if err != nil {
		t.Fatal(err)
	}
	def := `{"name":"` + name + `","type":"` + typ + `","entity_key":"/user","event_time":"/at",
	  "schema":{"type":"object","required":["user","at"],"properties":{"user":{"type":"string"},"at":{"type":"string","format":"date-time"}}}}`
	if _, err := kv.Put(ctx, name, []byte(def)); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(stack.infra.Addrs.KafkaBrokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	defer func() {
		_ = kv.Purge(context.Background(), name)
		_, _ = kadm.NewClient(cl).DeleteTopics(context.Background(), topic, event.IngestTopic(name))
	}()

	post := func(contentType, key, body string, headers map[string]string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	// Live without a restart: GET /v1/streams lists it.
	testkit.EventuallyContext(t, 20*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/streams", nil)
		req.Header.Set("Authorization", "Bearer "+ingestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			t.Fatalf("GET /v1/streams: 401 with the e2e key: the ingest service must get TRIBUTARY_AUTH_KEYS=e2e:<sha256 of %q>:* or TRIBUTARY_AUTH_DISABLED=true", ingestKey)
		}
		if err := httperror.Check(resp); err != nil {
			return err
		}
		var list struct {
			Streams []struct{ Name, Topic string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			return err
		}
		for _, s := range list.Streams {
			if s.Name == name && s.Topic == topic {
				return nil
			}
		}
		return fmt.Errorf("stream %s not listed: %+v", name, list)
	})

	at := time.Now().UTC().Format(time.RFC3339Nano)
	id := "e2e-" + randomID(t)
	if code, body := post("application/cloudevents+json", "", `{"specversion":"1.0","id":"x","source":"/e2e","type":"`+typ+`","data":{"user":"u","at":"`+at+`"}}`, nil); code != http.StatusUnauthorized ||
		httperror.Parse(code, []byte(body)).Reason != "unauthenticated" {
		t.Fatalf("without a key: %d %s", code, body)
	}
	// A single refused event: the error body of libs/httperror, with its id.
	single := fmt.Sprintf(`{"specversion":"1.0","id":"%s-single","source":"/e2e/producer","type":"%s","data":{"user":"bob"}}`, id, typ)
	if code, body := post("application/cloudevents+json", ingestKey, single, nil); code != http.StatusBadRequest {
		t.Fatalf("bad event: %d %s", code, body)
	} else if e := httperror.Parse(code, []byte(body)); e.Reason != "schema_violation" || e.ID != id+"-single" || !strings.Contains(e.Body.Error, "/at") || strings.Contains(body, `"status"`) {
		t.Fatalf("bad event: %s", body)
	}
	structured := fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/e2e/producer","type":"%s","subject":"s1","data":{"user":"alice","at":"%s"}}`, id, typ, at)
	if code, body := post("application/cloudevents+json", ingestKey, structured, nil); code != http.StatusAccepted {
		t.Fatalf("structured event: %d %s", code, body)
	}
	bad := fmt.Sprintf(`[{"specversion":"1.0","id":"%s-bad","source":"/e2e/producer","type":"%s","data":{"user":"bob"}}]`, id, typ)
	if code, body := post("application/cloudevents-batch+json", ingestKey, bad, nil); code != http.StatusMultiStatus || !strings.Contains(body, `"reason":"schema_violation","error":"data: /at`) {
		t.Fatalf("bad batch: %d %s", code, body)
	}
	// The raw path: a binary-mode record on tributary.ingest.<stream>.
	raw := ce.NewEvent()
	raw.SetID(id + "-raw")
	raw.SetSource("/e2e/kafka-producer")
	raw.SetType(typ)
	_ = raw.SetData(ce.ApplicationJSON, map[string]string{"user": "carol", "at": at})
	rec, err := event.ToKafkaRecord(ctx, raw, event.IngestTopic(name))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}

	byID := readByID(ctx, t, topic, 2, func(string) bool { return true })
	if r := byID[id]; r == nil || string(r.Key) != "alice" || header(r, "ce_subject") != "s1" || header(r, "ce_source") != "/e2e/producer" {
		t.Errorf("http event on %s: %+v", topic, r)
	}
	if r := byID[id+"-raw"]; r == nil || string(r.Key) != "carol" {
		t.Errorf("raw event on %s: %+v", topic, r)
	}
	dead := readByID(ctx, t, event.TopicDLQ, 2, func(got string) bool { return got == id+"-bad" || got == id+"-single" })
	for _, bad := range []string{id + "-bad", id + "-single"} {
		r := dead[bad]
		if r == nil {
			t.Errorf("no dead letter of %s", bad)
			continue
		}
		l, err := deadletter.Decode(r)
		if err != nil || l.Reason != "schema_violation" || l.Service != "ingest" || l.Origin != deadletter.HTTP() || !strings.Contains(l.Error, "/at") {
			t.Errorf("dead letter of %s: %+v %v", bad, l, err)
		}
	}
}

// readByID reads topic from its start until want records whose ce_id keep
// says to keep were seen, and returns them by id.
func readByID(ctx context.Context, t *testing.T, topic string, want int, keep func(string) bool) map[string]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(stack.infra.Addrs.KafkaBrokers, ",")...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]*kgo.Record{}
	for len(out) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %d of %d records: %v", topic, len(out), want, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if id := header(r, "ce_id"); keep(id) {
				out[id] = r
			}
		})
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
