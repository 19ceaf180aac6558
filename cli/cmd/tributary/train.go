package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/trainspec"
)

const modelsApplyUsage = `Usage: tributary models apply FILE...

Checks training specs (YAML, one model per file; see schemas/models/) and
stores them in the KV bucket tributary_jobs (key specs.<model>), versioned by
content hash. Every view:feature reference must name an applied feature
view (tributary features apply). All files are checked before anything is
stored. Flags can also be set with their TRIBUTARY_* environment variables.
`

type applyOptions struct {
	nats     natsx.Config
	jobs     string
	features string
	timeout  time.Duration
	files    []string
}

func parseApplyFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (applyOptions, error) {
	var o applyOptions
	fs := flag.NewFlagSet("models apply", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, modelsApplyUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.nats.RegisterFlags(fs)
	fs.StringVar(&o.jobs, "bucket", natsx.BucketJobs, "KV bucket of the training specs and jobs.")
	fs.StringVar(&o.features, "features-bucket", natsx.BucketFeatures, "KV bucket of the feature definitions the specs reference.")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "Give up after this long.")
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return o, err
	}
	if err := o.nats.Validate(); err != nil {
		return o, err
	}
	o.files = fs.Args()
	if len(o.files) == 0 {
		return o, errors.New("apply: missing FILE")
	}
	return o, nil
}

func runModelsApply(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	o, err := parseApplyFlags(args, lookupEnv, stderr)
	if err != nil {
		return err
	}
	var specs []*trainspec.Spec
	seen := map[string]string{}
	for _, path := range o.files {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s, err := trainspec.Parse(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if prev, dup := seen[s.Model]; dup {
			return fmt.Errorf("%s: model %s is also specified in %s", path, s.Model, prev)
		}
		seen[s.Model] = path
		specs = append(specs, s)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	js, closeNATS, err := connectJS(o.nats, stderr)
	if err != nil {
		return err
	}
	defer closeNATS()
	jobsKV, err := js.KeyValue(ctx, o.jobs)
	if err != nil {
		return fmt.Errorf("kv bucket %s (run tributary bootstrap first): %w", o.jobs, err)
	}
	featuresKV, err := js.KeyValue(ctx, o.features)
	if err != nil {
		return fmt.Errorf("kv bucket %s (run tributary bootstrap first): %w", o.features, err)
	}
	for i, s := range specs {
		if _, err := trainspec.Check(ctx, s, trainspec.KVViews{KV: featuresKV}); err != nil {
			return fmt.Errorf("%s: %w", o.files[i], err)
		}
	}
	for _, s := range specs {
		a, err := trainspec.Apply(ctx, jobsKV, s, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model %s: %s (version %s)\n", a.Model, a.Action, a.Version[:12])
	}
	return nil
}

func connectJS(cfg natsx.Config, stderr io.Writer) (jetstream.JetStream, func(), error) {
	nc, err := natsx.Connect(cfg, "tributary-cli", slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nc.Close, nil
}

const trainUsage = `Usage: tributary train MODEL [flags]

Asks the trainer to train MODEL with its applied spec: publishes
tributary.train.requested.v1 (trigger manual) on the JetStream stream and
prints the job id. With -wait it follows the job record (KV bucket
tributary_jobs, key jobs.<id>) until the job ends, printing each step, and
exits with code 1 when the job failed. A repeated -job-id starts no second
job. Flags go before or after MODEL; each can also be set with its
TRIBUTARY_* environment variable.

Example: tributary train fraud -wait
`

type trainOptions struct {
	nats    natsx.Config
	bucket  string
	jobID   string
	reason  string
	runner  string
	params  paramFlags
	wait    bool
	timeout time.Duration
	model   string
}

// paramFlags collects repeated -param key=value flags.
type paramFlags map[string]string

func (p paramFlags) String() string { return fmt.Sprint(map[string]string(p)) }

func (p paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want key=value", s)
	}
	p[k] = v
	return nil
}

func parseTrainFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (trainOptions, error) {
	o := trainOptions{params: paramFlags{}}
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, trainUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.nats.RegisterFlags(fs)
	fs.StringVar(&o.bucket, "bucket", natsx.BucketJobs, "KV bucket of the job records (for -wait).")
	fs.StringVar(&o.jobID, "job-id", "", "Job id (default: a new one).")
	fs.StringVar(&o.reason, "reason", "", "Why, recorded in the job and the version's lineage trigger.")
	fs.StringVar(&o.runner, "runner", "", "Override the spec's runner (go, exec, kubernetes).")
	fs.Var(o.params, "param", "Override a trainer parameter, key=value (repeatable).")
	fs.BoolVar(&o.wait, "wait", false, "Follow the job until it ends.")
	fs.DurationVar(&o.timeout, "timeout", time.Hour, "Give up waiting after this long.")
	pos, err := parseInterleaved(fs, args, lookupEnv)
	if err != nil {
		return o, err
	}
	if err := o.nats.Validate(); err != nil {
		return o, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return o, errors.New("want exactly one MODEL")
	}
	o.model = pos[0]
	if o.jobID == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		o.jobID = hex.EncodeToString(b[:])
	}
	return o, nil
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseTrainFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	js, closeNATS, err := connectJS(o.nats, stderr)
	if err != nil {
		return err
	}
	defer closeNATS()
	req := event.TrainRequested{JobID: o.jobID, Model: o.model, Trigger: event.TriggerManual, Reason: o.reason, RequestedBy: defaultActor(), Runner: o.runner}
	if len(o.params) > 0 {
		req.Params = o.params
	}
	e := ce.New()
	e.SetID(o.jobID)
	e.SetSource("/tributary/cli")
	e.SetType(event.TypeTrainRequested)
	e.SetTime(time.Now().UTC())
	if err := e.SetData(ce.ApplicationJSON, req); err != nil {
		return err
	}
	subject, _ := event.Subject(event.TypeTrainRequested)
	msg, err := event.ToNATSMsg(e, subject)
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(o.jobID)); err != nil {
		return fmt.Errorf("publish training request: %w", err)
	}
	fmt.Fprintf(stdout, "job %s requested for model %s\n", o.jobID, o.model)
	if !o.wait {
		return nil
	}
	kv, err := js.KeyValue(ctx, o.bucket)
	if err != nil {
		return fmt.Errorf("kv bucket %s: %w", o.bucket, err)
	}
	return followJob(ctx, kv, o.jobID, stdout)
}

// jobView is the part of a trainer job record the cli prints.
type jobView struct {
	Status        string `json:"status"`
	CollapsedInto string `json:"collapsed_into"`
	Version       int    `json:"version"`
	Error         string `json:"error"`
	Failure       string `json:"failure"`
	FailedStep    string `json:"failed_step"`
	Steps         []struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
		Error    string `json:"error"`
	} `json:"steps"`
	Evaluation *struct {
		Metrics           map[string]float64 `json:"metrics"`
		ProductionVersion int                `json:"production_version"`
		ProductionMetrics map[string]float64 `json:"production_metrics"`
	} `json:"evaluation"`
	Decision *struct {
		Action string `json:"action"`
		Alias  string `json:"alias"`
		Reason string `json:"reason"`
	} `json:"decision"`
}

