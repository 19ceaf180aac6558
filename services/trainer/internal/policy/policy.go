// Package policy decides, from a candidate's and the production model's
// figures on the same holdout, whether a candidate is promoted: the manual,
// auto and canary policies of the training spec. A decision carries its
// figures and its reason, promoted or not.
package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
)

// Actions of a decision.
const (
	ActionPromote = "promote" // move production to the candidate
	ActionCanary  = "canary"  // move canary to the candidate, with a weight
	ActionNone    = "none"    // register only
)

// Input is what a decision is made on.
type Input struct {
	Policy trainspec.Policy
	Metric string
	// Candidate are the candidate's holdout metrics.
	Candidate map[string]float64
	// ProductionVersion is 0 when the model has no production version;
	// Production are its metrics on the same holdout, nil when it could
	// not be evaluated (ProductionNote says why).
	ProductionVersion int
	Production        map[string]float64
	ProductionNote    string
	At                time.Time
}

// Decide applies the policy.
func Decide(in Input) jobs.Decision {
	d := jobs.Decision{Policy: string(in.Policy.Kind), Metric: in.Metric, Candidate: in.Candidate[in.Metric], ProductionVersion: in.ProductionVersion, Margin: in.Policy.Margin, At: in.At.UTC(), Action: ActionNone}
	if v, ok := in.Production[in.Metric]; ok && in.ProductionVersion > 0 {
		d.Production = &v
	}
	switch in.Policy.Kind {
	case trainspec.PolicyManual:
		d.Reason = "manual policy: registered only"
	case trainspec.PolicyCanary:
		if in.ProductionVersion == 0 {
			// A canary beside no production version would leave the rest
			// of the traffic with nothing to answer it.
			d.Action, d.Alias, d.Reason = ActionPromote, model.AliasProduction, "canary policy: no production version yet, so the first version is production"
			break
		}
		w := in.Policy.CanaryWeight
		d.Action, d.Alias, d.Weight = ActionCanary, model.AliasCanary, &w
		d.Reason = fmt.Sprintf("canary policy: canary at weight %g", w)
	case trainspec.PolicyAuto:
		d.Alias = model.AliasProduction
		switch {
		case in.ProductionVersion == 0:
			d.Action, d.Reason = ActionPromote, "no production version yet"
		case d.Production == nil:
			d.Reason = fmt.Sprintf("production version %d could not be evaluated on the holdout: %s", in.ProductionVersion, in.ProductionNote)
		case math.IsNaN(d.Candidate):
			d.Reason = fmt.Sprintf("candidate %s is NaN", in.Metric)
		default:
			gain := d.Candidate - *d.Production
			if !trainspec.HigherIsBetter(in.Metric) {
				gain = -gain
			}
			if gain > 0 && gain >= in.Policy.Margin {
				d.Action = ActionPromote
				d.Reason = fmt.Sprintf("%s %.6g beats production version %d's %.6g by %.6g (margin %g)", in.Metric, d.Candidate, in.ProductionVersion, *d.Production, gain, in.Policy.Margin)
			} else {
				d.Reason = fmt.Sprintf("%s %.6g does not beat production version %d's %.6g by the margin %g (gain %.6g)", in.Metric, d.Candidate, in.ProductionVersion, *d.Production, in.Policy.Margin, gain)
			}
		}
	}
	if d.Action == ActionNone {
		d.Alias = ""
	}
	return d
}
