package integration

import (
	"fmt"
	"os"
	"testing"
)

// TestMain says once, even without -v, why the suite skips.
func TestMain(m *testing.M) {
	if reason := skipReason(os.Getenv); reason != "" {
		fmt.Println("tests/integration: TestSynapseOnJuju skips:", reason)
	}
	os.Exit(m.Run())
}
