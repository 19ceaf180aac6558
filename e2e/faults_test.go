package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/e2e/harness"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestLoopFaults streams the card workload through a loop stack of its own
// while each of the six services in turn is killed with SIGKILL and
// started again, then its private Kafka is stopped for 20 s, then its
// private NATS for 20 s; training jobs and alias moves are asked for
// between the faults. Afterwards every transaction and label ingest
// accepted, and every prediction serving answered, is in ClickHouse
// exactly once; the online features of every card equal a recomputation
// from the stored events; every job asked for ended once, with one version
// each; and every alias move that was acknowledged is in the registry.
func TestLoopFaults(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := startLoopStack(t, ctx, loopOptions{})
	n := s.names
	mark := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	w := s.startWorkload(t, 7, 30, 120, 3*time.Second)

	testkit.EventuallyContext(t, 90*time.Second, func(ctx context.Context) error {
		labels, err := s.count(ctx, "SELECT count() FROM tributary.labels FINAL WHERE stream = ?", n.labels)
		if err != nil {
			return err
		}
		if labels < 4000 { // most of the backfill
			return fmt.Errorf("%d labels in ClickHouse", labels)
		}
		return nil
	})
	trainer := s.platform.Service("trainer").BaseURL
	var asked []string
	train := func(id string) {
		t.Helper()
		var started struct {
			Outcome string `json:"outcome"`
		}
		trainerCall(t, ctx, "POST", trainer+"/v1/models/"+n.model+"/train", `{"job_id":"`+id+`","reason":"e2e faults"}`, http.StatusAccepted, &started)
		asked = append(asked, id)
	}
	train("faults-first-" + n.stream)
	s.waitJobDone(t, asked[0], 2*time.Minute)
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		if v, err := s.served(ctx, "production"); err != nil || v != 1 {
			return fmt.Errorf("serving has production at %d (%v)", v, err)
		}
		return nil
	})
	w.pred.open.Store(true)
	mark("version 1 served; faults begin")

	// An alias move the test asked for, acknowledged, must survive.
	var moves []string
	move := func(alias string, version int) {
		t.Helper()
		reason := fmt.Sprintf("e2e faults move %d", len(moves)+1)
		args := []string{"models", "alias", n.model, alias, fmt.Sprint(version), "-actor", "e2e-faults", "-reason", reason}
		if alias == "canary" {
			args = append(args, "-weight", "0.3")
		}
		s.run(t, ctx, args...)
		moves = append(moves, reason)
	}

	pause := func(d time.Duration) {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(d):
		}
	}
	var servingKilled time.Time
	for i, name := range harness.Services {
		// A job in flight when the trainer, the registry or the features
		// service dies.
		if name == "trainer" || name == "registry" || name == "features" {
			train(fmt.Sprintf("faults-%d-%s", i, n.stream))
		}
		pause(time.Second)
		pid := s.platform.Service(name).Pid()
		if name == "serving" {
			servingKilled = time.Now()
		}
		if err := s.platform.Kill(name); err != nil {
			t.Fatal(err)
		}
		pause(time.Second)
		if err := s.platform.Restart(ctx, name, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		mark(fmt.Sprintf("%s killed (pid %d) and ready again", name, pid))
		if name == "registry" {
			move("canary", 1)
		}
	}
	for _, broker := range []string{"kafka", "nats"} {
		if broker == "nats" {
			// NATS goes away with no job in flight. A job that was at
			// its training set's answer or download when it went away
			// once never ended, and held the trainer's shutdown (CI,
			// 1 December 2026: the job asked 0.1 s before the outage);
			// that case is not fixed, and not what this test is for.
			waitJobsEnded(t, s)
		}
		if err := s.brokers.Down(ctx, broker); err != nil {
			t.Fatal(err)
		}
		down := time.Now()
		pause(20 * time.Second)
		if err := s.brokers.Up(ctx, broker); err != nil {
			t.Fatal(err)
		}
		mark(fmt.Sprintf("%s down for %v, up again", broker, time.Since(down).Round(time.Second)))
		// The services find it again by themselves.
		if err := s.platform.WaitReady(ctx, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		mark("six services ready")
		train("faults-after-" + broker + "-" + n.stream)
	}
	move("production", 1)
	// Some more traffic on the recovered stack, then stop.
	before, _ := w.pred.counts()
	testkit.EventuallyContext(t, 60*time.Second, func(context.Context) error {
		if now, _ := w.pred.counts(); now < before+100 {
			return fmt.Errorf("%d predictions since recovery", now-before)
		}
		return nil
	})
	// Every job asked for ends, while the workload still streams (a job's
	// training set is the labels before its start).
	jobs := waitJobsEnded(t, s)
	mark("every job ended")
	w.halt(t)
	mark("workload stopped")

	// Refusals: none. Ingest answers 503 (sent again by the generator with
	// the same ids) until its stream catalog is loaded after a restart, so
	// an event of the example's stream is never refused as unknown_type.
	w.mu.Lock()
	txns, labels := len(w.txns), len(w.labels)
	uncertain := map[string]bool{} // none now; waitStored takes ids that may or may not be stored
	refused := len(w.rejected)
	for id, o := range w.rejected {
		t.Errorf("ingest refused %s: %s %s", id, o.Reason, o.Error)
	}
	w.mu.Unlock()
	served, failed := w.pred.counts()
	st := w.stream.Stats()

	// Every accepted transaction and label is stored once.
	for _, c := range []struct {
		what, table, column string
		want                map[string]bool
	}{
		{"transactions", "events", "stream", w.ids(true)},
		{"labels", "labels", "stream", w.ids(false)},
	} {
		stream := n.stream
		if c.table == "labels" {
			stream = n.labels
		}
		s.waitStored(t, c.what, "SELECT event_id FROM tributary."+c.table+" FINAL WHERE "+c.column+" = ?", stream, c.want, uncertain)
		raw, err := s.count(ctx, "SELECT count() FROM tributary."+c.table+" WHERE "+c.column+" = ?", stream)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d accepted, %d stored once (%d rows before replicas collapse)", c.what, len(c.want), len(c.want), raw)
	}
	// Every prediction served is logged once, except those serving
	// answered in the last moments before it was killed: its prediction
	// log goes to Kafka after the answer (a known gap, counted here: a
	// SIGKILL loses the records still in the producer's buffer).
	w.pred.mu.Lock()
	predIDs, atCrash := map[string]bool{}, map[string]bool{}
	for id, at := range w.pred.answered {
		if !at.Before(servingKilled.Add(-5*time.Second)) && !at.After(servingKilled) {
			atCrash[id] = true
		} else {
			predIDs[id] = true
		}
	}
	w.pred.mu.Unlock()
	s.waitStored(t, "predictions", "SELECT prediction_id FROM tributary.prediction_log FINAL WHERE model = ?", n.model, predIDs, atCrash)
	lostAtCrash := 0
	if len(atCrash) > 0 {
		ids := make([]string, 0, len(atCrash))
		for id := range atCrash {
			ids = append(ids, id)
		}
		logged, err := s.count(ctx, "SELECT count() FROM tributary.prediction_log FINAL WHERE model = ? AND has(?, prediction_id)", n.model, ids)
		if err != nil {
			t.Fatal(err)
		}
		lostAtCrash = len(atCrash) - int(logged)
	}
	rawPred, _ := s.count(ctx, "SELECT count() FROM tributary.prediction_log WHERE model = ?", n.model)

	// The online features equal a recomputation from the stored events.
	checked := s.checkOnlineAgainstStored(t, ctx)

	// Every job asked for ended once; each succeeded job registered one
	// version; every move acknowledged is in the audit trail.
	byID := map[string]loopJob{}
	succeeded, collapsed, retried := 0, 0, 0
	var longest time.Duration
	for _, j := range jobs {
		if j.Status == "succeeded" && !j.StartedAt.IsZero() {
			longest = max(longest, j.EndedAt.Sub(j.CreatedAt))
		}
		byID[j.JobID] = j
		switch j.Status {
		case "succeeded":
			succeeded++
		case "collapsed":
			collapsed++
		}
		for _, st := range j.Steps {
			retried += max(st.Attempts-1, 0)
		}
	}
	for _, id := range asked {
		if _, ok := byID[id]; !ok {
			t.Errorf("job %s was lost", id)
		}
	}
	versions, err := s.reg.Versions(ctx, n.model)
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]int{}
	for _, v := range versions {
		registered[v.Lineage.JobID]++
	}
	for _, j := range jobs {
		if j.Status == "succeeded" && registered[j.JobID] != 1 {
			t.Errorf("job %s registered %d versions", j.JobID, registered[j.JobID])
		}
	}
	// A version of a job missing from the list above is a job asked for
	// after the list was read (a drift alert of the last windows): it must
	// be a job the trainer knows, and it is not counted against the list.
	late := 0
	for _, v := range versions {
		id := v.Lineage.JobID
		if _, ok := byID[id]; ok {
			continue
		}
		late++
		if j, err := s.job(ctx, id); err != nil {
			t.Errorf("version %d names job %s, which the trainer does not know: %v", v.Version, id, err)
		} else if j.Status == "failed" {
			t.Errorf("version %d was registered by job %s, which failed: %s", v.Version, id, j.Error)
		}
	}
	if len(versions)-late != succeeded {
		t.Errorf("%d versions for %d succeeded jobs (and %d versions of jobs asked for since)", len(versions)-late, succeeded, late)
	}
	audit, err := s.reg.Audit(ctx, n.model)
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range moves {
		if !slices.ContainsFunc(audit, func(a model.AuditEntry) bool { return a.Reason == reason }) {
			t.Errorf("alias move %q was lost", reason)
		}
	}
	for _, j := range jobs {
		if j.Status == "succeeded" && j.Decision != nil && j.Decision.Moved &&
			!slices.ContainsFunc(audit, func(a model.AuditEntry) bool {
				return strings.Contains(a.Reason, "job "+j.JobID+" ") && a.ToVersion == j.Version
			}) {
			t.Errorf("the move of job %s to version %d is not in the audit trail", j.JobID, j.Version)
		}
	}
	counts, _ := json.Marshal(map[string]any{
		"transactions_accepted": txns, "labels_accepted": labels, "events_sent_again": st.Unavailable, "events_refused": refused,
		"predictions_served": served, "predictions_answered_in_the_5s_before_serving_was_killed": len(atCrash), "of_them_not_logged": lostAtCrash, "predict_requests_failed": len(failed), "prediction_log_rows_before_collapse": rawPred,
		"cards_checked_online": checked, "jobs_asked": len(asked), "jobs_succeeded": succeeded, "jobs_collapsed": collapsed,
		"step_retries": retried, "longest_job_seconds": longest.Round(time.Second).Seconds(), "versions": len(versions), "versions_of_jobs_asked_after_the_count": late, "alias_moves_asked": len(moves), "audit_entries": len(audit),
	})
	t.Logf("fault test counts after %v: %s", time.Since(began).Round(time.Second), counts)
}

