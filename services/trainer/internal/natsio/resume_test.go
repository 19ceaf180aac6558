package natsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/trainer/internal/natsio"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

// helperEnv makes the test binary a trainer stand-in that asks for a
// training set and waits for it, until it is killed.
const helperEnv = "TRIBUTARY_NATSIO_HELPER_NATS_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(helperEnv); url != "" {
		os.Exit(askAndWait(url))
	}
	testkit.VerifyTestMain(m)
}

func askAndWait(url string) int {
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	d := natsio.NewDatasets(nc, js, natsio.NewPublisher(js, "", nil), "", time.Minute)
	_, err = d.Build(context.Background(), resumeRequest())
	fmt.Fprintln(os.Stderr, "answered before the kill:", err)
	return 1
}

func resumeRequest() event.DatasetRequested {
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return event.DatasetRequested{RequestID: "dataset-resumed", Features: []string{"v:a"}, LabelStream: "l", Start: end.Add(-time.Hour), End: end, JobID: "resumed"}
}

// fakeFeatures answers the dataset requests the stream keeps, as the
// features service does: from a durable consumer, building a request id's
// set once and answering a repeated request id with it. It holds its first
// answer until release is closed.
type fakeFeatures struct {
	asked   chan struct{} // closed at the first request
	release chan struct{}
	once    sync.Once

	mu     sync.Mutex
	builds int
	seen   int
	sets   map[string]event.DatasetReady
}

func startFakeFeatures(t *testing.T, ctx context.Context, js jetstream.JetStream, pub *natsio.Publisher) *fakeFeatures {
	t.Helper()
	f := &fakeFeatures{asked: make(chan struct{}), release: make(chan struct{}), sets: map[string]event.DatasetReady{}}
	subject, _ := event.Subject(event.TypeDatasetRequested)
	cons, err := js.CreateOrUpdateConsumer(ctx, natsx.StreamName, jetstream.ConsumerConfig{
		Durable: "fake-features", FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		e, err := event.FromNATSMsg(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
		if err != nil {
			t.Error(err)
			_ = m.Term()
			return
		}
		var req event.DatasetRequested
		if err := json.Unmarshal(e.Data(), &req); err != nil {
			t.Error(err)
			_ = m.Term()
			return
		}
		f.once.Do(func() { close(f.asked) })
		select {
		case <-f.release:
		case <-ctx.Done():
			return
		}
		f.mu.Lock()
		f.seen++
		ready, ok := f.sets[req.RequestID]
		if !ok {
			f.builds++
			ready = event.DatasetReady{RequestID: req.RequestID, DatasetID: strings.Repeat("b", 64), Bucket: natsx.ObjectStoreArtifacts, ObjectName: "datasets/r.parquet", SHA256: strings.Repeat("b", 64), RowCount: 7, Features: req.Features, FeatureDefinitions: map[string]string{"v": "1"}, LabelStream: req.LabelStream, Start: req.Start, End: req.End}
			f.sets[req.RequestID] = ready
		}
		f.mu.Unlock()
		if err := pub.Publish(ctx, event.TypeDatasetReady, "dataset-ready-"+fmt.Sprint(time.Now().UnixNano()), ready); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return f
}

// A trainer killed (SIGKILL) while it waits for a training set misses the
// answer; the trainer that resumes the job asks again with the same
// request id, within the stream's duplicate window, and gets the set at
// once, built once.
func TestDatasetAskedAgainAfterTheTrainerWasKilled(t *testing.T) {
	e := trainertest.StartEmbedded(t)
	nc, js := e.Connect()
	pub := natsio.NewPublisher(js, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := startFakeFeatures(t, ctx, js, pub)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+e.URL())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.asked:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the trainer stand-in asked nothing in 30s: %s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("trainer stand-in: %v, want killed by SIGKILL (%s)", err, stderr.String())
	}
	// The set is built and announced while no trainer listens.
	close(f.release)
	testkit.EventuallyContext(t, 10*time.Second, func(context.Context) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.seen != 1 {
			return fmt.Errorf("%d requests answered", f.seen)
		}
		return nil
	})

	const patience = 5 * time.Second // a few leases of the e2e tests
	d := natsio.NewDatasets(nc, js, pub, "", 20*time.Second)
	began := time.Now()
	ready, err := d.Build(ctx, resumeRequest())
	took := time.Since(began)
	t.Logf("resumed ask answered in %v", took.Round(time.Millisecond))
	if err != nil {
		t.Fatalf("resumed ask: %v after %v", err, took)
	}
	if took > patience {
		t.Errorf("resumed ask answered after %v, want within %v", took, patience)
	}
	if ready.RequestID != "dataset-resumed" || ready.RowCount != 7 {
		t.Errorf("answer %+v", ready)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.builds != 1 || f.seen != 2 {
		t.Errorf("%d builds for %d requests, want 1 build for the 2 asks", f.builds, f.seen)
	}
}
