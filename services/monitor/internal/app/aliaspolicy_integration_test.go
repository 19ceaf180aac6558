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
	"github.com/tributary-ml/tributary/services/monitor/internal/aliaspolicy"
	"github.com/tributary-ml/tributary/services/monitor/internal/app"
)

// registerChurn registers a version of "churn" per holdout AUC.
func registerChurn(t *testing.T, reg *model.Client, aucs ...float64) {
	t.Helper()
	ctx := context.Background()
	dist := model.NewNumeric([]float64{0, 0.25, 0.5, 0.75, 1}, 4)
	for _, auc := range aucs {
		a, err := reg.PutArtifact(ctx, bytes.NewReader([]byte(fmt.Sprint("churn ", auc))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, model.RegisterRequest{Model: "churn", Format: "linear", Artifact: a, Actor: "test", Lineage: model.Lineage{
			TrainingSetID: "ds", TrainingSetSHA256: strings.Repeat("ab", 32), Features: []string{"v:x"}, Trainer: "test", CodeVersion: "test",
			Metrics: map[string]float64{"auc": auc}, Reference: model.Reference{Features: map[string]model.Distribution{"v:x": dist}, Prediction: dist}, Trigger: event.TriggerManual}}); err != nil {
			t.Fatal(err)
		}
	}
}

func moveAlias(t *testing.T, reg *model.Client, alias string, version int, weight *float64) {
	t.Helper()
	if _, err := reg.MoveAlias(context.Background(), model.MoveAliasRequest{Model: "churn", Alias: alias, Version: version, Weight: weight, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// startWithRegistry starts the monitor on the registry's NATS server, the
// tests' Kafka (topics of its own, returned with a client) and a database
// of its own, with the models file modelsJSON and windows of 1 h.
func startWithRegistry(t *testing.T, registry *registrytest.Registry, name, modelsJSON string) (string, *kgo.Client, *servicetest.Process) {
	t.Helper()
	prefix, kc := kafkaTopics(t, name, 1)
	_, db := chxtest.Database(t, name+"_")
	models := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(models, []byte(modelsJSON), 0o600); err != nil {
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
		"-monitor.retry-backoff=50ms", "-nats.url="+registry.NATSURL, "-performance.models="+models, "-performance.windows=1h", "-labels.sweep-interval=1s")
	p.WaitReady(60 * time.Second)
	return prefix, kc, p
}

// record is a CloudEvent of typ with data as a Kafka record for topic.
func record(t *testing.T, typ, id, topic string, data map[string]any) *kgo.Record {
	t.Helper()
	e := ce.New()
	e.SetID(id)
	e.SetSource("test")
	e.SetType(typ)
	e.SetTime(time.Now())
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, topic)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scored is a logged prediction of churn and its label: the prediction
// score, and the label 1 when positive.
func scored(t *testing.T, prefix, id string, version int, alias string, at time.Time, score float64, positive bool) []*kgo.Record {
	t.Helper()
	label := 0.0
	if positive {
		label = 1
	}
	return []*kgo.Record{
		record(t, event.TypePredictionLogged, "ev-"+id, prefix+event.TopicPredictions, map[string]any{
			"prediction_id": "p-" + id, "model": "churn", "version": version, "alias": alias, "entity_key": "c" + id,
			"features": map[string]any{"v:x": score}, "prediction": score, "event_time": at,
		}),
		record(t, event.TypeLabelRecorded, "l-"+id, prefix+event.TopicLabels, map[string]any{
			"stream": "churned", "entity_key": "c" + id, "value": label, "event_time": at.Add(time.Minute), "prediction_id": "p-" + id}),
	}
}

// waitProduction waits until churn's production alias is at version.
func waitProduction(t *testing.T, reg *model.Client, version int) {
	t.Helper()
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		info, err := reg.Model(ctx, "churn")
		if err != nil {
			return err
		}
		for _, a := range info.Aliases {
			if a.Name == "production" && a.Version != version {
				return fmt.Errorf("production at v%d", a.Version)
			}
		}
		return nil
	})
}

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
	registerChurn(t, reg, 0.9, 0.92)
	moveAlias(t, reg, "production", 1, nil)
	moveAlias(t, reg, "production", 2, nil)
	prefix, kc, p := startWithRegistry(t, registry, "monrb", `{"models": {"churn": {"label_stream": "churned", "min_labels": 10, "rollback": {"max_degradation": 0.05}}}}`)

	// v2 on production, scores the wrong way round: AUC 0.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Hour)
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, scored(t, prefix, fmt.Sprint(i), 2, "production", base.Add(time.Duration(i)*time.Minute), float64(i)/20, i < 10)...)
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitProduction(t, reg, 1)
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

// TestServicePromotesCanary runs the service as TestServiceRollsBack does,
// with a promotion policy: production v1 ranks its labelled predictions
// no better than chance (AUC 0.5), the canary v2 perfectly (AUC 1) since it moved, so the
// monitor makes v2 production and deletes the canary, with the evidence in
// the audit trail, and the metric counts one promotion.
func TestServicePromotesCanary(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "clickhouse")
	ctx := context.Background()
	registry := registrytest.Start(t)
	reg := registry.Client
	registerChurn(t, reg, 0.8, 0.9)
	moveAlias(t, reg, "production", 1, nil)
	weight := 0.5
	moveAlias(t, reg, "canary", 2, &weight)
	prefix, kc, p := startWithRegistry(t, registry, "monpromo", `{"models": {"churn": {"label_stream": "churned", "min_labels": 10, "promotion": {"max_degradation": 0.01}}}}`)

	// The predictions are of the current hour's window, which ends after
	// the canary moved; v1 scores half its positives lowest, half highest.
	now := time.Now().UTC()
	var recs []*kgo.Record
	for i := range 20 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		recs = append(recs, scored(t, prefix, fmt.Sprint("a", i), 1, "production", at, float64((i*7)%20)/20, (i*7)%20 < 5 || (i*7)%20 >= 15)...)
		recs = append(recs, scored(t, prefix, fmt.Sprint("b", i), 2, "canary", at, float64(i)/20, i >= 10)...)
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitProduction(t, reg, 2)
	// The canary is deleted right after production moves.
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		info, err := reg.Model(ctx, "churn")
		if err != nil {
			return err
		}
		for _, a := range info.Aliases {
			if a.Name == "canary" {
				return fmt.Errorf("canary still at v%d after the promotion", a.Version)
			}
		}
		return nil
	})
	audit, err := reg.Audit(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) < 2 {
		t.Fatalf("audit %+v", audit)
	}
	moved := audit[len(audit)-2]
	if moved.Actor != aliaspolicy.Actor || moved.Alias != "production" || moved.ToVersion != 2 || !strings.Contains(moved.Reason, "canary v2 held up") || !strings.Contains(moved.Reason, "auc 1 (20 labelled") {
		t.Errorf("promotion audit entry %+v", moved)
	}
	if code, body := p.Get("/metrics"); code != 200 || !strings.Contains(string(body), "tributary_monitor_promotions_total 1") {
		t.Errorf("metrics %d: want tributary_monitor_promotions_total 1", code)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}
