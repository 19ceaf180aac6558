package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/cardgen"
	"github.com/tributary-ml/tributary/libs/service"
)

const generateUsage = `Usage: tributary generate [flags]

Streams a seeded card-transaction workload into ingest (POST /v1/events):
transactions of the stream examples/cards (card_id, amount, merchant_category,
country, device, at) at -rate a second, and a fraud label per transaction on
the built-in label stream (tributary.label.recorded.v1, stream -label-stream)
about -label-delay later, except for the -unlabelled share, which never gets
one. With -serving.url and -model, each transaction's card is also scored by
serving (POST /v1/predict/{model}) and its label names that prediction.
-drift (or -drift-at) shifts the amount distribution up and opens the
merchant category "crypto". The same -seed makes the same workload.

Prints its counts every -report and when it stops (Ctrl-C, -duration or
-limit). Flags can also be set with their TRIBUTARY_* environment variables.
`

type generateOptions struct {
	ingestURL, apiKey string
	servingURL, model string
	workload          cardgen.Config
	stream            cardgen.StreamConfig
	duration, report  time.Duration
	drift             bool
	driftAt, runID    string
	driftAfter        time.Duration
}

func parseGenerateFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer, now time.Time) (generateOptions, error) {
	o := generateOptions{workload: cardgen.DefaultConfig(), stream: cardgen.DefaultStreamConfig()}
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, generateUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.ingestURL, "ingest.url", "http://127.0.0.1:8081", "Base URL of ingest's HTTP API.")
	fs.StringVar(&o.apiKey, "ingest.api-key", "", "API key for ingest (empty: none, for a local stack without keys).")
	fs.StringVar(&o.servingURL, "serving.url", "", "Base URL of serving: score every transaction's card with -model (empty: no predictions).")
	fs.StringVar(&o.model, "model", "", "The model serving scores with (with -serving.url).")
	fs.Uint64Var(&o.workload.Seed, "seed", o.workload.Seed, "Seed of the workload: the same seed makes the same cards and transactions.")
	fs.IntVar(&o.workload.Cards, "cards", o.workload.Cards, "Number of cards (entities).")
	fs.Float64Var(&o.stream.Rate, "rate", o.stream.Rate, "Transactions per second.")
	fs.Uint64Var(&o.stream.Limit, "limit", 0, "Stop after this many transactions, once their labels are sent (0: no limit).")
	fs.DurationVar(&o.duration, "duration", 0, "Stop after this long (0: until Ctrl-C).")
	fs.DurationVar(&o.stream.Backfill, "backfill", 0, "First send this long a history of transactions (dated up to now, as fast as ingest takes them), so that windowed features start steady.")
	fs.DurationVar(&o.stream.ScoreDelay, "score-delay", o.stream.ScoreDelay, "Score a transaction's card this long after it (so that its online features include it).")
	fs.DurationVar(&o.workload.LabelDelay, "label-delay", o.workload.LabelDelay, "Mean delay of a fraud label after its transaction (each between half and 1.5 times it).")
	fs.Float64Var(&o.workload.Unlabelled, "unlabelled", o.workload.Unlabelled, "Share of transactions whose label never arrives.")
	fs.Float64Var(&o.workload.BaseFraud, "base-fraud", o.workload.BaseFraud, "Log odds of fraud before the category, country, device and amount terms.")
	fs.Float64Var(&o.workload.DriftAmountShift, "drift-amount-shift", o.workload.DriftAmountShift, "How far drift moves the log amount up.")
	fs.BoolVar(&o.drift, "drift", false, "Drift from the start.")
	fs.StringVar(&o.driftAt, "drift-at", "", "Drift from this instant (RFC 3339) on.")
	fs.DurationVar(&o.driftAfter, "drift-after", 0, "Drift from this long after the start on (0: not).")
	fs.StringVar(&o.stream.EventType, "type", o.stream.EventType, "CloudEvents type of the transactions (the stream's type).")
	fs.StringVar(&o.stream.Source, "source", o.stream.Source, "CloudEvents source of every event.")
	fs.StringVar(&o.stream.LabelStream, "label-stream", o.stream.LabelStream, "Label stream of the fraud labels.")
	fs.StringVar(&o.runID, "run-id", "", "Starts every event id, so that runs with the same seed do not collide in ingest's duplicate window (default: the start time).")
	fs.DurationVar(&o.report, "report", 10*time.Second, "How often to print the counts (0: only at the end).")
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (o.servingURL == "") != (o.model == "") {
		return o, errors.New("-serving.url and -model go together")
	}
	switch {
	case o.driftAt != "":
		at, err := time.Parse(time.RFC3339, o.driftAt)
		if err != nil {
			return o, fmt.Errorf("-drift-at %q: want an RFC 3339 time: %w", o.driftAt, err)
		}
		o.stream.DriftAt = at
	case o.driftAfter > 0:
		o.stream.DriftAt = now.Add(o.driftAfter)
	}
	if o.runID == "" {
		o.runID = now.UTC().Format("20060102T150405")
	}
	o.workload.IDPrefix = "txn-" + o.runID
	if err := o.workload.Validate(); err != nil {
		return o, err
	}
	return o, o.stream.Validate()
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseGenerateFlags(args, os.LookupEnv, stderr, time.Now())
	if err != nil {
		return err
	}
	wl, err := cardgen.New(o.workload)
	if err != nil {
		return err
	}
	in := &cardgen.Ingest{URL: o.ingestURL, APIKey: o.apiKey, Client: &http.Client{Timeout: 30 * time.Second}}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var s *cardgen.Stream
	if o.servingURL != "" {
		s, err = cardgen.NewStream(o.stream, wl, in, &cardgen.Predictor{URL: o.servingURL, Model: o.model}, logger)
	} else {
		s, err = cardgen.NewStream(o.stream, wl, in, nil, logger) // no predictor: a nil interface, not a nil *Predictor
	}
	if err != nil {
		return err
	}
	s.SetDrift(o.drift)
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	fmt.Fprintf(stdout, "generating %g transactions/s of %d cards (seed %d) into %s; labels on stream %q after about %v\n",
		o.stream.Rate, o.workload.Cards, o.workload.Seed, o.ingestURL, o.stream.LabelStream, o.workload.LabelDelay)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var tick <-chan time.Time
	if o.report > 0 {
		t := time.NewTicker(o.report)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			printStats(stdout, s.Stats(), s.Drifting())
			return err
		case <-tick:
			printStats(stdout, s.Stats(), s.Drifting())
		}
	}
}

func printStats(w io.Writer, st cardgen.Stats, drifting bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "transactions %d (accepted %d, duplicate %d, rejected %d, fraud %d, drifted %d)", st.Transactions, st.Accepted, st.Duplicate, st.Rejected, st.Fraud, st.Drifted)
	fmt.Fprintf(&b, "; labels sent %d, pending %d, never %d", st.LabelsAccepted, st.LabelsPending, st.Unlabelled)
	if st.LabelsRejected > 0 {
		fmt.Fprintf(&b, ", rejected %d", st.LabelsRejected)
	}
	if st.Predictions+st.PredictFailures > 0 {
		fmt.Fprintf(&b, "; predictions %d, failed %d", st.Predictions, st.PredictFailures)
	}
	if st.Unavailable > 0 {
		fmt.Fprintf(&b, "; sent again %d", st.Unavailable)
	}
	if drifting {
		b.WriteString("; drifting")
	}
	fmt.Fprintln(w, b.String())
}
