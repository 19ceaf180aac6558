package intake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// randomEvent builds an event from r with every attribute optional but the
// required ones, strings that are sometimes odd (blank, not UTF-8, with
// spaces), extensions of several types and times around the edges of
// RFC 3339.
func randomEvent(r *rand.Rand) ce.Event {
	pick := func(options ...string) string { return options[r.IntN(len(options))] }
	e := ce.NewEvent()
	e.SetID(pick("1", "e-42", "id with space", "\xff", "ü"))
	e.SetSource(pick("/s", "https://example.com/a?b=c#d", "urn:x:y", "/a%20b", "rel/path"))
	e.SetType(pick("com.example.t.v1", "t", "\xfe"))
	if r.IntN(2) == 0 {
		e.SetSubject(pick("sub", "", "\xff"))
	}
	if r.IntN(2) == 0 {
		e.SetDataSchema(pick("https://example.com/schema.json", "/rel", "x"))
	}
	switch r.IntN(4) {
	case 0:
		e.SetTime(time.Date(2026, 11, 26, 10, 0, 0, r.IntN(1e9), time.FixedZone("x", 3600*(r.IntN(25)-12))))
	case 1:
		e.SetTime(time.Date(10000+r.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC))
	}
	switch r.IntN(5) {
	case 0:
	case 1:
		e.DataEncoded = []byte(`{"a":1}`)
		e.SetDataContentType(pick("application/json", "text/json; charset=utf-8", "application/x+json"))
	case 2:
		e.DataEncoded = []byte{}
	default:
		e.DataEncoded = []byte(fmt.Sprintf(`{"user":"u-%d","p":"%s"}`, r.IntN(100), pick("x", "yy", "\xff")))
	}
	for range r.IntN(4) {
		name := pick("partitionkey", "traceparent", "tracestate", "myext", "n", "b", "tm")
		var v any
		switch r.IntN(6) {
		case 0:
			v = int32(r.IntN(100))
		case 1:
			v = r.IntN(2) == 0
		case 2:
			v = pick("", "\xff")
		default:
			v = pick("k-1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "x y")
		}
		e.SetExtension(name, v) // sdk-go refuses some: fine
	}
	return e
}

// TestEncodeRecordEqualsToKafkaRecord proves the direct encoding gives the
// record event.ToKafkaRecord gives (headers, key, value), or the same
// error, over many events, including the ones it hands to ToKafkaRecord,
// and that it covers the common ones itself.
func TestEncodeRecordEqualsToKafkaRecord(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	direct := 0
	for i := range 20000 {
		e := randomEvent(r)
		want, wantErr := event.ToKafkaRecord(context.Background(), e, "topic")
		got, gotErr := encodeRecord(&e, "topic", false, e.Source())
		if !sameError(gotErr, wantErr) {
			t.Fatalf("event %d %v: error %v, ToKafkaRecord: %v", i, e, gotErr, wantErr)
		}
		if wantErr != nil {
			continue
		}
		if encodeDirect(new(kgo.Record), &e, "topic", false, e.Source(), "") {
			direct++
		}
		if !sameRecord(got, want) {
			t.Fatalf("event %d %v:\n got %s\nwant %s", i, e, show(got), show(want))
		}
		// Into a record whose Headers are a slice of the batch's, holding
		// what an earlier record left there.
		into := kgo.Record{Headers: []kgo.RecordHeader{{Key: "stale"}, {Key: "x", Value: []byte("y")}, {}, {}}[:2]}
		if err := encodeRecordInto(&into, &e, "topic", false, e.Source(), ""); err != nil || !sameRecord(&into, want) {
			t.Fatalf("event %d %v into a used record: %v\n got %s\nwant %s", i, e, err, show(&into), show(want))
		}
		// With a partition key, as intake encodes: the record of the event
		// with that partitionkey extension, whichever it had.
		keyed := e.Clone()
		keyed.SetExtension("partitionkey", "entity-7")
		wantKeyed, err := event.ToKafkaRecord(context.Background(), keyed, "topic")
		if err != nil {
			t.Fatalf("event %d %v with a partition key: %v", i, keyed, err)
		}
		plain := e.Clone()
		var withKey kgo.Record
		if err := encodeRecordInto(&withKey, &plain, "topic", false, plain.Source(), "entity-7"); err != nil || !sameRecord(&withKey, wantKeyed) {
			t.Fatalf("event %d %v with a partition key: %v\n got %s\nwant %s", i, e, err, show(&withKey), show(wantKeyed))
		}
		// A valid event said validated takes the same path, to the same
		// record, without Validate.
		if e.Validate() == nil {
			if got, err := encodeRecord(&e, "topic", true, e.Source()); err != nil || !sameRecord(got, want) {
				t.Fatalf("event %d %v validated: %v\n got %s\nwant %s", i, e, err, show(got), show(want))
			}
		}
	}
	if direct < 2000 {
		t.Fatalf("only %d events of 20000 took the direct path, want 2000", direct)
	}
}

// TestEncodeRecordValidatedThenBroken: a setter's error after the decoder
// validated the event (in e.FieldErrors) still makes encodeRecord give
// ToKafkaRecord's error, not a record.
func TestEncodeRecordValidatedThenBroken(t *testing.T) {
	e := ce.NewEvent()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	e.SetExtension("not-a-name!", "x") // refused: recorded in FieldErrors
	if len(e.FieldErrors) == 0 {
		t.Fatal("sdk-go recorded no field error")
	}
	_, wantErr := event.ToKafkaRecord(context.Background(), e, "topic")
	if wantErr == nil {
		t.Fatal("ToKafkaRecord took the event")
	}
	if rec, err := encodeRecord(&e, "topic", true, e.Source()); !sameError(err, wantErr) {
		t.Fatalf("record %v, error %v; want ToKafkaRecord's %v", rec, err, wantErr)
	}
}

// sameError: both nil, or both of the same kind (ToKafkaRecord names the
// first bad extension it meets, in map order).
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	for _, kind := range []error{event.ErrInvalidEvent, event.ErrUnsupportedSpecVersion} {
		if errors.Is(a, kind) != errors.Is(b, kind) {
			return false
		}
	}
	return true
}

