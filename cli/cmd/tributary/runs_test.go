package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeTrainer answers the trainer's runs routes with bodies in the shape
// services/trainer/internal/runsapi writes, and records the requests.
type fakeTrainer struct {
	mu       sync.Mutex
	requests []string
}

const runA = `{"id":"aaaa1111","experiment_id":"0","name":"nightly","status":"FINISHED","start_time":1764583200000,"end_time":1764583290000,
"lifecycle_stage":"active","params":{"lr":"0.1","depth":"3"},"tags":{"mlflow.runName":"nightly"},
"metrics":{"auc":{"key":"auc","value":0.91,"timestamp":1764583280000,"step":4,"dataset":"holdout"},"loss":{"key":"loss","value":"NaN","timestamp":1764583280000,"step":4}},
"model":"fraud","job_id":"job-1","trigger":"schedule","seed":42,"trainer":"logistic","code_version":"abc123",
"training_set":{"id":"ds-1","sha256":"` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `","labels_from":"2026-11-01T00:00:00Z","labels_to":"2026-11-30T00:00:00Z","rows":1000},
"feature_definitions":{"txn":"v3"},"log":{"stdout":{"data":"epoch\t1\nepoch\t2\n","dropped":10},"stderr":{}},
"artifacts":[{"name":"model.json","sha256":"ffffffffffffffffffff","size":123}],"updated_at":1764583290000}`

const runB = `{"id":"bbbb2222","experiment_id":"0","name":"tuned","status":"RUNNING","start_time":1764583300000,"lifecycle_stage":"active",
"params":{"lr":"0.2"},"metrics":{"auc":{"key":"auc","value":0.93,"timestamp":1,"step":1}},"model":"fraud","log":{"stdout":{},"stderr":{}},"updated_at":1}`

func (f *fakeTrainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/v1/runs":
		io.WriteString(w, `{"runs":[`+runB+`,`+runA+`],"truncated":true}`)
	case r.URL.Path == "/v1/runs/compare" && r.URL.Query().Get("ids") == "aaaa1111,bbbb2222":
		io.WriteString(w, `{"params":["depth","lr"],"metrics":["auc","loss"],"runs":[
{"id":"aaaa1111","name":"nightly","model":"fraud","status":"FINISHED","start_time":1,"params":{"depth":"3","lr":"0.1"},"metrics":{"auc":0.91,"loss":"NaN"}},
{"id":"bbbb2222","name":"tuned","model":"fraud","status":"RUNNING","start_time":2,"params":{"lr":"0.2"},"metrics":{"auc":0.93}}]}`)
	case r.URL.Path == "/v1/runs/aaaa1111":
		io.WriteString(w, runA)
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"id":"not_found","message":"no run with id nope"}}`)
	}
}

func runRunsCmd(t *testing.T, url string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) (string, bool) {
		if k == "TRIBUTARY_TRAINER_URL" {
			return url, true
		}
		return "", false
	}
	err := runsCmd(context.Background(), args, env, http.DefaultClient, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRunsCommand(t *testing.T) {
	f := &fakeTrainer{}
	srv := httptest.NewServer(f)
	defer srv.Close()

	out, _, err := runRunsCmd(t, srv.URL, "list", "-model", "fraud", "-status", "finished", "-limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RUN", "bbbb2222", "aaaa1111", "nightly", "FINISHED", "1m30s", "schedule", "auc=0.91 loss=NaN", "more runs match"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	if got := f.requests[0]; got != "GET /v1/runs?limit=2&model=fraud&status=FINISHED" {
		t.Errorf("list asked %s", got)
	}

	out, _, err = runRunsCmd(t, srv.URL, "show", "aaaa1111")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Model:", "fraud", "Seed:", "42", "ds-1 (sha256 0123456789abcdef", "1000 rows, labels 2026-11-01T00:00:00Z to 2026-11-30T00:00:00Z",
		"Feature view:", "txn at v3", "Code version:", "abc123", "lr", "0.1", "holdout", "model.json",
		"--- stdout (last 16 bytes, 10 earlier bytes dropped) ---\nepoch\t1\nepoch\t2\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--- stderr") {
		t.Errorf("show printed an empty stderr:\n%s", out)
	}

	// Ids as arguments, comma-separated or both.
	for _, args := range [][]string{{"compare", "aaaa1111", "bbbb2222"}, {"compare", "aaaa1111,bbbb2222"}} {
		out, _, err = runRunsCmd(t, srv.URL, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("%v: %d lines:\n%s", args, len(lines), out)
		}
		if f := strings.Fields(lines[0]); strings.Join(f, " ") != "RUN NAME MODEL STATUS param:depth param:lr metric:auc metric:loss" {
			t.Errorf("compare header %q", lines[0])
		}
		if f := strings.Fields(lines[1]); strings.Join(f, " ") != "aaaa1111 nightly fraud FINISHED 3 0.1 0.91 NaN" {
			t.Errorf("compare row %q", lines[1])
		}
		if f := strings.Fields(lines[2]); strings.Join(f, " ") != "bbbb2222 tuned fraud RUNNING - 0.2 0.93 -" {
			t.Errorf("compare row %q", lines[2])
		}
	}

	// -o json prints the trainer's answer.
	out, _, err = runRunsCmd(t, srv.URL, "show", "aaaa1111", "-o", "json")
	var r map[string]any
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || r["code_version"] != "abc123" || r["metrics"].(map[string]any)["loss"].(map[string]any)["value"] != "NaN" {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "nope"}, "no run with id nope (not_found, HTTP 404)"},
		{[]string{"show"}, "show: 0 arguments, want 1 to 1"},
		{[]string{"compare", "aaaa1111"}, "compare: 1 arguments, want 2 to 50"},
		{[]string{"list", "-o", "yaml"}, `-o "yaml": want table or json`},
		{[]string{"list", "-limit", "0"}, "-limit 0"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"list", "-trainer.url", "ftp://x"}, "want an http(s) URL"},
	} {
		if _, _, err := runRunsCmd(t, srv.URL, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestRunsHelp(t *testing.T) {
	_, errOut, err := runRunsCmd(t, "http://127.0.0.1:1", "help")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "compare <run> <run>") || !strings.Contains(errOut, "TRIBUTARY_TRAINER_URL") {
		t.Fatalf("help: %v\n%s", err, errOut)
	}
	_, errOut, err = runRunsCmd(t, "http://127.0.0.1:1", "list", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "-trainer.url") || !strings.Contains(errOut, "-model") {
		t.Fatalf("list -h: %v\n%s", err, errOut)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "runs") {
		t.Fatalf("tributary help lists no runs command (exit %d):\n%s", code, out.String())
	}
}
