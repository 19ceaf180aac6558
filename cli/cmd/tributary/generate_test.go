package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseGenerateFlags(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name, err string
		args      []string
		env       map[string]string
		check     func(t *testing.T, o generateOptions)
	}{
		{name: "defaults", check: func(t *testing.T, o generateOptions) {
			if o.stream.Rate != 20 || o.workload.Seed != 1 || !o.stream.DriftAt.IsZero() || o.workload.IDPrefix != "txn-20261201T120000" {
				t.Errorf("%+v", o)
			}
		}},
		{name: "drift after", args: []string{"-drift-after", "90s", "-rate", "5", "-seed", "9", "-run-id", "r1"}, check: func(t *testing.T, o generateOptions) {
			if !o.stream.DriftAt.Equal(now.Add(90*time.Second)) || o.stream.Rate != 5 || o.workload.Seed != 9 || o.workload.IDPrefix != "txn-r1" {
				t.Errorf("%+v", o)
			}
		}},
		{name: "drift at", args: []string{"-drift-at", "2026-12-01T13:00:00Z"}, check: func(t *testing.T, o generateOptions) {
			if !o.stream.DriftAt.Equal(now.Add(time.Hour)) {
				t.Errorf("drift at %v", o.stream.DriftAt)
			}
		}},
		{name: "env", env: map[string]string{"TRIBUTARY_INGEST_URL": "http://ingest:8081", "TRIBUTARY_RATE": "2"}, check: func(t *testing.T, o generateOptions) {
			if o.ingestURL != "http://ingest:8081" || o.stream.Rate != 2 {
				t.Errorf("%+v", o)
			}
		}},
		{name: "bad drift at", args: []string{"-drift-at", "noon"}, err: `-drift-at "noon"`},
		{name: "serving without model", args: []string{"-serving.url", "http://s"}, err: "go together"},
		{name: "zero rate", args: []string{"-rate", "0"}, err: "rate 0"},
		{name: "unlabelled", args: []string{"-unlabelled", "2"}, err: "unlabelled share 2"},
		{name: "argument", args: []string{"x"}, err: `unexpected argument "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := noEnv
			if tc.env != nil {
				env = func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			}
			var out bytes.Buffer
			o, err := parseGenerateFlags(tc.args, env, &out, now)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

// TestGenerate runs the command against a fake ingest to its -limit: every
// transaction and the labels are posted, and the counts printed.
func TestGenerate(t *testing.T) {
	var mu sync.Mutex
	types := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&batch)
		var res []map[string]string
		mu.Lock()
		for _, e := range batch {
			types[e["type"].(string)]++
			res = append(res, map[string]string{"id": e["id"].(string), "status": "accepted"})
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"results": res})
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, []string{"generate", "-ingest.url", srv.URL, "-rate", "400", "-limit", "200", "-label-delay", "200ms", "-unlabelled", "0", "-report", "0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if types["com.example.cards.transaction.v1"] != 200 || types["tributary.label.recorded.v1"] != 200 {
		t.Errorf("ingest got %v", types)
	}
	if !strings.Contains(stdout.String(), "transactions 200 (accepted 200") || !strings.Contains(stdout.String(), "labels sent 200, pending 0, never 0") {
		t.Errorf("output %s", stdout.String())
	}
}
