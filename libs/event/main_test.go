package event_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The integration tests start franz-go and NATS clients; every goroutine
// they start must end with the test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
