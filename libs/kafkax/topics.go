package kafkax

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary-ml/tributary/libs/event"
)

// TopicsConfig says how the platform creates its topics: the platform topics
// at bootstrap, and the per-stream topics tributary.events.<stream> that
// ingest creates when a stream is defined.
type TopicsConfig struct {
	Partitions        int           // partitions of a new topic; -1: the broker's default
	ReplicationFactor int           // replicas of a new topic; -1: the broker's default
	Retention         time.Duration // retention.ms of data topics
	DLQRetention      time.Duration // retention.ms of the dead-letter topic

	// NamePrefix is prepended to every topic name. It is not a flag: the
	// services use the plain names, and tests set it to work on a shared
	// broker without touching the platform's topics.
	NamePrefix string
}

// RegisterFlags registers the kafka.topic.* and kafka.dlq.* flags.
func (c *TopicsConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Partitions, "kafka.topic.partitions", 3, "Partitions of each topic the platform creates (-1: the broker's default). Existing topics are never changed.")
	fs.IntVar(&c.ReplicationFactor, "kafka.topic.replication-factor", -1, "Replication factor of each topic the platform creates (-1: the broker's default).")
	fs.DurationVar(&c.Retention, "kafka.topic.retention", 168*time.Hour, "Retention (retention.ms) of the event, label and prediction topics the platform creates.")
	fs.DurationVar(&c.DLQRetention, "kafka.dlq.retention", 720*time.Hour, "Retention (retention.ms) of the dead-letter topic "+event.TopicDLQ+".")
}

// Validate checks the configuration without contacting Kafka.
func (c TopicsConfig) Validate() error {
	if c.Partitions != -1 && (c.Partitions < 1 || c.Partitions > 1<<20) {
		return fmt.Errorf("kafka.topic.partitions: %d is not -1 or a positive count", c.Partitions)
	}
	if c.ReplicationFactor != -1 && (c.ReplicationFactor < 1 || c.ReplicationFactor > 1<<15-1) {
		return fmt.Errorf("kafka.topic.replication-factor: %d is not -1 or a positive count", c.ReplicationFactor)
	}
	if c.Retention < time.Millisecond {
		return fmt.Errorf("kafka.topic.retention: %v is not a positive duration of at least 1ms", c.Retention)
	}
	if c.DLQRetention < time.Millisecond {
		return fmt.Errorf("kafka.dlq.retention: %v is not a positive duration of at least 1ms", c.DLQRetention)
	}
	if c.NamePrefix != "" && !topicName.MatchString(c.NamePrefix) {
		return fmt.Errorf("topic name prefix %q: only letters, digits, '.', '_' and '-'", c.NamePrefix)
	}
	return nil
}

// Topic returns the spec of a data topic with the configured partitions,
// replication factor and retention; name is the plain name, without
// NamePrefix. Ingest uses it for tributary.events.<stream>.
func (c TopicsConfig) Topic(name string) TopicSpec {
	return c.topic(name, c.Retention)
}

func (c TopicsConfig) topic(name string, retention time.Duration) TopicSpec {
	return TopicSpec{
		Name:              c.NamePrefix + name,
		Partitions:        int32(c.Partitions),
		ReplicationFactor: int16(c.ReplicationFactor),
		Configs:           map[string]string{"retention.ms": strconv.FormatInt(retention.Milliseconds(), 10)},
	}
}

// PlatformTopics returns the topics every installation has: labels,
// predictions and the dead-letter topic (which keeps its records for
// DLQRetention).
func PlatformTopics(cfg TopicsConfig) []TopicSpec {
	return []TopicSpec{
		cfg.Topic(event.TopicLabels),
		cfg.Topic(event.TopicPredictions),
		cfg.topic(event.TopicDLQ, cfg.DLQRetention),
	}
}

// TopicSpec is a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32             // -1: the broker's default
	ReplicationFactor int16             // -1: the broker's default
	Configs           map[string]string // topic configs, e.g. retention.ms
}

