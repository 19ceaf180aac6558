package deadletter_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
)

func TestTopicIsEventTopicDLQ(t *testing.T) {
	if deadletter.Topic != event.TopicDLQ {
		t.Fatalf("deadletter.Topic %q, event.TopicDLQ %q", deadletter.Topic, event.TopicDLQ)
	}
}

// wireSize is the exact size of r in a one-record batch of a produce
// request, as kmsg encodes it: the batch's array length (4), its 61-byte
// header and the record.
func wireSize(r *kgo.Record) int {
	kr := kmsg.Record{Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
	}
	body := len(kr.AppendTo(nil)) - 1 // Length 0 took one byte
	return 4 + 61 + binary.PutVarint(make([]byte, binary.MaxVarintLen64), int64(body)) + body
}

func header(r *kgo.Record, key string) (string, int) {
	var v string
	n := 0
	for _, h := range r.Headers {
		if h.Key == key {
			v = string(h.Value)
			n++
		}
	}
	return v, n
}

func TestRecordSmallInputRoundTrips(t *testing.T) {
	received := time.Date(2026, 12, 1, 8, 0, 0, 123456789, time.FixedZone("x", 3600))
	in := deadletter.Letter{
		Reason:   "schema_violation",
		Error:    "data.amount: must be >= 0",
		Origin:   deadletter.Kafka("tributary.raw.orders", 3, 42),
		Received: received,
		Key:      []byte("user-1"),
		Value:    []byte(`{"amount":-1}`),
		Headers:  []kgo.RecordHeader{{Key: "ce_id", Value: []byte("e1")}, {Key: "ce_type", Value: []byte("orders.v1")}},
	}
	b := deadletter.Builder{Service: "ingest", Topic: "test-x.tributary.dlq"}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	rec := b.Record(in)
	if rec.Topic != "test-x.tributary.dlq" {
		t.Errorf("topic %q", rec.Topic)
	}
	for key, want := range map[string]string{
		deadletter.HeaderReason:   "schema_violation",
		deadletter.HeaderError:    "data.amount: must be >= 0",
		deadletter.HeaderService:  "ingest",
		deadletter.HeaderOrigin:   "kafka:tributary.raw.orders/3/42",
		deadletter.HeaderReceived: "2026-12-01T07:00:00.123456789Z",
		"ce_id":                   "e1",
	} {
		if got, n := header(rec, key); got != want || n != 1 {
			t.Errorf("header %s = %q (%d times), want %q once", key, got, n, want)
		}
	}
	if _, n := header(rec, deadletter.HeaderTruncated); n != 0 {
		t.Errorf("%s set on a small input", deadletter.HeaderTruncated)
	}
	got, err := deadletter.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.Service = "ingest"
	if got.Service != want.Service || got.Reason != want.Reason || got.Error != want.Error || got.Origin != want.Origin ||
		!got.Received.Equal(want.Received) || !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) ||
		!slices.EqualFunc(got.Headers, want.Headers, func(a, b kgo.RecordHeader) bool { return a.Key == b.Key && bytes.Equal(a.Value, b.Value) }) ||
		got.Truncated != nil {
		t.Errorf("Decode =\n%+v\nwant\n%+v", got, want)
	}
	if got.Header("ce_type") != "orders.v1" || got.Header("nope") != "" {
		t.Errorf("Letter.Header: %q %q", got.Header("ce_type"), got.Header("nope"))
	}
}

