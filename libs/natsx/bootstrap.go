package natsx

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the platform's JetStream resources.
const (
	// StreamName is the stream that keeps the control events.
	StreamName = "TRIBUTARY"
	// BucketModels holds the registry's model metadata.
	BucketModels = "tributary_models"
	// BucketFeatures holds the feature definitions.
	BucketFeatures = "tributary_features"
	// BucketJobs holds the trainer's job records.
	BucketJobs = "tributary_jobs"
	// BucketSchemas holds the stream definitions and their JSON Schemas.
	BucketSchemas = "tributary_schemas"
	// ObjectStoreArtifacts holds model artifacts and training sets.
	ObjectStoreArtifacts = "tributary_artifacts"
)

// streamDuplicateWindow is how long the stream remembers Nats-Msg-Id headers
// to drop republished events (the server's default, made explicit).
const streamDuplicateWindow = 2 * time.Minute

// StreamSubjects returns the subjects that the stream StreamName captures:
// the control-event domains. Request-reply subjects use a service's name as
// their domain (tributary.registry.register) and must stay outside the
// stream, or a request would get the stream's PubAck as its reply. libs/event
// has the same list (a test keeps them equal).
func StreamSubjects() []string {
	return []string{
		"tributary.model.>",
		"tributary.train.>",
		"tributary.dataset.>",
		"tributary.drift.>",
		"tributary.performance.>",
	}
}

// BootstrapConfig says how the JetStream resources are created.
type BootstrapConfig struct {
	Replicas     int           // replicas of the stream, buckets and object store
	StreamMaxAge time.Duration // how long the stream keeps control events; 0: no limit
	Storage      string        // "file" or "memory"
	KVHistory    int           // revisions kept per key in the KV buckets, 1 to 64

	// Prefix is prepended to the name of the stream, of every subject it
	// captures and of every bucket. It is not a flag: the services use the
	// plain names, and tests set it to work on a shared server without
	// touching the platform's resources.
	Prefix string
}

// RegisterFlags registers the JetStream bootstrap flags.
func (c *BootstrapConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Replicas, "nats.replicas", 1, "Replicas of the JetStream stream, KV buckets and object store (3 in production clusters).")
	fs.DurationVar(&c.StreamMaxAge, "nats.stream.max-age", 720*time.Hour, "How long the "+StreamName+" stream keeps control events (0: no limit).")
	fs.StringVar(&c.Storage, "nats.storage", "file", "JetStream storage of the stream, buckets and object store: file or memory.")
	fs.IntVar(&c.KVHistory, "nats.kv.history", 64, "Revisions kept per key in the KV buckets (1 to 64): the models' audit trail reads them.")
}

var resourcePrefix = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// Validate checks the configuration without contacting NATS.
func (c BootstrapConfig) Validate() error {
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("nats.replicas: %d is not between 1 and 5", c.Replicas)
	}
	if c.StreamMaxAge < 0 {
		return fmt.Errorf("nats.stream.max-age: %v is negative", c.StreamMaxAge)
	}
	if _, err := c.storage(); err != nil {
		return err
	}
	if c.KVHistory < 1 || c.KVHistory > jetstream.KeyValueMaxHistory {
		return fmt.Errorf("nats.kv.history: %d is not between 1 and %d", c.KVHistory, jetstream.KeyValueMaxHistory)
	}
	if !resourcePrefix.MatchString(c.Prefix) {
		return fmt.Errorf("nats resource prefix %q: only letters, digits, '_' and '-'", c.Prefix)
	}
	return nil
}

func (c BootstrapConfig) storage() (jetstream.StorageType, error) {
	switch c.Storage {
	case "file":
		return jetstream.FileStorage, nil
	case "memory":
		return jetstream.MemoryStorage, nil
	default:
		return 0, fmt.Errorf("nats.storage: %q is not file or memory", c.Storage)
	}
}

// Action says what Bootstrap did with a resource.
type Action string

// Actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
)

// Resource is a JetStream resource that Bootstrap ensured.
type Resource struct {
	Kind    string   // "stream", "kv" or "object store"
	Name    string   // the stream's or bucket's name
	Action  Action   // what Bootstrap did
	Changed []string // for Updated: the settings that changed
}

