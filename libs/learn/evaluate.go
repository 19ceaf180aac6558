package learn

import "fmt"

// PredictAll scores every row of d with p and returns d.Rows*p.Outputs()
// values, row-major.
func PredictAll(p Predictor, d *Dataset) []float64 {
	k := p.Outputs()
	out := make([]float64, d.Rows*k)
	for i := range d.Rows {
		p.Predict(d.Row(i), out[i*k:(i+1)*k])
	}
	return out
}

// Evaluation is a model's figures on a labelled data set. Binary models get
// AUC, LogLoss, Accuracy, Precision, Recall and F1 (at P(y=1) >= 0.5);
// multiclass models get the macro one-vs-rest AUC, LogLoss and Accuracy;
// regression models get R2, MAE and RMSE. The others are zero.
type Evaluation struct {
	Task      Task    `json:"task"`
	Rows      int     `json:"rows"`
	AUC       float64 `json:"auc,omitempty"`
	LogLoss   float64 `json:"log_loss,omitempty"`
	Accuracy  float64 `json:"accuracy,omitempty"`
	Precision float64 `json:"precision,omitempty"`
	Recall    float64 `json:"recall,omitempty"`
	F1        float64 `json:"f1,omitempty"`
	R2        float64 `json:"r2,omitempty"`
	MAE       float64 `json:"mae,omitempty"`
	RMSE      float64 `json:"rmse,omitempty"`
}

// Evaluate scores d with p and measures the figures of task on it.
func Evaluate(p Predictor, d *Dataset, task Task) (Evaluation, error) {
	ev := Evaluation{Task: task, Rows: d.Rows}
	if err := d.Validate(); err != nil {
		return ev, fmt.Errorf("evaluate: %w", dataErr(ReasonShape, "%v", err))
	}
	pred := PredictAll(p, d)
	var err error
	switch task {
	case TaskBinary:
		if p.Outputs() != 1 {
			return ev, fmt.Errorf("evaluate: %w", dataErr(ReasonShape, "binary model has %d outputs", p.Outputs()))
		}
		if ev.AUC, err = AUC(d.Y, pred); err != nil {
			return ev, fmt.Errorf("evaluate AUC: %w", err)
		}
		if ev.LogLoss, err = LogLoss(d.Y, pred); err != nil {
			return ev, fmt.Errorf("evaluate log loss: %w", err)
		}
		c, err := Confuse(d.Y, pred, 0.5)
		if err != nil {
			return ev, fmt.Errorf("evaluate confusion: %w", err)
		}
		ev.Accuracy, ev.Precision, ev.Recall, ev.F1 = c.Accuracy(), c.Precision(), c.Recall(), c.F1()
	case TaskMulticlass:
		k := p.Outputs()
		if ev.AUC, err = MacroAUC(d.Y, pred, k); err != nil {
			return ev, fmt.Errorf("evaluate AUC: %w", err)
		}
		if ev.LogLoss, err = MulticlassLogLoss(d.Y, pred, k); err != nil {
			return ev, fmt.Errorf("evaluate log loss: %w", err)
		}
		if ev.Accuracy, err = MulticlassAccuracy(d.Y, pred, k); err != nil {
			return ev, fmt.Errorf("evaluate accuracy: %w", err)
		}
	case TaskRegression:
		if p.Outputs() != 1 {
			return ev, fmt.Errorf("evaluate: %w", dataErr(ReasonShape, "regression model has %d outputs", p.Outputs()))
		}
		if ev.R2, err = R2(d.Y, pred); err != nil {
			return ev, fmt.Errorf("evaluate R²: %w", err)
		}
		if ev.MAE, err = MAE(d.Y, pred); err != nil {
			return ev, fmt.Errorf("evaluate MAE: %w", err)
		}
		if ev.RMSE, err = RMSE(d.Y, pred); err != nil {
			return ev, fmt.Errorf("evaluate RMSE: %w", err)
		}
	default:
		return ev, fmt.Errorf("evaluate: %w", dataErr(ReasonBadTask, "unknown task %q", task))
	}
	return ev, nil
}
