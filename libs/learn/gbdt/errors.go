package gbdt

import (
	"errors"
	"fmt"

	"github.com/tributary-ml/tributary/libs/learn"
)

// ErrInvalidModel is wrapped by every error of decoding a model file that
// is not a valid GBDT model (wrong version, a tree that loops or reads out
// of range, a non-finite value); match it with errors.Is.
var ErrInvalidModel = errors.New("invalid gbdt model")

func invalidModel(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidModel, fmt.Sprintf(format, args...))
}

// badParam is a parameter error with the shared reason bad_param.
func badParam(format string, args ...any) error {
	return learn.NewDataError(learn.ReasonBadParam, "gbdt "+format, args...)
}
