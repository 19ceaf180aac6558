package windows

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tributary-ml/tributary/libs/drift"
)

// snapshotVersion is the layout version of a tracker snapshot.
const snapshotVersion = 1

type snapshotJSON struct {
	Version   int              `json:"version"`
	Newest    time.Time        `json:"newest"`
	Watermark time.Time        `json:"watermark"`
	Offsets   map[string]int64 `json:"offsets"`
	Windows   []windowJSON     `json:"windows"`
}

type windowJSON struct {
	Model   string          `json:"model"`
	Version int             `json:"version"`
	Size    time.Duration   `json:"size_ns"`
	Window  json.RawMessage `json:"window"`
}

// Snapshot encodes the open windows, the watermark and offsets (the last
// offset the state includes per topic/partition key).
func (t *Tracker) Snapshot(offsets map[string]int64) ([]byte, error) {
	s := snapshotJSON{Version: snapshotVersion, Newest: t.newest, Watermark: t.watermark, Offsets: offsets, Windows: []windowJSON{}}
	for k, w := range t.open {
		b, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("snapshot window %s v%d: %w", k.Model, k.Version, err)
		}
		s.Windows = append(s.Windows, windowJSON{Model: k.Model, Version: k.Version, Size: k.Size, Window: b})
	}
	return json.Marshal(s)
}

// Restore replaces the tracker's state with a snapshot's and returns the
// offsets it includes. The references of the restored windows are not in
// the snapshot: Closed.Ref is zero for them until a prediction of their
// version is added again (the caller reads it then).
func (t *Tracker) Restore(b []byte) (map[string]int64, error) {
	var s snapshotJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode drift snapshot: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("decode drift snapshot: version %d, want %d", s.Version, snapshotVersion)
	}
	open := map[Key]*drift.Window{}
	for _, wj := range s.Windows {
		w, err := drift.DecodeWindow(wj.Window)
		if err != nil {
			return nil, fmt.Errorf("decode drift snapshot: window of %s v%d: %w", wj.Model, wj.Version, err)
		}
		if w.End().Sub(w.Start()) != wj.Size {
			return nil, fmt.Errorf("decode drift snapshot: window of %s v%d spans %v, recorded size %v", wj.Model, wj.Version, w.End().Sub(w.Start()), wj.Size)
		}
		open[Key{Model: wj.Model, Version: wj.Version, Size: wj.Size, Start: w.Start()}] = w
	}
	t.open, t.newest, t.watermark = open, s.Newest, s.Watermark
	t.refs = map[Key]Reference{}
	if s.Offsets == nil {
		s.Offsets = map[string]int64{}
	}
	return s.Offsets, nil
}
