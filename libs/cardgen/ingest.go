package cardgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Event is one CloudEvent in structured mode, as ingest takes it in a batch.
type Event struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Time        string `json:"time,omitempty"`
	Data        any    `json:"data"`
}

// Outcome is what ingest did with one event of a batch.
type Outcome struct {
	ID     string `json:"id"`
	Status string `json:"status"` // accepted, duplicate, rejected, unavailable
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ErrUnavailable is ingest answering 503 for the whole batch, or not
// answering at all.
var ErrUnavailable = errors.New("ingest unavailable")

// Ingest sends batches to ingest's POST /v1/events.
type Ingest struct {
	URL    string // base URL, e.g. http://127.0.0.1:8081
	APIKey string // empty: no Authorization header
	Client *http.Client
}

// Send posts one batch and answers an outcome per event, in order. A 503
// answer marks the unavailable events; a transport error or another 5xx is
// ErrUnavailable for all of them.
func (in *Ingest) Send(ctx context.Context, events []Event) ([]Outcome, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(in.URL, "/")+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ingest request: %w", err)
	}
	req.Header.Set("Content-Type", "application/cloudevents-batch+json")
	if in.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+in.APIKey)
	}
	client := in.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %d events: %w: %w", len(events), ErrUnavailable, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read ingest answer: %w: %w", ErrUnavailable, err)
	}
	var answer struct {
		Results []Outcome `json:"results"`
	}
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusMultiStatus ||
		resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(b, []byte(`"results"`)):
		if err := json.Unmarshal(b, &answer); err != nil || len(answer.Results) != len(events) {
			return nil, fmt.Errorf("ingest answered %d with %d results for %d events (%v): %s", resp.StatusCode, len(answer.Results), len(events), err, trim(b))
		}
		return answer.Results, nil
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("ingest answered %d: %w: %s", resp.StatusCode, ErrUnavailable, trim(b))
	default:
		return nil, fmt.Errorf("ingest refused the batch: %d %s", resp.StatusCode, trim(b))
	}
}

func trim(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	return strings.TrimSpace(string(b))
}

// Predictor asks serving for a prediction per card.
type Predictor struct {
	URL    string // serving's base URL
	Model  string
	Client *http.Client
}

// Predict answers the prediction id per card, in order ("" for a card
// that got none).
func (p *Predictor) Predict(ctx context.Context, cards []string) ([]string, error) {
	body, _ := json.Marshal(map[string]any{"entities": cards})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.URL, "/")+"/v1/predict/"+p.Model, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("predict request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("predict %d cards: %w", len(cards), err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, &PredictError{Status: resp.StatusCode, Body: trim(b)}
	}
	var answer struct {
		Results []struct {
			Entity       string `json:"entity"`
			PredictionID string `json:"prediction_id"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &answer); err != nil || len(answer.Results) != len(cards) {
		return nil, fmt.Errorf("predict answered %d results for %d cards (%v): %s", len(answer.Results), len(cards), err, trim(b))
	}
	ids := make([]string, len(cards))
	for i, r := range answer.Results {
		ids[i] = r.PredictionID
	}
	return ids, nil
}

// PredictError is serving refusing a predict request.
type PredictError struct {
	Status int
	Body   string
}

func (e *PredictError) Error() string { return fmt.Sprintf("predict: %d %s", e.Status, e.Body) }
