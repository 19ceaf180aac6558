package gbdt

import (
	"errors"
	"fmt"
)

// Reason is the stable id of a rejected training input or model file: the
// trainer reports it to the user and uses it as a metric label.
type Reason string

// Reasons.
const (
	ReasonEmptyDataset    Reason = "empty_dataset"    // no rows, no features, or shapes that do not agree
	ReasonSingleClass     Reason = "single_class"     // a classification set whose labels hold one class
	ReasonInvalidLabel    Reason = "invalid_label"    // NaN/Inf label, or not a class id for classification
	ReasonInfiniteFeature Reason = "infinite_feature" // +Inf or -Inf feature value (NaN is a missing value)
	ReasonInvalidParams   Reason = "invalid_params"   // hyper-parameters out of range
	ReasonInvalidModel    Reason = "invalid_model"    // a model file that does not decode into a valid model
)

// Error is a rejection with a stable reason. errors.Is(err, ErrSingleClass)
// is true for every *Error with that reason, whatever its message.
type Error struct {
	Reason  Reason
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "gbdt: " + string(e.Reason)
	}
	return "gbdt: " + e.Message
}

// Is matches another *Error by reason.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Reason == e.Reason
}

// Sentinel errors, one per reason, for errors.Is.
var (
	ErrEmptyDataset    = &Error{Reason: ReasonEmptyDataset}
	ErrSingleClass     = &Error{Reason: ReasonSingleClass}
	ErrInvalidLabel    = &Error{Reason: ReasonInvalidLabel}
	ErrInfiniteFeature = &Error{Reason: ReasonInfiniteFeature}
	ErrInvalidParams   = &Error{Reason: ReasonInvalidParams}
	ErrInvalidModel    = &Error{Reason: ReasonInvalidModel}
)

func errorf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}
