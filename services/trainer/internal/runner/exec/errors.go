package exec

import (
	"fmt"

	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
)

// Reason is the stable id of why a training command's run failed.
type Reason string

// Reasons. Every one but ReasonCanceled is bad input (runner.ErrBadInput):
// running the same command on the same set again would fail the same way.
const (
	ReasonStart         Reason = "start_failed"      // the command could not be started (not found, not executable)
	ReasonExit          Reason = "exit_status"       // it exited non-zero or was killed by a signal
	ReasonDeadline      Reason = "deadline_exceeded" // it was still running at the deadline and was killed
	ReasonCanceled      Reason = "canceled"          // the trainer stopped it (shutdown): may be retried
	ReasonNoModel       Reason = "no_model"          // it wrote no model file, or more than one
	ReasonBadModel      Reason = "bad_model"         // the model file does not load or does not fit the request
	ReasonBadMetrics    Reason = "bad_metrics"       // metrics.json is missing or not a flat object of finite numbers
	ReasonBadReferences Reason = "bad_references"    // references.json is not valid distributions of known names
	ReasonBadRequest    Reason = "bad_request"       // the request cannot be given to a command (no command, bad names)
)

// Error is a failed run of a training command. Match it with errors.As for
// the Reason, or errors.Is(err, runner.ErrBadInput).
type Error struct {
	Reason Reason
	File   string // the output file at fault, if any (model.txt, metrics.json, ...)
	Detail string
	Err    error // the cause, if any (an *os/exec.ExitError, context.DeadlineExceeded, a decoder's error)
}

func (e *Error) Error() string {
	s := "training command: " + string(e.Reason)
	if e.File != "" {
		s += ": " + e.File
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the cause and, unless the run was canceled,
// runner.ErrBadInput.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Reason != ReasonCanceled {
		errs = append(errs, runner.ErrBadInput)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func fileError(reason Reason, file, format string, args ...any) *Error {
	return &Error{Reason: reason, File: file, Detail: fmt.Sprintf(format, args...)}
}
