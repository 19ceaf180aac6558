package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestFeatures drives the real ingest and features binaries: a stream and a
// feature view applied to their KV buckets go live without a restart; events
// posted to ingest are counted by the features read API; a training set
// requested over NATS for the labels at the read instant arrives in the
// object store with its hash and row count.
func TestFeatures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ingest := stack.platform.Service("ingest").BaseURL
	features := stack.platform.Service("features").BaseURL
	name := "e2e" + randomID(t)[:10]
	typ := "com.example." + name + ".v1"
	view := "v_" + name

	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	schemasKV, err := js.KeyValue(ctx, "tributary_schemas")
	if err != nil {
		t.Fatal(err)
	}
	featuresKV, err := js.KeyValue(ctx, "tributary_features")
	if err != nil {
		t.Fatal(err)
	}
	def := `{"name":"` + name + `","type":"` + typ + `","entity_key":"/user","event_time":"/at",
	  "schema":{"type":"object","required":["user","at","amount"],"properties":{"user":{"type":"string"},"at":{"type":"string","format":"date-time"},"amount":{"type":"number"}}}}`
	if _, err := schemasKV.Put(ctx, name, []byte(def)); err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse([]byte(fmt.Sprintf(`
entities: [{name: user}]
sources: [{name: src, stream: %s, entity_key: /user, event_time: /at, fields: {amount: number}}]
views:
  - name: %s
    entity: user
    source: src
    features:
      - {name: n, agg: count, windows: [1h]}
      - {name: total, agg: sum, field: amount, windows: [1h]}
      - {name: last_amount, agg: latest, field: amount}
`, name, view)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurespec.Apply(ctx, featuresKV, views, time.Now()); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(stack.infra.Addrs.KafkaBrokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	defer func() {
		_ = schemasKV.Purge(context.Background(), name)
		_ = featuresKV.Purge(context.Background(), "view."+view)
		_, _ = kadm.NewClient(cl).DeleteTopics(context.Background(), event.EventsTopic(name), event.IngestTopic(name))
	}()

	// Post 5 users × 20 events in one batch, until the stream is live
	// (before, ingest answers 207 with the events rejected).
	users := []string{"ann", "ben", "cat", "dan", "eve"}
	want := map[string]int{}
	var batch []map[string]any
	now := time.Now()
	for i := range 100 {
		u := users[i%len(users)]
		want[u]++
		batch = append(batch, map[string]any{"specversion": "1.0", "id": fmt.Sprintf("%s-%d", name, i), "source": "/e2e", "type": typ,
			"data": map[string]any{"user": u, "at": now.Add(-time.Duration(100-i) * time.Second).UTC().Format(time.RFC3339Nano), "amount": float64(i)}})
	}
	body, _ := json.Marshal(batch)
	testkit.Eventually(t, 30*time.Second, func() error {
		req, _ := http.NewRequestWithContext(ctx, "POST", ingest+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/cloudevents-batch+json")
		req.Header.Set("Authorization", "Bearer "+ingestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted { // every event on Kafka (a retry: as duplicates)
			return fmt.Errorf("ingest did not take the batch: %d %s", resp.StatusCode, b.String())
		}
		return nil
	})

	// The features service counts them (the view is live, the new topic
	// is picked up by the consumer group's regex).
	type value struct {
		Value     any        `json:"value"`
		EventTime *time.Time `json:"event_time"`
	}
	var read struct {
		AsOf    time.Time `json:"as_of"`
		Results []struct {
			Entity string           `json:"entity"`
			Values map[string]value `json:"values"`
		} `json:"results"`
	}
	refs := []string{view + ":n_1h", view + ":total_1h", view + ":last_amount"}
	reqBody, _ := json.Marshal(map[string]any{"entities": append(users, "nobody"), "features": refs})
	testkit.Eventually(t, 60*time.Second, func() error {
		resp, err := http.Post(features+"/v1/features", "application/json", bytes.NewReader(reqBody))
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&read)
		resp.Body.Close()
		done := err == nil && resp.StatusCode == http.StatusOK
		for i, u := range users {
			done = done && fmt.Sprint(read.Results[i].Values[view+":n_1h"].Value) == fmt.Sprint(want[u])
		}
		if !done {
			return fmt.Errorf("features not materialized: %d %+v %v", resp.StatusCode, read, err)
		}
		return nil
	})
	if v := read.Results[len(users)].Values[view+":n_1h"]; v.Value != nil || v.EventTime != nil {
		t.Errorf("unknown entity: %+v", v)
	}
	// ann has events 0, 5, ..., 95: the latest amount is 95 at now-5s.
	if v := read.Results[0].Values[view+":last_amount"]; fmt.Sprint(v.Value) != "95" || v.EventTime == nil {
		t.Errorf("ann last_amount: %+v", v)
	}

	// Refusals are the libs/httperror envelope, with the reasons of
	// reason.Features().
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		reason                  reason.ID
	}{
		{"unknown view", "application/json", `{"entities":["ann"],"features":["no_such_view:n_1h"]}`, http.StatusBadRequest, reason.UnknownView},
		{"unknown field", "application/json", `{"entities":["ann"],"feature":["` + refs[0] + `"]}`, http.StatusBadRequest, reason.MalformedRequest},
		{"trailing data", "application/json", string(reqBody) + `{}`, http.StatusBadRequest, reason.MalformedRequest},
		{"not json", "text/csv", "ann," + refs[0], http.StatusUnsupportedMediaType, reason.UnsupportedMediaType},
	} {
		resp, err := http.Post(features+"/v1/features", c.contentType, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		err = httperror.Check(resp)
		resp.Body.Close()
		var he *httperror.Error
		if !errors.As(err, &he) || he.Status != c.status || he.Reason != c.reason || he.Body.Error == "" {
			t.Errorf("%s: %v, want %d %s", c.name, err, c.status, c.reason)
		}
	}

	// Labels at the read instant, then a training set over NATS.
	labelStream := "e2e_" + name
	for _, u := range users {
		e := ce.NewEvent()
		e.SetID(labelStream + "-" + u)
		e.SetSource("/e2e")
		e.SetType(event.TypeLabelRecorded)
		e.SetExtension("partitionkey", u)
		_ = e.SetData(ce.ApplicationJSON, event.LabelRecorded{Stream: labelStream, EntityKey: u, Value: 1, EventTime: read.AsOf})
		rec, err := event.ToKafkaRecord(ctx, e, event.TopicLabels)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	readySubject, _ := event.Subject(event.TypeDatasetReady)
	sub, err := nc.SubscribeSync(readySubject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var ready event.DatasetReady
	// The labels reach ClickHouse asynchronously: ask until the set has them.
	attempt := 0
	testkit.Eventually(t, 60*time.Second, func() error {
		attempt++
		reqID := fmt.Sprintf("%s-%d", name, attempt)
		e := ce.NewEvent()
		e.SetID(reqID)
		e.SetSource("/e2e")
		e.SetType(event.TypeDatasetRequested)
		_ = e.SetData(ce.ApplicationJSON, event.DatasetRequested{RequestID: reqID, Features: refs, LabelStream: labelStream, Start: read.AsOf.Add(-time.Minute), End: read.AsOf.Add(time.Minute)})
		subject, _ := event.Subject(event.TypeDatasetRequested)
		msg, err := event.ToNATSMsg(e, subject)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				t.Fatalf("no dataset.ready for %s: %v", reqID, err)
			}
			got, err := event.FromNATSMsg(m)
			if err == nil && json.Unmarshal(got.Data(), &ready) == nil && ready.RequestID == reqID {
				break
			}
		}
		if ready.RowCount != int64(len(users)) {
			return fmt.Errorf("dataset.ready of attempt %d: %d rows, want %d", attempt, ready.RowCount, len(users))
		}
		return nil
	})
	if ready.RowCount != int64(len(users)) || ready.FeatureDefinitions[view] != views[0].Version {
		t.Fatalf("dataset.ready: %+v", ready)
	}
	obj, err := js.ObjectStore(ctx, ready.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	b, err := obj.GetBytes(ctx, ready.ObjectName)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != ready.SHA256 || !bytes.HasPrefix(b, []byte("PAR1")) {
		t.Errorf("object %s: sha256 %x, announced %s", ready.ObjectName, sum, ready.SHA256)
	}
}
