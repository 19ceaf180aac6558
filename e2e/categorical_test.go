package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/trainspec"
)

// catMerchant is user u's merchant category: the positives (u >= 20)
// mostly travel, the negatives grocery or fuel; every user's amount is
// u%5, the same mix in both classes, so only the category tells them
// apart.
func catMerchant(u int) string {
	switch {
	case u >= fixtureUsers/2 && u%4 != 0:
		return "travel"
	case u%2 == 0:
		return "grocery"
	}
	return "fuel"
}

// TestCategoricalTraining drives a string feature through the real
// binaries: a view's latest merchant (a string) in the training set, the
// trainer's logistic regression learning it as a categorical feature (the
// vocabulary in the model file and the lineage, a categorical reference),
// serving mapping the online string and request-time strings with the
// model's vocabulary, and the prediction log carrying the category.
func TestCategoricalTraining(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ingest := stack.platform.Service("ingest").BaseURL
	features := stack.platform.Service("features").BaseURL
	trainer := stack.platform.Service("trainer").BaseURL
	serving := stack.platform.Service("serving").BaseURL
	name := "e2ec" + randomID(t)[:10]
	typ := "com.example." + name + ".v1"
	view := "v_" + name
	labelStream := "e2e_" + name
	modelName := "e2e-" + name

	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kv := func(bucket string) jetstream.KeyValue {
		b, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	schemasKV, featuresKV, jobsKV := kv("tributary_schemas"), kv("tributary_features"), kv("tributary_jobs")
	def := `{"name":"` + name + `","type":"` + typ + `","entity_key":"/user","event_time":"/at",
	  "schema":{"type":"object","required":["user","at","amount","merchant"],"properties":{"user":{"type":"string"},"at":{"type":"string","format":"date-time"},"amount":{"type":"number"},"merchant":{"type":"string"}}}}`
	if _, err := schemasKV.Put(ctx, name, []byte(def)); err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse([]byte(fmt.Sprintf(`
entities: [{name: user}]
sources: [{name: src, stream: %s, entity_key: /user, event_time: /at, fields: {amount: number, merchant: string}}]
views:
  - name: %s
    entity: user
    source: src
    features:
      - {name: last_amount, agg: latest, field: amount}
      - {name: merchant, agg: latest, field: merchant}
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
	t.Cleanup(cl.Close)
	t.Cleanup(func() {
		bg := context.Background()
		_ = schemasKV.Purge(bg, name)
		_ = featuresKV.Purge(bg, "view."+view)
		_ = jobsKV.Purge(bg, trainspec.SpecKey(modelName))
		_, _ = kadm.NewClient(cl).DeleteTopics(bg, event.EventsTopic(name), event.IngestTopic(name))
	})

	const users = fixtureUsers
	var batch []map[string]any
	now := time.Now()
	for i := range users * 2 {
		u := i % users
		batch = append(batch, map[string]any{"specversion": "1.0", "id": fmt.Sprintf("%s-%d", name, i), "source": "/e2e", "type": typ,
			"data": map[string]any{"user": fmt.Sprintf("u%02d", u), "at": now.Add(-time.Duration(200-i) * time.Second).UTC().Format(time.RFC3339Nano),
				"amount": float64(u % 5), "merchant": catMerchant(u)}})
	}
	body, _ := json.Marshal(batch)
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", ingest+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/cloudevents-batch+json")
		req.Header.Set("Authorization", "Bearer "+ingestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("ingest: %d %s", resp.StatusCode, b)
		}
		return nil
	})
	everyone := make([]string, users)
	for u := range everyone {
		everyone[u] = fmt.Sprintf("u%02d", u)
	}
	var asOf time.Time
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		reqBody, _ := json.Marshal(map[string]any{"entities": everyone, "features": []string{view + ":merchant"}})
		resp, err := http.Post(features+"/v1/features", "application/json", bytes.NewReader(reqBody))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var read struct {
			AsOf    time.Time `json:"as_of"`
			Results []struct {
				Values map[string]struct {
					Value any `json:"value"`
				} `json:"values"`
			} `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&read); err != nil || len(read.Results) != users {
			return fmt.Errorf("read: %d %v", resp.StatusCode, err)
		}
		for u, r := range read.Results {
			if got := fmt.Sprint(r.Values[view+":merchant"].Value); got != catMerchant(u) {
				return fmt.Errorf("%s merchant %s, want %s", everyone[u], got, catMerchant(u))
			}
		}
		asOf = read.AsOf
		return nil
	})
	for k := range 4 {
		for u := range users {
			e := ce.NewEvent()
			e.SetID(fmt.Sprintf("%s-%d-%d", labelStream, u, k))
			e.SetSource("/e2e")
			e.SetType(event.TypeLabelRecorded)
			e.SetExtension("partitionkey", everyone[u])
			v := 0.0
			if u >= users/2 {
				v = 1
			}
			_ = e.SetData(ce.ApplicationJSON, event.LabelRecorded{Stream: labelStream, EntityKey: everyone[u], Value: v, EventTime: asOf.Add(-time.Duration(3-k) * 10 * time.Second)})
			rec, err := event.ToKafkaRecord(ctx, e, event.TopicLabels)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	spec, err := trainspec.Parse([]byte(fmt.Sprintf(`
model: %s
features: [%s:last_amount, %s:merchant]
labels: %s
task: binary
trainer: {runner: go, name: logistic}
seed: 1
window: 1d
holdout: 0.25
metric: auc
policy: {kind: manual}
`, modelName, view, view, labelStream)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trainspec.Check(ctx, spec, trainspec.KVViews{KV: featuresKV}); err != nil {
		t.Fatal(err)
	}
	if _, err := trainspec.Apply(ctx, jobsKV, spec, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The labels reach ClickHouse asynchronously: train until a job has
	// all 160 (a job started before that trains on fewer, or fails on an
	// empty set).
	var job trainerJob
	testkit.EventuallyContext(t, 2*time.Minute, func(ctx context.Context) error {
		var started struct {
			Job trainerJob `json:"job"`
		}
		trainerCall(t, ctx, "POST", trainer+"/v1/models/"+modelName+"/train", `{"reason":"e2e categorical"}`, http.StatusAccepted, &started)
		job = waitJob(t, ctx, trainer, started.Job.JobID)
		if job.Status != "succeeded" && (strings.Contains(job.Error, "empty training set") || strings.Contains(job.Error, "a holdout needs at least")) {
			return fmt.Errorf("job %s: %s", job.JobID, job.Error) // no label, or one, in ClickHouse yet
		}
		if job.Dataset != nil && job.Dataset.RowCount < 4*users {
			// Built while the labels were still arriving: a part of them
			// can even hold one class only and fail evaluation.
			return fmt.Errorf("job %s (%s) trained on %d of %d rows", job.JobID, job.Status, job.Dataset.RowCount, 4*users)
		}
		if job.Status != "succeeded" {
			t.Fatalf("job %s %s at %s: %s\n%s", job.JobID, job.Status, job.FailedStep, job.Error, job.Log)
		}
		if job.Dataset == nil || job.Dataset.RowCount != 4*users {
			return fmt.Errorf("job %s trained on %+v", job.JobID, job.Dataset)
		}
		return nil
	})
	if !(job.Evaluation.Metrics["auc"] > 0.8) {
		t.Errorf("holdout AUC %v: the model did not learn the merchant\n%s", job.Evaluation.Metrics["auc"], job.Log)
	}
	reg := model.NewClient(nc, js)
	if _, err := reg.MoveAlias(ctx, model.MoveAliasRequest{Model: modelName, Alias: model.AliasProduction, Version: job.Version, Actor: "e2e", Reason: "categorical"}); err != nil {
		t.Fatal(err)
	}
	prod, err := reg.Version(ctx, modelName, model.AliasProduction)
	if err != nil || prod.Version != job.Version {
		t.Fatalf("production of %s: %v %v\n%s", modelName, prod.Version, err, job.Log)
	}
	ref := view + ":merchant"
	voc := prod.Lineage.Categorical[ref]
	if len(voc.Categories) != 3 || voc.Other || voc.Categories[0] != "grocery" {
		t.Errorf("lineage vocabulary of %s: %+v (lineage %+v)", ref, voc, prod.Lineage.Categorical)
	}
	if d := prod.Lineage.Reference.Features[ref]; d.Kind != model.KindCategorical || d.Count != int64(3*users) || d.Categories["travel"] == 0 {
		t.Errorf("reference of %s: %+v", ref, d)
	}

	// Serving: the online string of u25 (travel) and u02 (grocery), and
	// request-time strings, mapped with the model's vocabulary.
	pc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(stack.infra.Addrs.KafkaBrokers, ",")...), kgo.ConsumeTopics(event.TopicPredictions), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	predict := func(ctx context.Context, body string) (map[string]float64, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", serving+"/v1/predict/"+modelName, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("predict: %d %s", resp.StatusCode, b)
		}
		var out struct {
			Results []struct {
				Entity     string  `json:"entity"`
				Version    int     `json:"version"`
				Prediction float64 `json:"prediction"`
			} `json:"results"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		got := map[string]float64{}
		for _, r := range out.Results {
			if r.Version != prod.Version {
				return nil, fmt.Errorf("version %d answered, production is %d", r.Version, prod.Version)
			}
			got[r.Entity] = r.Prediction
		}
		return got, nil
	}
	var online map[string]float64
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		online, err = predict(ctx, `{"entities":["u25","u02"]}`)
		return err
	})
	t.Logf("holdout AUC %.4f; P(fraud) online: travel user %.3f, grocery user %.3f", job.Evaluation.Metrics["auc"], online["u25"], online["u02"])
	if !(online["u25"] > online["u02"]+0.2) {
		t.Errorf("online: P(travel user) %v, P(grocery user) %v", online["u25"], online["u02"])
	}
	amount := view + ":last_amount"
	reqTime, err := predict(ctx, fmt.Sprintf(`{"entities":[
		{"key":"r1","features":{%q:1,%q:"travel"}},
		{"key":"r2","features":{%q:1,%q:"grocery"}},
		{"key":"r3","features":{%q:1,%q:"crypto"}}]}`, amount, ref, amount, ref, amount, ref))
	if err != nil {
		t.Fatal(err)
	}
	if !(reqTime["r1"] > reqTime["r2"]+0.2) || reqTime["r3"] <= 0 || reqTime["r3"] >= 1 {
		t.Errorf("request-time: travel %v, grocery %v, unseen %v", reqTime["r1"], reqTime["r2"], reqTime["r3"])
	}
	// The prediction log carries the categories.
	seen := map[string]string{}
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		fs := pc.PollFetches(fctx)
		fs.EachRecord(func(r *kgo.Record) {
			e, err := event.FromKafkaRecord(r)
			var p event.PredictionLogged
			if err != nil || json.Unmarshal(e.Data(), &p) != nil || p.Model != modelName {
				return
			}
			if c := p.CategoricalFeatures[ref]; c != nil {
				seen[p.EntityKey] = *c
			}
		})
		for key, want := range map[string]string{"u25": "travel", "u02": "grocery", "r3": "crypto"} {
			if seen[key] != want {
				return fmt.Errorf("prediction log categories %v, want %s=%s", seen, key, want)
			}
		}
		return nil
	})
}