func sameRecord(a, b *kgo.Record) bool {
	return a.Topic == b.Topic && string(a.Key) == string(b.Key) && (a.Key == nil) == (b.Key == nil) &&
		string(a.Value) == string(b.Value) && (a.Value == nil) == (b.Value == nil) && reflect.DeepEqual(a.Headers, b.Headers)
}

func show(r *kgo.Record) string {
	s := fmt.Sprintf("key=%q value=%q", r.Key, r.Value)
	for _, h := range r.Headers {
		s += fmt.Sprintf(" %s=%q", h.Key, h.Value)
	}
	return s
}

// FuzzEncodeRecord compares the direct encoding with ToKafkaRecord on
// events whose attributes and extension come from the fuzzer.
func FuzzEncodeRecord(f *testing.F) {
	f.Add("1", "/s", "t", "sub", "application/json", "k", "ext", []byte(`{"a":1}`), int64(0))
	f.Add("\xff", "::", "", "", "text/plain; x", "", "BAD", []byte{}, int64(-1))
	f.Fuzz(func(t *testing.T, id, source, typ, subject, ct, key, ext string, data []byte, unix int64) {
		e := ce.NewEvent()
		e.SetID(id)
		e.SetSource(source)
		e.SetType(typ)
		e.SetSubject(subject)
		e.SetDataContentType(ct)
		if unix != 0 {
			e.SetTime(time.Unix(unix, unix%1e9))
		}
		e.SetExtension("partitionkey", key)
		e.SetExtension(ext, ext)
		if data != nil {
			e.DataEncoded = data
		}
		want, wantErr := event.ToKafkaRecord(context.Background(), e, "topic")
		got, gotErr := encodeRecord(&e, "topic", false, e.Source())
		if !sameError(gotErr, wantErr) {
			t.Fatalf("error %v, ToKafkaRecord: %v", gotErr, wantErr)
		}
		if wantErr == nil && !sameRecord(got, want) {
			t.Fatalf("\n got %s\nwant %s", show(got), show(want))
		}
	})
}

// TestAppendRFC3339NanoUTC compares the record's time header with
// time.RFC3339Nano's formatting, for times across the years 0000-9999,
// in other zones, and fractions of every length.
func TestAppendRFC3339NanoUTC(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	zone := time.FixedZone("x", -(5*3600 + 30*60))
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 12, 1, 10, 0, 0, 100000000, time.UTC), time.Date(2026, 12, 1, 10, 0, 0, 1, zone),
		time.Date(2024, 2, 29, 23, 59, 59, 120000, zone),
	}
	for range 10000 {
		sec := rng.Int64N(253402300800) - 62167219200 // years 0000-9999
		ns, unit := rng.Int64N(1e9), int64(1)
		for range rng.IntN(10) { // fractions with trailing zeros too, and none
			unit *= 10
		}
		ns -= ns % unit
		times = append(times, time.Unix(sec, ns))
	}
	for _, tm := range times {
		if y := tm.UTC().Year(); y < 0 || y > 9999 {
			continue
		}
		if got, want := string(appendRFC3339NanoUTC(nil, tm)), tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
}
