package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
)

// Steps of the tributary-runner helper in a Job's pod.
const (
	StepFetch  = "fetch"
	StepUpload = "upload"
)

// PodStep runs a step of the helper with the pod's environment (getenv):
// fetch downloads the training set to TRIBUTARY_TRAIN_PATH and the holdout
// to TRIBUTARY_HOLDOUT_PATH and makes TRIBUTARY_OUTPUT_DIR, writable by any
// user; upload stores the files of TRIBUTARY_OUTPUT_DIR. The object store is
// TRIBUTARY_OBJECT_BUCKET on TRIBUTARY_NATS_URL (credentials in
// TRIBUTARY_NATS_CREDS_FILE, if set), the objects under
// TRIBUTARY_OBJECT_PREFIX.
func PodStep(ctx context.Context, step string, getenv func(string) string) error {
	need := func(k string) (string, error) {
		if v := getenv(k); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s is not set", k)
	}
	url, err := need(EnvNATSURL)
	if err != nil {
		return err
	}
	bucket, err := need(EnvObjectBucket)
	if err != nil {
		return err
	}
	prefix, err := need(EnvObjectPrefix)
	if err != nil {
		return err
	}
	out, err := need(exec.EnvOutputDir)
	if err != nil {
		return err
	}
	opts := []nats.Option{nats.Name("tributary-runner " + step), nats.Timeout(10 * time.Second)}
	if creds := getenv(EnvNATSCreds); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to nats %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	store, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		return fmt.Errorf("open object store %s: %w", bucket, err)
	}
	switch step {
	case StepFetch:
		train, err := need(exec.EnvTrainPath)
		if err != nil {
			return err
		}
		if err := Fetch(ctx, store, prefix, train, getenv(exec.EnvHoldoutPath)); err != nil {
			return err
		}
		if err := os.MkdirAll(out, 0o777); err != nil {
			return fmt.Errorf("make the output directory: %w", err)
		}
		// The training image may run as another user than the helper's.
		return os.Chmod(out, 0o777)
	case StepUpload:
		return Upload(ctx, store, prefix, out)
	}
	return errors.New("unknown step " + step + ": want fetch or upload")
}
