package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/api"
	"github.com/tributary-ml/tributary/services/features/internal/catalog"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

const spec = `
entities: [{name: user}]
sources:
  - {name: clicks, stream: clicks, entity_key: /user_id, fields: {price: number}}
views:
  - name: uc
    entity: user
    source: clicks
    ttl: 1d
    features:
      - {name: clicks, agg: count, windows: [1h]}
`

// reader answers every read with no values, or with err.
type reader struct{ err error }

func (r reader) Read(_ context.Context, p *tiles.Plan, entities []string, _ int64) ([][]tiles.Value, error) {
	if r.err != nil {
		return nil, r.err
	}
	out := make([][]tiles.Value, len(entities))
	for i := range out {
		out[i] = make([]tiles.Value, len(p.View.Features))
	}
	return out, nil
}

func server(t *testing.T, rd api.Reader) *httptest.Server {
	t.Helper()
	views, err := featurespec.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	cat.Set(views[0])
	mux := http.NewServeMux()
	api.New(cat.Snapshot, rd, slog.New(slog.DiscardHandler)).Register(func(p string, h http.Handler) { mux.Handle(p, h) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestErrorAnswers checks that every refusal is the libs/httperror envelope
// with the status of its reason in the features catalog, and that request
// bodies are read strictly.
func TestErrorAnswers(t *testing.T) {
	ok := `{"entities":["a"],"features":["uc:clicks_1h"]}`
	for _, c := range []struct {
		name, method, path, contentType, body string
		reader                                reader
		status                                int
		reason                                reason.ID
		msg                                   string
	}{
		{"ok", "POST", "/v1/features", "application/json", ok, reader{}, 200, "", ""},
		{"ok without content type", "POST", "/v1/features", "", ok, reader{}, 200, "", ""},
		{"ok with charset", "POST", "/v1/features", "application/json; charset=utf-8", ok, reader{}, 200, "", ""},
		{"ok with trailing white space", "POST", "/v1/features", "application/json", ok + "\n\t \n", reader{}, 200, "", ""},
		{"wrong content type", "POST", "/v1/features", "text/plain", ok, reader{}, 415, reason.UnsupportedMediaType, `Content-Type "text/plain": want application/json`},
		{"form content type", "POST", "/v1/features", "application/x-www-form-urlencoded", ok, reader{}, 415, reason.UnsupportedMediaType, "want application/json"},
		{"trailing document", "POST", "/v1/features", "application/json", ok + `{"entities":["b"]}`, reader{}, 400, reason.MalformedRequest, "data after the JSON document"},
		{"trailing garbage", "POST", "/v1/features", "application/json", ok + "x", reader{}, 400, reason.MalformedRequest, "data after the JSON document"},
		{"too large", "POST", "/v1/features", "application/json", `{"entities":["` + strings.Repeat("a", api.MaxBodyBytes) + `"]}`, reader{}, 413, reason.RequestTooLarge, "more than 1048576 bytes"},
		{"too large after the document", "POST", "/v1/features", "application/json", ok + strings.Repeat(" ", api.MaxBodyBytes), reader{}, 413, reason.RequestTooLarge, "more than 1048576 bytes"},
		{"unknown field", "POST", "/v1/features", "application/json", `{"entities":["a"],"feature":["uc:clicks_1h"]}`, reader{}, 400, reason.MalformedRequest, `unknown field "feature"`},
		{"not json", "POST", "/v1/features", "application/json", `{`, reader{}, 400, reason.MalformedRequest, "body:"},
		{"no entities", "POST", "/v1/features", "application/json", `{"features":["uc:clicks_1h"]}`, reader{}, 400, reason.MalformedRequest, "entities: empty"},
		{"too many entities", "POST", "/v1/features", "application/json", `{"entities":[` + strings.TrimSuffix(strings.Repeat(`"a",`, api.MaxEntities+1), ",") + `],"features":["uc:clicks_1h"]}`, reader{}, 400, reason.TooManyEntities, "at most 1000"},
		{"too many features", "POST", "/v1/features", "application/json", `{"entities":["a"],"features":[` + strings.TrimSuffix(strings.Repeat(`"uc:clicks_1h",`, api.MaxFeatures+1), ",") + `]}`, reader{}, 400, reason.TooManyFeatures, "at most 500"},
		{"unknown feature", "POST", "/v1/features", "application/json", `{"entities":["a"],"features":["uc:nope"]}`, reader{}, 400, reason.UnknownFeature, "nope"},
		{"unknown view", "POST", "/v1/features", "application/json", `{"entities":["a"],"features":["zz:clicks_1h"]}`, reader{}, 400, reason.UnknownView, `unknown view "zz" in "zz:clicks_1h"`},
		{"unknown view of one", "GET", "/v1/features/zz/a", "", "", reader{}, 400, reason.UnknownView, `unknown view "zz"`},
		{"corrupt", "GET", "/v1/features/uc/a", "", "", reader{tiles.ErrCorrupt}, 500, reason.CorruptState, "corrupt"},
		{"unavailable", "GET", "/v1/features/uc/a", "", "", reader{io.ErrUnexpectedEOF}, 503, reason.Unavailable, "online store: unexpected EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := server(t, c.reader)
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if c.status == 200 {
				if resp.StatusCode != 200 {
					body, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
				}
				var out api.Response
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Results) != 1 {
					t.Fatalf("answer %+v, %v", out, err)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			var got httperror.Body
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields() // the envelope and nothing else
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if resp.StatusCode != c.status || got.Reason != c.reason || !strings.Contains(got.Error, c.msg) {
				t.Errorf("answer %d %+v, want %d %s containing %q", resp.StatusCode, got, c.status, c.reason, c.msg)
			}
			def, ok := reason.Features().Lookup(got.Reason)
			if !ok || def.Status != resp.StatusCode {
				t.Errorf("reason %s: features catalog has %+v (listed %v), answered %d", got.Reason, def, ok, resp.StatusCode)
			}
		})
	}
}

// indexReader answers, for each feature, its index in the plan read.
type indexReader struct{}

func (indexReader) Read(_ context.Context, p *tiles.Plan, entities []string, _ int64) ([][]tiles.Value, error) {
	out := make([][]tiles.Value, len(entities))
	for i := range out {
		out[i] = make([]tiles.Value, len(p.View.Features))
		for j := range out[i] {
			out[i][j] = tiles.Value{V: int64(j), Time: 1}
		}
	}
	return out, nil
}

// TestResolvedListsFollowTheCatalog: a feature list resolved once is
// resolved again when the views change, so that a remembered list never
// reads a feature from another version of its view, nor one deleted.
func TestResolvedListsFollowTheCatalog(t *testing.T) {
	parse := func(features string) featurespec.View {
		t.Helper()
		views, err := featurespec.Parse([]byte(strings.Replace(spec, "      - {name: clicks, agg: count, windows: [1h]}\n", features, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return views[0]
	}
	cat := catalog.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	cat.Set(parse("      - {name: clicks, agg: count, windows: [1h]}\n"))
	mux := http.NewServeMux()
	api.New(cat.Snapshot, indexReader{}, slog.New(slog.DiscardHandler)).Register(func(p string, h http.Handler) { mux.Handle(p, h) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := `{"entities":["a"],"features":["uc:clicks_1h"]}`
	read := func() (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/v1/features", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		features string
		status   int
		want     string
	}{
		{"      - {name: clicks, agg: count, windows: [1h]}\n", 200, `"uc:clicks_1h":{"value":0,`},
		{"      - {name: clicks, agg: count, windows: [1h]}\n", 200, `"uc:clicks_1h":{"value":0,`}, // remembered
		{"      - {name: spend, agg: sum, field: price, windows: [1h]}\n      - {name: clicks, agg: count, windows: [1h]}\n", 200, `"uc:clicks_1h":{"value":1,`},
		{"      - {name: spend, agg: sum, field: price, windows: [1h]}\n", 400, `"reason":"unknown_feature"`},
	} {
		if len(cat.Snapshot().All()) == 0 || c.features != "      - {name: clicks, agg: count, windows: [1h]}\n" {
			cat.Set(parse(c.features))
		}
		if status, got := read(); status != c.status || !strings.Contains(got, c.want) {
			t.Errorf("view with\n%s: answer %d %s, want %d containing %s", c.features, status, got, c.status, c.want)
		}
	}
}

// TestAnswersHaveContentLength: answers, small (net/http counts them) and
// past net/http's 2 KB chunking threshold (the API counts them), go out
// with a Content-Length, not chunked.
func TestAnswersHaveContentLength(t *testing.T) {
	srv := server(t, reader{})
	for _, n := range []int{1, 100} {
		ents := make([]string, n)
		for i := range ents {
			ents[i] = "entity-" + strings.Repeat("x", i%7)
		}
		body, _ := json.Marshal(api.Request{Entities: ents, Features: []string{"uc:clicks_1h"}})
		resp, err := http.Post(srv.URL+"/v1/features", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%d entities: status %d, %v", n, resp.StatusCode, err)
		}
		if n == 100 && len(got) < 2048 {
			t.Fatalf("100 entities: answer of %d bytes, want one past 2 KB", len(got))
		}
		if len(resp.TransferEncoding) > 0 || resp.ContentLength != int64(len(got)) {
			t.Errorf("%d entities: Transfer-Encoding %v, Content-Length %d for %d bytes", n, resp.TransferEncoding, resp.ContentLength, len(got))
		}
	}
}
