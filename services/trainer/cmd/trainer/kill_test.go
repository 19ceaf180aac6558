package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

// trainerChildEnv makes the test binary run the trainer with the
// arguments in it (separated by spaces): a real process the test can kill.
const trainerChildEnv = "TRIBUTARY_TRAINER_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(trainerChildEnv); args != "" {
		signals := make(chan os.Signal, 2)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
		os.Exit(program().Run(strings.Fields(args), os.LookupEnv, os.Stdout, os.Stderr, signals))
	}
	os.Exit(m.Run())
}

// child is a trainer process.
type child struct {
	cmd  *exec.Cmd
	url  string
	logs *testkit.Buffer
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c := &child{url: "http://" + addr, logs: &testkit.Buffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), trainerChildEnv+"="+strings.Join(append([]string{"-http.addr", addr}, args...), " "))
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Signal(syscall.SIGKILL)
			_ = c.cmd.Wait()
		}
	})
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		resp, err := http.Get(c.url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return c
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := c.cmd.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("trainer: %v, want killed by SIGKILL", err)
	}
}

// features answers the dataset requests the stream keeps, like the
// features service (a durable consumer; a repeated request id gets the set
// built for the first ask). It holds its answers until release is closed.
type features struct {
	asked   chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	builds  int
	seen    int
	sets    map[string]event.DatasetReady
}

func startFeatures(t *testing.T, ctx context.Context, js jetstream.JetStream) *features {
	t.Helper()
	f := &features{asked: make(chan struct{}), release: make(chan struct{}), sets: map[string]event.DatasetReady{}}
	obs, err := js.ObjectStore(ctx, natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := event.Subject(event.TypeDatasetRequested)
	cons, err := js.CreateOrUpdateConsumer(ctx, natsx.StreamName, jetstream.ConsumerConfig{
		Durable: "test-features", FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		e, err := event.FromNATSMsg(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
		var req event.DatasetRequested
		if err == nil {
			err = json.Unmarshal(e.Data(), &req)
		}
		if err != nil {
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
		f.mu.Unlock()
		if !ok {
			var buf bytes.Buffer
			if err := trainertest.Synthetic(req.Features, 600, 1).Write(&buf); err != nil {
				t.Error(err)
				return
			}
			name := "datasets/" + req.RequestID + ".parquet"
			if _, err := obs.PutBytes(ctx, name, buf.Bytes()); err != nil {
				t.Error(err)
				return
			}
			sha := strings.Repeat("c", 64)
			ready = event.DatasetReady{RequestID: req.RequestID, DatasetID: sha, Bucket: natsx.ObjectStoreArtifacts, ObjectName: name, SHA256: sha,
				RowCount: 600, Features: req.Features, FeatureDefinitions: map[string]string{"txn": "1"}, LabelStream: req.LabelStream, Start: req.Start, End: req.End}
			f.mu.Lock()
			f.builds++
			f.sets[req.RequestID] = ready
			f.mu.Unlock()
		}
		if err := publishReady(ctx, js, ready); err != nil && ctx.Err() == nil {
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

func publishReady(ctx context.Context, js jetstream.JetStream, ready event.DatasetReady) error {
	e := ce.New()
	e.SetID(fmt.Sprint("ready-", time.Now().UnixNano()))
	e.SetSource("/test/features")
	e.SetType(event.TypeDatasetReady)
	e.SetTime(time.Now().UTC())
	if err := e.SetData(ce.ApplicationJSON, ready); err != nil {
		return err
	}
	subject, _ := event.Subject(event.TypeDatasetReady)
	msg, err := event.ToNATSMsg(e, subject)
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, msg)
	return err
}

// A trainer killed with SIGKILL while its job waits for the training set:
// the restarted trainer resumes the job within a few leases, the job runs
// once (one job, two claims, one training set built, trained once).
func TestJobResumesAfterTheTrainerIsKilled(t *testing.T) {
	js := runstest.JetStream(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.KeyValue(ctx, natsx.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	s := &trainspec.Spec{
		Model: "killed", Features: []string{"txn:a", "txn:b"}, Labels: "fraud", Task: trainspec.TaskBinary,
		Trainer: trainspec.Trainer{Runner: "go", Name: "logistic"}, Seed: 1,
		Window: featurespec.Duration(24 * time.Hour), Holdout: 0.25, Metric: "auc", Policy: trainspec.Policy{Kind: trainspec.PolicyManual},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := trainspec.Apply(ctx, kv, s, time.Now()); err != nil {
		t.Fatal(err)
	}
	f := startFeatures(t, ctx, js)
	const lease = 2 * time.Second
	args := []string{"-nats.url", js.Conn().ConnectedUrl(), "-labels.interval", "0", "-schedule.tick", "0",
		"-jobs.lease", lease.String(), "-jobs.recover-interval", "1s", "-jobs.backoff", "200ms", "-jobs.attempts", "50",
		"-datasets.timeout", "30s", "-jobs.work-dir", t.TempDir()}

	first := startChild(t, args...)
	resp, err := http.Post(first.url+"/v1/models/killed/train", "application/json", strings.NewReader(`{"job_id":"killed-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("train: %d", resp.StatusCode)
	}
	select {
	case <-f.asked:
	case <-time.After(30 * time.Second):
		t.Fatalf("no dataset request in 30s; trainer logs:\n%s", first.logs.String())
	}
	first.kill(t)
	killed := time.Now()
	close(f.release) // the set is announced while no trainer listens
	second := startChild(t, args...)

	store := jobs.NewStore(kv)
	patience := 5 * lease
	var j jobs.Job
	deadline := time.Now().Add(patience + 30*time.Second) // wait on past the patience, to measure
	for {
		j, err = store.Get(ctx, "killed-1")
		if err == nil && j.Step(jobs.StepTrain) != nil && j.Step(jobs.StepTrain).Status == jobs.StepDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not trained %v after the kill: %+v %v; trainer logs:\n%s", time.Since(killed), j, err, second.logs.String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	took := time.Since(killed)
	t.Logf("job resumed and trained %v after the kill (lease %v)", took.Round(100*time.Millisecond), lease)
	if took > patience {
		t.Errorf("job trained %v after the kill, want within %v (a few leases)", took.Round(100*time.Millisecond), patience)
	}
	if j.Claims != 2 || j.Step(jobs.StepTrain).Attempts != 1 {
		t.Errorf("claims %d, train attempts %d: want 2 claims (the killed trainer's, the restarted one's) and one training", j.Claims, j.Step(jobs.StepTrain).Attempts)
	}
	list, err := store.List(ctx, "killed", 10)
	if err != nil || len(list) != 1 {
		t.Errorf("jobs of the model: %d (%v), want 1", len(list), err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.builds != 1 {
		t.Errorf("%d training sets built for %d asks, want 1", f.builds, f.seen)
	}
}
