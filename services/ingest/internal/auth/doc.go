// Package auth checks the API keys of the ingest HTTP API.
//
// A key is a random secret that a producer sends as "Authorization: Bearer
// <key>" or "X-API-Key: <key>". The service stores only its SHA-256, hex
// encoded, with a name (for logs) and the event types it may send ("*": all).
// A plain hash is enough because keys are long random strings (generate
// 32 random bytes): nobody can guess one from its hash, so the slow,
// salted hashes that protect human passwords would only add latency to
// every request. The presented key's hash is compared with every stored
// hash in constant time, without stopping at a match, so the answer's
// timing says nothing about the stored hashes.
package auth
