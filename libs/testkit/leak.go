package testkit

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs the package's tests and then fails (exit code 1,
// listing their stacks) if goroutines they started are still running;
// goleak retries for a while first, so goroutines that are ending anyway
// do not count:
//
//	func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }
//
// opts are goleak options for goroutines a package knowingly leaves
// (goleak.IgnoreTopFunction), each with a comment saying why.
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(libraryLeaks(), opts...)...)
}

// libraryLeaks are goroutines a library leaves behind on its own.
//
// nats.go v1.55's jetstream starts resetPendingAcksOnReconnect at a
// context's first asynchronous publish, and the goroutine reads the status
// channel only when it runs; when the connection closes first, the
// context's cleanup has set that channel to nil, and the goroutine waits on
// the nil channel for ever (jetstream.go cleanupReplySub, publish.go
// resetPendingAcksOnReconnect). A CI run met it once, in the trainer's
// runner/kube tests.
func libraryLeaks() []goleak.Option {
	return []goleak.Option{goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect")}
}

// VerifyNone fails t if goroutines that were not running when it was called
// are still running when t ends (checked in t.Cleanup): for one test in a
// package that cannot have VerifyTestMain yet.
func VerifyNone(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	opts = append(append([]goleak.Option{goleak.IgnoreCurrent()}, libraryLeaks()...), opts...)
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}
