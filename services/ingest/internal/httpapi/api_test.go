package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/auth"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/httpapi"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
	"github.com/tributary-ml/tributary/services/ingest/internal/kafkatest"
	"github.com/tributary-ml/tributary/services/ingest/internal/streams"
)

const (
	clickType = "com.example.test.click.v1"
	keyAll    = "key-all-0123456789abcdef"
	keyClicks = "key-clicks-0123456789abcdef"
)

const clickStream = `{"name":"clicks","type":"` + clickType + `","entity_key":"/user_id",
 "schema":{"type":"object","required":["user_id","item_id"],"properties":{
  "user_id":{"type":"string","minLength":1},"item_id":{"type":"string"},"price":{"type":"number","minimum":0}},
  "additionalProperties":false}}`

// dlqMaxBytes is the fixture's dead-letter record limit.
const dlqMaxBytes = 1 << 20

// fixture is the HTTP API over a real intake writing to the real Kafka,
// with topics under a prefix of its own.
type fixture struct {
	brokers, prefix string
	srv             *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureStreams(t, (*streams.Registry).WithoutBucket)
}

// newFixtureStreams is newFixture whose stream registry is handed to
// setup before serving (to watch a KV bucket, or to have none).
func newFixtureStreams(t *testing.T, setup func(*streams.Registry)) *fixture {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix()
	topics := kafkatest.Topics(t, brokers, prefix, 1)
	kcfg := kafkax.Config{Brokers: brokers, DialTimeout: 5 * time.Second}
	cl, err := kafkax.NewClient(kcfg, nil, "", kgo.MaxBufferedRecords(1000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	if _, err := kafkax.EnsureTopics(ctx, adm, topics.Topic(event.TopicDLQ), topics.Topic(event.TopicLabels)); err != nil {
		t.Fatal(err)
	}
	labels, err := streamspec.Labels()
	if err != nil {
		t.Fatal(err)
	}
	clicks, err := streamspec.Parse([]byte(clickStream))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := streams.New(logger, prometheus.NewRegistry(), labels, []*streamspec.Stream{clicks},
		func(ctx context.Context, s *streamspec.Stream) error {
			_, err := kafkax.EnsureTopics(ctx, adm, topics.Topic(s.Topic))
			return err
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	setup(reg)
	if err := reg.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	in := intake.New(intake.Config{MaxEventBytes: 8 << 10, MaxFuture: time.Minute, MaxPast: 24 * time.Hour, ProduceTimeout: 10 * time.Second, TopicPrefix: prefix, Propagator: propagation.TraceContext{}, DeadLetterMaxBytes: dlqMaxBytes},
		logger, prometheus.NewRegistry(), reg, cl, dedup.New(time.Minute, 1000))
	keys, err := auth.New(auth.Config{Keys: "all:" + auth.Hash(keyAll) + ":*;clicks:" + auth.Hash(keyClicks) + ":" + clickType})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(httpapi.Config{MaxBodyBytes: 64 << 10, MaxBatch: 10, MaxInFlight: 16, RetryAfter: time.Second}, logger, prometheus.NewRegistry(), noop.NewTracerProvider(), propagation.TraceContext{}, keys, in)
	mux := http.NewServeMux()
	mux.Handle("POST /v1/events", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{brokers: brokers, prefix: prefix, srv: srv}
}

type request struct {
	contentType string
	headers     map[string]string
	body        string
	key         string // "" : keyAll; "-": none
}

func (f *fixture) post(t *testing.T, r request) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/events", strings.NewReader(r.body))
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	switch r.key {
	case "":
		req.Header.Set("Authorization", "Bearer "+keyAll)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// click renders a structured click event; attrs override or, with a nil
// value, remove attributes.
func click(id string, data string, attrs map[string]any) string {
	e := map[string]any{"specversion": "1.0", "id": id, "source": "/test/shop", "type": clickType,
		"time": now(), "datacontenttype": "application/json", "data": json.RawMessage(data)}
	for k, v := range attrs {
		if v == nil {
			delete(e, k)
		} else {
			e[k] = v
		}
	}
	b, _ := json.Marshal(e)
	return string(b)
}

func goodData(user string) string { return `{"user_id":"` + user + `","item_id":"i1","price":3.5}` }

const structured = httpapi.ContentTypeStructured
const batch = httpapi.ContentTypeBatch

// TestRejections is the table of bad inputs: each gets its status and
// reason id, and its dead-letter record (matched by a marker in its id or
// body) carries the reason in headers on the real Kafka.
func TestRejections(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("x", 9<<10)
	huge := strings.Repeat("y", 65<<10)
	type tc struct {
		name   string
		req    request
		status int
		reason intake.Reason
		field  string // the message names it
		marker string // in the DLQ record's ce_id or value; "" : not dead-lettered
	}
	cases := []tc{
		{"malformed json", request{contentType: structured, body: `{"specversion":"1.0","id":"m-malformed",`}, 400, reason.MalformedJSON, "event", "m-malformed"},
		{"missing id", request{contentType: structured, body: click("", goodData("u"), map[string]any{"id": nil, "subject": "m-noid"})}, 400, reason.MissingAttribute, "id", "m-noid"},
		{"missing source", request{contentType: structured, body: click("m-nosource", goodData("u"), map[string]any{"source": nil})}, 400, reason.MissingAttribute, "source", "m-nosource"},
		{"missing type", request{contentType: structured, body: click("m-notype", goodData("u"), map[string]any{"type": nil})}, 400, reason.MissingAttribute, "type", "m-notype"},
		{"missing specversion", request{contentType: structured, body: click("m-nospec", goodData("u"), map[string]any{"specversion": nil})}, 400, reason.MissingAttribute, "specversion", "m-nospec"},
		{"specversion 0.3", request{contentType: structured, body: click("m-spec03", goodData("u"), map[string]any{"specversion": "0.3"})}, 400, reason.UnsupportedSpecVersion, "specversion", "m-spec03"},
		{"bad time", request{contentType: structured, body: click("m-badtime", goodData("u"), map[string]any{"time": "yesterday"})}, 400, reason.InvalidAttribute, "", "m-badtime"},
		{"unknown type", request{contentType: structured, body: click("m-unknown", goodData("u"), map[string]any{"type": "com.example.nope.v1"})}, 400, reason.UnknownType, "type", "m-unknown"},
		{"schema: missing field", request{contentType: structured, body: click("m-schema1", `{"user_id":"u"}`, nil)}, 400, reason.SchemaViolation, "/item_id", "m-schema1"},
		{"schema: wrong type", request{contentType: structured, body: click("m-schema2", `{"user_id":"u","item_id":"i","price":"cheap"}`, nil)}, 400, reason.SchemaViolation, "/price", "m-schema2"},
		{"schema: extra field", request{contentType: structured, body: click("m-schema3", `{"user_id":"u","item_id":"i","color":"red"}`, nil)}, 400, reason.SchemaViolation, "/color", "m-schema3"},
		{"schema: minimum", request{contentType: structured, body: click("m-schema4", `{"user_id":"u","item_id":"i","price":-1}`, nil)}, 400, reason.SchemaViolation, "/price", "m-schema4"},
		{"data not json", request{contentType: structured, body: click("m-datastr", `"just a string"`, nil)}, 400, reason.SchemaViolation, "/", "m-datastr"},
		{"wrong content type", request{contentType: "text/plain", body: "m-ctype plain text"}, 415, reason.UnsupportedContentType, "Content-Type", "m-ctype"},
		{"no content type", request{body: "m-noctype"}, 415, reason.UnsupportedContentType, "Content-Type", "m-noctype"},
		{"oversized body", request{contentType: structured, body: "m-hugebody" + huge}, 413, reason.BodyTooLarge, "body", "m-hugebody"},
		{"oversized event", request{contentType: structured, body: click("m-bigevent", `{"user_id":"u","item_id":"`+big+`"}`, nil)}, 413, reason.EventTooLarge, "event", "m-bigevent"},
		{"empty batch", request{contentType: batch, body: ` [ ] `}, 400, reason.EmptyBatch, "batch", ""},
		{"batch not an array", request{contentType: batch, body: `{"m-batchobj":1}`}, 400, reason.MalformedJSON, "array", "m-batchobj"},
		{"batch too large", request{contentType: batch, body: "[" + strings.Repeat(`{"m-bigbatch":1},`, 10) + `{}]`}, 413, reason.BatchTooLarge, "11 events", "m-bigbatch"},
		{"future timestamp", request{contentType: structured, body: click("m-future", goodData("u"), map[string]any{"time": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})}, 400, reason.EventTimeFuture, "time", "m-future"},
		{"past timestamp", request{contentType: structured, body: click("m-past", goodData("u"), map[string]any{"time": "2001-01-01T00:00:00Z"})}, 400, reason.EventTimePast, "time", "m-past"},
		{"binary: missing ce-id", request{contentType: "application/json", headers: map[string]string{"ce-specversion": "1.0", "ce-source": "/s", "ce-type": clickType}, body: `{"m-binnoid":1}`}, 400, reason.MissingAttribute, "id", "m-binnoid"},
		{"binary: data not json", request{contentType: "text/plain", headers: map[string]string{"ce-specversion": "1.0", "ce-id": "m-bintext", "ce-source": "/s", "ce-type": clickType}, body: `hello`}, 415, reason.UnsupportedDataType, "datacontenttype", "m-bintext"},
		{"binary: bad extension name", request{contentType: "application/json", headers: map[string]string{"ce-specversion": "1.0", "ce-id": "m-binext", "ce-source": "/s", "ce-type": clickType, "ce-Bad_Name": "x"}, body: goodData("u")}, 400, reason.InvalidAttribute, "", "m-binext"},
		// The hardening issue's inputs: each once got no answer, 503 forever, or was accepted.
		{"number beyond float64", request{contentType: structured, body: click("m-hugenum", `{"user_id":"u","item_id":"i","price":1e1000000000}`, nil)}, 400, reason.NumberOutOfRange, "/price", "m-hugenum"},
		{"number beyond float64, slow path", request{contentType: structured, body: click("m-hugenum2", `{"user_id":"u","item_id":"i","price":1e400}`, map[string]any{"dataschema": "https://example.com/s"})}, 400, reason.NumberOutOfRange, "/price", "m-hugenum2"},
		{"key twice in data", request{contentType: structured, body: click("m-dupdata", `{"user_id":"u","item_id":"i","user_id":"v"}`, nil)}, 400, reason.DuplicateKey, "/user_id", "m-dupdata"},
		{"attribute twice", request{contentType: structured, body: `{"specversion":"1.0","id":"m-dupattr","source":"/s","type":"` + clickType + `","id":"other","data":{}}`}, 400, reason.DuplicateKey, "id", "m-dupattr"},
		{"upper-case extension", request{contentType: structured, body: click("m-upper", goodData("u"), map[string]any{"MyExt": "x"})}, 400, reason.InvalidAttribute, "MyExt", "m-upper"},
		{"id over the attribute limit", request{contentType: structured, body: click(strings.Repeat("i", 5000), goodData("u"), map[string]any{"subject": "m-longid"})}, 413, reason.AttributeTooLarge, "id", "m-longid"},
		{"binary: a megabyte of ce- headers", request{contentType: "application/json", headers: megaHeaders("m-megahdr"), body: goodData("u")}, 413, reason.AttributeTooLarge, "", "m-megahdr"},
		{"binary: a megabyte of ce- headers, no id", request{contentType: "application/json", headers: megaHeaders(""), body: `{"m-megahdr-noid":1}`}, 400, reason.MissingAttribute, "id", "m-megahdr-noid"},
		{"forbidden type", request{contentType: structured, key: keyClicks, body: `{"specversion":"1.0","id":"m-forbidden","source":"/s","type":"tributary.label.recorded.v1","data":{}}`}, 403, reason.ForbiddenType, "type", "m-forbidden"},
		{"no api key", request{contentType: structured, key: "-", body: click("m-nokey", goodData("u"), nil)}, 401, reason.Unauthenticated, "", ""},
		{"wrong api key", request{contentType: structured, key: "nope", body: click("m-badkey", goodData("u"), nil)}, 401, reason.Unauthenticated, "", ""},
	}
	var dead []tc
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, hdr, body := f.post(t, c.req)
			checkEnvelope(t, body)
			e := httperror.Parse(code, body)
			if code != c.status || e.Reason != c.reason || code != intake.Status(c.reason) {
				t.Fatalf("got %d %s, want %d %s", code, body, c.status, c.reason)
			}
			if !strings.Contains(e.Body.Error, c.field) {
				t.Errorf("error %q does not name %q", e.Body.Error, c.field)
			}
			if strings.HasPrefix(c.name, "schema") && e.ID != c.marker {
				t.Errorf("id %q, want the event's %q", e.ID, c.marker)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", hdr.Get("Content-Type"))
			}
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
		if c.marker != "" {
			dead = append(dead, c)
		}
	}
	// The empty batch has no marker: its record is the only one with an
	// empty-batch reason.
	recs := kafkatest.Read(t, f.brokers, f.prefix+event.TopicDLQ, len(dead)+1, 20*time.Second, 500*time.Millisecond)
	byReason := map[string]int{}
	letters := map[*kgo.Record]deadletter.Letter{}
	for _, r := range recs {
		l, err := deadletter.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		letters[r] = l
		byReason[string(l.Reason)]++
		if l.Origin != deadletter.HTTP() || l.Service != "ingest" || l.Received.IsZero() || l.Error == "" || deadletter.Size(r) > dlqMaxBytes {
			t.Errorf("dead-letter record without origin, service, received or error, or over the limit: %v", r.Headers)
		}
	}
	if byReason[string(reason.EmptyBatch)] != 1 {
		t.Errorf("empty batch: %d dead-letter records", byReason[string(reason.EmptyBatch)])
	}
	if byReason[string(reason.Unauthenticated)] != 0 {
		t.Error("unauthenticated requests were dead-lettered")
	}
	for _, c := range dead {
		var found *kgo.Record
		for _, r := range recs {
			if kafkatest.Header(r, "ce_id") == c.marker || kafkatest.Header(r, "ce_subject") == c.marker || bytes.Contains(r.Value, []byte(c.marker)) {
				found = r
				break
			}
		}
		if found == nil {
			t.Errorf("%s: no dead-letter record with %q", c.name, c.marker)
			continue
		}
		if got := letters[found].Reason; got != c.reason {
			t.Errorf("%s: dead-letter reason %q, want %s", c.name, got, c.reason)
		}
		// The body as read: the first max-body-bytes+1 bytes.
		if c.reason == reason.BodyTooLarge && len(found.Value) != 64<<10+1 {
			t.Errorf("oversized body: dead-letter value of %d bytes", len(found.Value))
		}
	}
	if len(recs) != len(dead)+1 {
		t.Errorf("%d dead-letter records, want %d", len(recs), len(dead)+1)
	}
}

// TestMixedBatch: one answer per event, 207, the good ones on the topic and
// the bad ones on the dead-letter topic.
func TestMixedBatch(t *testing.T) {
	f := newFixture(t)
	body := "[" + strings.Join([]string{
		click("b-good-1", goodData("alice"), nil),
		click("b-bad-schema", `{"user_id":"bob"}`, nil),
		`{"specversion":"1.0","id":"b-bad-attr","type":"x"}`,
		click("b-good-2", goodData("carol"), nil),
	}, ",") + "]"
	code, _, b := f.post(t, request{contentType: batch, body: body})
	var resp httpapi.BatchResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusMultiStatus || resp.Accepted != 2 || resp.Rejected != 2 || len(resp.Results) != 4 {
		t.Fatalf("got %d %s", code, b)
	}
	want := []struct {
		id      string
		outcome intake.Outcome
		reason  intake.Reason
	}{
		{"b-good-1", intake.Accepted, ""}, {"b-bad-schema", intake.Rejected, reason.SchemaViolation},
		{"", intake.Rejected, reason.MissingAttribute}, {"b-good-2", intake.Accepted, ""},
	}
	for i, w := range want {
		r := resp.Results[i]
		if r.ID != w.id || r.Status != w.outcome || r.Reason != w.reason || (w.reason != "") != (r.Error != "") {
			t.Errorf("result %d: %+v, want %+v", i, r, w)
		}
	}
	good := kafkatest.Read(t, f.brokers, f.prefix+"tributary.events.clicks", 2, 10*time.Second, 300*time.Millisecond)
	dlq := kafkatest.Read(t, f.brokers, f.prefix+event.TopicDLQ, 2, 10*time.Second, 300*time.Millisecond)
	if len(good) != 2 || len(dlq) != 2 {
		t.Fatalf("%d events, %d dead letters; want 2 and 2", len(good), len(dlq))
	}
	// All good: 202.
	code, _, b = f.post(t, request{contentType: batch, body: "[" + click("b-good-3", goodData("dan"), nil) + "]"})
	if code != http.StatusAccepted || !strings.Contains(string(b), `"accepted":1`) {
		t.Fatalf("all-good batch: %d %s", code, b)
	}
}

// TestAcceptedEvents: events in each mode land on their stream's topic,
// keyed by entity, with their CloudEvents headers intact; labels go to
// tributary.labels; a duplicate is accepted and written once.
func TestAcceptedEvents(t *testing.T) {
	f := newFixture(t)
	tm := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	st := click("a-structured", goodData("alice"), map[string]any{"time": tm.Format(time.RFC3339Nano), "subject": "item/i1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	if code, _, b := f.post(t, request{contentType: structured, body: st}); code != 202 || !strings.Contains(string(b), `"status":"accepted"`) {
		t.Fatalf("structured: %d %s", code, b)
	}
	bin := request{contentType: "application/json; charset=utf-8", headers: map[string]string{
		"ce-specversion": "1.0", "ce-id": "a-binary", "ce-source": "/test/shop", "ce-subject": "item%20one%E2%9C%93", "ce-type": clickType, "ce-time": tm.Format(time.RFC3339Nano), "ce-tenant": "acme",
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		body: goodData("bob"), key: keyClicks}
	if code, _, b := f.post(t, bin); code != 202 {
		t.Fatalf("binary: %d %s", code, b)
	}
	// No time: ingest stamps it.
	if code, _, b := f.post(t, request{contentType: batch, body: "[" + click("a-batch", goodData("carol"), map[string]any{"time": nil, "datacontenttype": nil}) + "]"}); code != 202 {
		t.Fatalf("batch: %d %s", code, b)
	}
	// The same (source, id) again: accepted as a duplicate, not written.
	code, _, b := f.post(t, request{contentType: structured, body: st})
	if code != 202 || !strings.Contains(string(b), `"status":"duplicate"`) {
		t.Fatalf("duplicate: %d %s", code, b)
	}
	label := fmt.Sprintf(`{"specversion":"1.0","id":"a-label","source":"/test/labeler","type":"%s","data":{"stream":"fraud","entity_key":"acct-9","value":1,"event_time":"%s"}}`, event.TypeLabelRecorded, now())
	if code, _, b := f.post(t, request{contentType: structured, body: label}); code != 202 {
		t.Fatalf("label: %d %s", code, b)
	}

	recs := kafkatest.Read(t, f.brokers, f.prefix+"tributary.events.clicks", 3, 10*time.Second, time.Second)
	if len(recs) != 3 {
		t.Fatalf("%d records on the stream topic, want 3 (the duplicate not written)", len(recs))
	}
	byID := map[string]*kgo.Record{}
	for _, r := range recs {
		byID[kafkatest.Header(r, "ce_id")] = r
	}
	s := byID["a-structured"]
	if s == nil || string(s.Key) != "alice" || string(s.Value) != goodData("alice") {
		t.Fatalf("structured record: %+v", s)
	}
	for k, want := range map[string]string{
		"ce_specversion": "1.0", "ce_source": "/test/shop", "ce_type": clickType, "ce_subject": "item/i1",
		"ce_time": tm.Format(time.RFC3339Nano), "content-type": "application/json", "ce_partitionkey": "alice",
		"ce_traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	} {
		if got := kafkatest.Header(s, k); got != want {
			t.Errorf("structured record header %s = %q, want %q", k, got, want)
		}
	}
	e, err := event.FromKafkaRecord(s)
	if err != nil || e.ID() != "a-structured" || !e.Time().Equal(tm) {
		t.Fatalf("structured record does not decode back: %v %v", e, err)
	}
	bn := byID["a-binary"]
	if bn == nil || string(bn.Key) != "bob" || kafkatest.Header(bn, "ce_subject") != "item one✓" || kafkatest.Header(bn, "ce_tenant") != "acme" ||
		kafkatest.Header(bn, "content-type") != "application/json; charset=utf-8" ||
		kafkatest.Header(bn, "ce_traceparent") != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("binary record: %+v", bn)
	}
	bt := byID["a-batch"]
	if bt == nil || string(bt.Key) != "carol" || kafkatest.Header(bt, "ce_time") == "" || kafkatest.Header(bt, "content-type") != "application/json" {
		t.Fatalf("batch record: %+v", bt)
	}
	labels := kafkatest.Read(t, f.brokers, f.prefix+event.TopicLabels, 1, 10*time.Second, 200*time.Millisecond)
	if len(labels) != 1 || string(labels[0].Key) != "acct-9" || kafkatest.Header(labels[0], "ce_type") != event.TypeLabelRecorded {
		t.Fatalf("labels: %+v", labels)
	}
}

// megaHeaders is a binary-mode event with id (none when empty) and 20
// extensions of 50 KB each: a megabyte of ce- headers.
func megaHeaders(id string) map[string]string {
	h := map[string]string{"ce-specversion": "1.0", "ce-source": "/s", "ce-type": clickType}
	if id != "" {
		h["ce-id"] = id
	}
	for i := range 20 {
		h[fmt.Sprintf("ce-big%d", i)] = strings.Repeat("x", 50_000)
	}
	return h
}

// TestDataBase64WithBlanks: data_base64 as any JSON encoder writes it, with
// blanks around the colon (sdk-go refused it), is accepted.
func TestDataBase64WithBlanks(t *testing.T) {
	f := newFixture(t)
	b64 := base64.StdEncoding.EncodeToString([]byte(goodData("erin")))
	body := `{"specversion": "1.0", "id": "a-b64", "source": "/test/shop", "type": "` + clickType + `", "datacontenttype": "application/json", "data_base64": "` + b64 + `"}`
	if code, _, b := f.post(t, request{contentType: structured, body: body}); code != 202 {
		t.Fatalf("data_base64 with a blank: %d %s", code, b)
	}
	recs := kafkatest.Read(t, f.brokers, f.prefix+"tributary.events.clicks", 1, 10*time.Second, 200*time.Millisecond)
	if len(recs) != 1 || string(recs[0].Value) != goodData("erin") || string(recs[0].Key) != "erin" {
		t.Fatalf("records: %+v", recs)
	}
}

// checkEnvelope fails unless body is the error body of libs/httperror and
// nothing else: error and reason set, no field of the answers before it
// (status, message).
func checkEnvelope(t *testing.T, body []byte) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("answer is not a JSON object: %s", body)
	}
	for k := range fields {
		switch k {
		case "error", "reason", "id", "details":
		default:
			t.Errorf("error body has field %q: %s", k, body)
		}
	}
	var b httperror.Body
	if err := json.Unmarshal(body, &b); err != nil || b.Error == "" || !b.Reason.Valid() {
		t.Errorf("error body without error or reason: %s (%v)", body, err)
	}
}
