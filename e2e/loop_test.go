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

	"github.com/tributary-ml/tributary/libs/cardgen"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestLoop runs the whole loop on the real stack and the six real
// binaries, with the example of examples/cards: the card workload streams
// through ingest into features (checked in Redis against the events sent),
// events and labels land in ClickHouse, a first job trains, registers and,
// by the canary policy's first-version rule, promotes version 1; serving
// predicts by card with online features and every prediction is in
// prediction_log, with the merchant category (a categorical feature) in its
// categorical columns; the workload drifts (bigger amounts, a new merchant
// category), the monitor writes drift_metrics (the amounts by numeric
// methods, the category by chi-squared or Jensen-Shannon), counts the new
// category unseen in data_quality and publishes
// tributary.drift.detected.v1; the trainer retrains on that
// event, the new version goes to canary at weight 0.5, serving splits
// traffic, and once the canary's live AUC since it moved (delayed labels
// joined by the monitor) holds up against production's, the monitor's
// promotion policy makes it production; serving swaps without one failed
// request. One correlation id, the drift event's, is
// followed through the job, the version's lineage and the alias moves.
func TestLoop(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := startLoopStack(t, ctx, loopOptions{promote: true})
	n := s.names
	mark := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	mark("stack up, example applied")

	driftSubject, _ := event.Subject(event.TypeDriftDetected)
	driftSub, err := s.nc.SubscribeSync(driftSubject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = driftSub.Unsubscribe() }()

	w := s.startWorkload(t, 42, 40, 150, 4*time.Second)

	// Events and labels reach ClickHouse.
	testkit.EventuallyContext(t, 90*time.Second, func(ctx context.Context) error {
		labels, err := s.count(ctx, "SELECT count() FROM tributary.labels FINAL WHERE stream = ?", n.labels)
		if err != nil {
			return err
		}
		if labels < 5000 {
			return fmt.Errorf("%d labels in ClickHouse", labels)
		}
		return nil
	})
	mark("5000 labels (backfill) in ClickHouse")

	// Online features in Redis equal what the accepted events make.
	s.checkOnline(t, w, 3)
	mark("online features match the events sent")

	// The first version, asked for by hand.
	firstID := "first-" + n.stream
	var started struct {
		Outcome string `json:"outcome"`
	}
	trainerCall(t, ctx, "POST", s.platform.Service("trainer").BaseURL+"/v1/models/"+n.model+"/train", `{"job_id":"`+firstID+`","reason":"e2e loop: first version"}`, http.StatusAccepted, &started)
	first := s.waitJobDone(t, firstID, 2*time.Minute)
	mark("version 1 trained")
	for _, st := range first.Steps {
		if st.Status != "done" || st.Attempts != 1 {
			t.Errorf("first job step %+v", st)
		}
	}
	ds := first.Dataset
	// The set has every label of its window that ingest had accepted well
	// before the set was built (10 s: time to reach ClickHouse), and none
	// accepted after.
	built := first.Steps[0]
	inWindow := "SELECT count() FROM tributary.labels FINAL WHERE stream = ? AND toUInt64(event_time)*1000 + event_time_ms >= ? AND toUInt64(event_time)*1000 + event_time_ms < ? AND toUInt64(ingest_time)*1000 + ingest_time_ms < ?"
	from, to := uint64(first.LabelsFrom.UnixMilli()), uint64(first.LabelsTo.UnixMilli())
	settled, err := s.count(ctx, inWindow, n.labels, from, to, uint64(built.Started.Add(-10*time.Second).UnixMilli()))
	if err != nil {
		t.Fatal(err)
	}
	possible, err := s.count(ctx, inWindow, n.labels, from, to, uint64(built.Ended.UnixMilli()))
	if err != nil {
		t.Fatal(err)
	}
	if built.Name != "dataset" || ds == nil || ds.RowCount > int64(possible) || ds.RowCount < int64(settled) || ds.LabelStream != n.labels {
		t.Fatalf("training set %+v built %v..%v; ClickHouse has %d labels of its window accepted before it was built, %d accepted 10 s before", ds, built.Started, built.Ended, possible, settled)
	}
	v1, err := s.reg.Version(ctx, n.model, model.AliasProduction)
	if err != nil {
		t.Fatalf("production of %s: %v\n%s", n.model, err, first.Log)
	}
	l := v1.Lineage
	if v1.Version != first.Version || l.JobID != firstID || l.Trigger != event.TriggerManual || l.TrainingSetID != ds.DatasetID || l.TrainingSetSHA256 != ds.SHA256 ||
		l.FeatureDefinitions[n.view] == "" || l.FeatureDefinitions[n.view] != ds.FeatureDefinitions[n.view] || len(l.Features) != 9 {
		t.Fatalf("version %d lineage %+v, job %+v", v1.Version, l, first)
	}
	// The merchant category, a string, is a categorical feature: its
	// vocabulary and reference are the categories before drift.
	merchant := n.view + ":merchant_category"
	if voc := l.Categorical[merchant]; len(l.Categorical) != 1 || voc.Other || !slices.Equal(slices.Sorted(slices.Values(voc.Categories)), slices.Sorted(slices.Values(cardgen.Categories))) {
		t.Fatalf("version %d vocabularies %+v, want %s: %v", v1.Version, l.Categorical, merchant, cardgen.Categories)
	}
	if ref := l.Reference.Features[merchant]; ref.Kind != model.KindCategorical || ref.Categories[cardgen.DriftCategory] != 0 || len(ref.Categories) != len(cardgen.Categories) {
		t.Fatalf("reference of %s: %+v", merchant, ref)
	}
	d := first.Decision
	if d == nil || d.Policy != "canary" || d.Action != "promote" || d.Alias != "production" || !d.Moved || !strings.Contains(d.Reason, "no production version yet") {
		t.Fatalf("first decision %+v", d)
	}
	t.Logf("version %d: %d labels (%d train, %d holdout), holdout auc %.3f", v1.Version, ds.RowCount, first.Evaluation.TrainRows, first.Evaluation.HoldoutRows, first.Evaluation.Metrics["auc"])
	if auc := first.Evaluation.Metrics["auc"]; !(auc > 0.6) {
		t.Errorf("holdout auc %.3f: the features do not carry the workload's fraud signal", auc)
	}

	// Serving serves it: from now on every transaction is scored, and no
	// request may fail.
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		v, err := s.served(ctx, "production")
		if err != nil || v != v1.Version {
			return fmt.Errorf("serving has production at %d (%v)", v, err)
		}
		return nil
	})
	w.pred.open.Store(true)
	s.waitLogged(t, "version 1 on production", 300, "version = ? AND route = 'production'", uint32(v1.Version))
	mark("predictions of version 1 in prediction_log")
	s.checkPredictionRows(t, ctx, w, v1)

	// Drift.
	w.stream.SetDrift(true)
	driftOn := time.Now()
	mark("drift on")
	// The drift event followed is the first of version 1's after the
	// switch that started a job: those within the spec's cooldown of the
	// model's last job start none. The trainer acts on an event within
	// moments; each is looked for once, 3 s after it arrived.
	var drift event.DriftDetected
	var driftID string
	type seen struct {
		id  string
		e   event.DriftDetected
		arr time.Time
	}
	var waiting []seen
	for driftID == "" {
		mctx, mcancel := context.WithTimeout(ctx, time.Second)
		m, err := driftSub.NextMsgWithContext(mctx)
		mcancel()
		switch {
		case err == nil:
			e, err := event.FromNATSMsg(m)
			if err != nil {
				t.Fatal(err)
			}
			var dd event.DriftDetected
			if err := json.Unmarshal(e.Data(), &dd); err != nil {
				t.Fatal(err)
			}
			if dd.Model == n.model && dd.Version == v1.Version && !dd.WindowStart.Before(driftOn) {
				waiting = append(waiting, seen{e.ID(), dd, time.Now()})
			}
		case ctx.Err() != nil:
			t.Fatalf("no drift event of %s that started a job: %v", n.model, ctx.Err())
		}
		for len(waiting) > 0 && time.Since(waiting[0].arr) > 3*time.Second && driftID == "" {
			if _, err := s.job(ctx, "drift-"+waiting[0].id); err == nil {
				drift, driftID = waiting[0].e, waiting[0].id
			}
			waiting = waiting[1:]
		}
	}
	mark(fmt.Sprintf("drift event %s: %s %s %.3g (threshold %.3g) over %d predictions", driftID, drift.Feature, drift.Metric, drift.Value, drift.Threshold, drift.SampleSize))
	var row struct {
		Value   float64 `ch:"value"`
		Drifted uint8   `ch:"drifted"`
		Size    uint64  `ch:"sample_size"`
	}
	// The event names drift_metrics' method by a short name, and gives
	// the tests' p-value as its value.
	method, value := string(drift.Metric), "value"
	switch drift.Metric {
	case event.DriftChiSquared:
		method, value = "chi_squared", "ifNull(p_value, -1)"
	case event.DriftJS:
		method = "jensen_shannon"
	case event.DriftKS:
		value = "ifNull(p_value, -1)"
	}
	if err := s.ch.QueryRow(ctx, `SELECT `+value+` AS value, drifted, sample_size FROM tributary.drift_metrics FINAL
		WHERE model = ? AND version = ? AND feature = ? AND method = ? AND window_start = ? AND window_size_seconds = 20`,
		n.model, uint32(v1.Version), drift.Feature, method, drift.WindowStart).ScanStruct(&row); err != nil {
		t.Fatalf("drift_metrics row of the drift event: %v", err)
	}
	if row.Drifted != 1 || math.Abs(row.Value-drift.Value) > 1e-9*math.Max(1, math.Abs(drift.Value)) || int64(row.Size) != drift.SampleSize {
		t.Errorf("drift_metrics %+v, event %+v", row, drift)
	}

	s.checkDriftFound(t, v1, driftOn)
	mark("amount and merchant category drift in drift_metrics, crypto unseen in data_quality and in prediction_log")

	// The retraining the event triggered: job drift-<event id>, or the
	// follow-up it collapsed into.
	job := s.followJob(t, "drift-"+driftID)
	job = s.waitJobDone(t, job.JobID, 2*time.Minute)
	mark(fmt.Sprintf("retrained: job %s, version %d", job.JobID, job.Version))
	if job.Trigger != string(event.TriggerDrift) || job.Decision == nil || job.Decision.Action != "canary" || !job.Decision.Moved || job.Version <= v1.Version {
		t.Fatalf("drift job %+v", job)
	}
	v2, err := s.reg.Version(ctx, n.model, model.VersionRef(fmt.Sprint(job.Version)))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Lineage.JobID != job.JobID || v2.Lineage.Trigger != event.TriggerDrift {
		t.Fatalf("version %d lineage %+v", v2.Version, v2.Lineage)
	}

	// Canary: half the cards go to the new version.
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		v, err := s.served(ctx, "canary")
		if err != nil || v < v2.Version {
			return fmt.Errorf("serving has canary at %d (%v)", v, err)
		}
		return nil
	})
	s.waitLogged(t, "canary predictions", 100, "version >= ? AND route = 'canary'", uint32(v2.Version))
	mark("canary predictions in prediction_log")

	// The monitor promotes the canary once its live AUC since it moved
	// holds up against production's over the same time (the models file of
	// loopOptions.promote); a later drift may have put a newer version on
	// canary meanwhile, so the promoted version is read from the audit.
	var promotion model.AuditEntry
	testkit.EventuallyContext(t, 3*time.Minute, func(ctx context.Context) error {
		audit, err := s.reg.Audit(ctx, n.model)
		if err != nil {
			return err
		}
		for _, a := range audit {
			if a.Alias == "production" && a.Actor == "tributary-monitor" && a.ToVersion >= v2.Version {
				promotion = a
				return nil
			}
		}
		return fmt.Errorf("no promotion by the monitor yet (%d audit entries)", len(audit))
	})
	mark(fmt.Sprintf("monitor promoted version %d: %s", promotion.ToVersion, promotion.Reason))
	if !strings.Contains(promotion.Reason, "held up") || !strings.Contains(promotion.Reason, "auc") {
		t.Errorf("promotion reason %q does not give the evidence", promotion.Reason)
	}
	canary, err := s.reg.Version(ctx, n.model, model.VersionRef(fmt.Sprint(promotion.ToVersion)))
	if err != nil {
		t.Fatal(err)
	}
	if canary.Lineage.Trigger != event.TriggerDrift {
		t.Errorf("promoted version %d was trained on %q, want a drift-triggered version", canary.Version, canary.Lineage.Trigger)
	}
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		p, err := s.served(ctx, "production")
		if err != nil {
			return err
		}
		c, err := s.served(ctx, "canary")
		if err != nil || p != canary.Version || c == canary.Version {
			return fmt.Errorf("serving has production %d, canary %d (%v)", p, c, err)
		}
		return nil
	})
	s.waitLogged(t, "promoted version on production", 200, "version = ? AND route = 'production'", uint32(canary.Version))
	mark(fmt.Sprintf("version %d on production", canary.Version))

	w.halt(t)
	total, failed := w.pred.counts()
	if len(failed) > 0 {
		t.Fatalf("%d of %d predict requests failed: %v", len(failed), w.pred.requests.Load(), failed)
	}
	// Every prediction served is in prediction_log once.
	testkit.EventuallyContext(t, 2*time.Minute, func(ctx context.Context) error {
		var rows, ids uint64
		if err := s.ch.QueryRow(ctx, "SELECT count(), uniqExact(prediction_id) FROM tributary.prediction_log FINAL WHERE model = ?", n.model).Scan(&rows, &ids); err != nil {
			return err
		}
		if rows != uint64(total) || ids != rows {
			return fmt.Errorf("prediction_log has %d predictions (%d ids) of %s, serving answered %d", rows, ids, n.model, total)
		}
		return nil
	})

	// Delayed-label performance: the monitor's windows of version 1 on
	// production count every prediction logged and every label that names
	// one of them.
	testkit.EventuallyContext(t, 2*time.Minute, func(ctx context.Context) error {
		var perf struct {
			Predictions uint64 `ch:"predictions"`
			Labelled    uint64 `ch:"labelled"`
			Windows     uint64 `ch:"windows"`
			WithAUC     uint64 `ch:"with_auc"`
		}
		if err := s.ch.QueryRow(ctx, `SELECT sum(predictions) AS predictions, sum(labelled) AS labelled, count() AS windows, countIf(isNotNull(auc)) AS with_auc
			FROM tributary.model_performance FINAL WHERE model = ? AND version = ? AND route = 'production' AND window_size_seconds = 60`,
			n.model, uint32(v1.Version)).ScanStruct(&perf); err != nil {
			return err
		}
		logged, err := s.count(ctx, "SELECT count() FROM tributary.prediction_log FINAL WHERE model = ? AND version = ? AND route = 'production' AND shadow = 0", n.model, uint32(v1.Version))
		if err != nil {
			return err
		}
		labelled, err := s.count(ctx, `SELECT count() FROM tributary.labels FINAL WHERE stream = ? AND prediction_id IN
			(SELECT prediction_id FROM tributary.prediction_log FINAL WHERE model = ? AND version = ? AND route = 'production')`, n.labels, n.model, uint32(v1.Version))
		if err != nil {
			return err
		}
		if perf.Predictions != logged || perf.Labelled != labelled || labelled == 0 || perf.WithAUC == 0 {
			return fmt.Errorf("model_performance of version %d: %+v; prediction_log has %d predictions, labels name %d of them", v1.Version, perf, logged, labelled)
		}
		t.Logf("model_performance of version %d on production: %d windows, %d predictions, %d labelled", v1.Version, perf.Windows, perf.Predictions, perf.Labelled)
		return nil
	})

	// The trainer settles: every job ended, none failed, each version
	// registered by exactly one job.
	jobs := waitJobsEnded(t, s)
	versions, err := s.reg.Versions(ctx, n.model)
	if err != nil {
		t.Fatal(err)
	}
	byJob := map[string]int{}
	for _, v := range versions {
		if _, dup := byJob[v.Lineage.JobID]; dup {
			t.Errorf("job %s registered two versions", v.Lineage.JobID)
		}
		byJob[v.Lineage.JobID] = v.Version
	}
	ran := 0
	for _, j := range jobs {
		if j.Status == "succeeded" {
			ran++
			if byJob[j.JobID] != j.Version {
				t.Errorf("job %s says version %d, the registry %d", j.JobID, j.Version, byJob[j.JobID])
			}
		}
	}
	if ran != len(versions) {
		t.Errorf("%d jobs succeeded, %d versions registered", ran, len(versions))
	}

	// The correlation id through the alias moves.
	audit, err := s.reg.Audit(ctx, n.model)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	sawCanary, sawPromotion := false, false
	for _, a := range audit {
		trail = append(trail, fmt.Sprintf("%s %s -> %d by %s: %s", a.At.Format(time.TimeOnly), a.Alias, a.ToVersion, a.Actor, a.Reason))
		switch {
		case a.Alias == "canary" && a.ToVersion == v2.Version && a.Actor == "trainer" && strings.Contains(a.Reason, "job "+job.JobID+" (drift)"):
			sawCanary = true
		case a.Alias == "production" && a.ToVersion == canary.Version && a.Actor == "tributary-monitor" && strings.Contains(a.Reason, fmt.Sprintf("canary v%d held up", canary.Version)):
			sawPromotion = true
		}
	}
	if !sawCanary || !sawPromotion || audit[0].Alias != "production" || audit[0].ToVersion != v1.Version || !strings.Contains(audit[0].Reason, firstID) {
		t.Errorf("audit trail:\n%s", strings.Join(trail, "\n"))
	}
	txns, labels := w.sent()
	if len(w.rejected) > 0 {
		t.Errorf("ingest refused %d events: %v", len(w.rejected), w.rejected)
	}
	t.Logf("correlation %s: drift event (%s %s, window %s) -> job %s (trigger drift) -> version %d (lineage job_id %s) -> canary -> production by the monitor's promotion policy",
		driftID, drift.Feature, drift.Metric, drift.WindowStart.Format(time.TimeOnly), job.JobID, v2.Version, v2.Lineage.JobID)
	t.Logf("audit trail:\n  %s", strings.Join(trail, "\n  "))
	t.Logf("loop done in %v: %d transactions, %d labels, %d predictions (0 failed), %d jobs run, %d versions",
		time.Since(began).Round(time.Second), txns, labels, total, ran, len(versions))
}

