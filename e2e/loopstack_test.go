package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/e2e/harness"
	"github.com/tributary-ml/tributary/libs/cardgen"
	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// loopNames are the example's names (examples/cards), made unique for one
// test: Redis and ClickHouse are shared with every other test.
type loopNames struct {
	stream, typ, view, model, labels string
}

// loopStack is a platform of the test's own: a private Kafka and NATS
// (so that the fault test may stop them), the shared Redis and ClickHouse,
// the six service binaries started with windows and delays compressed, the
// example of examples/cards applied with the cli, and the card workload
// streaming into ingest.
type loopStack struct {
	names    loopNames
	brokers  *harness.Brokers
	platform *harness.Platform
	cli      string
	cliEnv   []string
	nc       *nats.Conn
	js       jetstream.JetStream
	reg      *model.Client
	ch       driver.Conn
}

// loopEnv is what the services of a loop stack are started with: drift
// windows of 20 s, closed 2 s after their end; no label counting (the test
// asks for the first job); jobs resumed within seconds of a crash.
func loopEnv(work string) map[string][]string {
	return map[string][]string{
		"ingest":   {"TRIBUTARY_AUTH_DISABLED=true", "TRIBUTARY_PRODUCE_TIMEOUT=3s"},
		"features": {},
		"trainer": {"TRIBUTARY_LABELS_INTERVAL=0", "TRIBUTARY_JOBS_WORK_DIR=" + filepath.Join(work, "trainer-jobs"),
			"TRIBUTARY_JOBS_LEASE=6s", "TRIBUTARY_JOBS_RECOVER_INTERVAL=2s", "TRIBUTARY_JOBS_BACKOFF=500ms", "TRIBUTARY_JOBS_ATTEMPTS=20",
			"TRIBUTARY_DATASETS_TIMEOUT=30s", "TRIBUTARY_SCHEDULE_TICK=0"},
		"registry": {},
		"serving":  {},
		// Nine features, a window every 20 s: KS at p < 0.05 would find
		// drift in a third of the windows of an unchanged stream, and
		// Wasserstein over 0.1 standard deviations in most (scoring a
		// second after the transaction is not quite the label's instant);
		// chi-squared at p < 0.05 on the merchant category in one window
		// of twenty, each a retraining.
		"monitor": {"TRIBUTARY_DRIFT_WINDOWS=20s", "TRIBUTARY_DRIFT_LATENESS=2s", "TRIBUTARY_MONITOR_RETRY_BACKOFF=200ms", "TRIBUTARY_DRIFT_KS_P_VALUE=0.001",
			"TRIBUTARY_DRIFT_WASSERSTEIN_THRESHOLD=0.5", "TRIBUTARY_DRIFT_CHI_SQUARED_P_VALUE=0.001",
			"TRIBUTARY_PERFORMANCE_WINDOWS=1m", "TRIBUTARY_LABELS_SWEEP_INTERVAL=2s"},
	}
}

// loopOptions are what differs between the loop stacks of the tests.
type loopOptions struct {
	// promote gives the monitor a promotion policy for the model: 300
	// labelled predictions on each side since the canary moved, the
	// canary's AUC at most 0.15 behind production's (the windows are short
	// and the samples small: the test shows the mechanism, not a tuned
	// policy).
	promote bool
}

