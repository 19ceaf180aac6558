package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
)

// constant predicts its value whatever the row.
type constant float64

func (c constant) Outputs() int               { return 1 }
func (c constant) Predict(row, out []float64) { out[0] = float64(c) }

func loaded(version int, value float64) *models.Loaded {
	return models.NewLoaded("m", version, "tributary", []string{"v:x"}, learn.TaskRegression, constant(value))
}

func snapshot(weight float64, shadow bool) *models.Snapshot {
	prod, canary := loaded(1, 1), loaded(2, 2)
	m := &models.Model{Name: "m", Routes: map[string]*models.Route{
		AliasProduction: {Alias: AliasProduction, Model: prod},
		AliasCanary:     {Alias: AliasCanary, Model: canary, Weight: &weight},
		"ab-b":          {Alias: "ab-b", Model: canary},
	}, Loaded: map[int]*models.Loaded{1: prod, 2: canary}, Known: map[int]model.Status{1: "active", 2: "active"},
		Wanted: map[string]int{AliasProduction: 1, AliasCanary: 2, "ab-b": 2}}
	if shadow {
		sh := loaded(3, 3)
		m.Routes[AliasShadow] = &models.Route{Alias: AliasShadow, Model: sh}
		m.Loaded[3] = sh
	}
	return &models.Snapshot{Models: map[string]*models.Model{"m": m}}
}

// TestCanarySplit checks the observed canary share against its weight
// within a binomial bound (4.5 standard deviations), and that a key keeps
// its route.
func TestCanarySplit(t *testing.T) {
	for _, w := range []float64{0.05, 0.2, 0.5} {
		m := snapshot(w, false).Models["m"]
		const n = 20000
		canary := 0
		for i := range n {
			_, route, err := choose(m, fmt.Sprintf("user-%d", i), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if route == AliasCanary {
				canary++
			}
			if _, again, _ := choose(m, fmt.Sprintf("user-%d", i), "", nil); again != route {
				t.Fatalf("key user-%d took %s, then %s", i, route, again)
			}
		}
		sd := math.Sqrt(n * w * (1 - w))
		if d := math.Abs(float64(canary) - n*w); d > 4.5*sd {
			t.Errorf("weight %v: %d of %d to canary, expected %.0f ± %.0f", w, canary, n, n*w, 4.5*sd)
		}
	}
	m := snapshot(0.3, false).Models["m"]
	if _, route, _ := choose(m, "k", AliasCanary, nil); route != AliasCanary {
		t.Errorf("header route: %s", route)
	}
	counts := map[string]int{}
	for i := range 10000 {
		_, route, err := choose(m, fmt.Sprint(i), "", []string{AliasProduction, "ab-b"})
		if err != nil {
			t.Fatal(err)
		}
		counts[route]++
	}
	if sd := math.Sqrt(10000 * 0.25); math.Abs(float64(counts["ab-b"])-5000) > 4.5*sd {
		t.Errorf("A/B arms split %v", counts)
	}
	if _, _, err := choose(m, "k", "nosuch", nil); err == nil || err.(*apiError).status != 404 {
		t.Errorf("unknown route: %v", err)
	}
}

type memLog struct {
	mu   sync.Mutex
	recs []event.PredictionLogged
}

func (l *memLog) Log(r event.PredictionLogged) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

func (l *memLog) all() []event.PredictionLogged {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event.PredictionLogged(nil), l.recs...)
}

type fakeFetch struct{}

func (fakeFetch) Fetch(_ context.Context, refs []string, ents []online.Entity, _ int64) ([]online.Row, error) {
	rows := make([]online.Row, len(ents))
	for i := range rows {
		rows[i] = online.Row{Values: make([]float64, len(refs)), Missing: make([]bool, len(refs)), Ages: []float64{2}, Freshest: 2, Stalest: 2}
	}
	return rows, nil
}