// followJob answers the job a trigger's job id ended up as: itself, or
// the follow-up it collapsed into.
func (s *loopStack) followJob(t *testing.T, id string) loopJob {
	t.Helper()
	var j loopJob
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		var err error
		j, err = s.job(ctx, id)
		return err
	})
	for j.Status == "collapsed" {
		next := j.CollapsedInto
		testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
			var err error
			j, err = s.job(ctx, next)
			return err
		})
	}
	return j
}

// checkDriftFound checks that the drift injected at driftOn is in the
// monitor's tables for version v: drifted windows (started after driftOn)
// of the amount (last_amount) and of the merchant category by a
// categorical method (chi-squared or Jensen-Shannon) in drift_metrics; the
// new category counted unseen in data_quality, at about its share of the
// drifted stream; and in prediction_log's categorical features, of no
// prediction made before driftOn.
func (s *loopStack) checkDriftFound(t *testing.T, v model.Version, driftOn time.Time) {
	t.Helper()
	n := s.names
	merchant, amount := n.view+":merchant_category", n.view+":last_amount"
	testkit.EventuallyContext(t, 90*time.Second, func(ctx context.Context) error {
		rows, err := s.ch.Query(ctx, `SELECT feature, method, count() FROM tributary.drift_metrics FINAL
			WHERE model = ? AND version = ? AND window_size_seconds = 20 AND window_start >= ? AND drifted = 1
			GROUP BY feature, method ORDER BY feature, method`, n.model, uint32(v.Version), driftOn)
		if err != nil {
			return err
		}
		var found []string
		categorical, numeric := false, false
		for rows.Next() {
			var feature, method string
			var windows uint64
			if err := rows.Scan(&feature, &method, &windows); err != nil {
				rows.Close()
				return err
			}
			found = append(found, fmt.Sprintf("%s %s (%d windows)", feature, method, windows))
			categorical = categorical || feature == merchant && (method == "chi_squared" || method == "jensen_shannon")
			numeric = numeric || feature == amount
		}
		rows.Close()
		if !categorical || !numeric {
			return fmt.Errorf("drifted in drift_metrics of version %d since %v: %v; want %s by chi_squared or jensen_shannon and %s", v.Version, driftOn.Format(time.TimeOnly), found, merchant, amount)
		}
		var q struct {
			Windows uint64 `ch:"windows"`
			Unseen  uint64 `ch:"unseen"`
			Values  uint64 `ch:"values"`
		}
		if err := s.ch.QueryRow(ctx, `SELECT count() AS windows, sum(unseen) AS unseen, toUInt64(sum(total) - sum(missing)) AS values FROM tributary.data_quality FINAL
			WHERE model = ? AND version = ? AND target = 'feature' AND feature = ? AND window_size_seconds = 20 AND window_start >= ?`,
			n.model, uint32(v.Version), merchant, driftOn).ScanStruct(&q); err != nil {
			return err
		}
		// The generator opens crypto to 18% of the transactions.
		if share := float64(q.Unseen) / float64(q.Values); q.Unseen == 0 || !(share > 0.08 && share < 0.3) {
			return fmt.Errorf("data_quality of %s since the drift: %d unseen of %d values in %d windows", merchant, q.Unseen, q.Values, q.Windows)
		}
		crypto, err := s.count(ctx, `SELECT count() FROM tributary.prediction_log FINAL WHERE model = ? AND version = ?
			AND categorical_feature_values[indexOf(categorical_feature_names, ?)] = ?`, n.model, uint32(v.Version), merchant, cardgen.DriftCategory)
		if err != nil {
			return err
		}
		if crypto == 0 {
			return fmt.Errorf("no prediction of version %d logged with %s %s", v.Version, merchant, cardgen.DriftCategory)
		}
		t.Logf("drift found: %v; data_quality: %d of %d %s values unseen in %d windows; %d predictions logged with %s", found, q.Unseen, q.Values, merchant, q.Windows, crypto, cardgen.DriftCategory)
		return nil
	})
	// Before the drift no prediction had it.
	var before, early uint64
	if err := s.ch.QueryRow(context.Background(), `SELECT count(), countIf(categorical_feature_values[indexOf(categorical_feature_names, ?)] = ?)
		FROM tributary.prediction_log FINAL WHERE model = ? AND version = ? AND toUInt64(event_time)*1000 + event_time_ms < ?`,
		merchant, cardgen.DriftCategory, n.model, uint32(v.Version), uint64(driftOn.UnixMilli())).Scan(&before, &early); err != nil {
		t.Fatal(err)
	}
	if before == 0 || early != 0 {
		t.Errorf("%d of the %d predictions of version %d made before the drift have %s %s", early, before, v.Version, merchant, cardgen.DriftCategory)
	}
}

