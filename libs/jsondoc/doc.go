// Package jsondoc decodes one JSON document into the values a JSON Schema
// validator reads (map[string]any, []any, string, json.Number, bool, nil),
// exactly as encoding/json with UseNumber does, but strictly: it refuses
// what is valid JSON yet would make the validator and a consumer disagree,
// or make the validator fail:
//
//   - an object with a key twice (ErrDuplicateKey): the validator would
//     check one value and a consumer might read the other;
//   - a number that float64 cannot hold (ErrNumberRange): beyond about
//     1.8e308 in magnitude, non-zero below about 4.9e-324, an exponent over
//     9999, or a literal longer than MaxNumberLen characters. Consumers in
//     most languages read such a number as infinity or zero, and the
//     validator's exact arithmetic (big.Rat) panics on, or spends seconds
//     on, the largest of them.
//
// Both errors are a *Error naming the JSON pointer of the offending value.
//
// Validate is the one schema check of event data: it parses with Parse,
// validates against a compiled JSON Schema and reports each failing keyword
// as a Violation, and data that is not one JSON document as ErrMalformed.
// The stream data ingest checks (libs/streamspec) and the platform events
// libs/event checks go through it, so their violations and errors are the
// same types.
package jsondoc
