package relations

import (
	"fmt"
	"strconv"
	"strings"
)

// synapse-peers: what each unit reports in its own bag. The plan itself
// lives in the peer application bag (see charm/topology).

// Peer unit bag keys.
const (
	PeerKeyAddress           = "address"
	PeerKeyIP                = "ip"
	PeerKeyAppliedGeneration = "applied-generation"
	PeerKeyReady             = "ready"
	PeerKeySynapseVersion    = "synapse-version"
	PeerKeySendersStopped    = "senders-stopped"
	PeerKeySendersRunning    = "senders-running"
	PeerKeyVolume            = "volume"
	PeerKeyAppliedPlan       = "applied-plan"
	// PeerKeyImage caches the image probe's report (workload.ImageReport),
	// so a settled unit asks its image nothing.
	PeerKeyImage = "image-check"
)

// UnitReport is one unit's published state.
type UnitReport struct {
	// Address is the unit's stable DNS name, which other processes use.
	Address string
	// IP is the unit's current address, which nginx uses: a reload is
	// cheap, and nginx must not fail on a name that does not resolve yet.
	IP string
	// AppliedGeneration is the plan generation the unit has applied.
	AppliedGeneration int
	// Ready is true when every process the plan gives the unit passes its
	// ready check.
	Ready bool
	// SynapseVersion is the Synapse version the unit runs, if known.
	SynapseVersion string
	// SendersStopped is the senders epoch for which this unit has stopped
	// every federation sender of the previous set.
	SendersStopped int
	// SendersRunning is the senders epoch whose set this unit's senders run.
	SendersRunning int
	// Volume is the ID the charm wrote on the unit's /data volume.
	Volume string
	// AppliedPlan is a copy of the plan the unit applied (JSON), from
	// which the leader rebuilds a plan the peer bag lost.
	AppliedPlan string
}

// Bag renders the report for the unit's bag.
func (r UnitReport) Bag() map[string]string {
	return map[string]string{
		PeerKeyAddress:           r.Address,
		PeerKeyIP:                r.IP,
		PeerKeyAppliedGeneration: strconv.Itoa(r.AppliedGeneration),
		PeerKeyReady:             strconv.FormatBool(r.Ready),
		PeerKeySynapseVersion:    r.SynapseVersion,
		PeerKeySendersStopped:    strconv.Itoa(r.SendersStopped),
		PeerKeySendersRunning:    strconv.Itoa(r.SendersRunning),
		PeerKeyVolume:            r.Volume,
		PeerKeyAppliedPlan:       r.AppliedPlan,
	}
}

// ParseUnitReport reads a unit's bag; an empty bag is a unit that has not
// reported yet, not an error.
func ParseUnitReport(bag map[string]string) (UnitReport, error) {
	r := UnitReport{Address: bag[PeerKeyAddress], IP: bag[PeerKeyIP], SynapseVersion: bag[PeerKeySynapseVersion], Volume: bag[PeerKeyVolume], AppliedPlan: bag[PeerKeyAppliedPlan]}
	// A fixed order: the first bad key is always the one reported.
	for _, f := range []struct {
		key   string
		field *int
	}{
		{PeerKeyAppliedGeneration, &r.AppliedGeneration},
		{PeerKeySendersStopped, &r.SendersStopped},
		{PeerKeySendersRunning, &r.SendersRunning},
	} {
		key, field := f.key, f.field
		if g := bag[key]; g != "" {
			n, err := strconv.Atoi(g)
			if err != nil || n < 0 {
				return r, fmt.Errorf("%s %q is not a generation", key, g)
			}
			*field = n
		}
	}
	if s := bag[PeerKeyReady]; s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return r, fmt.Errorf("ready %q is not a boolean", s)
		}
		r.Ready = b
	}
	return r, nil
}

// UnitDNSName is the stable name Kubernetes' headless service gives a
// unit's pod: <app>-<n>.<app>-endpoints.<model>.svc.cluster.local. It
// survives pod restarts, unlike the pod IP.
func UnitDNSName(unit, model string) string {
	app, n, _ := strings.Cut(unit, "/")
	return fmt.Sprintf("%s-%s.%s-endpoints.%s.svc.cluster.local", app, n, app, model)
}
