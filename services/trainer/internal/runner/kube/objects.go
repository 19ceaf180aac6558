package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Environment of the Job's containers besides the training code contract:
// where the helper finds the object store and the run's objects.
const (
	EnvNATSURL      = "TRIBUTARY_NATS_URL"
	EnvNATSCreds    = "TRIBUTARY_NATS_CREDS_FILE"
	EnvObjectBucket = "TRIBUTARY_OBJECT_BUCKET"
	EnvObjectPrefix = "TRIBUTARY_OBJECT_PREFIX"
)

// Objects of a run, under its prefix (trainer/runs/<run id>/).
const (
	ObjectTrain     = "train.parquet"
	ObjectHoldout   = "holdout.parquet"
	ObjectOutputDir = "out/"
)

// Bounds on what a pod uploads.
const (
	maxOutputFiles = 32
	maxOutputBytes = 1 << 30
)

// putFile stores the file at path as the object name.
func putFile(ctx context.Context, store jetstream.ObjectStore, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := store.Put(ctx, jetstream.ObjectMeta{Name: name}, f); err != nil {
		return fmt.Errorf("put object %s: %w", name, err)
	}
	return nil
}

// Fetch is the pod's first step: it downloads the run's training set (and
// holdout, when holdoutPath is set) from the object store under prefix.
func Fetch(ctx context.Context, store jetstream.ObjectStore, prefix, trainPath, holdoutPath string) error {
	for _, f := range []struct{ object, path string }{{ObjectTrain, trainPath}, {ObjectHoldout, holdoutPath}} {
		if f.path == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("make the input directory: %w", err)
		}
		if err := store.GetFile(ctx, prefix+f.object, f.path); err != nil {
			return fmt.Errorf("get object %s: %w", prefix+f.object, err)
		}
	}
	return nil
}

// Upload is the pod's last step: it stores every regular file of dir (not
// its subdirectories) under prefix+"out/".
func Upload(ctx context.Context, store jetstream.ObjectStore, prefix, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read the output directory: %w", err)
	}
	var files []string
	var total int64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", e.Name(), err)
		}
		total += info.Size()
		files = append(files, e.Name())
	}
	if len(files) > maxOutputFiles || total > maxOutputBytes {
		return fmt.Errorf("the output directory has %d files of %d bytes: at most %d files of %d bytes are uploaded", len(files), total, maxOutputFiles, maxOutputBytes)
	}
	for _, name := range files {
		if err := putFile(ctx, store, prefix+ObjectOutputDir+name, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// download gets the run's outputs into dir.
func download(ctx context.Context, store jetstream.ObjectStore, prefix, dir string) ([]string, error) {
	objs, err := listPrefix(ctx, store, prefix+ObjectOutputDir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range objs {
		name := strings.TrimPrefix(o, prefix+ObjectOutputDir)
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			continue
		}
		if err := store.GetFile(ctx, o, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("get object %s: %w", o, err)
		}
		names = append(names, name)
	}
	return names, nil
}

// listPrefix lists the names of the objects under prefix.
func listPrefix(ctx context.Context, store jetstream.ObjectStore, prefix string) ([]string, error) {
	infos, err := store.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	var names []string
	for _, o := range infos {
		if strings.HasPrefix(o.Name, prefix) && !o.Deleted {
			names = append(names, o.Name)
		}
	}
	return names, nil
}
