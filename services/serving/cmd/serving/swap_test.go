package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
)

type inferAnswer struct {
	ModelVersion string `json:"model_version"`
	Outputs      []struct {
		Name string    `json:"name"`
		Data []float64 `json:"data"`
	} `json:"outputs"`
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

func infer(t testing.TB, url string, rows [][]float64) (int, inferAnswer) {
	t.Helper()
	flat := []float64{}
	for _, r := range rows {
		flat = append(flat, r...)
	}
	code, body, _ := postJSON(t, url, map[string]any{"inputs": []map[string]any{{"name": "input", "shape": []int{len(rows), len(rows[0])}, "datatype": "FP64", "data": flat}}})
	var a inferAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer %d %s: %v", code, body, err)
	}
	return code, a
}

// TestHotSwapUnderLoad moves production ten times while clients predict
// without pause: no request fails, and each answer is one version's.
func TestHotSwapUnderLoad(t *testing.T) {
	s := startStack(t)
	name := "swap-" + randomID()
	refs := []string{"req:a", "req:b"}
	var versions []model.Version
	for k := 1; k <= 11; k++ {
		versions = append(versions, s.register(t, name, "tributary", refs, nil, ridgeModel(t, []string{"req:a", "req:b"}, float64(100*k))))
	}
	s.move(t, name, "production", versions[0].Version, nil)
	p := startServing(t, s, "-serving.online-features=false")
	servedVersion(t, p, name, "production", versions[0].Version)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, a := infer(t, p.URL+"/v2/models/"+name+"/infer", [][]float64{{1, 2}})
				if code != 200 || len(a.Outputs) == 0 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %s", code, a.Reason, a.Error))
					continue
				}
				got := a.Outputs[0].Data[0]
				k := math.Round((got - 3) / 100)
				if k < 1 || k > 11 || math.Abs(got-(100*k+3)) > 1e-6 || a.ModelVersion != fmt.Sprint(versions[int(k)-1].Version) {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("answer %v from version %s", got, a.ModelVersion))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for _, v := range versions[1:] {
		before := ok.Load()
		s.move(t, name, "production", v.Version, nil)
		servedVersion(t, p, name, "production", v.Version)
		testkit.Eventually(t, 10*time.Second, func() error { // traffic keeps flowing across the swap
			if ok.Load() < before+20 {
				return fmt.Errorf("%d answers since the move", ok.Load()-before)
			}
			return nil
		})
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during 10 swaps; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	t.Logf("%d requests, 10 swaps, 0 errors", ok.Load())
	_, metrics := p.Get("/metrics")
	if !strings.Contains(string(metrics), `tributary_serving_alias_swaps_total{alias="production"} 11`) {
		t.Errorf("swap metric missing: %s", grep(string(metrics), "swaps"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFailedLoadAndArchive: a version that fails to load leaves the
// previous one serving and shows in /v1/models and the metrics; an
// archived version is dropped; errors have their statuses.
func TestFailedLoadAndArchive(t *testing.T) {
	s := startStack(t)
	name := "fail-" + randomID()
	refs := []string{"req:a", "req:b"}
	v1 := s.register(t, name, "tributary", refs, nil, ridgeModel(t, []string{"a", "b"}, 100))
	bad := s.register(t, name, "tributary", refs, nil, ridgeModel(t, []string{"x", "y"}, 200)) // features differ from the lineage
	v3 := s.register(t, name, "tributary", refs, nil, ridgeModel(t, []string{"req__a", "req__b"}, 300))
	s.move(t, name, "production", v1.Version, nil)
	// No Redis at all: nothing listens on port 1.
	p := startServing(t, s, "-serving.online-features=false", "-redis.addr=127.0.0.1:1")
	servedVersion(t, p, name, "production", v1.Version)
	if checks := p.Checks(); len(checks) != 4 { // kafka, nats, bootstrap, models
		t.Errorf("readiness checks without Redis: %v", checks)
	}
	if _, ok := p.Checks()["redis"]; ok {
		t.Error("a redis readiness check without online features")
	}
	if code, body, _ := postJSON(t, p.URL+"/v1/predict/"+name, map[string]any{"entities": []any{"u1"}}); code != 503 || !strings.Contains(string(body), "online_store_disabled") {
		t.Errorf("predict without Redis: %d %s", code, body)
	}

	s.move(t, name, "production", bad.Version, nil)
	testkit.Eventually(t, 30*time.Second, func() error {
		_, body := p.Get("/v1/models")
		if !strings.Contains(string(body), `"reason":"feature_mismatch"`) {
			return fmt.Errorf("no failure in %s", body)
		}
		return nil
	})
	if code, a := infer(t, p.URL+"/v2/models/"+name+"/infer", [][]float64{{1, 2}}); code != 200 || a.Outputs[0].Data[0] != 103 && math.Abs(a.Outputs[0].Data[0]-103) > 1e-6 {
		t.Errorf("after a failed load production answers %d %+v, want version 1's 103", code, a)
	}
	code, a := infer(t, p.URL+fmt.Sprintf("/v2/models/%s/versions/%d/infer", name, bad.Version), [][]float64{{1, 2}})
	if code != 503 || a.Reason != "version_not_loaded" || !strings.Contains(a.Error, "feature_mismatch") {
		t.Errorf("the failed version: %d %+v", code, a)
	}
	_, metrics := p.Get("/metrics")
	if !strings.Contains(string(metrics), `tributary_serving_model_loads_total{outcome="feature_mismatch"} 1`) {
		t.Errorf("failure not counted: %s", grep(string(metrics), "model_loads"))
	}

	s.move(t, name, "production", v3.Version, nil)
	servedVersion(t, p, name, "production", v3.Version)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client.Archive(ctx, model.ArchiveRequest{Model: name, Version: v1.Version, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		code, a := infer(t, p.URL+fmt.Sprintf("/v2/models/%s/versions/%d/infer", name, v1.Version), [][]float64{{1, 2}})
		if code != 503 || !strings.Contains(a.Error, "archived") {
			return fmt.Errorf("archived version: %d %+v", code, a)
		}
		return nil
	})
	for _, c := range []struct {
		path   string
		code   int
		reason string
	}{
		{"/v2/models/nosuch-" + randomID() + "/infer", 404, "unknown_model"},
		{fmt.Sprintf("/v2/models/%s/versions/99/infer", name), 404, "unknown_version"},
		{fmt.Sprintf("/v2/models/%s/versions/staging/infer", name), 404, "unknown_version"},
	} {
		if code, a := infer(t, p.URL+c.path, [][]float64{{1, 2}}); code != c.code || a.Reason != c.reason {
			t.Errorf("%s: %d %+v, want %d %s", c.path, code, a, c.code, c.reason)
		}
	}
	if code, a := infer(t, p.URL+"/v2/models/"+name+"/infer", [][]float64{{1, 2, 3}}); code != 400 || a.Reason != "bad_tensor_shape" {
		t.Errorf("wrong shape: %d %+v", code, a)
	}
}
