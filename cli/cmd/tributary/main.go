// Command tributary is the command-line client of the Tributary platform.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		// Each subcommand is added here by name.
		"check": {summary: "wait until Kafka, NATS, Redis and ClickHouse answer real requests", run: runCheck},

		"datasets":  {summary: "build a point-in-time training set (dataset.requested over NATS, Parquet from the object store)", run: runDatasets},
		"generate":  {summary: "stream a seeded card-transaction workload (transactions, delayed fraud labels, optional drift) into ingest", run: runGenerate},
		"features":  {summary: "apply or list feature definitions (NATS KV bucket tributary_features)", run: runFeatures},
		"bootstrap": {summary: "create the Kafka topics and the NATS JetStream stream, buckets and object store", run: runBootstrap},
		"migrate":   {summary: "apply the ClickHouse migrations", run: runMigrate},
		"models":    {summary: "apply training specs; list, show, register, alias, roll back, archive and download models (registry HTTP API)", run: runModels},
		"runs":      {summary: "list, show and compare tracked training runs (trainer HTTP API)", run: runRuns},
		"streams":   {summary: "apply, list or delete stream definitions (NATS KV bucket tributary_schemas)", run: runStreams},
		"train":     {summary: "ask the trainer to train a model (train.requested over NATS), -wait to follow the job", run: runTrain},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tributary: unknown command %q (run 'tributary help')\n", args[0])
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "tributary %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "Usage: tributary <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tributary <command> -h' for the flags of a command.")
}