// waitLogged waits until prediction_log has at least want predictions of
// the model matching the condition.
func (s *loopStack) waitLogged(t *testing.T, what string, want uint64, cond string, args ...any) {
	t.Helper()
	testkit.EventuallyContext(t, 90*time.Second, func(ctx context.Context) error {
		got, err := s.count(ctx, "SELECT count() FROM tributary.prediction_log FINAL WHERE model = ? AND shadow = 0 AND "+cond, append([]any{s.names.model}, args...)...)
		if err != nil {
			return err
		}
		if got < want {
			return fmt.Errorf("%s: %d of %d in prediction_log", what, got, want)
		}
		return nil
	})
}

// checkPredictionRows reads some logged predictions back: each is one the
// workload got from serving, for its card, with the version's features.
func (s *loopStack) checkPredictionRows(t *testing.T, ctx context.Context, w *loopWorkload, v model.Version) {
	t.Helper()
	rows, err := s.ch.Query(ctx, `SELECT prediction_id, entity_key, feature_names, categorical_feature_names, categorical_feature_values, prediction
		FROM tributary.prediction_log FINAL WHERE model = ? AND version = ? ORDER BY prediction_id LIMIT 50`, s.names.model, uint32(v.Version))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// The numeric features in feature_names, the categorical ones (the
	// merchant category) in categorical_feature_names with the string
	// serving read online.
	var want, wantCat []string
	for _, f := range v.Lineage.Features {
		if _, ok := v.Lineage.Categorical[f]; ok {
			wantCat = append(wantCat, f)
		} else {
			want = append(want, f)
		}
	}
	slices.Sort(want)
	slices.Sort(wantCat)
	w.pred.mu.Lock()
	defer w.pred.mu.Unlock()
	seen := 0
	for rows.Next() {
		var id, card string
		var names, catNames []string
		var catValues []*string
		var p float64
		if err := rows.Scan(&id, &card, &names, &catNames, &catValues, &p); err != nil {
			t.Fatal(err)
		}
		seen++
		if w.pred.ids[id] != card || !slices.Equal(names, want) || !(p >= 0 && p <= 1) {
			t.Errorf("logged prediction %s of %s (served for %q): features %v, prediction %g", id, card, w.pred.ids[id], names, p)
		}
		if !slices.Equal(catNames, wantCat) || len(catValues) != len(wantCat) || len(catValues) == 0 || catValues[0] == nil || !slices.Contains(cardgen.Categories, *catValues[0]) {
			t.Errorf("logged prediction %s of %s: categorical features %v = %v, want %v of %v", id, card, catNames, catValues, wantCat, cardgen.Categories)
		}
	}
	if seen == 0 {
		t.Error("no prediction rows read back")
	}
}

