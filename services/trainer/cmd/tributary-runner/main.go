// Command tributary-runner is the helper of the trainer's Kubernetes Jobs:
// `tributary-runner fetch` downloads a run's training set from the NATS
// object store into the pod, `tributary-runner upload` stores the training
// code's outputs. It reads everything from its environment, which the
// trainer sets; see "Kubernetes runner" in services/trainer/README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tributary-ml/tributary/services/trainer/internal/runner/kube"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != kube.StepFetch && os.Args[1] != kube.StepUpload) {
		fmt.Fprintln(os.Stderr, "usage: tributary-runner fetch|upload (the trainer's Kubernetes Jobs run it; see services/trainer/README.md)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := kube.PodStep(ctx, os.Args[1], os.Getenv); err != nil {
		fmt.Fprintf(os.Stderr, "tributary-runner %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "tributary-runner %s: done\n", os.Args[1])
}
