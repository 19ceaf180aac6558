// Package kube is the runner that fits a model in a Kubernetes Job: the
// same training code contract as the exec runner (package exec), with the
// training set and the outputs going through the NATS object store.
//
// For a run the runner uploads the training set and holdout to the object
// store (trainer/runs/<run id>/), creates a Job whose pod runs three
// containers in order — fetch (the tributary-runner helper: objects to an
// emptyDir), train (the spec's image and command, with the contract's
// environment) and upload (the helper: the output directory back to the
// object store) — watches it to completion, failure or the deadline, copies
// the containers' logs into the run's log, downloads and checks the
// outputs, and deletes the Job and the objects. See "Kubernetes runner" in
// services/trainer/README.md for what a cluster needs (RBAC, images, NATS).
package kube
