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
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		// Each subcommand is added here by name, and to loopCommands or
		// setupCommands below for the help.
		"streams":   {summary: "apply|list|delete   stream definitions: which events ingest accepts", run: runStreams},
		"features":  {summary: "apply|list|get      feature views over streams; read online features", run: runFeatures},
		"datasets":  {summary: "build               a point-in-time-correct training set (Parquet)", run: runDatasets},
		"models":    {summary: "apply|list|show|...  training specs; versions and aliases: promote, rollback, archive", run: runModels},
		"train":     {summary: "MODEL               train a model with its applied spec (-wait follows the job)", run: runTrain},
		"runs":      {summary: "list|show|compare   tracked training runs: params, metrics, lineage", run: runRuns},
		"predict":   {summary: "MODEL ENTITY...     predictions by entity key, with online features", run: runPredict},
		"drift":     {summary: "show [MODEL]        drift figures per model version, feature and window", run: runDrift},
		"status":    {summary: "                    one screen of the whole platform", run: runStatus},
		"check":     {summary: "                    wait until Kafka, NATS, Redis and ClickHouse answer", run: runCheck},
		"bootstrap": {summary: "                    create the Kafka topics and the NATS stream, buckets, object store", run: runBootstrap},
		"migrate":   {summary: "                    apply the ClickHouse migrations", run: runMigrate},
		"generate":  {summary: "                    stream the example's card workload into ingest (transactions, delayed labels, drift)", run: runGenerate},
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

// The order in which the help lists the commands: the loop, then the set-up.
var (
	loopCommands  = []string{"streams", "features", "datasets", "models", "train", "runs", "predict", "drift", "status"}
	setupCommands = []string{"check", "bootstrap", "migrate", "generate"}
)

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: tributary <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The command-line client of Tributary. The loop, in the order a new model goes")
	fmt.Fprintln(w, "through it (README.md walks through it):")
	fmt.Fprintln(w)
	for _, n := range loopCommands {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Setting up (the services bootstrap and migrate at start; make run checks the servers):")
	fmt.Fprintln(w)
	for _, n := range setupCommands {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tributary <command> -h' for its actions and flags. Every flag can also be")
	fmt.Fprintln(w, "set with its TRIBUTARY_* environment variable (-serving.url is")
	fmt.Fprintln(w, "TRIBUTARY_SERVING_URL, -nats.url TRIBUTARY_NATS_URL); the defaults are the")
	fmt.Fprintln(w, "addresses of the local stack (ingest :8081, features :8082, trainer :8083,")
	fmt.Fprintln(w, "registry :8084, serving :8085, monitor :8086).")
}