// checkOnline compares the online features of the busiest cards with what
// the accepted transactions make: counts, sums and maxima over the minute
// window as libs/tiles reads it at the answer's as_of ([as_of - 1m rounded
// down to 10 s, as_of]), of the events up to the newest the value includes.
func (s *loopStack) checkOnline(t *testing.T, w *loopWorkload, cards int) {
	t.Helper()
	busiest := w.busiest(cards)
	features := s.platform.Service("features").BaseURL
	for _, card := range busiest {
		testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
			var got struct {
				AsOf   time.Time `json:"as_of"`
				Values map[string]struct {
					Value     any        `json:"value"` // a number, or a string (merchant_category)
					EventTime *time.Time `json:"event_time"`
				} `json:"values"`
			}
			if err := getJSON(ctx, features+"/v1/features/"+s.names.view+"/"+card, &got); err != nil {
				return err
			}
			c := got.Values["txns_1m"]
			if c.Value == nil || c.EventTime == nil {
				return fmt.Errorf("%s has no txns_1m yet", card)
			}
			from := windowStart(got.AsOf, time.Minute)
			count, sum, hi, categories := w.aggregate(card, from, *c.EventTime)
			want := map[string]float64{"txns_1m": float64(count), "amount_1m": sum, "amount_max_1m": hi}
			for name, v := range want {
				g := got.Values[name]
				f, ok := g.Value.(float64)
				if !ok || math.Abs(f-v) > 1e-6*math.Max(1, math.Abs(v)) || !g.EventTime.Equal(*c.EventTime) {
					return fmt.Errorf("%s %s = %v at %v, the %d events from %v up to %v make %g", card, name, g.Value, g.EventTime, count, from, c.EventTime, v)
				}
			}
			// The latest merchant category is the newest event's (one of
			// them: the workload dates a tick's transactions alike).
			if g := got.Values["merchant_category"]; !slices.Contains(categories, fmt.Sprint(g.Value)) || g.EventTime == nil || !g.EventTime.Equal(*c.EventTime) {
				return fmt.Errorf("%s merchant_category = %v at %v, the newest events up to %v are %q", card, g.Value, g.EventTime, c.EventTime, categories)
			}
			return nil
		})
	}
}

