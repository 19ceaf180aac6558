package predlog_test

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/testkit"
)

// The log's Run goroutine and the franz-go clients of the tests must all end
// with the tests.
func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }
