package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
)

func testReference(r *rand.Rand) model.Reference {
	return model.Reference{
		Features: map[string]model.Distribution{
			"amount":  model.NewNumeric(normals(r, 5000, 100, 20), 10),
			"age":     model.NewNumeric(normals(r, 5000, 40, 10), 10),
			"country": model.NewCategorical(strings.Split("de,fr,fr,it,de,de,es", ","), 0),
		},
		Prediction: model.NewNumeric(normals(r, 5000, 0.3, 0.1), 10),
	}
}

type row struct {
	amount, age float64
	country     string
	prediction  float64
}

func addRow(t testing.TB, w *Window, x row) {
	t.Helper()
	ia, _ := w.Index("amount")
	ig, _ := w.Index("age")
	ic, _ := w.Index("country")
	if err := w.Feature(ia).AddFloat(x.amount); err != nil {
		t.Fatal(err)
	}
	if err := w.Feature(ig).AddFloat(x.age); err != nil {
		t.Fatal(err)
	}
	if x.country == "" {
		w.Feature(ic).AddMissing()
	} else if err := w.Feature(ic).AddString(x.country); err != nil {
		t.Fatal(err)
	}
	if err := w.Prediction().AddFloat(x.prediction); err != nil {
		t.Fatal(err)
	}
}

func randomRow(r *rand.Rand, shift float64) row {
	c := []string{"de", "fr", "it", "es", "pt", ""}[r.IntN(6)]
	return row{amount: 100 + shift*20 + 20*r.NormFloat64(), age: 40 + 10*r.NormFloat64(), country: c, prediction: 0.3 + 0.1*r.NormFloat64()}
}

func TestWindowStart(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 47, 13, 5, time.FixedZone("x", 3600))
	if got, want := WindowStart(at, 5*time.Minute), time.Date(2026, 12, 1, 8, 45, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("5 min window of %v starts at %v, want %v", at, got, want)
	}
	if got, want := WindowStart(at, time.Hour), time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("1 h window of %v starts at %v, want %v", at, got, want)
	}
}

