package learn

import "fmt"

// Reason is the stable id of why a data set was refused, fit for a job's
// failure reason or a metric label.
type Reason string

// Reasons.
const (
	ReasonEmpty         Reason = "empty_dataset"      // no rows (or no features)
	ReasonShape         Reason = "bad_shape"          // X, Y, Rows, Cols or Features disagree
	ReasonSingleClass   Reason = "single_class"       // every label is the same class
	ReasonBadLabel      Reason = "bad_label"          // NaN or ±Inf label, or a class label out of range
	ReasonBadFeature    Reason = "non_finite_feature" // ±Inf in the features (NaN is a missing value)
	ReasonBadTask       Reason = "unknown_task"       // a task the learner does not know or support
	ReasonBadParam      Reason = "bad_param"          // a learner parameter out of range
	ReasonBadPrediction Reason = "bad_prediction"     // NaN, or a probability outside [0, 1], given to a metric
)

// DataError says why a data set (or a learner's parameters) was refused.
// Match a reason with errors.Is against the Err values below, or read
// Reason with errors.As.
type DataError struct {
	Reason Reason
	Detail string // what exactly, e.g. "label 12 is NaN"
}

func (e *DataError) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

// Is reports whether target is a DataError with the same reason and no
// detail (one of the Err values), so errors.Is(err, ErrSingleClass) works.
func (e *DataError) Is(target error) bool {
	t, ok := target.(*DataError)
	return ok && t.Detail == "" && t.Reason == e.Reason
}

// Errors to match with errors.Is.
var (
	ErrEmpty         = &DataError{Reason: ReasonEmpty}
	ErrShape         = &DataError{Reason: ReasonShape}
	ErrSingleClass   = &DataError{Reason: ReasonSingleClass}
	ErrBadLabel      = &DataError{Reason: ReasonBadLabel}
	ErrBadFeature    = &DataError{Reason: ReasonBadFeature}
	ErrBadTask       = &DataError{Reason: ReasonBadTask}
	ErrBadParam      = &DataError{Reason: ReasonBadParam}
	ErrBadPrediction = &DataError{Reason: ReasonBadPrediction}
)

func dataErr(r Reason, format string, args ...any) error {
	return &DataError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// NewDataError returns a DataError with a formatted detail, for the
// learners' own checks.
func NewDataError(r Reason, format string, args ...any) error {
	return dataErr(r, format, args...)
}
