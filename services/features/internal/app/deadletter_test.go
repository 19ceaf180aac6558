package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestDeadLetterContract feeds the materializer a record at the producer's
// size limit that no view can read, and a label with a misspelt field: both
// are dead-lettered with the libs/deadletter contract (the oversized one
// cut to fit, so the consumer commits past it instead of retrying a
// MESSAGE_TOO_LARGE for good), and the label is refused by its reason
// rather than stored without the field.
func TestDeadLetterContract(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)

	// Data that is not a JSON object, sized so that the record alone just
	// fits a one-record batch: the refusal's headers could not be added.
	clicks := h.prefix + event.EventsTopic("clicks")
	big := h.record(clicks, "big-1", "user-00", "com.example.shop.click.v1", "x")
	big.Headers = append(big.Headers, kgo.RecordHeader{Key: deadletter.HeaderReason, Value: []byte("forged")})
	big.Value = []byte(`"` + strings.Repeat("x", deadletter.DefaultMaxBytes-30-deadletter.Size(big)) + `"`)
	label := h.record(h.prefix+event.TopicLabels, "label-1", "user-00", event.TypeLabelRecorded, map[string]any{
		"stream": "fraud", "entity_key": "user-00", "event_time": time.Now().UTC().Format(time.RFC3339Nano), "valu": 1,
	})
	// ProduceSync sets the partition and offset of big and label.
	if err := h.kafka.ProduceSync(context.Background(), big, label).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	h.caughtUp(60 * time.Second)

	letters := readDLQ(t, h)
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2: %+v", len(letters), letters)
	}
	byReason := map[reason.ID]deadletter.Letter{}
	for _, l := range letters {
		byReason[l.Reason] = l
	}
	for _, c := range []struct {
		in     *kgo.Record
		reason reason.ID
		msg    string
		cut    string
	}{
		{big, reason.BadEventData, "bad event data", deadletter.CutValue},
		{label, reason.BadLabel, `unknown field "valu"`, ""},
	} {
		l, ok := byReason[c.reason]
		if !ok {
			t.Errorf("no %s dead letter: %+v", c.reason, letters)
			continue
		}
		if want := deadletter.FromRecord(c.in); l.Service != "features" || l.Origin != want {
			t.Errorf("%s: service %q, origin %v, want features, %v", c.reason, l.Service, l.Origin, want)
		}
		if !strings.Contains(l.Error, c.msg) {
			t.Errorf("%s: error %q, want it to contain %q", c.reason, l.Error, c.msg)
		}
		for _, hd := range c.in.Headers {
			if hd.Key == "ce_id" && l.Header("ce_id") != string(hd.Value) {
				t.Errorf("%s: ce_id %q, the input's %q", c.reason, l.Header("ce_id"), hd.Value)
			}
		}
		if got := strings.Join(l.Truncated, ","); c.cut != "" && !strings.Contains(got, c.cut) {
			t.Errorf("%s: truncated %q, want %q in it", c.reason, got, c.cut)
		}
		if time.Since(l.Received) > time.Minute {
			t.Errorf("%s: received %v", c.reason, l.Received)
		}
	}
	if l := byReason[reason.BadEventData]; !strings.Contains(strings.Join(l.Truncated, ","), deadletter.CutHeaders) || l.Reason == "forged" {
		t.Errorf("the input's forged %s header was not dropped: %+v", deadletter.HeaderReason, l.Truncated)
	}
}

// readDLQ decodes every record of the test's dead-letter topic.
func readDLQ(t testing.TB, h *harness) []deadletter.Letter {
	t.Helper()
	topic := h.prefix + event.TopicDLQ
	cl, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := h.adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	var out []deadletter.Letter
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for int64(len(out)) < total {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d dead letters", len(out), total)
		}
		var derr error
		f.EachRecord(func(r *kgo.Record) {
			if size := deadletter.Size(r); size > deadletter.DefaultMaxBytes {
				derr = fmt.Errorf("dead letter at %d/%d: %d bytes, over %d", r.Partition, r.Offset, size, deadletter.DefaultMaxBytes)
			}
			l, err := deadletter.Decode(r)
			if err != nil {
				derr = fmt.Errorf("dead letter at %d/%d: %w", r.Partition, r.Offset, err)
			}
			if d, ok := reason.Features().Lookup(l.Reason); !ok || !d.DeadLettered {
				derr = fmt.Errorf("dead letter at %d/%d: reason %q is not a dead-letter reason of reason.Features()", r.Partition, r.Offset, l.Reason)
			}
			out = append(out, l)
		})
		if derr != nil {
			t.Fatal(derr)
		}
	}
	return out
}