func startLoopStack(t *testing.T, ctx context.Context, opts loopOptions) *loopStack {
	t.Helper()
	root, err := testkit.WorkspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	suffix := randomID(t)[:8]
	s := &loopStack{names: loopNames{
		stream: "cards" + suffix, typ: "com.example.cards" + suffix + ".transaction.v1", view: "card_activity_" + suffix,
		model: "card-fraud-" + suffix, labels: "card_fraud_" + suffix,
	}}

	start := time.Now()
	s.brokers, err = harness.StartBrokers(ctx, root, filepath.Join(work, "brokers"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.brokers.Down(context.Background(), "kafka", "nats"); err != nil {
			t.Errorf("stop the private brokers: %v", err)
		}
	})
	addrs := s.brokers.With(stack.infra.Addrs)
	t.Logf("private kafka %s and nats %s up in %v", s.brokers.KafkaBrokers, s.brokers.NATSURL, time.Since(start).Round(time.Millisecond))

	s.cli = filepath.Join(work, "tributary")
	build := exec.CommandContext(ctx, "go", "build", "-o", s.cli, "./cli/cmd/tributary")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the cli: %v\n%s", err, out)
	}

	logs := filepath.Join(work, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	env := loopEnv(work)
	if opts.promote {
		models := filepath.Join(work, "monitor-models.json")
		policy := `{"models": {"` + s.names.model + `": {"promotion": {"metric": "auc", "min_labels": 300, "max_degradation": 0.15}}}}`
		if err := os.WriteFile(models, []byte(policy), 0o600); err != nil {
			t.Fatal(err)
		}
		env["monitor"] = append(env["monitor"], "TRIBUTARY_PERFORMANCE_MODELS="+models)
	}
	s.platform, err = harness.Start(stack.platform.BinDir, logs, addrs, env)
	if s.platform != nil {
		t.Cleanup(func() {
			if err := s.platform.Stop(30 * time.Second); err != nil {
				t.Errorf("loop services did not stop cleanly: %v", err)
			}
			if t.Failed() {
				keep, _ := os.MkdirTemp("", "tributary-loop-logs-")
				_ = os.CopyFS(keep, os.DirFS(logs))
				t.Logf("service logs kept in %s", keep)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.platform.WaitReady(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("six services ready in %v", time.Since(start).Round(time.Millisecond))

	s.nc, err = nats.Connect(addrs.NATSURL, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nc.Close)
	s.js, _ = jetstream.New(s.nc)
	s.reg = model.NewClient(s.nc, s.js)
	s.ch, err = chx.Open(chx.Config{Addr: addrs.ClickHouseAddr, Database: "tributary", Username: "default", DialTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.ch.Close() })

	// The example, renamed, applied with the cli as a user would.
	s.cliEnv = append(os.Environ(), addrs.Env()...)
	s.cliEnv = append(s.cliEnv, "TRIBUTARY_REGISTRY_URL="+s.platform.Service("registry").BaseURL, "TRIBUTARY_TRAINER_URL="+s.platform.Service("trainer").BaseURL)
	// Windows compressed: the features over 20 s and 1 min instead of
	// 10 min and 1 h, the training set over the last 90 s of labels (the
	// workload backfills 3 min, so every row has a full minute behind it).
	// Drift alerts start no job within a minute of the model's last one:
	// with drift windows of 20 s, every window of a drifted stream would
	// start a retraining, and each new version would restart the canary's
	// trial.
	rename := strings.NewReplacer("card_activity", s.names.view, "card-fraud", s.names.model, "card_fraud", s.names.labels, "cards", s.names.stream,
		"[10m, 1h]", "[20s, 1m]", "[1h]", "[1m]", "_10m", "_20s", "_1h", "_1m", "window: 1d", "window: 90s", "drift: true", "drift: true\n  cooldown: 60s")
	for _, step := range [][2]string{{"streams", "stream.json"}, {"features", "features.yaml"}, {"models", "model.yaml"}} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "cards", step[1]))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(work, step[1])
		if err := os.WriteFile(path, []byte(rename.Replace(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
		s.run(t, ctx, step[0], "apply", path)
	}
	// The stream is live in ingest once it lists it.
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		var got struct {
			Streams []struct {
				Name string `json:"name"`
			} `json:"streams"`
		}
		if err := getJSON(ctx, s.platform.Service("ingest").BaseURL+"/v1/streams", &got); err != nil {
			return err
		}
		for _, st := range got.Streams {
			if st.Name == s.names.stream {
				return nil
			}
		}
		return fmt.Errorf("ingest does not list %s yet", s.names.stream)
	})
	return s
}

// run runs the cli and answers its standard output.
func (s *loopStack) run(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, s.cli, args...)
	cmd.Env = s.cliEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tributary %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// loopWorkload is the card workload of a loop stack with what it sent:
// every accepted transaction and label, every prediction.
type loopWorkload struct {
	stream *cardgen.Stream
	pred   *gatedPredictor
	mu     sync.Mutex
	txns   map[string]cardgen.Transaction
	labels map[string]cardgen.LabelRecorded
	// rejected are the events ingest refused, with its answer.
	rejected map[string]cardgen.Outcome
	stop     context.CancelFunc
	done     chan error
}

// gatedPredictor asks serving for predictions once it is opened, and
// counts what serving answered.
type gatedPredictor struct {
	open     atomic.Bool
	p        *cardgen.Predictor
	mu       sync.Mutex
	ids      map[string]string    // prediction id: card
	answered map[string]time.Time // prediction id: when serving answered
	failures []error
	requests atomic.Int64
}

func (g *gatedPredictor) Predict(ctx context.Context, cards []string) ([]string, error) {
	if !g.open.Load() {
		return make([]string, len(cards)), nil
	}
	g.requests.Add(1)
	ids, err := g.p.Predict(ctx, cards)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			g.failures = append(g.failures, fmt.Errorf("%s: %w", time.Now().Format(time.RFC3339Nano), err))
		}
		return nil, err
	}
	now := time.Now()
	for i, id := range ids {
		g.ids[id] = cards[i]
		g.answered[id] = now
	}
	return ids, nil
}

func (g *gatedPredictor) counts() (int, []error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.ids), slices.Clone(g.failures)
}

