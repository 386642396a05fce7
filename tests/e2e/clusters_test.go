package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Building a 3-unit deployment (scaledToThree, tappedCluster) costs about
// a minute of CI, so the checks of a running cluster share one, a subtest
// each (named as the test it once was), in an order where each leaves
// what the next needs: a check that changes the cluster for good goes
// last. Run one alone on a fresh deployment with
// -run 'TestScaledCluster/UpgradeMainFirst'.

// TestScaledCluster: the scale-up and a leader change, then (leadership
// back on the main's unit, as on a fresh deployment) a crashing worker
// healed, federation senders changed, and last a rolling upgrade (which
// leaves every unit on a faked version).
func TestScaledCluster(t *testing.T) {
	d := scaledToThree(t)
	d.sub(t, "ScaleUpRestartsNothing", scaleUpRestartsNothing)
	d.sub(t, "CrashingProcessIsNamed", crashingProcessIsNamed)
	d.sub(t, "FederationSendersRestartTogether", federationSendersRestartTogether)
	d.sub(t, "UpgradeMainFirst", upgradeMainFirst)
}

// TestReshapedCluster: routing (which ends scaling to 4 units), scrape
// jobs (which scale back to 3), and last the main's unit leaving.
func TestReshapedCluster(t *testing.T) {
	d := scaledToThree(t)
	d.sub(t, "RoutingAcrossTheCluster", routingAcrossTheCluster)
	d.sub(t, "ScrapeJobsCoverEveryProcess", scrapeJobsCoverEveryProcess)
	d.sub(t, "MainUnitLeavesNewMainElected", mainUnitLeavesNewMainElected)
}

// TestS3Cluster: with S3 integrated, every hook kind twice, media across
// units, then the secret scan over everything recorded so far, and last
// Redis removed.
func TestS3Cluster(t *testing.T) {
	d, providers := tappedCluster(t)
	d.sub(t, "EveryHookTwiceChangesNothing", func(t *testing.T, d *deployment) {
		everyHookTwiceChangesNothing(t, d, providers)
	})
	d.sub(t, "MediaThroughS3AcrossUnits", mediaThroughS3AcrossUnits)
	d.sub(t, "NoSecretLeaks", noSecretLeaks)
	d.sub(t, "RemovingRedisFallsBackToAMonolith", removingRedisFallsBackToAMonolith)
}

// sub runs check on d as a subtest of t, d's helpers reporting to it.
func (d *deployment) sub(t *testing.T, name string, check func(*testing.T, *deployment)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		defer d.as(t)()
		check(t, d)
	})
}

// leaderOnMain makes the main's unit the leader again, as on a fresh
// deployment, for a check that once started from one (an earlier subtest
// may have moved leadership).
func (d *deployment) leaderOnMain() {
	d.t.Helper()
	main := d.plan().Main
	if d.m.Leader() == main {
		return
	}
	require.NoError(d.t, d.m.SetLeader(main))
	d.waitIdle()
	d.requireActive()
}
