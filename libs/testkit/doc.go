// Package testkit is what Tributary's tests share: waiting for a condition
// with a deadline instead of sleeping (Eventually, Poll, Never), the
// goroutine-leak check of a package's TestMain (VerifyTestMain), and the
// addresses of the real servers the integration tests use (KafkaBrokers,
// NATSURL, RedisAddr, ClickHouseAddr).
//
// Packages that start goroutines check for leaks in their TestMain:
//
//	func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }
//
// A test waits for an outcome by polling it, and learns on timeout what the
// last attempt saw:
//
//	testkit.Eventually(t, 10*time.Second, func() error {
//		if n := count(); n != 3 {
//			return fmt.Errorf("%d records, want 3", n)
//		}
//		return nil
//	})
package testkit
