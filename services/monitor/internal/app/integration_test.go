package app_test

import (
	"context"
	"fmt"
	"strings"
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

// TestServiceLogsPredictions runs the service against the real Kafka, NATS
// and ClickHouse (with its own topic prefix, stream and database): it
// migrates the database, consumes the predictions topic and writes the
// prediction log. No registry answers, so the consumer keeps retrying the
// reference (nothing committed); SIGTERM still stops it cleanly.
func TestServiceLogsPredictions(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "nats", "clickhouse")
	ctx := context.Background()
	prefix, kc := kafkaTopics(t, "monapp", 2)
	sharedJetStream(t, prefix)
	conn, db := chxtest.Database(t, "monapp_")

	var cfg app.Config
	prog := service.Program{
		Name: "monitor", HTTPAddr: ":8086", Config: &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			cfg.Prefix = prefix
			cfg.JetStream.Prefix = prefix
			return app.New(ctx, cfg, rt)
		},
	}
	p := servicetest.Start(t, prog, "-clickhouse.database="+db, "-monitor.group="+prefix+"group", "-monitor.retry-backoff=50ms", "-nats.storage=memory")
	p.WaitReady(60 * time.Second)

	var recs []*kgo.Record
	for i := range 3 {
		e := ce.New()
		e.SetID(fmt.Sprint("ev-", i))
		e.SetSource("tributary/serving")
		e.SetType(event.TypePredictionLogged)
		e.SetTime(time.Now())
		if err := e.SetData(ce.ApplicationJSON, map[string]any{
			"prediction_id": fmt.Sprint("p-", i), "model": "churn", "version": 1, "entity_key": fmt.Sprint("c", i),
			"features": map[string]any{"v:x": i}, "prediction": 0.5, "event_time": time.Now(),
		}); err != nil {
			t.Fatal(err)
		}
		r, err := event.ToKafkaRecord(ctx, e, prefix+event.TopicPredictions)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		var got uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".prediction_log FINAL WHERE model = 'churn'").Scan(&got); err != nil {
			return err
		}
		if got != 3 {
			return fmt.Errorf("%d predictions logged", got)
		}
		return nil
	})
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
	if !strings.Contains(p.Logs(), "step=reference") && !strings.Contains(p.Logs(), `"step":"reference"`) {
		t.Errorf("no retried reference read in the logs:\n%s", p.Logs())
	}
}
