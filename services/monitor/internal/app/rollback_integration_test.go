package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/model/registrytest"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/app"
	"github.com/tributary-ml/tributary/services/monitor/internal/aliaspolicy"
)

// TestServiceRollsBack runs the service with the real registry (on an
// embedded nats-server of its own, which the registry and the monitor
// share) and the real Kafka and ClickHouse: production serves v2, whose
// labelled predictions have an AUC far below its holdout figure, so the
// monitor rolls production back to v1 with the evidence in the audit trail.
func TestServiceRollsBack(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "clickhouse")
	ctx := context.Background()
	registry := registrytest.Start(t)
	reg := registry.Client
	dist := model.NewNumeric([]float64{0, 0.25, 0.5, 0.75, 1}, 4)
	for _, auc := range []float64{0.9, 0.92} {
		a, err := reg.PutArtifact(ctx, bytes.NewReader([]byte(fmt.Sprint("churn ", auc))))
		if err != nil {
			t.Fatal(err)
		}
		v, err := reg.Register(ctx, model.RegisterRequest{Model: "churn", Format: "linear", Artifact: a, Actor: "test", Lineage: model.Lineage{
			TrainingSetID: "ds", TrainingSetSHA256: strings.Repeat("ab", 32), Features: []string{"v:x"}, Trainer: "test", CodeVersion: "test",
			Metrics: map[string]float64{"auc": auc}, Reference: model.Reference{Features: map[string]model.Distribution{"v:x": dist}, Prediction: dist}, Trigger: event.TriggerManual}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.MoveAlias(ctx, model.MoveAliasRequest{Model: "churn", Alias: "production", Version: v.Version, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}

	prefix, kc := kafkaTopics(t, "monrb", 1)
	_, db := chxtest.Database(t, "monrb_")

	models := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(models, []byte(`{"models": {"churn": {"label_stream": "churned", "min_labels": 10, "rollback": {"max_degradation": 0.05}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg app.Config
	prog := service.Program{
		Name: "monitor", HTTPAddr: ":8086", Config: &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			cfg.Prefix = prefix // topics only: the NATS server is the test's own
			return app.New(ctx, cfg, rt)
		},
	}
	p := servicetest.Start(t, prog, "-clickhouse.database="+db, "-monitor.group="+prefix+"group", "-labels.group="+prefix+"labels",
		"-monitor.retry-backoff=50ms", "-nats.url="+registry.NATSURL, "-performance.models="+models, "-performance.windows=1h")
	p.WaitReady(60 * time.Second)

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
	// v2 on production, scores the wrong way round: AUC 0.
	var recs []*kgo.Record
	for i := range 20 {
		at := base.Add(time.Duration(i) * time.Minute)
		score := float64(i) / 20
		recs = append(recs, record(event.TypePredictionLogged, fmt.Sprint("ev-", i), prefix+event.TopicPredictions, map[string]any{
			"prediction_id": fmt.Sprint("p-", i), "model": "churn", "version": 2, "alias": "production", "entity_key": fmt.Sprint("c", i),
			"features": map[string]any{"v:x": score}, "prediction": score, "event_time": at,
		}))
		label := 0.0
		if i < 10 {
			label = 1
		}
		recs = append(recs, record(event.TypeLabelRecorded, fmt.Sprint("l-", i), prefix+event.TopicLabels, map[string]any{
			"stream": "churned", "entity_key": fmt.Sprint("c", i), "value": label, "event_time": at.Add(time.Minute), "prediction_id": fmt.Sprint("p-", i)}))
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		info, err := reg.Model(ctx, "churn")
		if err != nil {
			return err
		}
		for _, a := range info.Aliases {
			if a.Name == "production" && a.Version != 1 {
				return fmt.Errorf("production at v%d", a.Version)
			}
		}
		return nil
	})
	audit, err := reg.Audit(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	last := audit[len(audit)-1]
	if last.Actor != aliaspolicy.Actor || !last.Rollback || last.FromVersion != 2 || last.ToVersion != 1 || !strings.Contains(last.Reason, "auc 0 of production v2") || !strings.Contains(last.Reason, "its holdout auc 0.92") {
		t.Errorf("audit entry %+v", last)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}
