package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestBrokerOutage runs the service against a private broker under a steady
// load of single events, stops the broker, and starts it again: meanwhile
// producers get 503 with Retry-After; the producers then send again what got
// 503, and every event, each acknowledged with 202 once, is on the topic
// exactly once.
func TestBrokerOutage(t *testing.T) {
	servicetest.RequireServers(t, "nats")
	if testing.Short() {
		t.Skip("starts a broker")
	}
	k := testkit.StartPrivateKafka(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "outage" + hex.EncodeToString(suffix)
	typ := "com.example." + name + ".v1"
	dir := t.TempDir()
	def := `{"name":"` + name + `","type":"` + typ + `","entity_key":"/user","schema":{"type":"object","required":["user"]}}`
	if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	p := servicetest.Start(t, program(), "-kafka.brokers="+k.Addr, "-auth.disabled", "-streams.dir="+dir,
		"-produce.timeout=2s", "-raw.enabled=false", "-kafka.topic.partitions=2")
	p.WaitReady(60 * time.Second)

	var (
		mu           sync.Mutex
		acked        = map[string]bool{}
		refused      = map[string]string{} // id: body, answered 503
		waited       []time.Duration       // how long each 503 took
		unavailable  atomic.Int64
		afterRestart atomic.Int64
		restarted    atomic.Bool
		seq          atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 15 * time.Second}
			for ctx.Err() == nil {
				id := fmt.Sprintf("ev-%06d", seq.Add(1))
				body := fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/outage","type":"%s","data":{"user":"u%s"}}`, id, typ, id[len(id)-2:])
				start := time.Now()
				resp, err := client.Post(p.URL+"/v1/events", "application/cloudevents+json", bytes.NewReader([]byte(body)))
				if err != nil {
					errs <- err
					return
				}
				herr := httperror.Check(resp)
				resp.Body.Close()
				took := time.Since(start)
				switch resp.StatusCode {
				case http.StatusAccepted:
					mu.Lock()
					acked[id] = true
					mu.Unlock()
					if restarted.Load() {
						afterRestart.Add(1)
					}
				case http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" || httperror.ReasonOf(herr) != reason.Unavailable {
						errs <- fmt.Errorf("503 without Retry-After or reason unavailable: %v", herr)
						return
					}
					mu.Lock()
					refused[id] = body
					waited = append(waited, took)
					mu.Unlock()
					unavailable.Add(1)
				default:
					errs <- fmt.Errorf("event %s: status %d", id, resp.StatusCode)
					return
				}
			}
		}()
	}
	waitUntil := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		err := testkit.Poll(context.Background(), timeout, func(context.Context) error {
			select {
			case err := <-errs:
				stop()
				t.Fatal(err)
			default:
			}
			if !cond() {
				return errors.New("not yet")
			}
			return nil
		})
		if err != nil {
			stop()
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitUntil("acknowledged events before the outage", 30*time.Second, func() bool { return count() >= 200 })
	k.Stop()
	waitUntil("503 answers while the broker is down", 60*time.Second, func() bool { return unavailable.Load() >= 40 })
	k.Start()
	restarted.Store(true)
	waitUntil("acknowledged events after the restart", 90*time.Second, func() bool { return afterRestart.Load() >= 200 })
	stop()
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}

	// A producer that sends again what got 503: some of those records did
	// reach Kafka after the request gave up; the dedup window answers them
	// as duplicates instead of writing them twice.
	retried := 0
	for id, body := range refused {
		for attempt := 0; ; attempt++ {
			resp, err := http.Post(p.URL+"/v1/events", "application/cloudevents+json", bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || attempt > 20 {
				t.Fatalf("retry of %s: status %d", id, resp.StatusCode)
			}
		}
		acked[id] = true
		retried++
	}

	// Every acknowledged event is on the topic exactly once.
	n := count()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr), kgo.ConsumeTopics("tributary.events."+name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		got := 0
		fetches.EachRecord(func(r *kgo.Record) {
			got++
			for _, h := range r.Headers {
				if h.Key == "ce_id" {
					seen[string(h.Value)]++
				}
			}
		})
		if got > 0 {
			quietSince = time.Now()
		}
		complete := true
		for id := range acked {
			if seen[id] == 0 {
				complete = false
				break
			}
		}
		if complete && time.Since(quietSince) > 2*time.Second {
			break
		}
	}
	missing, dup := 0, 0
	for id := range acked {
		switch c := seen[id]; {
		case c == 0:
			missing++
		case c > 1:
			dup++
		}
	}
	extra := 0
	for id := range seen {
		if !acked[id] {
			extra++
		}
	}
	t.Logf("acknowledged %d (%d of them after a 503 and a retry), 503 answers %d, on the topic %d distinct", n, retried, unavailable.Load(), len(seen))
	// Fail fast: once the outage is known, a 503 comes within
	// -produce.outage-timeout (500ms), not -produce.timeout (2s).
	slices.Sort(waited)
	median := waited[len(waited)/2]
	t.Logf("503 answers took %v (median), %v (fastest), %v (slowest)", median, waited[0], waited[len(waited)-1])
	if median > time.Second {
		t.Errorf("the median 503 took %v: ingest did not fail fast during the outage", median)
	}
	if missing > 0 || dup > 0 || extra > 0 {
		t.Fatalf("of %d acknowledged events, %d are missing and %d on the topic more than once; %d not acknowledged are on the topic", n, missing, dup, extra)
	}
}