// Bootstrap creates the platform's JetStream resources, or updates them to
// the configuration: the stream StreamName capturing StreamSubjects, the KV
// buckets BucketModels, BucketFeatures, BucketJobs and BucketSchemas, and the
// object store ObjectStoreArtifacts. A resource that is already as
// configured is left untouched, so running Bootstrap again, or from several
// processes at once, changes nothing. It returns what it did, resource by
// resource.
func Bootstrap(ctx context.Context, js jetstream.JetStream, cfg BootstrapConfig) ([]Resource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	storage, _ := cfg.storage() // validated above
	var out []Resource

	subjects := StreamSubjects()
	for i, s := range subjects {
		subjects[i] = cfg.Prefix + s
	}
	stream := jetstream.StreamConfig{
		Name:        cfg.Prefix + StreamName,
		Description: "Tributary control events: model lifecycle, training jobs, datasets, drift and performance alerts.",
		Subjects:    subjects,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.StreamMaxAge,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		Duplicates:  streamDuplicateWindow,
	}
	r, err := ensure(ctx, js, "stream", stream.Name, stream.Name,
		func(have jetstream.StreamConfig) []string {
			return streamDiff(have, stream)
		},
		func(ctx context.Context) error { _, err := js.CreateStream(ctx, stream); return err },
		func(ctx context.Context) error { _, err := js.UpdateStream(ctx, stream); return err },
	)
	if err != nil {
		return out, err
	}
	out = append(out, r)

	buckets := []struct{ name, description string }{
		{BucketModels, "Tributary model registry: model versions, lineage and aliases."},
		{BucketFeatures, "Tributary feature definitions, versioned by content hash."},
		{BucketJobs, "Tributary training job records."},
		{BucketSchemas, "Tributary stream definitions and their JSON Schemas."},
	}
	for _, b := range buckets {
		kv := jetstream.KeyValueConfig{
			Bucket:      cfg.Prefix + b.name,
			Description: b.description,
			History:     uint8(cfg.KVHistory),
			Storage:     storage,
			Replicas:    cfg.Replicas,
		}
		r, err := ensure(ctx, js, "kv", kv.Bucket, "KV_"+kv.Bucket,
			func(have jetstream.StreamConfig) []string {
				return backingDiff(have, kv.Description, storage, cfg.Replicas, int64(cfg.KVHistory))
			},
			func(ctx context.Context) error { _, err := js.CreateKeyValue(ctx, kv); return err },
			func(ctx context.Context) error { _, err := js.UpdateKeyValue(ctx, kv); return err },
		)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}

	obj := jetstream.ObjectStoreConfig{
		Bucket:      cfg.Prefix + ObjectStoreArtifacts,
		Description: "Tributary model artifacts and training sets, content-addressed.",
		Storage:     storage,
		Replicas:    cfg.Replicas,
	}
	r, err = ensure(ctx, js, "object store", obj.Bucket, "OBJ_"+obj.Bucket,
		func(have jetstream.StreamConfig) []string {
			return backingDiff(have, obj.Description, storage, cfg.Replicas, 0)
		},
		func(ctx context.Context) error { _, err := js.CreateObjectStore(ctx, obj); return err },
		func(ctx context.Context) error { _, err := js.UpdateObjectStore(ctx, obj); return err },
	)
	if err != nil {
		return out, err
	}
	return append(out, r), nil
}

// ensure creates a resource backed by the stream streamName when that stream
// is missing, and otherwise updates it when diff finds settings that differ.
func ensure(
	ctx context.Context, js jetstream.JetStream, kind, name, streamName string,
	diff func(have jetstream.StreamConfig) []string,
	create, update func(context.Context) error,
) (Resource, error) {
	res := Resource{Kind: kind, Name: name}
	s, err := js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = create(ctx)
		if err == nil {
			res.Action = Created
			return res, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return res, fmt.Errorf("create %s %s: %w", kind, name, err)
		}
		// A concurrent bootstrap created it with another configuration
		// (with the same one, the create above succeeds): compare.
		s, err = js.Stream(ctx, streamName)
	}
	if err != nil {
		return res, fmt.Errorf("look up %s %s: %w", kind, name, err)
	}
	res.Changed = diff(s.CachedInfo().Config)
	if len(res.Changed) == 0 {
		res.Action = Unchanged
		return res, nil
	}
	if err := update(ctx); err != nil {
		return res, fmt.Errorf("update %s %s (%s): %w", kind, name, strings.Join(res.Changed, ", "), err)
	}
	res.Action = Updated
	return res, nil
}

// streamDiff returns the settings of the control-event stream that differ
// from the wanted ones.
func streamDiff(have, want jetstream.StreamConfig) []string {
	var diff []string
	if !slices.Equal(slices.Sorted(slices.Values(have.Subjects)), slices.Sorted(slices.Values(want.Subjects))) {
		diff = append(diff, "subjects")
	}
	if have.Description != want.Description {
		diff = append(diff, "description")
	}
	if have.Retention != want.Retention {
		diff = append(diff, "retention")
	}
	if have.Discard != want.Discard {
		diff = append(diff, "discard")
	}
	if have.MaxAge != want.MaxAge {
		diff = append(diff, "max_age")
	}
	if have.MaxMsgs != want.MaxMsgs {
		diff = append(diff, "max_msgs")
	}
	if have.MaxBytes != want.MaxBytes {
		diff = append(diff, "max_bytes")
	}
	if have.Storage != want.Storage {
		diff = append(diff, "storage")
	}
	if have.Replicas != want.Replicas {
		diff = append(diff, "replicas")
	}
	if have.Duplicates != want.Duplicates {
		diff = append(diff, "duplicate_window")
	}
	return diff
}

// backingDiff returns the settings of a bucket's backing stream that differ
// from the wanted ones; history is the KV history (0 for an object store).
func backingDiff(have jetstream.StreamConfig, description string, storage jetstream.StorageType, replicas int, history int64) []string {
	var diff []string
	if have.Description != description {
		diff = append(diff, "description")
	}
	if have.Storage != storage {
		diff = append(diff, "storage")
	}
	if have.Replicas != replicas {
		diff = append(diff, "replicas")
	}
	if history > 0 && have.MaxMsgsPerSubject != history {
		diff = append(diff, "history")
	}
	return diff
}
