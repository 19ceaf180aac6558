// Package runs keeps the trainer's tracked runs in the NATS KV bucket
// tributary_jobs: every training job is a run with its parameters, tags,
// metrics (the latest value per key on the run, the full history per key in
// an entry of its own), the lineage the job fills in (training set, feature
// definitions, trainer and code version, seed) and a bounded log tail.
//
// Key layout (see the service README):
//
//	runs.<run id>                        the Run record
//	metrics.<run id>.<base64url(key)>    a metric's history (History)
//	experiments.<experiment id>          an Experiment
//	experiment-names.<base64url(name)>   the id of the experiment with that name
//
// Every change is a compare-and-set on the entry's revision, retried on
// conflict, so concurrent writers on one run never lose a write. Records are
// bounded in size (Limits) so that no write exceeds the NATS max payload.
package runs
