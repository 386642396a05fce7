package charm_test

import (
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// BenchmarkNoopHook measures one hook that finds nothing to change: the
// in-memory hook tools and a real Pebble in front of a running Synapse.
// It reports the hook-tool calls per hook, the cost that dominates on a
// real unit agent (each call is a process start and an RPC).
func BenchmarkNoopHook(b *testing.B) {
	u := newUnit(b)
	u.run("config-changed")
	if st := u.mem.UnitStatus(); st.Status != juju.Active {
		b.Fatalf("unit not active: %s %s", st.Status, st.Message)
	}
	since := u.service().CurrentSince
	u.mem.ResetCalls()
	hooks := 0
	for b.Loop() {
		u.run("update-status")
		hooks++
	}
	b.ReportMetric(float64(u.mem.TotalCalls())/float64(hooks), "toolcalls/hook")
	if !u.service().CurrentSince.Equal(since) {
		b.Fatal("a no-op hook restarted synapse")
	}
}
