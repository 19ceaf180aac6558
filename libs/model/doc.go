// Package model is the contract of Tributary's model registry, shared by the
// registry service and the services that talk to it (serving, trainer,
// monitor, the cli):
//
//   - the records the registry keeps: Model, Version with its Lineage,
//     Alias, AuditEntry, and the reference Distribution of a feature or of
//     the prediction that the drift monitor compares a window against;
//   - the key layout of the KV bucket tributary_models (ModelKey,
//     VersionKey, AliasKey, AuditKey) and the key convention of the feature
//     definitions in tributary_features that the registry checks before it
//     moves an alias (FeatureViewKey, FeatureView);
//   - content-addressed artifacts in the object store tributary_artifacts,
//     written with PutArtifact (which never replaces an intact object, and
//     replaces a corrupted one) and read with OpenArtifact, which verifies
//     the sha256 of every byte it returns; SweepArtifactChunks removes what
//     killed uploads left;
//   - the NATS request-reply subjects of the registry and Client, which
//     speaks them;
//   - Error with stable ids (Code, which is reason.ID: the ids of
//     reason.Registry), which travel over NATS (in a Reply) and HTTP (as the
//     reason of the libs/httperror envelope) so that callers decide with
//     errors.Is.
//
// # KV layout (bucket tributary_models)
//
//	model.<name>                     Model: created, latest version number (the per-model counter, CAS)
//	model.<name>.v.<n>               Version n: artifact, lineage, status
//	model.<name>.alias.<alias>       Alias: the version it points at, weight, last move, rollback history
//	model.<name>.audit.<alias>.<rev> AuditEntry of the move that wrote revision rev of the alias key
//	model.<name>.request.<id>        Registration: the version a request id produced (idempotent retries)
//
// Names of models and aliases match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ (no
// dots, which separate KV key tokens), so every key above is a valid KV key
// and a key filter like model.<name>.v.* selects exactly one model's
// versions. Version numbers start at 1, increase per model and are never
// reused: the counter in model.<name> moves by compare-and-set.
package model
