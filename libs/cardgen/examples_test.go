package cardgen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/libs/trainspec"
)

// TestExampleDefinitions checks the generator against the example it feeds
// (examples/cards): every transaction, drifted ones too, passes the
// stream's schema, every label the label event's schema, and the feature
// view and training spec parse and name the stream and label stream the
// generator uses.
func TestExampleDefinitions(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "cards")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stream, err := streamspec.Parse(read("stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse(read("features.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := trainspec.Parse(read("model.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	scfg := DefaultStreamConfig()
	if stream.Type != scfg.EventType || len(views) != 1 || views[0].Source.Stream != stream.Name || spec.Labels != scfg.LabelStream {
		t.Fatalf("stream %s %s, view source %+v, spec labels %s; the generator sends %s and labels %s", stream.Name, stream.Type, views[0].Source, spec.Labels, scfg.EventType, scfg.LabelStream)
	}
	labels, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	wl, _ := New(DefaultConfig())
	for i := range 500 {
		tx := wl.Next(time.Now(), i%2 == 1)
		b, _ := json.Marshal(tx)
		if _, err := stream.Check(b); err != nil {
			t.Fatalf("transaction %s: %v", b, err)
		}
		l, _ := json.Marshal(LabelRecorded{Stream: scfg.LabelStream, EntityKey: tx.Card, Value: 1, EventTime: tx.At.Format(time.RFC3339Nano), PredictionID: "p1"})
		if err := labels.Validate(LabelType, l); err != nil {
			t.Fatalf("label %s: %v", l, err)
		}
	}
}
