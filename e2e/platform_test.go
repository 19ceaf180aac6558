package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/e2e/harness"
	"github.com/tributary-ml/tributary/libs/event"
)

// dependencies says which checks each service's /readyz must report.
var dependencies = map[string][]string{
	"ingest":   {"kafka", "nats"},
	"features": {"kafka", "nats", "redis", "clickhouse"},
	"trainer":  {"nats", "clickhouse"},
	"registry": {"nats"},
	"serving":  {"kafka", "nats", "redis"},
	"monitor":  {"kafka", "nats", "clickhouse"},
}

func TestAllServicesReady(t *testing.T) {
	for _, name := range harness.Services {
		t.Run(name, func(t *testing.T) {
			s := stack.platform.Service(name)
			code, body := httpGet(t, s.BaseURL+"/healthz")
			if code != http.StatusOK {
				t.Fatalf("/healthz: status %d: %s", code, body)
			}
			code, body = httpGet(t, s.BaseURL+"/readyz")
			if code != http.StatusOK {
				t.Fatalf("/readyz: status %d: %s", code, body)
			}
			for _, dep := range dependencies[name] {
				if !strings.Contains(body, `"`+dep) {
					t.Errorf("/readyz does not report the %s check: %s", dep, body)
				}
			}
			code, body = httpGet(t, s.BaseURL+"/metrics")
			if code != http.StatusOK {
				t.Fatalf("/metrics: status %d", code)
			}
			if want := "tributary_" + name + "_http_requests_total"; !strings.Contains(body, want) {
				t.Errorf("/metrics has no %s", want)
			}
		})
	}
}

func TestKafkaCloudEventRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := "e2e.roundtrip." + randomID(t)

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(stack.infra.Addrs.KafkaBrokers, ",")...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	defer func() {
		if _, err := adm.DeleteTopics(context.Background(), topic); err != nil {
			t.Errorf("delete topic %s: %v", topic, err)
		}
	}()

	sent := ce.NewEvent()
	sent.SetID(randomID(t))
	sent.SetSource("/e2e/producer")
	sent.SetType(event.TypeLabelRecorded)
	sent.SetSubject("user-42")
	sent.SetTime(time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC))
	sent.SetExtension("partitionkey", "user-42")
	if err := sent.SetData(ce.ApplicationJSON, map[string]any{"stream": "clicks", "entity_key": "user-42", "value": 1.5}); err != nil {
		t.Fatal(err)
	}
	rec, err := event.ToKafkaRecord(ctx, sent, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	var got *kgo.Record
	for got == nil {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no record read back from %s: %v", topic, err)
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		if recs := fetches.Records(); len(recs) > 0 {
			got = recs[0]
		}
	}
	if string(got.Key) != "user-42" {
		t.Errorf("record key %q, want the partition key user-42", got.Key)
	}
	back, err := event.FromKafkaRecord(got)
	if err != nil {
		t.Fatalf("decode record: %v", err)
	}
	assertSameEvent(t, sent, *back)
}

func TestNATSRequestReply(t *testing.T) {
	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := "tributary.e2e.echo." + randomID(t)

	// The responder answers a CloudEvent with a CloudEvent that names the
	// request's id, as the services' request-reply APIs do.
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		req, err := event.FromNATSMsg(m)
		reply := ce.NewEvent()
		reply.SetID("reply-" + randomID(t))
		reply.SetSource("/e2e/responder")
		reply.SetType("tributary.e2e.echoed.v1")
		if err != nil {
			_ = reply.SetData(ce.ApplicationJSON, map[string]string{"error": err.Error()})
		} else {
			_ = reply.SetData(ce.ApplicationJSON, map[string]string{"request_id": req.ID(), "echo": string(req.Data())})
		}
		out, err := event.ToNATSMsg(reply, m.Reply)
		if err != nil {
			t.Errorf("encode reply: %v", err)
			return
		}
		if err := nc.PublishMsg(out); err != nil {
			t.Errorf("publish reply: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection closes too

	req := ce.NewEvent()
	req.SetID(randomID(t))
	req.SetSource("/e2e/requester")
	req.SetType("tributary.e2e.echo.v1")
	if err := req.SetData(ce.ApplicationJSON, map[string]string{"hello": "nats"}); err != nil {
		t.Fatal(err)
	}
	msg, err := event.ToNATSMsg(req, subject)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nc.RequestMsg(msg, 5*time.Second)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	reply, err := event.FromNATSMsg(resp)
	if err != nil {
		t.Fatalf("decode reply: %v", err)
	}
	var body map[string]string
	if err := json.Unmarshal(reply.Data(), &body); err != nil {
		t.Fatalf("reply data: %v", err)
	}
	if body["error"] != "" {
		t.Fatalf("responder could not decode the request: %s", body["error"])
	}
	if body["request_id"] != req.ID() || body["echo"] != `{"hello":"nats"}` {
		t.Fatalf("reply %v does not echo request %s", body, req.ID())
	}
	if reply.Type() != "tributary.e2e.echoed.v1" || reply.Source() != "/e2e/responder" {
		t.Fatalf("reply attributes: type %q source %q", reply.Type(), reply.Source())
	}
}

func assertSameEvent(t *testing.T, want, got ce.Event) {
	t.Helper()
	checks := []struct{ name, want, got string }{
		{"id", want.ID(), got.ID()},
		{"source", want.Source(), got.Source()},
		{"type", want.Type(), got.Type()},
		{"subject", want.Subject(), got.Subject()},
		{"specversion", want.SpecVersion(), got.SpecVersion()},
		{"datacontenttype", want.DataContentType(), got.DataContentType()},
		{"data", string(want.Data()), string(got.Data())},
	}
	for _, c := range checks {
		if c.want != c.got {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !want.Time().Equal(got.Time()) {
		t.Errorf("time: got %v, want %v", got.Time(), want.Time())
	}
	if got.Extensions()["partitionkey"] != want.Extensions()["partitionkey"] {
		t.Errorf("partitionkey: got %v, want %v", got.Extensions()["partitionkey"], want.Extensions()["partitionkey"])
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test against loopback
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func randomID(t *testing.T) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
