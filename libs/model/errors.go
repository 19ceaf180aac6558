package model

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tributary-ml/tributary/libs/reason"
)

// Code is the stable id of an error of the registry: the "reason" of an
// HTTP error body (libs/httperror), the "id" of a NATS error reply and the
// outcome label of the registry's metrics. It is reason.ID, and the codes
// are the ids of reason.Registry (and of reason.Common for unmatched
// routes), so there is one list of them.
type Code = reason.ID

// Codes.
const (
	CodeInvalidName        = reason.InvalidName
	CodeInvalidRequest     = reason.InvalidRequest
	CodeTooLarge           = reason.TooLarge
	CodeUnsupportedMedia   = reason.UnsupportedMediaType
	CodeNotFound           = reason.NotFound
	CodeMethodNotAllowed   = reason.MethodNotAllowed
	CodeModelNotFound      = reason.ModelNotFound
	CodeVersionNotFound    = reason.VersionNotFound
	CodeAliasNotFound      = reason.AliasNotFound
	CodeConflict           = reason.Conflict
	CodeVersionArchived    = reason.VersionArchived
	CodeVersionAliased     = reason.VersionAliased
	CodeFeaturesNotApplied = reason.FeaturesNotApplied
	CodeNoRollbackTarget   = reason.NoRollbackTarget
	CodeArtifactNotFound   = reason.ArtifactNotFound
	CodeArtifactCorrupt    = reason.ArtifactCorrupt
	CodeUnavailable        = reason.Unavailable
	CodeInternal           = reason.Internal
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

// HTTPStatus is the HTTP status of an error code, as reason.Registry (or,
// for not_found and method_not_allowed, reason.Common) lists it: 400 for
// bad input, 413 for a body or artifact over its limit, 415 for a body that
// is not JSON (or multipart where allowed), 404 for what does not exist, 405
// for a route without that method, 409 for a state that forbids the change
// (a lost compare-and-set, an archived or aliased version, feature
// definitions no longer applied, nothing to roll back to), 422 for a
// corrupted artifact, 503 while the registry is not connected, and 500 for
// internal and any code the catalogs do not list.
func HTTPStatus(code Code) int {
	for _, c := range []reason.Catalog{reason.Registry(), reason.Common()} {
		if d, ok := c.Lookup(code); ok && d.Status != 0 {
			return d.Status
		}
	}
	return http.StatusInternalServerError
}
