package charm

import (
	"context"
	"errors"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// observeImage checks the synapse image against its contract in one exec
// when the container may have changed (a new pod, a new image: Juju fires
// pebble-ready) or no report is cached; otherwise it takes the report,
// with the image's Synapse version, from this unit's peer bag and asks
// Pebble nothing.
func (c *charm) observeImage(ctx context.Context, s *decide.Snapshot, pc pebbleClient) {
	cached, ok := workload.ParseImageReport(s.Peer.Own[relations.PeerKeyImage])
	// A report without a version is one whose Synapse is missing.
	ok = ok && (cached.SynapseVersion != "" || cached.Lacks("synapse") || cached.Lacks("python3"))
	switch c.ev.Kind() {
	case "pebble-ready":
		// nginx's container says nothing about the synapse image.
		ok = ok && c.ev.WorkloadName == workload.NginxContainer
	case "upgrade-charm", "install", "start":
		ok = false
	}
	if ok {
		s.Image.Report, s.Image.SynapseVersion = cached, cached.SynapseVersion
		s.Image.NoSynapseUser = cached.Lacks(workload.SynapseUserNeed)
		return
	}
	s.Image.VersionAsked = true
	res, err := container.ProbeImage(ctx, pc)
	if err != nil {
		s.Image.VersionErr = err
		return
	}
	s.Image.Report = res.Report
	s.Image.SynapseVersion = res.Report.SynapseVersion
	s.Image.NoSynapseUser = res.Report.Lacks(workload.SynapseUserNeed)
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