// ids answers the ids of the accepted transactions or labels.
func (w *loopWorkload) ids(txns bool) map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := map[string]bool{}
	if txns {
		for id := range w.txns {
			ids[id] = true
		}
	} else {
		for id := range w.labels {
			ids[id] = true
		}
	}
	return ids
}

// waitStored waits until the query answers exactly the ids wanted: none
// missing, none extra, none twice; an uncertain id may be there or not.
func (s *loopStack) waitStored(t *testing.T, what, query string, arg any, want, uncertain map[string]bool) {
	t.Helper()
	testkit.EventuallyContext(t, 2*time.Minute, func(ctx context.Context) error {
		rows, err := s.ch.Query(ctx, query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		seen := map[string]int{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			seen[id]++
		}
		var missing, extra, twice []string
		for id := range want {
			if seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		for id, c := range seen {
			if !want[id] && !uncertain[id] {
				extra = append(extra, id)
			}
			if c > 1 {
				twice = append(twice, id)
			}
		}
		if len(missing)+len(extra)+len(twice) > 0 {
			return fmt.Errorf("%s: %d stored, %d wanted; missing %d %v, not accepted %d %v, twice %d %v", what, len(seen), len(want),
				len(missing), first5(missing), len(extra), first5(extra), len(twice), first5(twice))
		}
		return nil
	})
}

func first5(ids []string) []string {
	slices.Sort(ids)
	return ids[:min(5, len(ids))]
}

// checkOnlineAgainstStored compares every card's online count, sum and
// maximum of amounts over the minute window and its last amount with the
// same computed from its events stored in ClickHouse, and answers how many
// cards it compared.
func (s *loopStack) checkOnlineAgainstStored(t *testing.T, ctx context.Context) int {
	t.Helper()
	type agg struct {
		n              uint64
		sum, max, last float64
	}
	v := s.names.view
	refs := []string{v + ":txns_1m", v + ":amount_1m", v + ":amount_max_1m", v + ":last_amount"}
	var cards []string
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		// Every card with a stored event, and its last amount (the newest
		// event time, then the newest offset).
		rows, err := s.ch.Query(ctx, `SELECT entity_key, visitParamExtractFloat(data, 'amount') FROM (
			SELECT entity_key, data FROM tributary.events FINAL WHERE stream = ?
			ORDER BY entity_key, event_time DESC, event_time_ms DESC, kafka_offset DESC) LIMIT 1 BY entity_key`, s.names.stream)
		if err != nil {
			return err
		}
		stored := map[string]agg{}
		cards = cards[:0]
		for rows.Next() {
			var card string
			var last float64
			if err := rows.Scan(&card, &last); err != nil {
				rows.Close()
				return err
			}
			stored[card] = agg{last: last}
			cards = append(cards, card)
		}
		rows.Close()
		body, _ := json.Marshal(map[string]any{"entities": cards, "features": refs})
		req, _ := http.NewRequestWithContext(ctx, "POST", s.platform.Service("features").BaseURL+"/v1/features", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var read struct {
			AsOf    time.Time `json:"as_of"`
			Results []struct {
				Entity string `json:"entity"`
				Values map[string]struct {
					Value *float64 `json:"value"`
				} `json:"values"`
			} `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&read); err != nil || len(read.Results) != len(cards) {
			return fmt.Errorf("read %d cards: %d results (%v)", len(cards), len(read.Results), err)
		}
		// The minute window at the read's instant, from the stored events.
		from := windowStart(read.AsOf, time.Minute).UnixMilli()
		rows, err = s.ch.Query(ctx, `SELECT entity_key, count(), sum(visitParamExtractFloat(data, 'amount')), max(visitParamExtractFloat(data, 'amount'))
			FROM tributary.events FINAL WHERE stream = ? AND toUInt64(event_time)*1000 + event_time_ms >= ? AND toUInt64(event_time)*1000 + event_time_ms <= ?
			GROUP BY entity_key`, s.names.stream, uint64(from), uint64(read.AsOf.UnixMilli()))
		if err != nil {
			return err
		}
		for rows.Next() {
			var card string
			var a agg
			if err := rows.Scan(&card, &a.n, &a.sum, &a.max); err != nil {
				rows.Close()
				return err
			}
			a.last = stored[card].last
			stored[card] = a
		}
		rows.Close()
		var bad []string
		for _, r := range read.Results {
			a := stored[r.Entity]
			want := map[string]*float64{refs[0]: ptr(float64(a.n)), refs[1]: ptr(a.sum), refs[2]: ptr(a.max), refs[3]: ptr(a.last)}
			if a.n == 0 {
				want[refs[2]] = nil // no event in the window: no maximum
			}
			for ref, w := range want {
				got := r.Values[ref].Value
				if (got == nil) != (w == nil) || got != nil && math.Abs(*got-*w) > 1e-6*math.Max(1, math.Abs(*w)) {
					bad = append(bad, fmt.Sprintf("%s %s online %s, stored events %s", r.Entity, ref, show(got), show(w)))
				}
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			return fmt.Errorf("%d of %d values differ: %s", len(bad), len(refs)*len(cards), strings.Join(bad[:min(5, len(bad))], "; "))
		}
		return nil
	})
	return len(cards)
}

func ptr(f float64) *float64 { return &f }

// waitJobsEnded waits until every job asked for has ended (succeeded, or
// collapsed into another) and returns them.
func waitJobsEnded(t *testing.T, s *loopStack) []loopJob {
	t.Helper()
	var jobs []loopJob
	testkit.EventuallyContext(t, 3*time.Minute, func(ctx context.Context) error {
		var err error
		if jobs, err = s.jobs(ctx); err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Status != "succeeded" && j.Status != "collapsed" {
				return fmt.Errorf("job %s is %s (%s at %s)", j.JobID, j.Status, j.Error, j.FailedStep)
			}
		}
		return nil
	})
	return jobs
}
