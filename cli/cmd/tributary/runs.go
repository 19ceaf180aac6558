package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-ml/tributary/libs/service"
)

// runsUsage lists the runs subcommands.
const runsUsage = `Usage: tributary runs <subcommand> [flags] [arguments]

Talks to the trainer's HTTP API (-trainer.url, TRIBUTARY_TRAINER_URL). Every
training job is a tracked run; so is every run an mlflow client logs to the
trainer's MLflow tracking API.

Subcommands:
  list                          runs, newest first (-model, -status, -limit)
  show <run>                    a run: lineage, params, metrics, artifacts, log tail
  compare <run> <run> [...]     runs side by side: one row per run, params and
                                metrics as columns (ids may also be comma-separated)

Common flags: -trainer.url, -o table|json, -timeout.`

// runsOptions are the flags of the runs subcommands.
type runsOptions struct {
	url     string
	output  string
	timeout time.Duration
	model   string
	status  string
	limit   int
}

func parseRunsFlags(sub string, args []string, lookupEnv func(string) (string, bool), output io.Writer) (runsOptions, []string, error) {
	var o runsOptions
	fs := flag.NewFlagSet("runs "+sub, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintln(output, runsUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "trainer.url", "http://127.0.0.1:8083", "Base URL of the trainer's HTTP API.")
	fs.StringVar(&o.output, "o", "table", "Output: table or json.")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "Give up after this long.")
	fs.StringVar(&o.model, "model", "", "list: only the runs of this model.")
	fs.StringVar(&o.status, "status", "", "list: only the runs in this status (RUNNING, FINISHED, FAILED, KILLED, SCHEDULED).")
	fs.IntVar(&o.limit, "limit", 50, "list: at most this many runs (1 to 1000).")
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return o, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := service.ParseFlags(fs, nil, lookupEnv); err != nil {
		return o, nil, err
	}
	if o.output != "table" && o.output != "json" {
		return o, nil, fmt.Errorf("-o %q: want table or json", o.output)
	}
	if _, err := url.ParseRequestURI(o.url); err != nil || !strings.HasPrefix(o.url, "http") {
		return o, nil, fmt.Errorf("-trainer.url %q: want an http(s) URL", o.url)
	}
	o.url = strings.TrimRight(o.url, "/")
	if o.timeout <= 0 {
		return o, nil, errors.New("-timeout: must be positive")
	}
	if o.limit < 1 || o.limit > 1000 {
		return o, nil, fmt.Errorf("-limit %d: want 1 to 1000", o.limit)
	}
	return o, positional, nil
}

// runRuns is the runs command.
func runRuns(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runsCmd(ctx, args, os.LookupEnv, http.DefaultClient, stdout, stderr)
}

func runsCmd(ctx context.Context, args []string, lookupEnv func(string) (string, bool), hc *http.Client, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, runsUsage)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return flag.ErrHelp
	}
	sub := args[0]
	o, pos, err := parseRunsFlags(sub, args[1:], lookupEnv, stderr)
	if err != nil {
		return err
	}
	want := map[string][2]int{"list": {0, 0}, "show": {1, 1}, "compare": {1, 50}}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("unknown subcommand %q (run 'tributary runs help')", sub)
	}
	if sub == "compare" {
		pos = splitIDs(pos)
		n = [2]int{2, 50}
	}
	if len(pos) < n[0] || len(pos) > n[1] {
		return fmt.Errorf("%s: %d arguments, want %d to %d (run 'tributary runs help')", sub, len(pos), n[0], n[1])
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c := &trainerHTTP{base: o.url, hc: hc}
	switch sub {
	case "list":
		q := url.Values{"limit": {strconv.Itoa(o.limit)}}
		if o.model != "" {
			q.Set("model", o.model)
		}
		if o.status != "" {
			q.Set("status", strings.ToUpper(o.status))
		}
		var l runList
		raw, err := c.get(ctx, "/v1/runs?"+q.Encode(), &l)
		if err != nil {
			return err
		}
		return renderRaw(stdout, o.output, raw, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "RUN\tNAME\tMODEL\tSTATUS\tSTARTED\tDURATION\tTRIGGER\tMETRICS")
			for _, r := range l.Runs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, dash(r.Model), r.Status, millis(r.StartTime),
					duration(r.StartTime, r.EndTime), dash(r.Trigger), dash(metricList(r.latest())))
			}
			if l.Truncated {
				fmt.Fprintf(w, "(more runs match: raise -limit, now %d)\n", o.limit)
			}
		})
	case "show":
		var r cliRun
		raw, err := c.get(ctx, "/v1/runs/"+url.PathEscape(pos[0]), &r)
		if err != nil {
			return err
		}
		if err := renderRaw(stdout, o.output, raw, func(w *tabwriter.Writer) { showRun(w, r) }); err != nil || o.output == "json" {
			return err
		}
		return showLogs(stdout, r)
	case "compare":
		var cmp comparison
		raw, err := c.get(ctx, "/v1/runs/compare?ids="+url.QueryEscape(strings.Join(pos, ",")), &cmp)
		if err != nil {
			return err
		}
		return renderRaw(stdout, o.output, raw, func(w *tabwriter.Writer) { showComparison(w, cmp) })
	}
	return nil
}

