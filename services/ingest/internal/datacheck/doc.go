// Package datacheck checks event data against its stream with code compiled
// once per stream version: the stream's JSON Schema becomes a tree of typed
// checks that reads the data's bytes in one pass, validating as it goes and
// picking up the entity key and event time, without the document tree,
// maps and exact big.Rat arithmetic of the general validator
// (santhosh-tekuri/jsonschema through libs/jsondoc, which streamspec's Check
// uses).
//
// It compiles the keywords the stream schemas use: type, properties,
// required, additionalProperties, items, minItems, maxItems, minLength,
// maxLength, pattern, format date-time, enum, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, boolean schemas and annotations. The
// compiled check only ever says "valid, and these are the fields"; for
// anything else — invalid data, a keyword it does not compile (then only
// the data that reaches it), a number with an exponent, a string it does
// not read exactly, a date-time in an unusual spelling — Checker.Check asks
// streamspec's Check, so that every verdict, reason and message is the
// library's. FuzzFast proves the compiled check never says valid where the
// library does not, with the same fields.
package datacheck