// TestRecordHugeInputFits is the contract: a 10 MB event id, 500 KB of
// headers, a 10 MB key, value and message, and a forged reason header give
// a record under the limit that still says why and from where.
func TestRecordHugeInputFits(t *testing.T) {
	huge := strings.Repeat("é", 5<<20) // 10 MB of two-byte runes
	var headers []kgo.RecordHeader
	headers = append(headers, kgo.RecordHeader{Key: "ce_id", Value: []byte(huge)})
	for i := 0; len(headers) < 5000; i++ {
		headers = append(headers, kgo.RecordHeader{Key: fmt.Sprintf("x-h%04d", i), Value: bytes.Repeat([]byte{'v'}, 93)})
	}
	headers = append(headers,
		kgo.RecordHeader{Key: deadletter.HeaderReason, Value: []byte("forged")},
		kgo.RecordHeader{Key: strings.Repeat("k", 10<<10), Value: []byte("long name")},
	)
	in := deadletter.Letter{
		Reason: "event_too_large", Error: huge, Origin: deadletter.HTTP(),
		Key: []byte(huge), Value: []byte(huge), Headers: headers,
	}
	for _, limit := range []int{deadletter.MinMaxBytes, 64 << 10, 256 << 10, deadletter.DefaultMaxBytes, 0} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			rec := deadletter.Builder{Service: "ingest", MaxBytes: limit}.Record(in)
			if limit == 0 {
				limit = deadletter.DefaultMaxBytes
			}
			size, exact := deadletter.Size(rec), wireSize(rec)
			if exact > size {
				t.Fatalf("Size %d under the encoded size %d", size, exact)
			}
			if size > limit {
				t.Fatalf("record of %d bytes over the limit %d", size, limit)
			}
			if size < limit*9/10 {
				t.Errorf("record of %d bytes wastes the limit %d", size, limit)
			}
			l, err := deadletter.Decode(rec)
			if err != nil {
				t.Fatal(err)
			}
			if l.Reason != "event_too_large" || l.Service != "ingest" || l.Origin != deadletter.HTTP() {
				t.Errorf("refusal lost: %+v", l)
			}
			if l.Header(deadletter.HeaderReason) != "" {
				t.Error("the forged tributary_reason header was kept")
			}
			for _, h := range l.Headers {
				if !strings.HasPrefix(huge, string(h.Value)) && !bytes.Equal(h.Value, bytes.Repeat([]byte{'v'}, 93)) {
					t.Fatalf("header %s holds bytes not from the input", h.Key)
				}
			}
			for _, part := range []string{deadletter.CutValue, deadletter.CutKey, deadletter.CutError, deadletter.CutHeaders} {
				if !slices.Contains(l.Truncated, part) {
					t.Errorf("truncated %v misses %q", l.Truncated, part)
				}
			}
			if !strings.HasPrefix(huge, l.Error) || !strings.HasPrefix(huge, string(l.Value)) || !strings.HasPrefix(huge, string(l.Key)) {
				t.Error("a cut part is not a prefix of the input")
			}
			if limit >= 64<<10 {
				if id := l.Header("ce_id"); len(id) < deadletter.MaxHeaderValueBytes-1 || !strings.HasPrefix(huge, id) {
					t.Errorf("ce_id kept %d bytes, want the first %d", len(id), deadletter.MaxHeaderValueBytes)
				}
				if !slices.Contains(l.Truncated, deadletter.CutHeaderValues) {
					t.Errorf("truncated %v misses %q", l.Truncated, deadletter.CutHeaderValues)
				}
			}
			if len(l.Error)%2 != 0 {
				t.Errorf("message cut inside a rune: %d bytes", len(l.Error))
			}
		})
	}
}

// TestRecordKeepsIdentityFirst: headers that come before an event's
// identity (extensions sort before ce_id) cannot push it out of a record
// that has no room for all of them.
func TestRecordKeepsIdentityFirst(t *testing.T) {
	var headers []kgo.RecordHeader
	for i := range 300 {
		headers = append(headers, kgo.RecordHeader{Key: fmt.Sprintf("ce_a%03d", i), Value: bytes.Repeat([]byte{'v'}, 1000)})
	}
	headers = append(headers,
		kgo.RecordHeader{Key: "ce_id", Value: []byte("e1")}, kgo.RecordHeader{Key: "ce_source", Value: []byte("/s")},
		kgo.RecordHeader{Key: "ce_specversion", Value: []byte("1.0")}, kgo.RecordHeader{Key: "ce_type", Value: []byte("t.v1")},
		kgo.RecordHeader{Key: "content-type", Value: []byte("application/json")}, kgo.RecordHeader{Key: "ce_time", Value: []byte("2026-12-01T09:00:00Z")},
	)
	in := deadletter.Letter{Reason: "attribute_too_large", Origin: deadletter.HTTP(), Headers: headers}
	rec := deadletter.Builder{Service: "ingest", MaxBytes: 64 << 10}.Record(in)
	l, err := deadletter.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(l.Truncated, deadletter.CutHeaders) || len(l.Headers) >= len(headers) {
		t.Fatalf("%d of %d headers kept, truncated %v: the test needs a record too small for all", len(l.Headers), len(headers), l.Truncated)
	}
	for _, h := range headers[300:] {
		if l.Header(h.Key) != string(h.Value) {
			t.Errorf("%s: %q, want %q", h.Key, l.Header(h.Key), h.Value)
		}
	}
	if l.Headers[0].Key != "ce_id" || l.Headers[6].Key != "ce_a000" {
		t.Errorf("order: %s, ..., %s", l.Headers[0].Key, l.Headers[6].Key)
	}
	if in.Headers[0].Key != "ce_a000" {
		t.Error("the input's headers were reordered")
	}
}