// TopicResult says what EnsureTopics did with one topic.
type TopicResult struct {
	Name       string
	Created    bool  // false: the topic existed already (or a concurrent creator won)
	Partitions int32 // the topic's partition count
	// Warning is not empty when an existing topic differs from its spec in a
	// way that matters (its partition count). EnsureTopics never alters an
	// existing topic: changing partitions moves keys to other partitions,
	// which an operator must decide.
	Warning string
}

// topicName is what Kafka accepts in a topic name (up to 249 characters).
var topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// topicMetadataWait bounds how long EnsureTopics waits for a topic that was
// just created, by it or by a concurrent caller, to show in the metadata.
const topicMetadataWait = 10 * time.Second

// EnsureTopics creates the topics that do not exist and leaves the others
// alone. A topic that exists already, also one that a concurrent caller
// created a moment ago, is success; when its partition count differs from
// the spec, its result carries a warning. It returns when the brokers'
// metadata shows every topic, with the results in the order of specs.
func EnsureTopics(ctx context.Context, adm *kadm.Client, specs ...TopicSpec) ([]TopicResult, error) {
	seen := map[string]bool{}
	for _, s := range specs {
		if !topicName.MatchString(s.Name) || s.Name == "." || s.Name == ".." {
			return nil, fmt.Errorf("ensure topics: %q is not a valid topic name", s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("ensure topics: %s is listed twice", s.Name)
		}
		seen[s.Name] = true
	}

	if len(specs) == 0 {
		return nil, nil
	}
	results := make([]TopicResult, len(specs))
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
		configs := make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			configs[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, configs, s.Name)
		switch {
		case err == nil:
			results[i] = TopicResult{Name: s.Name, Created: true}
		case errors.Is(err, kerr.TopicAlreadyExists):
			results[i] = TopicResult{Name: s.Name}
		case resp.ErrMessage != "":
			return nil, fmt.Errorf("create topic %s: %w: %s", s.Name, err, resp.ErrMessage)
		default:
			return nil, fmt.Errorf("create topic %s: %w", s.Name, err)
		}
	}

	details, err := waitForTopics(ctx, adm, names)
	if err != nil {
		return nil, err
	}
	for i, s := range specs {
		r := &results[i]
		r.Partitions = int32(len(details[s.Name].Partitions))
		if !r.Created && s.Partitions > 0 && r.Partitions != s.Partitions {
			r.Warning = fmt.Sprintf("topic %s has %d partitions, not the %d configured; left unchanged", s.Name, r.Partitions, s.Partitions)
		}
	}
	return results, nil
}

// waitForTopics returns the metadata of topics that exist, waiting until
// the brokers' metadata shows those just created, so that a producer can use
// them as soon as EnsureTopics returns.
func waitForTopics(ctx context.Context, adm *kadm.Client, names []string) (kadm.TopicDetails, error) {
	ctx, cancel := context.WithTimeout(ctx, topicMetadataWait)
	defer cancel()
	// kadm answers metadata requests from a cache that can keep "unknown
	// topic" for a just-created topic for seconds; asking for the
	// authorized operations makes it send the request to a broker.
	direct := kadm.WithAuthorizedOps(ctx)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		details, err := adm.ListTopics(direct, names...)
		if err != nil {
			return nil, fmt.Errorf("describe topics %v: %w", names, err)
		}
		var missing error
		for _, n := range names {
			d, ok := details[n]
			switch {
			case !ok:
				missing = fmt.Errorf("topic %s is not in the metadata", n)
			case d.Err != nil:
				missing = fmt.Errorf("metadata of topic %s: %w", n, d.Err)
			case len(d.Partitions) == 0:
				missing = fmt.Errorf("topic %s has no partitions in the metadata yet", n)
			}
		}
		if missing == nil {
			return details, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for topics: %w (%w)", missing, ctx.Err())
		case <-tick.C:
		}
	}
}
