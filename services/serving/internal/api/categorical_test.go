package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
)

// categoricalModel is the committed logistic model of txn:amount and the
// categorical txn:merchant (grocery 0, travel 1, games 2, other 3).
func categoricalModel(t *testing.T) *models.Snapshot {
	t.Helper()
	raw, err := os.ReadFile("../../../../libs/learn/modelfile/testdata/logistic_categorical.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	l, err := models.Parse(model.Version{Model: "cat", Version: 1, Format: models.FormatTributary, Lineage: model.Lineage{Features: []string{"txn:amount", "txn:merchant"}}}, raw)
	if err != nil {
		t.Fatal(err)
	}
	m := &models.Model{Name: "cat", Routes: map[string]*models.Route{AliasProduction: {Alias: AliasProduction, Model: l}},
		Loaded: map[int]*models.Loaded{1: l}, Known: map[int]model.Status{1: "active"}, Wanted: map[string]int{AliasProduction: 1}}
	return &models.Snapshot{Models: map[string]*models.Model{"cat": m}}
}

func want(t *testing.T, snap *models.Snapshot, amount, code float64) float64 {
	t.Helper()
	out := make([]float64, 1)
	snap.Models["cat"].Loaded[1].Predict([]float64{amount, code}, out)
	return out[0]
}

func post(t *testing.T, url, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestPredictCategorical: a request-time string reaches the model as the
// vocabulary's code (an unseen one as the other code), the log carries
// the string, and a string for a numeric feature is refused.
func TestPredictCategorical(t *testing.T) {
	snap := categoricalModel(t)
	log := &memLog{}
	fetch := online.NewFetcher(func(string) (*tiles.Plan, bool) { return nil, false }, nil) // request-time features only
	srv := newAPI(t, snap, Config{}, fetch, log)
	code, body := post(t, srv.URL+"/v1/predict/cat", `{"entities":[
		{"key":"a","features":{"txn:amount":5,"txn:merchant":"travel"}},
		{"key":"b","features":{"txn:amount":5,"txn:merchant":"grocery"}},
		{"key":"c","features":{"txn:amount":5,"txn:merchant":"never-seen"}}]}`, nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var resp PredictResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	for i, c := range []float64{1, 0, 3} {
		if got, w := resp.Results[i].Prediction, want(t, snap, 5, c); got != w {
			t.Errorf("entity %s: prediction %v, want %v (code %v)", resp.Results[i].Entity, got, w, c)
		}
	}
	if resp.Results[0].Prediction == resp.Results[1].Prediction {
		t.Errorf("travel and grocery score the same")
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		recs := log.all()
		if len(recs) != 3 {
			return fmt.Errorf("%d records", len(recs))
		}
		byKey := map[string]event.PredictionLogged{}
		for _, r := range recs {
			byKey[r.EntityKey] = r
		}
		for key, s := range map[string]string{"a": "travel", "b": "grocery", "c": "never-seen"} {
			r := byKey[key]
			if v := r.CategoricalFeatures["txn:merchant"]; v == nil || *v != s {
				return fmt.Errorf("entity %s logged %+v", key, r)
			}
			if _, ok := r.Features["txn:merchant"]; ok || r.Features["txn:amount"] == nil {
				return fmt.Errorf("entity %s features %v", key, r.Features)
			}
		}
		return nil
	})
	code, body = post(t, srv.URL+"/v1/predict/cat", `{"entities":[{"key":"a","features":{"txn:amount":"5","txn:merchant":"travel"}}]}`, nil)
	if code != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"reason":"unsupported_feature_value"`)) {
		t.Errorf("a string for a numeric feature: %d %s", code, body)
	}
}

// TestInferBytes: BYTES tensors of a categorical feature, in JSON and in
// the binary extension, give the same predictions as the codes; BYTES for
// a numeric feature is refused.
func TestInferBytes(t *testing.T) {
	snap := categoricalModel(t)
	log := &memLog{}
	srv := newAPI(t, snap, Config{}, nil, log)
	code, body := post(t, srv.URL+"/v2/models/cat/infer", `{"inputs":[
		{"name":"txn:amount","shape":[3],"datatype":"FP64","data":[5,5,2]},
		{"name":"merchant","shape":[3,1],"datatype":"BYTES","data":[["travel"],["grocery"],["zzz"]]}]}`, nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var resp InferResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	wants := []float64{want(t, snap, 5, 1), want(t, snap, 5, 0), want(t, snap, 2, 3)}
	for i, w := range wants {
		if got := resp.Outputs[0].Data[i]; got != w {
			t.Errorf("row %d: %v, want %v", i, got, w)
		}
	}
	// The binary extension: FP64 amounts, then length-prefixed strings.
	var bin bytes.Buffer
	for _, x := range []float64{5, 5, 2} {
		_ = binary.Write(&bin, binary.LittleEndian, x)
	}
	amountBytes := bin.Len()
	for _, s := range []string{"travel", "grocery", "zzz"} {
		_ = binary.Write(&bin, binary.LittleEndian, uint32(len(s)))
		bin.WriteString(s)
	}
	head := `{"inputs":[{"name":"txn:amount","shape":[3],"datatype":"FP64","parameters":{"binary_data_size":` + itoa(amountBytes) + `}},` +
		`{"name":"txn:merchant","shape":[3],"datatype":"BYTES","parameters":{"binary_data_size":` + itoa(bin.Len()-amountBytes) + `}}]}`
	code, body = post(t, srv.URL+"/v2/models/cat/infer", head+bin.String(), map[string]string{"Inference-Header-Content-Length": itoa(len(head))})
	if code != 200 {
		t.Fatalf("binary: %d %s", code, body)
	}
	resp = InferResponse{}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	for i, w := range wants {
		if got := resp.Outputs[0].Data[i]; got != w {
			t.Errorf("binary row %d: %v, want %v", i, got, w)
		}
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		n := 0
		for _, r := range log.all() {
			if v := r.CategoricalFeatures["txn:merchant"]; v != nil && *v == "zzz" {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d records log the category zzz, want 2", n)
		}
		return nil
	})
	resp2, err := http.Get(srv.URL + "/v2/models/cat")
	if err != nil {
		t.Fatal(err)
	}
	var md ModelMetadata
	err = json.NewDecoder(resp2.Body).Decode(&md)
	resp2.Body.Close()
	if err != nil || len(md.Inputs) != 2 || md.Inputs[0].Datatype != "FP64" || md.Inputs[1].Datatype != "BYTES" || md.Inputs[1].Name != "txn:merchant" {
		t.Errorf("metadata inputs %+v (%v)", md.Inputs, err)
	}
	for name, body := range map[string]string{
		"BYTES for a numeric feature": `{"inputs":[{"name":"txn:amount","shape":[1],"datatype":"BYTES","data":["5"]},{"name":"txn:merchant","shape":[1],"datatype":"BYTES","data":["travel"]}]}`,
		"a number in BYTES":           `{"inputs":[{"name":"txn:amount","shape":[1],"datatype":"FP64","data":[5]},{"name":"txn:merchant","shape":[1],"datatype":"BYTES","data":[3]}]}`,
		"short BYTES":                 `{"inputs":[{"name":"txn:amount","shape":[2],"datatype":"FP64","data":[5,5]},{"name":"txn:merchant","shape":[2],"datatype":"BYTES","data":["travel"]}]}`,
	} {
		code, b := post(t, srv.URL+"/v2/models/cat/infer", body, nil)
		if code != 400 {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkDecodePredictRequestFeatures decodes a body of 100 entities
// with 4 numeric request-time features each (the cost of taking strings
// as well as numbers).
func BenchmarkDecodePredictRequestFeatures(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"entities":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"u%d","features":{"r:a":%d.5,"r:b":%d,"r:c":0.25,"r:d":-3}}`, i, i, i*7)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePredict(strings.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}
