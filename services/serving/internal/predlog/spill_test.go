package predlog_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// spillOf leaves a spill in dir holding records 0..n-1, written by a log
// whose Kafka never answers.
func spillOf(t *testing.T, dir string, n int) {
	t.Helper()
	cfg := fakeConfig(dir)
	cfg.MaxBufferedRecords = 1
	r := start(t, cfg, &recorder{})
	for i := range n {
		if !r.Log.Log(entry(i, 2)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	eventually(t, "records spilled", func() bool { return r.Stats().Spilled == int64(n-1) })
	r.stop(t)
}

// replay opens the spill in dir and returns the ids it sends, in order.
func replay(t *testing.T, dir string, want int) []int {
	t.Helper()
	p := &recorder{}
	cfg := fakeConfig(dir)
	cfg.MaxInFlight = 1000
	r := start(t, cfg, p)
	eventually(t, "replayed", func() bool { return p.len() >= want })
	r.stop(t)
	var got []int
	for _, rec := range p.recs {
		got = append(got, idNum(t, header(rec, "ce_id")))
	}
	return got
}

// TestTornTail: a segment whose end was torn by a crash, or corrupted, is
// truncated after its last whole, CRC-correct record when the spill is
// opened; every record before it is sent, in order. A corrupt .ack file
// means sending the whole segment again.
func TestTornTail(t *testing.T) {
	const n = 30
	last := func(dir string) string {
		segs := segments(t, dir)
		return segs[len(segs)-1]
	}
	cases := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		want    int // records replayed: 0..want-1
		trunc   bool
	}{
		{"intact", func(*testing.T, string) {}, n, false},
		{"cut short", func(t *testing.T, dir string) {
			p := last(dir)
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()-3); err != nil {
				t.Fatal(err)
			}
		}, n - 1, true},
		{"crc mismatch", func(t *testing.T, dir string) {
			p := last(dir)
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0xff
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, n - 1, true},
		{"half a header", func(t *testing.T, dir string) {
			f, err := os.OpenFile(last(dir), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{0, 0, 1})
			f.Close()
		}, n, true},
		{"length beyond the file", func(t *testing.T, dir string) {
			f, err := os.OpenFile(last(dir), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, 5, 6})
			f.Close()
		}, n, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			spillOf(t, dir, n)
			before, _ := os.Stat(last(dir))
			tc.corrupt(t, dir)
			got := replay(t, dir, tc.want)
			if want := ids(0, tc.want); !slices.Equal(got, want) {
				t.Fatalf("replayed %v, want %v", got, want)
			}
			if tc.trunc {
				// The new log deletes nothing (no acknowledgements): the
				// file is there, cut at its last whole record.
				after, err := os.Stat(last(dir))
				if err != nil {
					t.Fatal(err)
				}
				if tc.want == n && after.Size() != before.Size() || tc.want < n && after.Size() >= before.Size() {
					t.Errorf("segment size %d after the repair, %d before the damage", after.Size(), before.Size())
				}
			}
		})
	}
}

// TestCorruptAckFile: an .ack file that fails its CRC is ignored: the whole
// segment is sent again (duplicates, not losses).
func TestCorruptAckFile(t *testing.T) {
	dir := t.TempDir()
	spillOf(t, dir, 10)
	for _, seg := range segments(t, dir) {
		ack := seg[:len(seg)-len(".seg")] + ".ack"
		if err := os.WriteFile(ack, []byte("0123456789ab"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := replay(t, dir, 10), ids(0, 10); !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatal(err)
	}
}

func ids(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
