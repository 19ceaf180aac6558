package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/schemas"
)

// migrateOptions is the configuration of the migrate command.
type migrateOptions struct {
	clickhouse chx.Config
	timeout    time.Duration
}

// parseMigrateFlags parses the command line of the migrate command.
func parseMigrateFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (migrateOptions, error) {
	var o migrateOptions
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintln(output, "Usage: tributary migrate [-timeout 2m] [clickhouse flags]")
		fmt.Fprintln(output)
		fmt.Fprintln(output, "Applies the ClickHouse migrations (schemas/clickhouse) that the database")
		fmt.Fprintln(output, "-clickhouse.database lacks, creating it when missing, and prints each one")
		fmt.Fprintln(output, "applied. Safe to run again and from several places at once. Every flag can")
		fmt.Fprintln(output, "also be set with its TRIBUTARY_* environment variable (clickhouse.addr:")
		fmt.Fprintln(output, "TRIBUTARY_CLICKHOUSE_ADDR).")
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	o.clickhouse.RegisterFlags(fs)
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "Give up after this long.")
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return migrateOptions{}, err
	}
	if fs.NArg() > 0 {
		return migrateOptions{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.clickhouse.Validate(); err != nil {
		return migrateOptions{}, err
	}
	if o.timeout <= 0 {
		return migrateOptions{}, errors.New("-timeout: must be positive")
	}
	return o, nil
}

// runMigrate is the migrate command.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseMigrateFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return migrate(ctx, o, stdout, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// migrate applies the migrations and prints what it did.
func migrate(ctx context.Context, o migrateOptions, stdout io.Writer, logger *slog.Logger) (err error) {
	conn, err := chx.Open(o.clickhouse)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close clickhouse connection: %w", cerr)
		}
	}()
	start := time.Now()
	applied, err := chx.Migrate(ctx, conn, o.clickhouse.Database, schemas.ClickHouseMigrations(), logger)
	if err != nil {
		return fmt.Errorf("migrate %s at %s: %w", o.clickhouse.Database, o.clickhouse.Addr, err)
	}
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %s\n", m.File)
	}
	took := time.Since(start).Round(time.Millisecond)
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "database %s is up to date (%s, %s)\n", o.clickhouse.Database, o.clickhouse.Addr, took)
		return nil
	}
	fmt.Fprintf(stdout, "database %s migrated: %d applied in %s (%s)\n", o.clickhouse.Database, len(applied), took, o.clickhouse.Addr)
	return nil
}
