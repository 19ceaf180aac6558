// Package schemas embeds Tributary's data contracts, so that every module
// reads the very files in this directory:
//
//   - events/: a JSON Schema (draft 2020-12) for the data of every platform
//     event type, named <type>.json (tributary.model.registered.v1.json),
//     with a valid and an invalid example of each in
//     events/examples/<type>.valid.json and <type>.invalid.json. Events
//     returns them; libs/event compiles and checks them.
//   - clickhouse/: the ClickHouse migrations, applied in order.
//
// The module has no dependencies.
package schemas
