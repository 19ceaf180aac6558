// Package runs keeps the trainer's tracked runs in the NATS KV bucket
// tributary_jobs: every training job is a run with its parameters, tags,
// metrics (the latest value per key on the run, the full history per key in
// entries of its own, one per point), the lineage the job fills in (training set, feature
// definitions, trainer and code version, seed) and a bounded log tail.
//
// Key layout (see the service README):
//
//	runs.<run id>                        the Run record
//	metrics.<run id>.<base64url(key)>.<timestamp>_<step>_<hash>
//	                                     one point of a metric's history
//	experiments.<experiment id>          an Experiment
//	experiment-names.<base64url(name)>   the id of the experiment with that name
//
// Every change of a record is a compare-and-set on the entry's revision,
// retried on conflict, so concurrent writers on one run never lose a write.
// A metric point is written once, keyed by its content, so a retried write
// adds nothing, and the history costs about 270 bytes a point however many
// revisions the bucket keeps. Records are
// bounded in size (Limits) so that no write exceeds the NATS max payload.
package runs
