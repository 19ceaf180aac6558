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
// The event data that ingest validates and the platform events that
// libs/event validates are decoded with it.
package jsondoc
