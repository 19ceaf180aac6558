package runs

import (
	"errors"
	"fmt"
)

// Code is the stable id of an error of the run store. The HTTP APIs map it
// to their own codes (the MLflow error_code, the "id" of /v1 errors).
type Code string

// Codes.
const (
	CodeNotFound      Code = "not_found"      // no such run or experiment
	CodeAlreadyExists Code = "already_exists" // an experiment with that name exists
	CodeInvalid       Code = "invalid"        // bad input: a name, a key, a value, a changed param
	CodeLimitExceeded Code = "limit_exceeded" // the run would exceed one of Limits
	CodeConflict      Code = "conflict"       // compare-and-set contended for too long
)

// Error is an error of the run store with a stable code. errors.Is(err,
// ErrNotFound) is true for every *Error with the code of ErrNotFound.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is matches another *Error by code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrNotFound      = &Error{Code: CodeNotFound}
	ErrAlreadyExists = &Error{Code: CodeAlreadyExists}
	ErrInvalid       = &Error{Code: CodeInvalid}
	ErrLimitExceeded = &Error{Code: CodeLimitExceeded}
	ErrConflict      = &Error{Code: CodeConflict}
)

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the *Error in err's chain, "" for nil and for
// any other error (an internal one).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
