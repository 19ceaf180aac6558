// Package cardgen generates a seeded, realistic card-transaction workload
// and streams it into Tributary: transactions to ingest over HTTP, fraud
// labels (tributary.label.recorded.v1, the built-in label stream) some
// minutes later and some never, and optionally a prediction per
// transaction from serving, whose id the label then carries.
//
// The workload is deterministic under a seed: the same seed gives the same
// cards, transactions and label fates, whatever the clock. A drift switch
// shifts the amount distribution and opens a new merchant category, from a
// given time or on demand.
//
// It lives in libs because three programs use it: `tributary generate`
// (the cli), the e2e loop and fault tests, and `make run`'s demo.
package cardgen