func newAPI(t *testing.T, snap *models.Snapshot, cfg Config, f Fetcher, log PredictionLogger) *httptest.Server {
	a := New(cfg, func() *models.Snapshot { return snap }, func() bool { return true }, f, log, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	mux := http.NewServeMux()
	a.Register(mux.Handle)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestShadowIsLoggedNotReturned: the shadow's result is in the log
// (shadow: true), never in the answer.
func TestShadowIsLoggedNotReturned(t *testing.T) {
	log := &memLog{}
	srv := newAPI(t, snapshot(0, true), Config{}, fakeFetch{}, log)
	resp, err := http.Post(srv.URL+"/v1/predict/m", "application/json", strings.NewReader(`{"entities":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var a PredictResponse
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, r := range a.Results {
		if r.Prediction != 1 || r.Route != AliasProduction {
			t.Errorf("answer %+v: want production's 1", r)
		}
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		recs := log.all()
		shadow := 0
		for _, r := range recs {
			if r.Shadow && r.Prediction == 3 && r.Alias == AliasShadow && r.Version == 3 {
				shadow++
			}
		}
		if len(recs) != 4 || shadow != 2 {
			return fmt.Errorf("log %+v", recs)
		}
		return nil
	})
}

// blocking holds every fetch until released, telling when one started.
type blocking struct{ started, release chan struct{} }

func (b blocking) Fetch(ctx context.Context, refs []string, ents []online.Entity, asOf int64) ([]online.Row, error) {
	b.started <- struct{}{}
	<-b.release
	return fakeFetch{}.Fetch(ctx, refs, ents, asOf)
}

// TestOverloadSheds: beyond MaxInFlight a request is refused at once with
// 503 overloaded and Retry-After.
func TestOverloadSheds(t *testing.T) {
	b := blocking{started: make(chan struct{}, 2), release: make(chan struct{})}
	srv := newAPI(t, snapshot(0, false), Config{MaxInFlight: 2}, b, &memLog{})
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(srv.URL+"/v1/predict/m", "application/json", strings.NewReader(`{"entities":["a"]}`))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	defer wg.Wait()
	defer close(b.release)
	for range 2 { // both slots are taken
		select {
		case <-b.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the first requests did not start")
		}
	}
	resp, err := client.Post(srv.URL+"/v1/predict/m", "application/json", strings.NewReader(`{"entities":["a"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte(`"reason":"overloaded"`)) {
		t.Errorf("third request: %d %s", resp.StatusCode, body)
	}
}

// gateLog blocks each Log until the gate opens (or 10s pass).
type gateLog struct {
	gate chan struct{}
	memLog
}

func (l *gateLog) Log(r event.PredictionLogged) {
	select {
	case <-l.gate:
	case <-time.After(10 * time.Second):
	}
	l.memLog.Log(r)
}

// TestAnswerBeforeLog: the answer reaches the caller whole while the
// prediction log is still taking the records (they are off the response's
// path), for /v1/predict and for OIP infer.
func TestAnswerBeforeLog(t *testing.T) {
	for _, c := range []struct{ path, body string }{
		{"/v1/predict/m", `{"entities":["a"]}`},
		{"/v2/models/m/infer", `{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP64","data":[1]}]}`},
	} {
		log := &gateLog{gate: make(chan struct{})}
		srv := newAPI(t, snapshot(0, false), Config{}, fakeFetch{}, log)
		t0 := time.Now()
		resp, err := http.Post(srv.URL+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		close(log.gate)
		if err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
			t.Fatalf("%s: %d %s (%v), Content-Length %d", c.path, resp.StatusCode, body, err, resp.ContentLength)
		}
		if took > 5*time.Second {
			t.Errorf("%s: the answer took %v: it waited for the prediction log", c.path, took)
		}
		testkit.Eventually(t, 5*time.Second, func() error {
			if n := len(log.all()); n != 1 {
				return fmt.Errorf("%d records logged, want 1", n)
			}
			return nil
		})
	}
}
