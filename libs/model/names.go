package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Well-known aliases. Any other valid name is a user-defined alias.
const (
	AliasProduction = "production"
	AliasCanary     = "canary" // carries a traffic weight
	AliasShadow     = "shadow"
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidateName checks a model or alias name (what says which, for the
// message): 1 to 64 letters, digits, '_' and '-', starting with a letter or
// digit. The error is an *Error with CodeInvalidName.
func ValidateName(what, name string) error {
	if !namePattern.MatchString(name) {
		return Errorf(CodeInvalidName, "invalid %s name %q: want 1 to 64 letters, digits, '_' or '-', starting with a letter or digit", what, name)
	}
	return nil
}

// ValidateAliasName checks the name of a new alias: a valid name
// (ValidateName) that is not all digits, since a version reference of
// digits ("3") is read as a version number and such an alias could never
// be resolved.
func ValidateAliasName(name string) error {
	if err := ValidateName("alias", name); err != nil {
		return err
	}
	if strings.Trim(name, "0123456789") == "" {
		return Errorf(CodeInvalidName, "invalid alias name %q: all digits, which reads as a version number; use a name with a letter", name)
	}
	return nil
}

// ModelKey is the KV key of a model's record.
func ModelKey(name string) string { return "model." + name }

// ModelKeyFilter selects every model's record.
const ModelKeyFilter = "model.*"

// VersionKey is the KV key of version n of a model.
func VersionKey(name string, n int) string { return "model." + name + ".v." + strconv.Itoa(n) }

// VersionKeyFilter selects every version of a model.
func VersionKeyFilter(name string) string { return "model." + name + ".v.*" }

// AliasKey is the KV key of an alias of a model.
func AliasKey(name, alias string) string { return "model." + name + ".alias." + alias }

// AliasKeyFilter selects every alias of a model.
func AliasKeyFilter(name string) string { return "model." + name + ".alias.*" }

// RequestKey is the KV key that records which version a registration with
// a request id produced (RegisterRequest.RequestID).
func RequestKey(name, requestID string) string { return "model." + name + ".request." + requestID }

// AuditKey is the KV key of the audit entry of the move that wrote revision
// rev of an alias key. Zero-padding keeps the keys of an alias in order.
func AuditKey(name, alias string, rev uint64) string {
	return fmt.Sprintf("model.%s.audit.%s.%020d", name, alias, rev)
}

// AuditKeyFilter selects every audit entry of a model.
func AuditKeyFilter(name string) string { return "model." + name + ".audit.>" }
