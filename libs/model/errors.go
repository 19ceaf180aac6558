package model

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is the stable id of an error of the registry: the "id" of an HTTP or
// NATS error body and the reason label of the registry's metrics.
type Code string

// Codes.
const (
	CodeInvalidName        Code = "invalid_name"
	CodeInvalidRequest     Code = "invalid_request"
	CodeTooLarge           Code = "too_large"
	CodeUnsupportedMedia   Code = "unsupported_media_type"
	CodeNotFound           Code = "not_found"
	CodeMethodNotAllowed   Code = "method_not_allowed"
	CodeModelNotFound      Code = "model_not_found"
	CodeVersionNotFound    Code = "version_not_found"
	CodeAliasNotFound      Code = "alias_not_found"
	CodeConflict           Code = "conflict"
	CodeVersionArchived    Code = "version_archived"
	CodeVersionAliased     Code = "version_aliased"
	CodeFeaturesNotApplied Code = "feature_definitions_not_applied"
	CodeNoRollbackTarget   Code = "no_rollback_target"
	CodeArtifactNotFound   Code = "artifact_not_found"
	CodeArtifactCorrupt    Code = "artifact_corrupt"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
)

// Error is an error of the registry with a stable id. errors.Is(err,
// ErrModelNotFound) is true for every *Error with the code of
// ErrModelNotFound, whatever its message, also after a trip over NATS or
// HTTP.
type Error struct {
	Code    Code   `json:"id"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Is matches another *Error by code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrInvalidName        = &Error{Code: CodeInvalidName}
	ErrInvalidRequest     = &Error{Code: CodeInvalidRequest}
	ErrTooLarge           = &Error{Code: CodeTooLarge}
	ErrUnsupportedMedia   = &Error{Code: CodeUnsupportedMedia}
	ErrNotFound           = &Error{Code: CodeNotFound}
	ErrMethodNotAllowed   = &Error{Code: CodeMethodNotAllowed}
	ErrModelNotFound      = &Error{Code: CodeModelNotFound}
	ErrVersionNotFound    = &Error{Code: CodeVersionNotFound}
	ErrAliasNotFound      = &Error{Code: CodeAliasNotFound}
	ErrConflict           = &Error{Code: CodeConflict}
	ErrVersionArchived    = &Error{Code: CodeVersionArchived}
	ErrVersionAliased     = &Error{Code: CodeVersionAliased}
	ErrFeaturesNotApplied = &Error{Code: CodeFeaturesNotApplied}
	ErrNoRollbackTarget   = &Error{Code: CodeNoRollbackTarget}
	ErrArtifactNotFound   = &Error{Code: CodeArtifactNotFound}
	ErrArtifactCorrupt    = &Error{Code: CodeArtifactCorrupt}
	ErrUnavailable        = &Error{Code: CodeUnavailable}
	ErrInternal           = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the *Error in err's chain, CodeInternal for any
// other error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// HTTPStatus is the HTTP status of an error code: 400 for bad input, 413 for
// a body or artifact over its limit, 415 for a body that is not JSON (or
// multipart where allowed), 404 for what does not exist (not_found: no such
// route), 405 for a route without that method, 409 for a state that forbids the change (a lost
// compare-and-set, an archived or aliased version, feature definitions no
// longer applied, nothing to roll back to), 422 for a corrupted artifact, 503
// while the registry is not connected yet, 500 otherwise.
func HTTPStatus(code Code) int {
	switch code {
	case CodeInvalidName, CodeInvalidRequest:
		return http.StatusBadRequest
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeNotFound, CodeModelNotFound, CodeVersionNotFound, CodeAliasNotFound, CodeArtifactNotFound:
		return http.StatusNotFound
	case CodeConflict, CodeVersionArchived, CodeVersionAliased, CodeFeaturesNotApplied, CodeNoRollbackTarget:
		return http.StatusConflict
	case CodeArtifactCorrupt:
		return http.StatusUnprocessableEntity
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
