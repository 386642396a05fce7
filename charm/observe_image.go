package charm

import (
	"context"
	"errors"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// observeImage checks the synapse image against its contract in one exec
// when the container may have changed (a new pod, a new image: Juju fires
// pebble-ready) or no report is cached; otherwise it takes the report,
// with the image's Synapse version, from this unit's peer bag and asks
// Pebble nothing.
func (c *charm) observeImage(ctx context.Context, s *decide.Snapshot, pc pebbleClient) {
	cached, ok := decide.CachedImage(s.Peer.Own, c.ev.Kind(), c.ev.WorkloadName)
	if ok {
		s.Image.UseReport(cached)
		return
	}
	s.Image.VersionAsked = true
	res, err := container.ProbeImage(ctx, pc)
	if err != nil {
		s.Image.VersionErr = err
		return
	}
	s.Image.UseReport(res.Report)
	// A Synapse that does not import is asked again next hook, as a
	// version that could not be read always was: not cached.
	s.Image.Probed = res.SynapseError == ""
	if res.SynapseError != "" {
		s.Image.VersionErr = errors.New(res.SynapseError)
	}
	if res.PythonError != "" {
		c.logf("synapse image: python3 does not run: %s", res.PythonError)
	} else if res.Report.Fingerprint != cached.Fingerprint {
		c.logf("synapse image %s: Synapse %q, lacks %v", res.Report.Fingerprint, res.Report.SynapseVersion, res.Report.Missing)
	}
}
