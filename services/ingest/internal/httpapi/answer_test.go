package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// TestAppendBatchResponseEqualsMarshal: the hand-written encoding of the
// answers gives json.Marshal's bytes, on strings with everything
// encoding/json escapes (quotes, controls, HTML characters, non-ASCII,
// bytes that are not UTF-8, U+2028) and on empty and absent fields.
func TestAppendBatchResponseEqualsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "e-1", "a\"b", `back\slash`, "tab\there", "nl\n", "\x00\x1f\x7f", "<script>&amp;", "ü€😀", "\xff\xfe", "\u2028\u2029", "plain text, with spaces"}
	pick := func() string { return strs[r.IntN(len(strs))] }
	for i := range 5000 {
		resp := BatchResponse{Error: pick(), Reason: reason.ID(pick()), Accepted: r.IntN(1000), Duplicate: r.IntN(3), Rejected: r.IntN(3), Unavailable: r.IntN(3)}
		if n := r.IntN(5); n > 0 {
			resp.Results = make([]Result, n-1) // n-1 = 0: empty, not null
			for j := range resp.Results {
				resp.Results[j] = Result{ID: pick(), Status: intake.Outcome(pick()), Reason: reason.ID(pick()), Error: pick()}
			}
		}
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendBatchResponse(nil, &resp); string(got) != string(want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if len(resp.Results) > 0 {
			want, _ := json.Marshal(resp.Results[0])
			if got := appendResult(nil, &resp.Results[0]); string(got) != string(want) {
				t.Fatalf("case %d result:\n got %s\nwant %s", i, got, want)
			}
		}
	}
}

func benchResponse() BatchResponse {
	resp := BatchResponse{Accepted: 100, Results: make([]Result, 100)}
	for i := range resp.Results {
		resp.Results[i] = Result{ID: "a1b2c3-b-42949672960" + string(rune('0'+i%10)), Status: intake.Accepted}
	}
	return resp
}

// BenchmarkBatchResponse is the encoding of a batch's answer (100
// accepted events); BenchmarkBatchResponseMarshal is encoding/json's.
func BenchmarkBatchResponse(b *testing.B) {
	resp := benchResponse()
	b.ReportAllocs()
	loopCPU(b, func() { _ = appendBatchResponse(make([]byte, 0, batchResponseSize(&resp)), &resp) })
}

func BenchmarkBatchResponseMarshal(b *testing.B) {
	resp := benchResponse()
	b.ReportAllocs()
	loopCPU(b, func() { _, _ = json.Marshal(resp) })
}