// TestRecordAlwaysFits tries random shapes of input against random limits.
func TestRecordAlwaysFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte { return bytes.Repeat([]byte{'a'}, rng.IntN(n+1)) }
	for i := range 300 {
		in := deadletter.Letter{
			Reason: "malformed_data", Error: string(blob(20000)), Origin: deadletter.Kafka(strings.Repeat("t", rng.IntN(249)+1), 7, 1<<40),
			Key: blob(20000), Value: blob(2 << 20),
		}
		for range rng.IntN(200) {
			in.Headers = append(in.Headers, kgo.RecordHeader{Key: string(blob(300)), Value: blob(10000)})
		}
		limit := deadletter.MinMaxBytes + rng.IntN(1<<20)
		rec := deadletter.Builder{Service: "features", MaxBytes: limit}.Record(in)
		if size, exact := deadletter.Size(rec), wireSize(rec); size > limit || exact > size {
			t.Fatalf("case %d: size %d (encoded %d), limit %d", i, size, exact, limit)
		}
		if _, err := deadletter.Decode(rec); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	for _, c := range []struct {
		in   string
		want deadletter.Origin
		err  bool
	}{
		{"http", deadletter.HTTP(), false},
		{"kafka:tributary.raw.orders/3/42", deadletter.Kafka("tributary.raw.orders", 3, 42), false},
		{"kafka:a/b/0/1", deadletter.Kafka("a/b", 0, 1), false},
		{"tributary.events.orders/0/17", deadletter.Kafka("tributary.events.orders", 0, 17), false}, // materializer before
		{"tributary.raw.orders", deadletter.Kafka("tributary.raw.orders", -1, -1), false},           // ingest raw before
		{"", deadletter.Origin{}, true},
		{"kafka:orders", deadletter.Origin{}, true},
		{"kafka:orders/x/1", deadletter.Origin{}, true},
		{"kafka:/0/1", deadletter.Origin{}, true},
		{"kafka:o/-1/1", deadletter.Origin{}, true},
		{"nats:subject", deadletter.Origin{}, true},
		{"a/b", deadletter.Origin{}, true},
	} {
		got, err := deadletter.ParseOrigin(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseOrigin(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.err)
		}
		if !c.err && c.want.Partition >= 0 {
			if s := got.String(); s != c.in && "kafka:"+c.in != s {
				t.Errorf("String() = %q, parsed from %q", s, c.in)
			}
		}
	}
	if got := deadletter.FromRecord(&kgo.Record{Topic: "t", Partition: 2, Offset: 9}).String(); got != "kafka:t/2/9" {
		t.Errorf("FromRecord = %q", got)
	}
}

func TestDecode(t *testing.T) {
	rec := func(hs ...string) *kgo.Record {
		r := &kgo.Record{Value: []byte("v")}
		for i := 0; i < len(hs); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: hs[i], Value: []byte(hs[i+1])})
		}
		return r
	}
	if _, err := deadletter.Decode(rec("ce_id", "1")); !errors.Is(err, deadletter.ErrNotDeadLetter) {
		t.Errorf("no reason: %v, want ErrNotDeadLetter", err)
	}
	if _, err := deadletter.Decode(rec(deadletter.HeaderReason, "x", deadletter.HeaderReceived, "yesterday")); err == nil || !strings.Contains(err.Error(), deadletter.HeaderReceived) {
		t.Errorf("bad received: %v", err)
	}
	if _, err := deadletter.Decode(rec(deadletter.HeaderReason, "x", deadletter.HeaderOrigin, "kafka:nope")); err == nil {
		t.Error("bad origin decoded")
	}
	// A record of ingest before this package.
	l, err := deadletter.Decode(rec(deadletter.HeaderReason, "event_too_large", deadletter.HeaderTruncated, "true",
		deadletter.HeaderOrigin, "tributary.raw.x", "tributary_later", "kept"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Truncated, []string{deadletter.CutValue}) || l.Service != "" || l.Origin.Topic != "tributary.raw.x" || l.Header("tributary_later") != "kept" {
		t.Errorf("legacy record decoded as %+v", l)
	}
}

func TestBuilderValidate(t *testing.T) {
	for _, c := range []struct {
		b  deadletter.Builder
		ok bool
	}{
		{deadletter.Builder{Service: "ingest"}, true},
		{deadletter.Builder{Service: "ingest", MaxBytes: deadletter.MinMaxBytes}, true},
		{deadletter.Builder{Service: "ingest", MaxBytes: deadletter.MinMaxBytes - 1}, false},
		{deadletter.Builder{}, false},
		{deadletter.Builder{Service: strings.Repeat("s", 65)}, false},
	} {
		if err := c.b.Validate(); (err == nil) != c.ok {
			t.Errorf("Validate(%+v) = %v", c.b, err)
		}
	}
}