// windowStart is where libs/tiles starts a window under 24 min read at
// asOf: asOf - w rounded down to 10 s.
func windowStart(asOf time.Time, w time.Duration) time.Time {
	ms := asOf.Add(-w).UnixMilli()
	return time.UnixMilli(ms - ms%10000).UTC()
}

// busiest answers the n cards with the most accepted transactions.
func (w *loopWorkload) busiest(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	counts := map[string]int{}
	for _, tx := range w.txns {
		counts[tx.Card]++
	}
	cards := make([]string, 0, len(counts))
	for c := range counts {
		cards = append(cards, c)
	}
	slices.SortFunc(cards, func(a, b string) int { return counts[b] - counts[a] })
	return cards[:min(n, len(cards))]
}

// aggregate is the count, sum and maximum of a card's accepted amounts
// from an instant up to another, and the merchant categories of its newest
// transactions up to then.
func (w *loopWorkload) aggregate(card string, from, upTo time.Time) (int, float64, float64, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, sum, hi := 0, 0.0, math.Inf(-1)
	var newest time.Time
	var categories []string
	for _, tx := range w.txns {
		// Event times are kept to the millisecond.
		at := tx.At.Truncate(time.Millisecond)
		if tx.Card != card || at.After(upTo) {
			continue
		}
		switch {
		case at.After(newest):
			newest, categories = at, []string{tx.Category}
		case at.Equal(newest):
			categories = append(categories, tx.Category)
		}
		if !at.Before(from) {
			n++
			sum += tx.Amount
			hi = math.Max(hi, tx.Amount)
		}
	}
	return n, sum, hi, categories
}

func show(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}
