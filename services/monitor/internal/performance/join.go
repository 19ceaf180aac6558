package performance

import (
	"context"
	"slices"
	"time"
)

type joinReader interface {
	ByID(ctx context.Context, ids []string) ([]Prediction, error)
	ByEntity(ctx context.Context, models, entities []string, from, to time.Time) ([]Prediction, error)
}

// Join finds the predictions labels judge: a label with a prediction_id
// judges that prediction; one without judges, for each model whose
// label_stream is the label's stream, the latest prediction of each version
// and route for the label's entity made in [label time - the model's
// horizon, label time]. A label that finds none is unmatched (its
// prediction is not logged yet, or never will be). An error is transient.
func Join(ctx context.Context, cfg *Config, st joinReader, labels []Label) (joined []Joined, unmatched []Label, err error) {
	var ids []string
	byStream := map[string][]Label{}
	for _, l := range labels {
		if l.PredictionID != "" {
			ids = append(ids, l.PredictionID)
		} else {
			byStream[l.Stream] = append(byStream[l.Stream], l)
		}
	}
	found := map[string]Prediction{}
	if len(ids) > 0 {
		ps, err := st.ByID(ctx, ids)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range ps {
			found[p.ID] = p
		}
	}
	for _, l := range labels {
		if l.PredictionID == "" {
			continue
		}
		p, ok := found[l.PredictionID]
		if !ok {
			unmatched = append(unmatched, l)
			continue
		}
		joined = append(joined, cfg.joined(p, l, false))
	}
	streams := make([]string, 0, len(byStream))
	for s := range byStream {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	for _, s := range streams {
		ls := byStream[s]
		models := cfg.StreamModels(s)
		if len(models) == 0 {
			unmatched = append(unmatched, ls...)
			continue
		}
		var longest time.Duration
		for _, m := range models {
			longest = max(longest, time.Duration(cfg.Model(m).Horizon))
		}
		var entities []string
		from, to := ls[0].EventTime, ls[0].EventTime
		for _, l := range ls {
			if !slices.Contains(entities, l.EntityKey) {
				entities = append(entities, l.EntityKey)
			}
			from, to = minTime(from, l.EventTime), maxTime(to, l.EventTime)
		}
		ps, err := st.ByEntity(ctx, models, entities, from.Add(-longest), to)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range ls {
			latest := map[string]Prediction{} // by model, version, route
			var order []string
			for _, p := range ps {
				h := time.Duration(cfg.Model(p.Model).Horizon)
				if p.EntityKey != l.EntityKey || p.Time.After(l.EventTime) || p.Time.Before(l.EventTime.Add(-h)) {
					continue
				}
				k := p.Model + "\x00" + FormatGroup(float64(p.Version)) + "\x00" + p.Route
				q, ok := latest[k]
				if !ok {
					order = append(order, k)
				}
				if !ok || p.Time.After(q.Time) || (p.Time.Equal(q.Time) && p.ID > q.ID) {
					latest[k] = p
				}
			}
			if len(order) == 0 {
				unmatched = append(unmatched, l)
				continue
			}
			slices.Sort(order)
			for _, k := range order {
				joined = append(joined, cfg.joined(latest[k], l, true))
			}
		}
	}
	return joined, unmatched, nil
}

func (c *Config) joined(p Prediction, l Label, byEntity bool) Joined {
	j := Joined{Prediction: p, Label: l.Value, LabelID: l.ID, LabelTime: l.EventTime, ByEntity: byEntity, LabelIngestMs: uint64(l.IngestTime.UnixMilli())}
	if f := c.Model(p.Model).Fairness; f != nil {
		j.Attribute = f.Attribute
		j.AttributeValue = p.Feature(f.Attribute)
	}
	return j
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
