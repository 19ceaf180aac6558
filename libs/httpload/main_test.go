package httpload_test

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }
