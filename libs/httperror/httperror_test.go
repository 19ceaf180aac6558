package httperror_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
)

func TestWrite(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  int
		reason  reason.ID
		msg     string
		details []httperror.Detail
		want    string
	}{
		{"plain", 400, "schema_violation", "data.amount: must be >= 0", nil,
			`{"error":"data.amount: must be >= 0","reason":"schema_violation"}`},
		{"details", 422, "schema_violation", "2 problems", []httperror.Detail{{Field: "data.a", Reason: "minimum", Message: "must be >= 0"}, {Message: "whole"}},
			`{"error":"2 problems","reason":"schema_violation","details":[{"field":"data.a","reason":"minimum","message":"must be >= 0"},{"message":"whole"}]}`},
		{"default 4xx reason", 413, "", "too big", nil, `{"error":"too big","reason":"request_entity_too_large"}`},
		{"default 5xx reason", 502, "", "", nil, `{"error":"Bad Gateway","reason":"internal"}`},
		{"default 503 reason", 503, "", "redis down", nil, `{"error":"redis down","reason":"unavailable"}`},
		{"not html-escaped", 400, "x", "<b>\"q\"</b>", nil, `{"error":"<b>\"q\"</b>","reason":"x"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set("Content-Length", "3")
			httperror.Write(w, c.status, c.reason, c.msg, c.details...)
			if w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if w.Header().Get("Content-Length") != "" {
				t.Error("a stale Content-Length was kept")
			}
			if got := w.Body.String(); got != c.want+"\n" {
				t.Errorf("body\n%s\nwant\n%s", got, c.want)
			}
			// The Open Inference Protocol's error answer: {"error": string}.
			var oip struct {
				Error *string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &oip); err != nil || oip.Error == nil || *oip.Error == "" {
				t.Errorf("not an OIP error body: %v", err)
			}
		})
	}
}

func TestStatusReason(t *testing.T) {
	for status, want := range map[int]reason.ID{
		400: "bad_request", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 413: "request_entity_too_large",
		415: "unsupported_media_type", 418: "i_m_a_teapot", 429: "too_many_requests", 500: "internal", 503: "unavailable", 499: "internal",
	} {
		if got := httperror.StatusReason(status); got != want || !got.Valid() {
			t.Errorf("StatusReason(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestUnmatched(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models/{model}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("model") == "missing" {
			httperror.Write(w, http.StatusNotFound, "model_not_found", "model missing")
			return
		}
		_, _ = io.WriteString(w, "model "+r.PathValue("model"))
	})
	mux.HandleFunc("PUT /v1/models/{model}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /dir/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "dir") })
	srv := httptest.NewServer(httperror.Unmatched(mux))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, c := range []struct {
		method, path string
		status       int
		reason       reason.ID
		body, allow  string
	}{
		{"GET", "/v1/models/m1", 200, "", "model m1", ""},
		{"GET", "/v1/models/missing", 404, "model_not_found", "", ""},
		{"GET", "/nowhere", 404, "not_found", "", ""},
		{"DELETE", "/v1/models/m1", 405, "method_not_allowed", "", "GET, HEAD, PUT"},
		{"GET", "/dir", 307, "", "", ""}, // the mux redirects to /dir/ (its 3xx code changed across Go versions)
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.status && !(c.status/100 == 3 && resp.StatusCode/100 == 3) {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if a := resp.Header.Get("Allow"); a != c.allow {
				t.Errorf("Allow %q, want %q", a, c.allow)
			}
			err = httperror.Check(resp)
			if c.reason == "" {
				if c.status < 400 && err != nil {
					t.Fatalf("Check: %v", err)
				}
				if c.body != "" {
					b, _ := io.ReadAll(resp.Body)
					if string(b) != c.body {
						t.Errorf("body %q, want %q", b, c.body)
					}
				}
				return
			}
			var e *httperror.Error
			if !errors.As(err, &e) || e.Reason != c.reason || e.Status != c.status || e.Body.Error == "" {
				t.Fatalf("Check = %#v, want reason %s", err, c.reason)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		reason reason.ID
		msg    string
		n      int // details
	}{
		{"envelope", 400, `{"error":"bad amount","reason":"schema_violation","id":"e1","details":[{"field":"a","message":"m"}]}`, "schema_violation", "bad amount", 1},
		{"oip server", 400, `{"error":"invalid tensor shape"}`, "", "invalid tensor shape", 0},
		{"unknown fields", 400, `{"error":"x","reason":"y","later":{"a":1}}`, "y", "x", 0},
		// The bodies before this package, verbatim from each service.
		{"registry", 404, "{\n  \"error\": {\n    \"id\": \"model_not_found\",\n    \"message\": \"model \\\"m\\\" not found\"\n  }\n}\n", "model_not_found", `model "m" not found`, 0},
		{"features", 400, `{"error":"too_many_entities","message":"entities: 1001, at most 1000"}` + "\n", "too_many_entities", "entities: 1001, at most 1000", 0},
		{"ingest", 400, `{"id":"e1","status":"rejected","reason":"malformed_json","message":"body: unexpected EOF"}` + "\n", "malformed_json", "body: unexpected EOF", 0},
		{"ingest unavailable", 503, `{"status":"unavailable","message":"too many requests in flight"}` + "\n", "unavailable", "too many requests in flight", 0},
		{"go mux text", 404, "404 page not found\n", "", "404 page not found", 0},
		{"html", 502, "<html>" + strings.Repeat("x", 2000) + "</html>", "", "<html>" + strings.Repeat("x", 506), 0},
		{"empty", 500, "", "", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := httperror.Parse(c.status, []byte(c.body))
			if e.Status != c.status || e.Reason != c.reason || e.Body.Error != c.msg || len(e.Details) != c.n {
				t.Errorf("Parse = %+v, want reason %q message %q", e, c.reason, c.msg)
			}
			if strings.Contains(c.body, `"id":"e1"`) != (e.ID == "e1") {
				t.Errorf("Parse = %+v, want reason %q message %q", e, c.reason, c.msg)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	resp := &http.Response{StatusCode: 409, Body: io.NopCloser(strings.NewReader(`{"error":"lost the race","reason":"conflict"}`))}
	err := httperror.Check(resp)
	if err == nil || err.Error() != "409 Conflict (conflict): lost the race" {
		t.Fatalf("Check = %v", err)
	}
	wrapped := errors.Join(errors.New("move alias"), err)
	for _, c := range []struct {
		target *httperror.Error
		want   bool
	}{
		{&httperror.Error{Body: httperror.Body{Reason: "conflict"}}, true},
		{&httperror.Error{Status: 409}, true},
		{&httperror.Error{Status: 409, Body: httperror.Body{Reason: "conflict"}}, true},
		{&httperror.Error{Body: httperror.Body{Reason: "not_found"}}, false},
		{&httperror.Error{Status: 404}, false},
	} {
		if got := errors.Is(wrapped, c.target); got != c.want {
			t.Errorf("errors.Is(err, %+v) = %v", c.target, got)
		}
	}
	if httperror.ReasonOf(wrapped) != "conflict" || httperror.ReasonOf(errors.New("x")) != "" {
		t.Error("ReasonOf")
	}
	if httperror.Check(&http.Response{StatusCode: 204, Body: http.NoBody}) != nil {
		t.Error("Check of a 204 is an error")
	}
}

func TestNotFound(t *testing.T) {
	w := httptest.NewRecorder()
	httperror.NotFound().ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if e := httperror.Parse(w.Code, w.Body.Bytes()); e.Status != 404 || e.Reason != reason.NotFound || e.Body.Error != "no route for GET /x" {
		t.Errorf("NotFound answered %+v", e)
	}
}
