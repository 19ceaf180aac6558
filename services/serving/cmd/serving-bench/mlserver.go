package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// mlserverRequirements is MLServer's pinned environment, apart from the
// tests' one.
const mlserverRequirements = "deploy/local/python/bench-mlserver.txt"

// mlserver is a running MLServer.
type mlserver struct {
	proc *proc
	addr string // host:port of its HTTP API
}

// startMLServer starts MLServer (its settings as shipped, but for the
// ports) serving the benchmark's LightGBM model as "gbdt". It returns nil
// and prints why when the virtual environment cannot be built; any other
// failure, MLServer not starting or not loading the model within three
// minutes included, is an error.
func (b *bench) startMLServer(ctx context.Context, root string, out io.Writer) (*mlserver, error) {
	python := b.o.python
	if python == "" {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, filepath.Join(root, "deploy/local/pyenv.sh"), "ensure", filepath.Join(root, mlserverRequirements))
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
		got, err := cmd.Output()
		if err != nil {
			fmt.Fprintf(out, "serving-bench: MLServer SKIPPED: its virtual environment (%s) could not be built: %v\n%s\n", mlserverRequirements, err, lastLines(stderr.String(), 10))
			return nil, nil
		}
		python = strings.TrimSpace(string(got))
	}
	mlserverBin := filepath.Join(filepath.Dir(python), "mlserver")
	if _, err := os.Stat(mlserverBin); err != nil {
		return nil, fmt.Errorf("mlserver: the environment of %s has no mlserver command: %w", python, err)
	}
	dir := filepath.Join(b.tmp, "mlserver")
	modelDir := filepath.Join(dir, "gbdt")
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gbdtModel))
	if err != nil {
		return nil, err
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	files := map[string]any{
		filepath.Join(dir, "settings.json"): map[string]any{"host": "127.0.0.1", "http_port": ports[0], "grpc_port": ports[1], "metrics_port": ports[2]},
		filepath.Join(modelDir, "model-settings.json"): map[string]any{"name": "gbdt", "implementation": "mlserver_lightgbm.LightGBMModel",
			"parameters": map[string]any{"uri": "./model.txt", "version": "v1"}},
	}
	for path, v := range files {
		j, _ := json.Marshal(v)
		if err := os.WriteFile(path, j, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(modelDir, "model.txt"), text, 0o644); err != nil {
		return nil, err
	}
	p, err := startProc("mlserver", b.tmp, nil, mlserverBin, "start", dir)
	if err != nil {
		return nil, fmt.Errorf("mlserver: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	url := "http://" + addr
	t0 := time.Now()
	if err := p.waitHTTP(url+"/v2/models/gbdt/ready", 3*time.Minute); err != nil {
		p.stop()
		return nil, fmt.Errorf("MLServer did not start: %w", err)
	}
	fmt.Fprintf(out, "serving-bench: MLServer (%s) ready in %v\n", mlserverBin, time.Since(t0).Round(100*time.Millisecond))
	return &mlserver{proc: p, addr: addr}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
