// Package store keeps the registry's state in NATS JetStream: model,
// version, alias and audit records in the KV bucket tributary_models (key
// layout in libs/model), artifacts in the object store tributary_artifacts.
// Version numbers come from a per-model counter moved by compare-and-set;
// aliases move by compare-and-set on their KV revision. It publishes
// nothing: the registry package does, after a write succeeded.
package store
