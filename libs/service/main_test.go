package service

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// runtime promises that everything it starts ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
