package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/model/registrytest"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// The fixtures of the service tests: an embedded nats-server with
// JetStream, the real registry (its binary, built once) on it, and the
// serving service in-process.

// stack is the real registry on an embedded nats-server.
type stack struct{ *registrytest.Registry }

// startStack starts nats-server and the registry.
func startStack(t *testing.T) *stack { return &stack{registrytest.Start(t)} }

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ridgeModel is a tributary model file of a ridge regression that predicts
// offset + Σ x_j over features named names (trained on an exact plane).
func ridgeModel(t testing.TB, names []string, offset float64) []byte {
	t.Helper()
	const rows = 64
	d := &learn.Dataset{Rows: rows, Cols: len(names), Features: names}
	for i := range rows {
		sum := offset
		for j := range names {
			x := float64((i*(j+3))%17) - 8
			d.X = append(d.X, x)
			sum += x
		}
		d.Y = append(d.Y, sum)
	}
	m, err := linear.TrainRidge(context.Background(), d, linear.RidgeConfig{Alpha: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := modelfile.Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func numeric() model.Distribution { return model.NewNumeric([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4) }

// register stores an artifact and registers it.
func (s *stack) register(t testing.TB, name, format string, refs []string, defs map[string]string, artifact []byte) model.Version {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := s.Client.PutArtifact(ctx, bytes.NewReader(artifact))
	if err != nil {
		t.Fatal(err)
	}
	ref := model.Reference{Features: map[string]model.Distribution{}, Prediction: numeric()}
	for _, r := range refs {
		ref.Features[r] = numeric()
	}
	v, err := s.Client.Register(ctx, model.RegisterRequest{Model: name, Format: format, Artifact: a, Actor: "test",
		Lineage: model.Lineage{TrainingSetID: "ds", TrainingSetSHA256: strings.Repeat("ab", 32), Features: refs, FeatureDefinitions: defs,
			Trainer: "ridge", CodeVersion: "test", Metrics: map[string]float64{}, Reference: ref, Trigger: event.TriggerManual}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (s *stack) move(t testing.TB, name, alias string, version int, weight *float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: alias, Version: version, Weight: weight, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// startServing runs the service on the stack.
func startServing(t *testing.T, s *stack, args ...string) *servicetest.Process {
	t.Helper()
	p := servicetest.Start(t, program(), append([]string{"-nats.url", s.NATSURL}, args...)...)
	p.WaitReady(60 * time.Second)
	return p
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func postJSON(t testing.TB, url string, body any, header ...string) (int, []byte, http.Header) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// servedVersion polls /v1/models until alias of name serves version.
func servedVersion(t testing.TB, p *servicetest.Process, name, alias string, version int) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		_, body := p.Get("/v1/models")
		var resp struct {
			Models []struct {
				Name    string `json:"name"`
				Aliases []struct {
					Alias   string `json:"alias"`
					Version int    `json:"version"`
				} `json:"aliases"`
			} `json:"models"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return err
		}
		for _, m := range resp.Models {
			for _, a := range m.Aliases {
				if m.Name == name && a.Alias == alias && a.Version == version {
					return nil
				}
			}
		}
		return fmt.Errorf("%s %s not at version %d: %s", name, alias, version, body)
	})
}
