package kafkax_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// testAdmin connects to the real Kafka at TRIBUTARY_KAFKA_BROKERS and returns
// an admin client and a unique topic-name prefix; topics with that prefix
// are deleted at the end.
func testAdmin(t *testing.T) (*kadm.Client, string) {
	t.Helper()
	brokers := testkit.Addr(t, testkit.Kafka)
	cl, err := kafkax.NewClient(kafkax.Config{Brokers: brokers, DialTimeout: 5 * time.Second}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafkax.Check(cl)(ctx); err != nil {
		cl.Close()
		t.Fatalf("Kafka is not reachable at %s (set TRIBUTARY_KAFKA_BROKERS): %v", brokers, err)
	}
	prefix := fmt.Sprintf("test.kafkax.%d.", time.Now().UnixNano())
	t.Cleanup(func() {
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Errorf("list topics to delete: %v", err)
			return
		}
		var mine []string
		for _, name := range topics.Names() {
			if strings.HasPrefix(name, prefix) {
				mine = append(mine, name)
			}
		}
		if len(mine) == 0 {
			return
		}
		resps, err := adm.DeleteTopics(ctx, mine...)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			t.Errorf("delete test topics %v: %v", mine, err)
		}
	})
	return adm, prefix
}

func TestTopicsConfigFlags(t *testing.T) {
	var cfg kafkax.TopicsConfig
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	want := kafkax.TopicsConfig{Partitions: 3, ReplicationFactor: -1, Retention: 168 * time.Hour, DLQRetention: 720 * time.Hour}
	if cfg != want {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if err := fs.Parse([]string{"-kafka.topic.partitions=12", "-kafka.topic.replication-factor=3", "-kafka.topic.retention=24h", "-kafka.dlq.retention=48h"}); err != nil {
		t.Fatal(err)
	}
	want = kafkax.TopicsConfig{Partitions: 12, ReplicationFactor: 3, Retention: 24 * time.Hour, DLQRetention: 48 * time.Hour}
	if cfg != want {
		t.Errorf("parsed = %+v, want %+v", cfg, want)
	}
}

func TestTopicsConfigValidate(t *testing.T) {
	good := kafkax.TopicsConfig{Partitions: 3, ReplicationFactor: -1, Retention: time.Hour, DLQRetention: time.Hour}
	tests := []struct {
		name    string
		edit    func(*kafkax.TopicsConfig)
		wantErr string
	}{
		{"good", func(*kafkax.TopicsConfig) {}, ""},
		{"broker defaults", func(c *kafkax.TopicsConfig) { c.Partitions, c.ReplicationFactor = -1, -1 }, ""},
		{"zero partitions", func(c *kafkax.TopicsConfig) { c.Partitions = 0 }, "kafka.topic.partitions"},
		{"negative partitions", func(c *kafkax.TopicsConfig) { c.Partitions = -2 }, "kafka.topic.partitions"},
		{"zero replication", func(c *kafkax.TopicsConfig) { c.ReplicationFactor = 0 }, "kafka.topic.replication-factor"},
		{"huge replication", func(c *kafkax.TopicsConfig) { c.ReplicationFactor = 40000 }, "kafka.topic.replication-factor"},
		{"zero retention", func(c *kafkax.TopicsConfig) { c.Retention = 0 }, "kafka.topic.retention"},
		{"sub-millisecond retention", func(c *kafkax.TopicsConfig) { c.Retention = time.Microsecond }, "kafka.topic.retention"},
		{"negative dlq retention", func(c *kafkax.TopicsConfig) { c.DLQRetention = -time.Hour }, "kafka.dlq.retention"},
		{"bad prefix", func(c *kafkax.TopicsConfig) { c.NamePrefix = "a b" }, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate error = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestPlatformTopics(t *testing.T) {
	cfg := kafkax.TopicsConfig{Partitions: 6, ReplicationFactor: 2, Retention: 2 * time.Hour, DLQRetention: 3 * time.Hour, NamePrefix: "x."}
	got := kafkax.PlatformTopics(cfg)
	want := []kafkax.TopicSpec{
		{Name: "x." + event.TopicLabels, Partitions: 6, ReplicationFactor: 2, Configs: map[string]string{"retention.ms": "7200000"}},
		{Name: "x." + event.TopicPredictions, Partitions: 6, ReplicationFactor: 2, Configs: map[string]string{"retention.ms": "7200000"}},
		{Name: "x." + event.TopicDLQ, Partitions: 6, ReplicationFactor: 2, Configs: map[string]string{"retention.ms": "10800000"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PlatformTopics =\n%v\nwant\n%v", got, want)
	}
}

func TestEnsureTopicsRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name    string
		specs   []kafkax.TopicSpec
		wantErr string
	}{
		{"empty name", []kafkax.TopicSpec{{Name: ""}}, "not a valid topic name"},
		{"space", []kafkax.TopicSpec{{Name: "a b"}}, "not a valid topic name"},
		{"dot", []kafkax.TopicSpec{{Name: "."}}, "not a valid topic name"},
		{"too long", []kafkax.TopicSpec{{Name: strings.Repeat("a", 250)}}, "not a valid topic name"},
		{"duplicate", []kafkax.TopicSpec{{Name: "a"}, {Name: "a"}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The specs are checked before the client is used.
			_, err := kafkax.EnsureTopics(context.Background(), nil, tt.specs...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnsureTopics(t *testing.T) {
	adm, prefix := testAdmin(t)
	ctx := context.Background()
	cfg := kafkax.TopicsConfig{Partitions: 2, ReplicationFactor: -1, Retention: 90 * time.Minute, DLQRetention: 5 * time.Hour, NamePrefix: prefix}
	specs := append(kafkax.PlatformTopics(cfg), cfg.Topic(event.EventsTopic("orders")))

	got, err := kafkax.EnsureTopics(ctx, adm, specs...)
	if err != nil {
		t.Fatalf("first EnsureTopics: %v", err)
	}
	for i, r := range got {
		if r.Name != specs[i].Name || !r.Created || r.Partitions != 2 || r.Warning != "" {
			t.Errorf("first EnsureTopics result %d = %+v, want %s created with 2 partitions", i, r, specs[i].Name)
		}
	}

	// Created as specified: partitions in the metadata, retention.ms in the
	// topic configs.
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if d := details[n]; d.Err != nil || len(d.Partitions) != 2 {
			t.Errorf("topic %s: %d partitions, err %v; want 2", n, len(d.Partitions), d.Err)
		}
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	wantRetention := map[string]string{
		prefix + event.TopicLabels:           "5400000",
		prefix + event.TopicPredictions:      "5400000",
		prefix + event.TopicDLQ:              "18000000",
		prefix + event.EventsTopic("orders"): "5400000",
	}
	for _, rc := range configs {
		if rc.Err != nil {
			t.Errorf("describe configs of %s: %v", rc.Name, rc.Err)
			continue
		}
		var retention string
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				retention = c.MaybeValue()
			}
		}
		if retention != wantRetention[rc.Name] {
			t.Errorf("topic %s retention.ms = %q, want %q", rc.Name, retention, wantRetention[rc.Name])
		}
	}

	// Again: nothing created, no error.
	got, err = kafkax.EnsureTopics(ctx, adm, specs...)
	if err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	for i, r := range got {
		if r.Name != specs[i].Name || r.Created || r.Partitions != 2 || r.Warning != "" {
			t.Errorf("second EnsureTopics result %d = %+v, want %s found with 2 partitions", i, r, specs[i].Name)
		}
	}

	// A spec that asks for more partitions than the topic has: a warning,
	// and the topic is left as it is.
	more := cfg
	more.Partitions = 4
	got, err = kafkax.EnsureTopics(ctx, adm, more.Topic(event.TopicLabels))
	if err != nil {
		t.Fatalf("EnsureTopics with other partitions: %v", err)
	}
	if r := got[0]; r.Created || r.Partitions != 2 || !strings.Contains(r.Warning, "has 2 partitions, not the 4 configured") {
		t.Errorf("EnsureTopics with other partitions = %+v, want a warning about 2 partitions, not 4", r)
	}
	details, err = adm.ListTopics(ctx, prefix+event.TopicLabels)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details[prefix+event.TopicLabels].Partitions); n != 2 {
		t.Errorf("topic altered: %d partitions, want 2", n)
	}
}

// TestEnsureTopicsConcurrent creates the same topics from several callers
// at once, as replicas of ingest do: all succeed, each topic is created once.
func TestEnsureTopicsConcurrent(t *testing.T) {
	adm, prefix := testAdmin(t)
	cfg := kafkax.TopicsConfig{Partitions: 3, ReplicationFactor: -1, Retention: time.Hour, DLQRetention: time.Hour, NamePrefix: prefix}
	specs := kafkax.PlatformTopics(cfg)

	const callers = 4
	results := make([][]kafkax.TopicResult, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			results[i], errs[i] = kafkax.EnsureTopics(context.Background(), adm, specs...)
		})
	}
	wg.Wait()
	created := map[string]int{}
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		for _, r := range results[i] {
			if r.Partitions != 3 || r.Warning != "" {
				t.Errorf("caller %d: %+v, want 3 partitions and no warning", i, r)
			}
			if r.Created {
				created[r.Name]++
			}
		}
	}
	for _, s := range specs {
		if created[s.Name] != 1 {
			t.Errorf("topic %s reported created by %d callers, want 1", s.Name, created[s.Name])
		}
	}
}
