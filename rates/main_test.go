package rates

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (the refresh
// loop, HTTP servers and clients all must shut down).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
