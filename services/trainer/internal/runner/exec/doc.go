// Package exec is the runner that fits a model with any command: a Python
// script, a binary, a shell pipeline. The command gets the training set and
// the job's parameters in its environment and writes a model file and its
// metrics into an output directory; the runner reads them back and checks
// them. The contract (the environment, the outputs, what fails a run) is
// "Training code contract" in services/trainer/README.md; Env builds the
// environment and ReadOutputs checks the outputs, and the kubernetes runner
// uses both, so that a script runs unchanged in a Job.
//
// A command runs in its own process group with a minimal environment, in
// the output directory; its stdout and stderr stream into Request.Log. When
// the context ends the whole group gets SIGTERM, then SIGKILL after a grace
// period; when the command exits, anything it left running in its group is
// killed.
package exec