// splitIDs accepts run ids as separate arguments, comma-separated, or both.
func splitIDs(args []string) []string {
	var out []string
	for _, a := range args {
		for _, id := range strings.Split(a, ",") {
			if id = strings.TrimSpace(id); id != "" {
				out = append(out, id)
			}
		}
	}
	return out
}

// trainerHTTP calls the trainer's runs API.
type trainerHTTP struct {
	base string
	hc   *http.Client
}

// get decodes a 2xx answer into out and returns its body; an error answer
// becomes an error with its id and message.
func (c *trainerHTTP) get(ctx context.Context, path string, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("trainer: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error *struct {
				ID      string `json:"id"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != nil {
			return nil, fmt.Errorf("trainer: %s (%s, HTTP %d)", e.Error.Message, e.Error.ID, resp.StatusCode)
		}
		return nil, fmt.Errorf("trainer: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("trainer: decode answer: %w", err)
	}
	return body, nil
}

// renderRaw prints the server's JSON as it came (indented) with -o json,
// and otherwise the table.
func renderRaw(stdout io.Writer, output string, raw []byte, table func(*tabwriter.Writer)) error {
	if output == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

// The fields of the trainer's run records that the tables show
// (services/trainer/README.md documents the whole record; -o json prints
// it).

// number is a float that also reads "NaN", "Infinity" and "-Infinity".
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*n = number(math.NaN())
	case `"Infinity"`:
		*n = number(math.Inf(1))
	case `"-Infinity"`:
		*n = number(math.Inf(-1))
	default:
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		*n = number(f)
	}
	return nil
}

type cliMetric struct {
	Value     number `json:"value"`
	Step      int64  `json:"step"`
	Timestamp int64  `json:"timestamp"`
	Dataset   string `json:"dataset"`
}

type cliLogTail struct {
	Data    string `json:"data"`
	Dropped int64  `json:"dropped"`
}

type cliRun struct {
	ID                 string               `json:"id"`
	ExperimentID       string               `json:"experiment_id"`
	Name               string               `json:"name"`
	Status             string               `json:"status"`
	StartTime          int64                `json:"start_time"`
	EndTime            int64                `json:"end_time"`
	Params             map[string]string    `json:"params"`
	Tags               map[string]string    `json:"tags"`
	Metrics            map[string]cliMetric `json:"metrics"`
	Model              string               `json:"model"`
	JobID              string               `json:"job_id"`
	Trigger            string               `json:"trigger"`
	Seed               *int64               `json:"seed"`
	FeatureDefinitions map[string]string    `json:"feature_definitions"`
	Trainer            string               `json:"trainer"`
	CodeVersion        string               `json:"code_version"`
	TrainingSet        *struct {
		ID         string    `json:"id"`
		SHA256     string    `json:"sha256"`
		LabelsFrom time.Time `json:"labels_from"`
		LabelsTo   time.Time `json:"labels_to"`
		Rows       int64     `json:"rows"`
	} `json:"training_set"`
	Log struct {
		Stdout cliLogTail `json:"stdout"`
		Stderr cliLogTail `json:"stderr"`
	} `json:"log"`
	Artifacts []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
		URI    string `json:"uri"`
	} `json:"artifacts"`
}

func (r cliRun) latest() map[string]float64 {
	out := map[string]float64{}
	for k, m := range r.Metrics {
		out[k] = float64(m.Value)
	}
	return out
}

type runList struct {
	Runs      []cliRun `json:"runs"`
	Truncated bool     `json:"truncated"`
}

type comparison struct {
	Params  []string `json:"params"`
	Metrics []string `json:"metrics"`
	Runs    []struct {
		ID      string            `json:"id"`
		Name    string            `json:"name"`
		Model   string            `json:"model"`
		Status  string            `json:"status"`
		Params  map[string]string `json:"params"`
		Metrics map[string]number `json:"metrics"`
	} `json:"runs"`
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func millis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

func duration(start, end int64) string {
	if start == 0 || end == 0 || end < start {
		return "-"
	}
	return (time.Duration(end-start) * time.Millisecond).String()
}

func showRun(w *tabwriter.Writer, r cliRun) {
	fmt.Fprintf(w, "Run:\t%s\nName:\t%s\nExperiment:\t%s\nStatus:\t%s\n", r.ID, r.Name, r.ExperimentID, r.Status)
	fmt.Fprintf(w, "Started:\t%s\nEnded:\t%s\nDuration:\t%s\n", millis(r.StartTime), millis(r.EndTime), duration(r.StartTime, r.EndTime))
	for _, kv := range [][2]string{{"Model", r.Model}, {"Job", r.JobID}, {"Trigger", r.Trigger}, {"Trainer", r.Trainer}, {"Code version", r.CodeVersion}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	if r.Seed != nil {
		fmt.Fprintf(w, "Seed:\t%d\n", *r.Seed)
	}
	if ts := r.TrainingSet; ts != nil {
		fmt.Fprintf(w, "Training set:\t%s (sha256 %s, %d rows, labels %s to %s)\n", ts.ID, ts.SHA256, ts.Rows,
			ts.LabelsFrom.UTC().Format(time.RFC3339), ts.LabelsTo.UTC().Format(time.RFC3339))
	}
	for _, view := range slices.Sorted(maps.Keys(r.FeatureDefinitions)) {
		fmt.Fprintf(w, "Feature view:\t%s at %s\n", view, r.FeatureDefinitions[view])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "PARAM\tVALUE")
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		fmt.Fprintf(w, "%s\t%s\n", k, r.Params[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "METRIC\tVALUE\tSTEP\tDATASET\tLOGGED")
	for _, k := range slices.Sorted(maps.Keys(r.Metrics)) {
		m := r.Metrics[k]
		fmt.Fprintf(w, "%s\t%g\t%d\t%s\t%s\n", k, float64(m.Value), m.Step, dash(m.Dataset), millis(m.Timestamp))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "TAG\tVALUE")
	for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
		fmt.Fprintf(w, "%s\t%s\n", k, r.Tags[k])
	}
	if len(r.Artifacts) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "ARTIFACT\tSIZE\tSHA256\tURI")
		for _, a := range r.Artifacts {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", a.Name, a.Size, short(a.SHA256), dash(a.URI))
		}
	}
}

// showLogs prints a run's log tails as they are (not through the table
// writer: they may hold tabs).
func showLogs(out io.Writer, r cliRun) error {
	for _, s := range []struct {
		name string
		t    cliLogTail
	}{{"stdout", r.Log.Stdout}, {"stderr", r.Log.Stderr}} {
		if s.t.Data == "" {
			continue
		}
		head := fmt.Sprintf("\n--- %s (last %d bytes", s.name, len(s.t.Data))
		if s.t.Dropped > 0 {
			head += fmt.Sprintf(", %d earlier bytes dropped", s.t.Dropped)
		}
		data := s.t.Data
		if !strings.HasSuffix(data, "\n") {
			data += "\n"
		}
		if _, err := io.WriteString(out, head+") ---\n"+data); err != nil {
			return err
		}
	}
	return nil
}

func showComparison(w *tabwriter.Writer, c comparison) {
	header := []string{"RUN", "NAME", "MODEL", "STATUS"}
	for _, p := range c.Params {
		header = append(header, "param:"+p)
	}
	for _, m := range c.Metrics {
		header = append(header, "metric:"+m)
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range c.Runs {
		row := []string{r.ID, r.Name, dash(r.Model), r.Status}
		for _, p := range c.Params {
			v, ok := r.Params[p]
			if !ok {
				v = "-"
			}
			row = append(row, v)
		}
		for _, m := range c.Metrics {
			v, ok := r.Metrics[m]
			s := "-"
			if ok {
				s = strconv.FormatFloat(float64(v), 'g', 6, 64)
			}
			row = append(row, s)
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
}
