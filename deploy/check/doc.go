// Package check holds the offline checks of deploy/compose and deploy/helm,
// run by `make test`: the compose file loads and validates with compose-go,
// the Helm chart lints and renders with the default and the production values
// into objects that decode strictly into their Kubernetes API types, golden
// files of the rendered manifests, and every flag and TRIBUTARY_* variable
// used by either exists in the service's -h.
package check