// startWorkload streams the card workload at rate transactions a second,
// labels delayed by about labelDelay.
func (s *loopStack) startWorkload(t *testing.T, seed uint64, rate float64, cards int, labelDelay time.Duration) *loopWorkload {
	t.Helper()
	cfg := cardgen.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.LabelDelay, cfg.IDPrefix = seed, cards, labelDelay, "loop-"+s.names.stream
	cfg.BaseFraud = -2.5 // about 12% fraud: enough positives in a 90 s training set
	wl, err := cardgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &loopWorkload{txns: map[string]cardgen.Transaction{}, labels: map[string]cardgen.LabelRecorded{}, rejected: map[string]cardgen.Outcome{}, done: make(chan error, 1),
		pred: &gatedPredictor{p: &cardgen.Predictor{URL: s.platform.Service("serving").BaseURL, Model: s.names.model,
			Client: &http.Client{Timeout: 10 * time.Second}}, ids: map[string]string{}, answered: map[string]time.Time{}}}
	scfg := cardgen.DefaultStreamConfig()
	scfg.Rate, scfg.EventType, scfg.Source, scfg.LabelStream, scfg.RetryBackoff = rate, s.names.typ, "/e2e/loop", s.names.labels, 200*time.Millisecond
	scfg.Backfill = 3 * time.Minute
	scfg.OnOutcome = func(kind cardgen.Kind, ev cardgen.Event, o cardgen.Outcome) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if o.Status != "accepted" && o.Status != "duplicate" {
			w.rejected[ev.ID] = o
			return
		}
		switch kind {
		case cardgen.KindTransaction:
			w.txns[ev.ID] = ev.Data.(cardgen.Transaction)
		case cardgen.KindLabel:
			w.labels[ev.ID] = ev.Data.(cardgen.LabelRecorded)
		}
	}
	w.stream, err = cardgen.NewStream(scfg, wl, &cardgen.Ingest{URL: s.platform.Service("ingest").BaseURL, Client: &http.Client{Timeout: 15 * time.Second}}, w.pred, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go func() { w.done <- w.stream.Run(ctx) }()
	t.Cleanup(func() { w.halt(t) })
	return w
}

// halt stops the workload and waits for it.
func (w *loopWorkload) halt(t *testing.T) {
	w.stop()
	if err := <-w.done; err != nil {
		t.Errorf("workload: %v", err)
	}
	w.done <- nil // a second halt returns at once
}

func (w *loopWorkload) sent() (txns, labels int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.txns), len(w.labels)
}

// count runs a query that answers one number.
func (s *loopStack) count(ctx context.Context, query string, args ...any) (uint64, error) {
	var n uint64
	if err := s.ch.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return n, nil
}

// loopJob is the part of a job record the loop tests read.
type loopJob struct {
	trainerJob
	Trigger       string    `json:"trigger"`
	Reason        string    `json:"reason"`
	Claims        int       `json:"claims"`
	LabelsFrom    time.Time `json:"labels_from"`
	LabelsTo      time.Time `json:"labels_to"`
	CollapsedInto string    `json:"collapsed_into"`
	Collapsed     []string  `json:"collapsed"`
	CreatedAt     time.Time `json:"created_at"`
	StartedAt     time.Time `json:"started_at"`
	EndedAt       time.Time `json:"ended_at"`
}

func (s *loopStack) jobs(ctx context.Context) ([]loopJob, error) {
	var got struct {
		Jobs []loopJob `json:"jobs"`
	}
	err := getJSON(ctx, s.platform.Service("trainer").BaseURL+"/v1/jobs?limit=200&model="+s.names.model, &got)
	return got.Jobs, err
}

func (s *loopStack) job(ctx context.Context, id string) (loopJob, error) {
	var j loopJob
	err := getJSON(ctx, s.platform.Service("trainer").BaseURL+"/v1/jobs/"+id, &j)
	return j, err
}

// waitJobDone polls a job until it succeeded; a failed job fails the test.
func (s *loopStack) waitJobDone(t *testing.T, id string, timeout time.Duration) loopJob {
	t.Helper()
	var j loopJob
	testkit.EventuallyContext(t, timeout, func(ctx context.Context) error {
		var err error
		if j, err = s.job(ctx, id); err != nil {
			return err
		}
		switch j.Status {
		case "succeeded":
			return nil
		case "failed":
			t.Fatalf("job %s failed at %s: %s (%s)\n%s", id, j.FailedStep, j.Error, j.Failure, j.Log)
		}
		return fmt.Errorf("job %s is %s", id, j.Status)
	})
	return j
}

// served answers the version serving serves an alias with (0: none).
func (s *loopStack) served(ctx context.Context, alias string) (int, error) {
	var got struct {
		Models []struct {
			Name    string `json:"name"`
			Aliases []struct {
				Alias   string `json:"alias"`
				Version int    `json:"version"`
			} `json:"aliases"`
		} `json:"models"`
	}
	if err := getJSON(ctx, s.platform.Service("serving").BaseURL+"/v1/models", &got); err != nil {
		return 0, err
	}
	for _, m := range got.Models {
		if m.Name != s.names.model {
			continue
		}
		for _, a := range m.Aliases {
			if a.Alias == alias {
				return a.Version, nil
			}
		}
	}
	return 0, nil
}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w in %s", url, err, b)
	}
	return nil
}
