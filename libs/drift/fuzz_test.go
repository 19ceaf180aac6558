package drift

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzDecodeWindow: any input either fails with ErrCorrupt or decodes to a
// window that encodes back to an equal window, and that can be merged
// into itself and compared with its reference without panicking.
func FuzzDecodeWindow(f *testing.F) {
	r := rand.New(rand.NewPCG(31, 32))
	ref := testReference(r)
	w, err := NewWindow(ref, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), 5*time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	for range 50 {
		addRow(f, w, randomRow(r, 0))
	}
	seed, err := json.Marshal(w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"version":1,"start":"2026-12-01T09:00:00Z","end":"2026-12-01T09:05:00Z","features":{},"prediction":{"kind":"categorical","count":1,"categories":["a"],"category_counts":[1],"max_unseen":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeWindow(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("encode a decoded window: %v", err)
		}
		back, err := DecodeWindow(again)
		if err != nil {
			t.Fatalf("decode %s: %v", again, err)
		}
		if err := back.Merge(got); err != nil {
			t.Fatalf("merge a window into its copy: %v", err)
		}
		_, _ = CompareWindow(ref, back, DefaultConfig())
	})
}
