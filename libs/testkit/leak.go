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
	goleak.VerifyTestMain(m, opts...)
}

// VerifyNone fails t if goroutines that were not running when it was called
// are still running when t ends (checked in t.Cleanup): for one test in a
// package that cannot have VerifyTestMain yet.
func VerifyNone(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	opts = append([]goleak.Option{goleak.IgnoreCurrent()}, opts...)
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}