// ErrJobFailed reports a job that ended failed.
var ErrJobFailed = errors.New("training job failed")

// followJob watches a job record until the job ends, printing each step's
// change.
func followJob(ctx context.Context, kv jetstream.KeyValue, id string, stdout io.Writer) error {
	w, err := kv.Watch(ctx, "jobs."+id)
	if err != nil {
		return fmt.Errorf("watch job %s: %w", id, err)
	}
	defer func() { _ = w.Stop() }()
	printed := map[string]string{}
	for {
		var entry jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for job %s (is the trainer running?): %w", id, ctx.Err())
		case entry = <-w.Updates():
		}
		if entry == nil || entry.Operation() != jetstream.KeyValuePut {
			continue
		}
		var j jobView
		if err := json.Unmarshal(entry.Value(), &j); err != nil {
			return fmt.Errorf("decode job %s: %w", id, err)
		}
		for _, s := range j.Steps {
			line := fmt.Sprintf("%s %s (attempt %d)", s.Name, s.Status, s.Attempts)
			if s.Error != "" {
				line += ": " + s.Error
			}
			if s.Status != "pending" && printed[s.Name] != line {
				fmt.Fprintln(stdout, "  step "+line)
				printed[s.Name] = line
			}
		}
		switch j.Status {
		case "succeeded":
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "version\t%d\n", j.Version)
			if j.Evaluation != nil {
				fmt.Fprintf(tw, "holdout\t%s\n", metricList(j.Evaluation.Metrics))
				if j.Evaluation.ProductionVersion > 0 {
					fmt.Fprintf(tw, "production v%d\t%s\n", j.Evaluation.ProductionVersion, metricList(j.Evaluation.ProductionMetrics))
				}
			}
			if j.Decision != nil {
				fmt.Fprintf(tw, "decision\t%s %s: %s\n", j.Decision.Action, j.Decision.Alias, j.Decision.Reason)
			}
			return tw.Flush()
		case "failed":
			return fmt.Errorf("%w: job %s at step %s (%s): %s", ErrJobFailed, id, j.FailedStep, j.Failure, j.Error)
		case "collapsed":
			fmt.Fprintf(stdout, "collapsed into job %s (a job of the model was already waiting)\n", j.CollapsedInto)
			return followJob(ctx, kv, j.CollapsedInto, stdout)
		}
	}
}