// TestWindowHourIsMergeOfFiveMinutes: twelve 5 min windows merged are the
// 1 h window, and a snapshot taken mid-hour resumes to the same result.
func TestWindowHourIsMergeOfFiveMinutes(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	ref := testReference(r)
	hourStart := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	hour, err := NewWindow(ref, hourStart, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := NewWindow(ref, hourStart, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 12 {
		start := hourStart.Add(time.Duration(k) * 5 * time.Minute)
		five, err := NewWindow(ref, start, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			x := randomRow(r, float64(k)/12)
			addRow(t, hour, x)
			addRow(t, five, x)
		}
		if k == 6 { // restart: resume the merge from its snapshot
			b, err := json.Marshal(merged)
			if err != nil {
				t.Fatal(err)
			}
			if merged, err = DecodeWindow(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := merged.Merge(five); err != nil {
			t.Fatal(err)
		}
	}
	if !merged.Start().Equal(hour.Start()) || !merged.End().Equal(hour.End()) {
		t.Errorf("merged [%v, %v), want [%v, %v)", merged.Start(), merged.End(), hour.Start(), hour.End())
	}
	cfg := DefaultConfig()
	want, err := CompareWindow(ref, hour, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CompareWindow(ref, merged, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Sums of floats may differ in the last bits with the order of adding.
	roundMetrics := func(r *Report) {
		for _, f := range append(r.Features, r.Prediction) {
			for i := range f.Metrics {
				f.Metrics[i].Value = math.Round(f.Metrics[i].Value*1e9) / 1e9
				f.Metrics[i].Bound = math.Round(f.Metrics[i].Bound*1e9) / 1e9
			}
		}
	}
	if _, err := json.Marshal(want); err != nil {
		t.Errorf("encode the report: %v", err)
	}
	roundMetrics(&want)
	roundMetrics(&got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged report\n%+v\nwant\n%+v", got, want)
	}
	if !want.Drifted || !want.Features[1].Drifted || want.Features[0].Drifted {
		t.Errorf("amount shifted by up to one sd in the hour, age not: %+v", want.Features)
	}
	country := want.Features[2].Quality
	if country.Unseen == 0 || country.Missing == 0 || country.UnseenTop["pt"] != country.Unseen {
		t.Errorf("country quality %+v: want the unseen pt and the missing values counted", country)
	}
}

func TestWindowErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	ref := testReference(r)
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if _, err := NewWindow(ref, start, 0); err == nil {
		t.Error("window of size 0: no error")
	}
	bad := testReference(r)
	bad.Features["age"] = model.Distribution{Kind: model.KindNumeric, Edges: []float64{1}}
	if _, err := NewWindow(bad, start, time.Minute); err == nil || !strings.Contains(err.Error(), `"age"`) {
		t.Errorf("invalid reference: %v, want an error naming age", err)
	}
	w, err := NewWindow(ref, start, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Index("nope"); ok {
		t.Error("index of an unknown feature")
	}
	other, err := NewWindow(testReference(r), start, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	addRow(t, w, randomRow(r, 0))
	before, _ := json.Marshal(w)
	if err := w.Merge(other); !errors.Is(err, ErrMismatch) {
		t.Errorf("merge of windows of other references: %v, want ErrMismatch", err)
	}
	if after, _ := json.Marshal(w); string(after) != string(before) {
		t.Error("a failed merge changed the window")
	}
	if _, err := CompareWindow(testReference(r), w, DefaultConfig()); !errors.Is(err, ErrMismatch) {
		t.Errorf("compare with another reference: %v, want ErrMismatch", err)
	}
	for name, b := range map[string]string{
		"version":       `{"version":2,"start":"2026-12-01T09:00:00Z","end":"2026-12-01T09:05:00Z","features":{},"prediction":{"kind":"categorical","count":0,"max_unseen":1}}`,
		"empty span":    `{"version":1,"start":"2026-12-01T09:00:00Z","end":"2026-12-01T09:00:00Z","features":{},"prediction":{"kind":"categorical","count":0,"max_unseen":1}}`,
		"no prediction": `{"version":1,"start":"2026-12-01T09:00:00Z","end":"2026-12-01T09:05:00Z","features":{}}`,
		"bad sketch":    `{"version":1,"start":"2026-12-01T09:00:00Z","end":"2026-12-01T09:05:00Z","features":{"a":{"kind":"x"}},"prediction":{"kind":"categorical","count":0,"max_unseen":1}}`,
		"null sketch":   `{"version":1,"start":"2026-12-01T09:00:00Z","end":"2026-12-01T09:05:00Z","features":{"a":null},"prediction":{"kind":"categorical","count":0,"max_unseen":1}}`,
		"not json":      `{"version":1,`,
	} {
		if _, err := DecodeWindow([]byte(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// ExampleWindow shows the monitor's use: one window per model version and
// tumbling window, values added as prediction log records arrive, a
// report when the window closes.
func ExampleWindow() {
	ref := model.Reference{
		Features:   map[string]model.Distribution{"plan": model.NewCategorical([]string{"free", "free", "pro"}, 0)},
		Prediction: model.NewNumeric([]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, 4),
	}
	at := time.Date(2026, 12, 1, 9, 3, 0, 0, time.UTC)
	w, err := NewWindow(ref, WindowStart(at, 5*time.Minute), 5*time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, _ := w.Index("plan")
	for i := range 400 {
		_ = w.Feature(plan).AddString([]string{"pro", "pro", "team"}[i%3])
		_ = w.Prediction().AddFloat(0.7 + float64(i%10)/100)
	}
	report, err := CompareWindow(ref, w, DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range append(report.Features, report.Prediction) {
		fmt.Printf("%s drifted=%v unseen=%d\n", f.Name, f.Drifted, f.Quality.Unseen)
		for _, m := range f.Metrics {
			fmt.Printf("  %s %.3f drifted=%v\n", m.Method, m.Value, m.Drifted)
		}
	}
	// Output:
	// plan drifted=true unseen=133
	//   chi_squared 268.164 drifted=true
	//   jensen_shannon 0.612 drifted=true
	// prediction drifted=true unseen=0
	//   psi 5.414 drifted=true
	//   ks 0.625 drifted=true
	//   wasserstein 0.955 drifted=true
}
