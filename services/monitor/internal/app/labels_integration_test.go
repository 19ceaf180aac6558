package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/app"
)

// TestServiceMeasuresLabels runs the service against the real Kafka, NATS
// and ClickHouse (its own topic prefix, stream and database) with a models
// file: predictions and their labels go through Kafka, the performance of
// the window lands in model_performance, and the AUC under the model's
// floor raises one tributary.performance.degraded.v1 on the JetStream
// stream.
func TestServiceMeasuresLabels(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "nats", "clickhouse")
	ctx := context.Background()
	prefix, kc := kafkaTopics(t, "monlabapp", 1)
	nc, _ := sharedJetStream(t, prefix)
	conn, db := chxtest.Database(t, "monlabapp_")
	subject, _ := event.Subject(event.TypePerformanceDegraded)
	alerts, err := nc.SubscribeSync(prefix + subject)
	if err != nil {
		t.Fatal(err)
	}

	models := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(models, []byte(`{"models": {"churn": {"task": "classification", "label_stream": "churned", "min_labels": 10, "min": {"auc": 0.9}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg app.Config
	prog := service.Program{
		Name: "monitor", HTTPAddr: ":8086", Config: &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			cfg.Prefix = prefix
			cfg.JetStream.Prefix = prefix
			return app.New(ctx, cfg, rt)
		},
	}
	p := servicetest.Start(t, prog, "-clickhouse.database="+db, "-monitor.group="+prefix+"group", "-labels.group="+prefix+"labels",
		"-monitor.retry-backoff=50ms", "-nats.storage=memory", "-performance.models="+models, "-performance.windows=1h", "-labels.sweep-interval=200ms")
	p.WaitReady(60 * time.Second)

	// 20 predictions an hour ago, half of them labelled right, half wrong:
	// an AUC far under 0.9. Half the labels name their prediction, half are
	// joined by entity.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Hour)
	record := func(typ, id, topic string, data map[string]any) *kgo.Record {
		e := ce.New()
		e.SetID(id)
		e.SetSource("test")
		e.SetType(typ)
		e.SetTime(time.Now())
		if err := e.SetData(ce.ApplicationJSON, data); err != nil {
			t.Fatal(err)
		}
		r, err := event.ToKafkaRecord(ctx, e, topic)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var preds, labels []*kgo.Record
	for i := range 20 {
		at := base.Add(time.Duration(i) * time.Minute)
		score := float64(i) / 20
		preds = append(preds, record(event.TypePredictionLogged, fmt.Sprint("ev-", i), prefix+event.TopicPredictions, map[string]any{
			"prediction_id": fmt.Sprint("p-", i), "model": "churn", "version": 1, "alias": "production", "entity_key": fmt.Sprint("c", i),
			"features": map[string]any{"v:x": score}, "prediction": score, "event_time": at,
		}))
		l := map[string]any{"stream": "churned", "entity_key": fmt.Sprint("c", i), "value": float64(i % 2), "event_time": at.Add(time.Minute)}
		if i%2 == 0 {
			l["prediction_id"] = fmt.Sprint("p-", i)
		}
		labels = append(labels, record(event.TypeLabelRecorded, fmt.Sprint("l-", i), prefix+event.TopicLabels, l))
	}
	// Labels first: they wait for their predictions.
	if err := kc.ProduceSync(ctx, labels...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := kc.ProduceSync(ctx, preds...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		var labelled uint64
		if err := conn.QueryRow(ctx, "SELECT sum(labelled) FROM "+db+".model_performance FINAL WHERE model = 'churn' AND route = 'production'").Scan(&labelled); err != nil {
			return err
		}
		if labelled != 20 {
			return fmt.Errorf("%d labelled predictions in model_performance", labelled)
		}
		return nil
	})
	msg, err := alerts.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no performance alert: %v", err)
	}
	e, err := event.FromNATSMsg(msg)
	if err != nil {
		t.Fatal(err)
	}
	var d event.PerformanceDegraded
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		t.Fatal(err)
	}
	if e.Type() != event.TypePerformanceDegraded || d.Model != "churn" || d.Metric != "auc" || d.Value >= 0.9 || d.SampleSize < 10 || !d.WindowStart.Equal(base) {
		t.Errorf("alert %s %+v", e.Type(), d)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}
