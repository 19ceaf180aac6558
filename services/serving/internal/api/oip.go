package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
)

// The Open Inference Protocol v2 REST types.

// InferRequest is the body of POST /v2/models/{model}[/versions/{v}]/infer.
type InferRequest struct {
	ID         string            `json:"id,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Inputs     []Tensor          `json:"inputs"`
	Outputs    []RequestedOutput `json:"outputs,omitempty"`
}

// Tensor is an input tensor; Data is row-major, nested or flat.
type Tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	values     []float64
	texts      []string // BYTES: the elements as strings (values are NaN)
}

// RequestedOutput names an output the caller wants.
type RequestedOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// OutputTensor is an output tensor.
type OutputTensor struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float64 `json:"data"`
}

// InferResponse is the answer of an infer request.
type InferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []OutputTensor `json:"outputs"`
}

// TensorMetadata describes a model input or output.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the answer of GET /v2/models/{model}[/versions/{v}].
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// Output names.
const (
	OutputPredict       = "predict"
	OutputProbabilities = "probabilities"
	// InputName is the name metadata gives the one [batch, features] input.
	InputName = "input"
)

// maxElements bounds the elements of one tensor.
const maxElements = 1 << 22

// elemSize is the byte size of a datatype in the binary extension; 0 for an
// unknown or non-numeric one.
var elemSize = map[string]int{
	"BOOL": 1, "UINT8": 1, "UINT16": 2, "UINT32": 4, "UINT64": 8,
	"INT8": 1, "INT16": 2, "INT32": 4, "INT64": 8, "FP16": 2, "FP32": 4, "FP64": 8,
}

// DecodeInfer reads an infer body. jsonLen is the value of the
// Inference-Header-Content-Length header (the binary tensor extension:
// the JSON header is followed by the raw tensors), -1 without it. Every
// input's values are checked against its shape and datatype.
func DecodeInfer(body []byte, jsonLen int) (InferRequest, error) {
	var req InferRequest
	head, tail := body, []byte(nil)
	if jsonLen >= 0 {
		if jsonLen > len(body) {
			return req, errorf(http.StatusBadRequest, reason.MalformedInput, "Inference-Header-Content-Length %d exceeds the body's %d bytes", jsonLen, len(body))
		}
		head, tail = body[:jsonLen], body[jsonLen:]
	}
	dec := json.NewDecoder(bytes.NewReader(head))
	if err := dec.Decode(&req); err != nil {
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "body: %v", err)
	}
	if dec.More() {
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "body: data after the JSON object")
	}
	if len(req.Inputs) == 0 {
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "inputs: at least one input is required")
	}
	for i := range req.Inputs {
		in := &req.Inputs[i]
		field := fmt.Sprintf("inputs[%d]", i)
		if in.Name == "" {
			return req, errorf(http.StatusBadRequest, reason.MalformedInput, "%s.name: required", field)
		}
		field = fmt.Sprintf("inputs[%d] (%s)", i, in.Name)
		n := int64(1)
		for _, d := range in.Shape {
			if d < 0 || d > maxElements || n*d > maxElements {
				return req, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s.shape %v: dimensions must be 0 or more, at most %d elements", field, in.Shape, maxElements)
			}
			n *= d
		}
		if in.Shape == nil {
			return req, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s.shape: required", field)
		}
		if in.Datatype == "BYTES" {
			var err error
			if tail, err = decodeBytes(in, field, int(n), tail); err != nil {
				return req, err
			}
			continue
		}
		size, ok := elemSize[in.Datatype]
		if !ok {
			return req, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "%s.datatype %q: not an Open Inference Protocol datatype", field, in.Datatype)
		}
		if bs, ok := in.Parameters["binary_data_size"]; ok {
			f, ok := bs.(float64)
			if !ok || f < 0 || f != math.Trunc(f) || int(f) > len(tail) {
				return req, errorf(http.StatusBadRequest, reason.MalformedInput, "%s.parameters.binary_data_size %v: beyond the %d bytes of binary data left", field, bs, len(tail))
			}
			raw := tail[:int(f)]
			tail = tail[int(f):]
			if int64(len(raw)) != n*int64(size) {
				return req, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: %d bytes of binary data, shape %v of %s needs %d", field, len(raw), in.Shape, in.Datatype, n*int64(size))
			}
			in.values = fromBinary(in.Datatype, raw, int(n))
			continue
		}
		if len(in.Data) == 0 {
			return req, errorf(http.StatusBadRequest, reason.MalformedInput, "%s.data: required", field)
		}
		vals, err := flatten(in.Data, in.Datatype, int(n))
		if err != nil {
			return req, errorf(http.StatusBadRequest, err.(*apiError).id, "%s: %s", field, err.Error())
		}
		if len(vals) != int(n) {
			return req, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: %d values, shape %v holds %d", field, len(vals), in.Shape, n)
		}
		in.values = vals
	}
	if len(tail) > 0 {
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "%d bytes of binary data no input claims", len(tail))
	}
	return req, nil
}

// maxBytesElement bounds one element of a BYTES tensor (a category).
const maxBytesElement = 1024

// decodeBytes reads a BYTES tensor of n elements (the categories of
// categorical features): JSON strings in data, or in the binary extension
// each element as a 4-byte little-endian length and its bytes. It returns
// the binary data left.
func decodeBytes(in *Tensor, field string, n int, tail []byte) ([]byte, error) {
	texts := make([]string, 0, n)
	if bs, ok := in.Parameters["binary_data_size"]; ok {
		f, ok := bs.(float64)
		if !ok || f < 0 || f != math.Trunc(f) || int(f) > len(tail) {
			return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "%s.parameters.binary_data_size %v: beyond the %d bytes of binary data left", field, bs, len(tail))
		}
		raw := tail[:int(f)]
		tail = tail[int(f):]
		for len(raw) > 0 {
			if len(raw) < 4 {
				return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: %d bytes left where a 4-byte element length belongs", field, len(raw))
			}
			l := binary.LittleEndian.Uint32(raw)
			raw = raw[4:]
			if uint64(l) > uint64(len(raw)) || l > maxBytesElement {
				return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: an element of %d bytes (%d left, at most %d)", field, l, len(raw), maxBytesElement)
			}
			if len(texts) == n {
				return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: more elements than shape %v holds (%d)", field, in.Shape, n)
			}
			texts = append(texts, string(raw[:l]))
			raw = raw[l:]
		}
	} else {
		if len(in.Data) == 0 {
			return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "%s.data: required", field)
		}
		dec := json.NewDecoder(bytes.NewReader(in.Data))
		depth := 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "%s: data: %v", field, err)
			}
			switch t := tok.(type) {
			case json.Delim:
				switch t {
				case '[':
					depth++
				case ']':
					depth--
				default:
					return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "%s: data: an object where a value or an array belongs", field)
				}
				continue
			case string:
				if len(t) > maxBytesElement {
					return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "%s: data: a string of %d bytes, at most %d", field, len(t), maxBytesElement)
				}
				texts = append(texts, t)
			default:
				return nil, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "%s: data: %v in a BYTES tensor (its elements are strings)", field, tok)
			}
			if len(texts) > n {
				return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: data: more values than the shape holds (%d)", field, n)
			}
			if depth == 0 {
				break
			}
		}
	}
	if len(texts) != n {
		return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "%s: %d values, shape %v holds %d", field, len(texts), in.Shape, n)
	}
	in.texts = texts
	in.values = make([]float64, n)
	for i := range in.values {
		in.values[i] = math.NaN()
	}
	return tail, nil
}

// flatten reads nested or flat JSON arrays of the datatype's values.
func flatten(data json.RawMessage, datatype string, want int) ([]float64, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	out := make([]float64, 0, want)
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "data: %v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '[':
				depth++
			case ']':
				depth--
			default:
				return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "data: an object where a value or an array belongs")
			}
			continue
		case bool:
			if datatype != "BOOL" {
				return nil, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: a boolean in a %s tensor", datatype)
			}
			out = append(out, b2f(t))
		case json.Number:
			x, err := number(t, datatype)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		case string:
			return nil, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: a string in a %s tensor", datatype)
		default:
			return nil, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: null in a %s tensor", datatype)
		}
		if len(out) > want {
			return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "data: more values than the shape holds (%d)", want)
		}
		if depth == 0 {
			break // a scalar
		}
	}
	return out, nil
}

var intRange = map[string][2]float64{
	"INT8": {math.MinInt8, math.MaxInt8}, "INT16": {math.MinInt16, math.MaxInt16}, "INT32": {math.MinInt32, math.MaxInt32},
	"INT64": {math.MinInt64, math.MaxInt64}, "UINT8": {0, math.MaxUint8}, "UINT16": {0, math.MaxUint16},
	"UINT32": {0, math.MaxUint32}, "UINT64": {0, math.MaxUint64},
}

func number(n json.Number, datatype string) (float64, error) {
	if datatype == "BOOL" {
		return 0, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: the number %s in a BOOL tensor", n)
	}
	if r, ok := intRange[datatype]; ok {
		s := n.String()
		if strings.ContainsAny(s, ".eE") {
			return 0, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: %s is not an integer (%s)", s, datatype)
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || x < r[0] || x > r[1] {
			return 0, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: %s is out of the range of %s", s, datatype)
		}
		return x, nil
	}
	x, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(x, 0) || (datatype == "FP32" && math.Abs(x) > math.MaxFloat32) || (datatype == "FP16" && math.Abs(x) > 65504) {
		return 0, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "data: %s is out of the range of %s", n, datatype)
	}
	return x, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fromBinary decodes little-endian raw tensor data.
func fromBinary(datatype string, raw []byte, n int) []float64 {
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range n {
		switch datatype {
		case "BOOL":
			out[i] = b2f(raw[i] != 0)
		case "UINT8":
			out[i] = float64(raw[i])
		case "INT8":
			out[i] = float64(int8(raw[i]))
		case "UINT16":
			out[i] = float64(le.Uint16(raw[2*i:]))
		case "INT16":
			out[i] = float64(int16(le.Uint16(raw[2*i:])))
		case "UINT32":
			out[i] = float64(le.Uint32(raw[4*i:]))
		case "INT32":
			out[i] = float64(int32(le.Uint32(raw[4*i:])))
		case "UINT64":
			out[i] = float64(le.Uint64(raw[8*i:]))
		case "INT64":
			out[i] = float64(int64(le.Uint64(raw[8*i:])))
		case "FP16":
			out[i] = half(le.Uint16(raw[2*i:]))
		case "FP32":
			out[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
		case "FP64":
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	}
	return out
}

// half decodes an IEEE 754 binary16.
func half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10)&0x1f, float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// Rows maps the inputs of req onto the model's features: one input of
// shape [batch, features] (or [features] for one row), or one input per
// feature, named by its reference or its name within the view, of shape
// [batch] or [batch, 1]. A BYTES input's elements are the categories of
// categorical features: they are in the texts of each row (nil when no
// input is BYTES), their values NaN.
func Rows(req InferRequest, features []string) ([][]float64, [][]*string, error) {
	rows, err := rowsOf(req, features, func(in Tensor) []float64 { return in.values })
	if err != nil {
		return nil, nil, err
	}
	anyText := false
	for _, in := range req.Inputs {
		anyText = anyText || in.texts != nil
	}
	if !anyText {
		return rows, nil, nil
	}
	// The same mapping over the elements' indexes gives each text's place.
	idx, err := rowsOf(req, features, func(in Tensor) []float64 {
		out := make([]float64, len(in.values))
		for i := range out {
			out[i] = float64(i)
		}
		return out
	})
	if err != nil {
		return nil, nil, err
	}
	byName := map[string][]string{}
	for _, in := range req.Inputs {
		byName[in.Name] = in.texts
	}
	texts := make([][]*string, len(rows))
	for i := range rows {
		texts[i] = make([]*string, len(features))
		for j := range features {
			in := inputOf(req, features, j)
			if t := byName[in]; t != nil {
				texts[i][j] = &t[int(idx[i][j])]
			}
		}
	}
	return rows, texts, nil
}

// inputOf names the input that carries feature j.
func inputOf(req InferRequest, features []string, j int) string {
	if len(req.Inputs) == 1 {
		return req.Inputs[0].Name
	}
	for _, in := range req.Inputs {
		if _, name, _ := strings.Cut(features[j], ":"); in.Name == features[j] || in.Name == name {
			return in.Name
		}
	}
	return ""
}

func rowsOf(req InferRequest, features []string, values func(Tensor) []float64) ([][]float64, error) {
	nf := len(features)
	if len(req.Inputs) == 1 {
		in := req.Inputs[0]
		switch {
		case len(in.Shape) == 2 && in.Shape[1] == int64(nf):
			return split(values(in), int(in.Shape[0]), nf), nil
		case len(in.Shape) == 1 && nf == 1:
			return split(values(in), int(in.Shape[0]), 1), nil
		case len(in.Shape) == 1 && in.Shape[0] == int64(nf):
			return split(values(in), 1, nf), nil
		}
		if nf != 1 {
			return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "input %s has shape %v: the model takes %d features, as one input of shape [batch, %d] or one input per feature %v of shape [batch]", in.Name, in.Shape, nf, nf, features)
		}
	}
	if len(req.Inputs) != nf {
		return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "%d inputs: the model takes %d features, as one input of shape [batch, %d] or one input per feature %v", len(req.Inputs), nf, nf, features)
	}
	batch := int64(-1)
	cols := make([][]float64, nf)
	for _, in := range req.Inputs {
		j := slices.IndexFunc(features, func(ref string) bool {
			_, name, _ := strings.Cut(ref, ":")
			return in.Name == ref || in.Name == name
		})
		if j < 0 {
			return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "input %q is not a feature of the model %v", in.Name, features)
		}
		if cols[j] != nil {
			return nil, errorf(http.StatusBadRequest, reason.MalformedInput, "input %q: feature %s given twice", in.Name, features[j])
		}
		if len(in.Shape) == 0 || len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) || (batch >= 0 && in.Shape[0] != batch) {
			return nil, errorf(http.StatusBadRequest, reason.BadTensorShape, "input %s has shape %v: one input per feature has shape [batch] or [batch, 1], the same batch for all", in.Name, in.Shape)
		}
		batch = in.Shape[0]
		cols[j] = values(in)
	}
	rows := make([][]float64, batch)
	for i := range rows {
		rows[i] = make([]float64, nf)
		for j := range nf {
			rows[i][j] = cols[j][i]
		}
	}
	return rows, nil
}

func split(vals []float64, rows, cols int) [][]float64 {
	out := make([][]float64, rows)
	for i := range out {
		out[i] = vals[i*cols : (i+1)*cols]
	}
	return out
}

func (a *API) server(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"name": "tributary-serving", "version": "1", "extensions": []string{"binary_tensor_data"}})
}

func (a *API) live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]bool{"live": true})
}

func (a *API) serverReady(w http.ResponseWriter, r *http.Request) {
	if !a.ready() {
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, "the current aliases are not loaded yet")
		return
	}
	writeJSON(w, map[string]bool{"ready": true})
}

// target resolves the model and version of an OIP route: {version} when
// given (a number or an alias), else production.
func (a *API) target(r *http.Request) (*models.Model, *models.Loaded, string, error) {
	m, err := lookup(a.snapshot(), r.PathValue("model"))
	if err != nil {
		return nil, nil, "", err
	}
	ref := r.PathValue("version")
	if ref == "" {
		ref = AliasProduction
	}
	l, route, err := resolve(m, ref)
	return m, l, route, err
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	m, l, _, err := a.target(r)
	if err != nil {
		writeError(w, err)
		return
	}
	md := ModelMetadata{Name: m.Name, Platform: "tributary/" + l.Format,
		Inputs:  []TensorMetadata{{Name: InputName, Datatype: "FP64", Shape: []int64{-1, int64(len(l.Features))}}},
		Outputs: []TensorMetadata{{Name: OutputPredict, Datatype: "FP64", Shape: []int64{-1}}}}
	if inputs := perFeature(l); inputs != nil {
		md.Inputs = inputs
	}
	if l.Task == "binary" || l.Task == "multiclass" {
		k := int64(l.Outputs)
		if l.Task == "binary" {
			k = 2
		}
		md.Outputs = append(md.Outputs, TensorMetadata{Name: OutputProbabilities, Datatype: "FP64", Shape: []int64{-1, k}})
	}
	if r.PathValue("version") != "" {
		md.Versions = []string{strconv.Itoa(l.Version)}
	} else {
		for _, n := range m.Versions() {
			md.Versions = append(md.Versions, strconv.Itoa(n))
		}
	}
	writeJSON(w, md)
}

// perFeature is, for a model with categorical features, one input per
// feature: BYTES for a categorical one, FP64 for the others; nil for a
// model of numbers only (one FP64 input).
func perFeature(l *models.Loaded) []TensorMetadata {
	var out []TensorMetadata
	cat := false
	for j, f := range l.Features {
		dt := "FP64"
		if l.Categorical(j) {
			dt, cat = "BYTES", true
		}
		out = append(out, TensorMetadata{Name: f, Datatype: dt, Shape: []int64{-1}})
	}
	if !cat {
		return nil
	}
	return out
}

func (a *API) modelReady(w http.ResponseWriter, r *http.Request) {
	m, _, _, err := a.target(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, map[string]any{"name": m.Name, "ready": true})
}

func (a *API) infer(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	defer func() { a.latency.WithLabelValues("infer").Observe(time.Since(start).Seconds()) }()
	m, l, route, err := a.target(r)
	if err != nil {
		a.inferFailed(w, route, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		a.inferFailed(w, route, errorf(http.StatusRequestEntityTooLarge, reason.RequestTooLarge, "body: %v", err))
		return
	}
	jsonLen := -1
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		if jsonLen, err = strconv.Atoi(h); err != nil || jsonLen < 0 {
			a.inferFailed(w, route, errorf(http.StatusBadRequest, reason.MalformedInput, "Inference-Header-Content-Length %q: not a byte count", h))
			return
		}
	}
	req, err := DecodeInfer(body, jsonLen)
	if err != nil {
		a.inferFailed(w, route, err)
		return
	}
	rows, texts, err := Rows(req, l.Features)
	if err != nil {
		a.inferFailed(w, route, err)
		return
	}
	want := map[string]bool{}
	for _, o := range req.Outputs {
		if o.Name != OutputPredict && (o.Name != OutputProbabilities || (l.Task != "binary" && l.Task != "multiclass")) {
			a.inferFailed(w, route, errorf(http.StatusBadRequest, reason.MalformedInput, "outputs: the model has no output %q", o.Name))
			return
		}
		want[o.Name] = true
	}
	id := req.ID
	if id == "" {
		id = predictionID()
	}
	pred := OutputTensor{Name: OutputPredict, Datatype: "FP64", Shape: []int64{int64(len(rows))}, Data: make([]float64, 0, len(rows))}
	var probs *OutputTensor
	if l.Task == "binary" || l.Task == "multiclass" {
		k := 2
		if l.Task == "multiclass" {
			k = l.Outputs
		}
		probs = &OutputTensor{Name: OutputProbabilities, Datatype: "FP64", Shape: []int64{int64(len(rows)), int64(k)}, Data: make([]float64, 0, len(rows)*k)}
	}
	for i, row := range rows {
		for j, x := range row {
			if math.IsInf(x, 0) {
				a.inferFailed(w, route, errorf(http.StatusBadRequest, reason.MalformedInput, "row %d feature %s is infinite", i, l.Features[j]))
				return
			}
		}
	}
	raw := inferRows(rows, texts)
	in, err := encodeInfer(l, raw, id)
	if err != nil {
		a.inferFailed(w, route, err)
		return
	}
	out := make([]float64, l.Outputs)
	recs := make([]PredictResult, len(rows))
	for i := range in {
		l.Predict(in[i].Values, out)
		p, pr := outputs(l, out)
		pred.Data = append(pred.Data, p)
		if probs != nil {
			probs.Data = append(probs.Data, pr...)
		}
		recs[i] = PredictResult{PredictionID: id + "-" + strconv.Itoa(i), Prediction: p, Probabilities: pr}
	}
	resp := InferResponse{ModelName: m.Name, ModelVersion: strconv.Itoa(l.Version), ID: id}
	if len(want) == 0 || want[OutputPredict] {
		resp.Outputs = append(resp.Outputs, pred)
	}
	if probs != nil && (len(want) == 0 || want[OutputProbabilities]) {
		resp.Outputs = append(resp.Outputs, *probs)
	}
	writeAnswer(w, resp)
	a.predictions.WithLabelValues("infer", routeLabel(route, l), "ok").Add(float64(len(rows)))
	took := time.Since(start).Seconds()
	for i := range in {
		rec := record(l, route, "oip:"+id+"#"+strconv.Itoa(i), recs[i], in[i], start, false)
		rec.LatencySeconds = took
		a.log.Log(rec)
	}
	if sh, ok := m.Routes[AliasShadow]; ok && r.PathValue("version") == "" && slices.Equal(sh.Model.Features, l.Features) {
		a.shadowRows(sh.Model, raw, id)
	}
}

// inferRows are the rows of an infer request as online rows: NaN is
// missing, a BYTES element is the text of its feature.
func inferRows(rows [][]float64, texts [][]*string) []online.Row {
	out := make([]online.Row, len(rows))
	for i, row := range rows {
		out[i] = online.Row{Values: row, Missing: nanMask(row)}
		if texts != nil {
			out[i].Text = texts[i]
			for j, t := range texts[i] {
				if t != nil {
					out[i].Missing[j] = false
				}
			}
		}
	}
	return out
}

// encodeInfer maps the categorical features of the rows with l's
// vocabularies; a BYTES element for a numeric feature is refused.
func encodeInfer(l *models.Loaded, rows []online.Row, id string) ([]online.Row, error) {
	keys := make([]string, len(rows))
	for i := range keys {
		keys[i] = "oip:" + id + "#" + strconv.Itoa(i)
	}
	in, err := online.Encode(l.Features, rows, keys, l)
	var uv *online.UnsupportedValueError
	if errors.As(err, &uv) {
		return nil, errorf(http.StatusBadRequest, reason.BadTensorDatatype, "feature %s: a BYTES element for a feature the model reads as a number", uv.Ref)
	}
	return in, err
}

// routeLabel is the route label of the metrics: the alias, or "version"
// for a version asked for by number (the registry's aliases bound it).
func routeLabel(route string, l *models.Loaded) string {
	if route == "" && l != nil {
		return "version"
	}
	return route
}

func nanMask(row []float64) []bool {
	m := make([]bool, len(row))
	for j, x := range row {
		m[j] = math.IsNaN(x)
	}
	return m
}

func (a *API) inferFailed(w http.ResponseWriter, route string, err error) {
	id := reason.Internal
	var e *apiError
	if errors.As(err, &e) {
		id = e.id
	}
	a.predictions.WithLabelValues("infer", route, string(id)).Inc()
	writeError(w, err)
}

// shadowRows runs OIP rows on the shadow version off the response's path.
func (a *API) shadowRows(l *models.Loaded, raw []online.Row, id string) {
	select {
	case a.shadowCh <- struct{}{}:
	default:
		a.shadows.WithLabelValues("dropped").Inc()
		return
	}
	a.shadowWG.Add(1)
	go func() {
		defer a.shadowWG.Done()
		defer func() { <-a.shadowCh }()
		start := a.now()
		rows, err := encodeInfer(l, raw, id)
		if err != nil {
			a.shadows.WithLabelValues("failed").Inc()
			a.logger.Warn("shadow prediction failed", "model", l.Model, "version", l.Version, "error", err)
			return
		}
		out := make([]float64, l.Outputs)
		for i, row := range rows {
			l.Predict(row.Values, out)
			p, pr := outputs(l, out)
			res := PredictResult{PredictionID: id + "-" + strconv.Itoa(i) + "-shadow", Prediction: p, Probabilities: pr}
			rec := record(l, AliasShadow, "oip:"+id+"#"+strconv.Itoa(i), res, row, start, true)
			rec.LatencySeconds = time.Since(start).Seconds()
			a.log.Log(rec)
		}
		a.shadows.WithLabelValues("ok").Inc()
	}()
}
