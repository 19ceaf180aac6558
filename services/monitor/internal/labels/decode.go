// Package labels is the monitor's consumer of tributary.labels: per batch it
// keeps every label in monitor_labels, joins the labels with the
// prediction log (internal/performance), recomputes the windows they touch,
// publishes the new performance and fairness alerts, applies the rollback
// policy, dead-letters the records that are no label, and only then
// commits. Labels whose prediction is not logged yet are joined again by a
// sweep, every -labels.sweep-interval, until -labels.pending-max-age.
package labels

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

// RecordError is a label record that cannot be used, with its reason.
type RecordError struct {
	Reason reason.ID
	Err    error
}

func (e *RecordError) Error() string { return string(e.Reason) + ": " + e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// Decode reads the label of a Kafka record: a CloudEvent in binary mode of
// type tributary.label.recorded.v1 whose data is a label (decoded strictly,
// as the features service does: an unknown field is refused). Anything else
// is a *RecordError with reason bad_label.
func Decode(r *kgo.Record) (performance.Label, error) {
	e, err := event.FromKafkaRecord(r)
	if err != nil {
		return performance.Label{}, &RecordError{reason.BadLabel, fmt.Errorf("not a cloudevent: %w", err)}
	}
	if e.Type() != event.TypeLabelRecorded {
		return performance.Label{}, &RecordError{reason.BadLabel, fmt.Errorf("type %q on the label topic", e.Type())}
	}
	var l event.LabelRecorded
	if err := model.UnmarshalStrict(e.Data(), &l); err != nil {
		return performance.Label{}, &RecordError{reason.BadLabel, fmt.Errorf("label data: %w", err)}
	}
	if l.Stream == "" || l.EntityKey == "" || l.EventTime.IsZero() {
		return performance.Label{}, &RecordError{reason.BadLabel, errors.New("label without stream, entity_key or event_time")}
	}
	return performance.Label{
		ID: e.Source() + "/" + e.ID(), Stream: l.Stream, EntityKey: l.EntityKey, EventTime: l.EventTime.UTC(),
		Value: l.Value, PredictionID: l.PredictionID, IngestTime: r.Timestamp.UTC(), Partition: r.Partition, Offset: r.Offset,
	}, nil
}
