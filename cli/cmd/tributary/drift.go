package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tributary-ml/tributary/libs/chx"
)

const driftUsage = `Usage: tributary drift show [flags] [MODEL]

Shows the drift figures the monitor computed (ClickHouse table drift_metrics,
schemas/clickhouse/README.md): per model version, window, feature (or the
prediction) and method, the statistic, its p-value, the threshold and
whether it drifted; newest window first. A window is written when it closes
(the monitor's watermark passes its end), so the current one is not there
yet. Flags go before or after MODEL; each can also be set with its
TRIBUTARY_* environment variable.

Example: tributary drift show fraud -drifted -since 1h
`

type driftOptions struct {
	clickhouse chx.Config
	version    uint
	since      time.Duration
	drifted    bool
	limit      int
	output     string
	timeout    time.Duration
	model      string
}

func parseDriftFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (driftOptions, error) {
	var o driftOptions
	fs := flag.NewFlagSet("drift show", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, driftUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.clickhouse.RegisterFlags(fs)
	fs.UintVar(&o.version, "version", 0, "Only this version of the model (0: every version).")
	fs.DurationVar(&o.since, "since", 24*time.Hour, "Only windows that ended this long ago or later.")
	fs.BoolVar(&o.drifted, "drifted", false, "Only the figures that crossed their threshold.")
	fs.IntVar(&o.limit, "limit", 100, "At most this many rows (1 to 10000).")
	fs.StringVar(&o.output, "o", "table", "Output: table or json.")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "Give up after this long.")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fs.Usage()
		return o, flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "show" {
		fs.Usage()
		return o, errors.New("missing action: show")
	}
	pos, err := parseInterleaved(fs, args[1:], lookupEnv)
	if err != nil {
		return o, err
	}
	if err := o.clickhouse.Validate(); err != nil {
		return o, err
	}
	switch {
	case len(pos) > 1:
		return o, fmt.Errorf("unexpected arguments %q: at most one MODEL", pos[1:])
	case o.version > 0 && len(pos) == 0:
		return o, errors.New("-version: needs a MODEL")
	case o.since <= 0:
		return o, errors.New("-since: must be positive")
	case o.limit < 1 || o.limit > 10000:
		return o, fmt.Errorf("-limit %d: want 1 to 10000", o.limit)
	case o.output != "table" && o.output != "json":
		return o, fmt.Errorf("-o %q: want table or json", o.output)
	case o.timeout <= 0:
		return o, errors.New("-timeout: must be positive")
	}
	if len(pos) == 1 {
		o.model = pos[0]
	}
	return o, nil
}

// driftRow is one row of drift_metrics.
type driftRow struct {
	Model         string    `json:"model"`
	Version       uint32    `json:"version"`
	Target        string    `json:"target"`
	Feature       string    `json:"feature"`
	Method        string    `json:"method"`
	WindowStart   time.Time `json:"window_start"`
	WindowSeconds uint32    `json:"window_size_seconds"`
	Value         float64   `json:"value"`
	PValue        *float64  `json:"p_value"`
	Threshold     float64   `json:"threshold"`
	Drifted       bool      `json:"drifted"`
	Skipped       string    `json:"skipped"`
	SampleSize    uint64    `json:"sample_size"`
}

func runDrift(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseDriftFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rows, err := readDrift(ctx, o)
	if err != nil {
		return err
	}
	return render(stdout, o.output, rows, func(w *tabwriter.Writer) {
		if len(rows) == 0 {
			fmt.Fprintf(w, "no drift figures in the last %s (a window is written when it closes)\n", o.since)
			return
		}
		fmt.Fprintln(w, "MODEL\tVERSION\tWINDOW\tFEATURE\tMETHOD\tVALUE\tP-VALUE\tTHRESHOLD\tSAMPLE\tDRIFTED")
		for _, r := range rows {
			feature := r.Feature
			if r.Target == "prediction" {
				feature = "(prediction)"
			}
			p := "-"
			if r.PValue != nil {
				p = strconv.FormatFloat(*r.PValue, 'g', 4, 64)
			}
			verdict := "no"
			switch {
			case r.Skipped != "":
				verdict = "skipped: " + r.Skipped
			case r.Drifted:
				verdict = "YES"
			}
			fmt.Fprintf(w, "%s\t%d\t%s +%s\t%s\t%s\t%.4g\t%s\t%g\t%d\t%s\n", r.Model, r.Version, r.WindowStart.UTC().Format(time.RFC3339),
				time.Duration(r.WindowSeconds)*time.Second, feature, r.Method, r.Value, p, r.Threshold, r.SampleSize, verdict)
		}
	})
}

func readDrift(ctx context.Context, o driftOptions) (out []driftRow, err error) {
	conn, err := chx.Open(o.clickhouse)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q := `SELECT model, version, toString(target), feature, method, window_start, window_size_seconds, value, p_value, threshold, drifted, skipped, sample_size
		FROM ` + o.clickhouse.Database + `.drift_metrics FINAL WHERE window_end >= now() - ?`
	args := []any{uint32(o.since / time.Second)}
	if o.model != "" {
		q += " AND model = ?"
		args = append(args, o.model)
	}
	if o.version > 0 {
		q += " AND version = ?"
		args = append(args, uint32(o.version))
	}
	if o.drifted {
		q += " AND drifted = 1"
	}
	q += " ORDER BY window_start DESC, model, version DESC, target, feature, method LIMIT ?"
	args = append(args, o.limit)
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: read drift_metrics: %w", o.clickhouse.Addr, err)
	}
	defer rows.Close()
	out = []driftRow{}
	for rows.Next() {
		var r driftRow
		var drifted uint8
		if err := rows.Scan(&r.Model, &r.Version, &r.Target, &r.Feature, &r.Method, &r.WindowStart, &r.WindowSeconds, &r.Value, &r.PValue,
			&r.Threshold, &drifted, &r.Skipped, &r.SampleSize); err != nil {
			return nil, fmt.Errorf("clickhouse at %s: read drift_metrics: %w", o.clickhouse.Addr, err)
		}
		r.Drifted = drifted == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse at %s: read drift_metrics: %w", o.clickhouse.Addr, err)
	}
	return out, nil
}
