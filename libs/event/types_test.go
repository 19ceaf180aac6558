package event_test

import (
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/tributary-ml/tributary/libs/event"
)

func TestTypeNames(t *testing.T) {
	valid := regexp.MustCompile(`^tributary\.[a-z]+\.[a-z_]+\.v[1-9][0-9]*$`)
	seen := map[string]bool{}
	for _, typ := range event.Types() {
		if !valid.MatchString(typ) {
			t.Errorf("type %q is not tributary.<domain>.<what>.v<N>", typ)
		}
		if seen[typ] {
			t.Errorf("type %q listed twice", typ)
		}
		seen[typ] = true
		if !event.IsKnownType(typ) {
			t.Errorf("IsKnownType(%q) = false", typ)
		}
		_, subjErr := event.Subject(typ)
		_, topicErr := event.Topic(typ)
		if (subjErr == nil) == (topicErr == nil) {
			t.Errorf("type %q: Subject error %v, Topic error %v; want exactly one wire", typ, subjErr, topicErr)
		}
	}
	if event.IsKnownType("tributary.model.registered.v2") {
		t.Error("IsKnownType accepts an unknown version")
	}
	// Types returns a copy.
	ts := event.Types()
	ts[0] = "changed"
	if event.Types()[0] == "changed" {
		t.Error("Types exposes its backing array")
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		typ     string
		want    string
		wantErr error
	}{
		{event.TypeModelRegistered, "tributary.model.registered", nil},
		{event.TypeModelAliasMoved, "tributary.model.alias_moved", nil},
		{event.TypeModelAliasDeleted, "tributary.model.alias_deleted", nil},
		{event.TypeModelArchived, "tributary.model.archived", nil},
		{event.TypeTrainRequested, "tributary.train.requested", nil},
		{event.TypeTrainStarted, "tributary.train.started", nil},
		{event.TypeTrainCompleted, "tributary.train.completed", nil},
		{event.TypeTrainFailed, "tributary.train.failed", nil},
		{event.TypeDatasetRequested, "tributary.dataset.requested", nil},
		{event.TypeDatasetReady, "tributary.dataset.ready", nil},
		{event.TypeDatasetFailed, "tributary.dataset.failed", nil},
		{event.TypeDriftDetected, "tributary.drift.detected", nil},
		{event.TypeDataQualityBreached, "tributary.drift.quality_breached", nil},
		{event.TypePerformanceDegraded, "tributary.performance.degraded", nil},
		{event.TypeFairnessBreached, "tributary.performance.fairness_breached", nil},
		{event.TypeLabelRecorded, "", nil},    // on Kafka: an error, not ErrUnknownType
		{event.TypePredictionLogged, "", nil}, // on Kafka
		{"tributary.model.exploded.v1", "", event.ErrUnknownType},
		{"", "", event.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			got, err := event.Subject(tt.typ)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Subject = %q, want an error", got)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Subject = %q, %v; want %q", got, err, tt.want)
			}
			if !event.InStream(got) {
				t.Errorf("stream %s does not capture %s", event.StreamName, got)
			}
		})
	}
}

func TestTopic(t *testing.T) {
	if got, err := event.Topic(event.TypeLabelRecorded); err != nil || got != event.TopicLabels {
		t.Errorf("Topic(label) = %q, %v", got, err)
	}
	if got, err := event.Topic(event.TypePredictionLogged); err != nil || got != event.TopicPredictions {
		t.Errorf("Topic(prediction) = %q, %v", got, err)
	}
	if _, err := event.Topic(event.TypeDriftDetected); err == nil {
		t.Error("Topic of a NATS event: no error")
	}
	if _, err := event.Topic("x"); !errors.Is(err, event.ErrUnknownType) {
		t.Errorf("Topic(unknown) error %v", err)
	}
	if got := event.EventsTopic("cards"); got != "tributary.events.cards" {
		t.Errorf("EventsTopic = %q", got)
	}
	if got := event.IngestTopic("cards"); got != "tributary.ingest.cards" {
		t.Errorf("IngestTopic = %q", got)
	}
}

func TestStreamSubjects(t *testing.T) {
	want := []string{"tributary.model.>", "tributary.train.>", "tributary.dataset.>", "tributary.drift.>", "tributary.performance.>"}
	got := event.StreamSubjects()
	if !slices.Equal(got, want) {
		t.Fatalf("StreamSubjects = %q, want %q", got, want)
	}
	got[0] = "changed"
	if event.StreamSubjects()[0] != want[0] {
		t.Error("StreamSubjects exposes its backing array")
	}
	tests := []struct {
		subject string
		want    bool
	}{
		{"tributary.model.registered", true},
		{"tributary.performance.degraded", true},
		{"tributary.train.requested.extra", true},
		{"tributary.registry.register", false}, // request-reply
		{"tributary.features.get", false},
		{"tributary.trainer.status", false}, // a service whose name starts like a domain
		{"tributary.model", false},
		{"tributary.model.", false},
		{"tributary.labels", false},
		{"other.model.registered", false},
	}
	for _, tt := range tests {
		if got := event.InStream(tt.subject); got != tt.want {
			t.Errorf("InStream(%q) = %v, want %v", tt.subject, got, tt.want)
		}
	}
}
