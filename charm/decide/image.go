package decide

import (
	"fmt"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// maxImageStatus bounds a status quoting the image's missing needs.
const maxImageStatus = 300

// CachedImage returns the image report cached in this unit's peer bag
// (own) when a hook of this kind may trust it: not where the synapse
// container may run another image (its pebble-ready, install, start,
// upgrade-charm; container is the workload hook's container), nor when
// nothing valid is cached. A report without a version is one whose
// Synapse is missing.
func CachedImage(own map[string]string, kind, container string) (workload.ImageReport, bool) {
	cached, ok := workload.ParseImageReport(own[relations.PeerKeyImage])
	ok = ok && (cached.SynapseVersion != "" || cached.Lacks("synapse") || cached.Lacks("python3"))
	switch kind {
	case "pebble-ready":
		// nginx's container says nothing about the synapse image.
		ok = ok && container == workload.NginxContainer
	case "upgrade-charm", "install", "start":
		ok = false
	}
	return cached, ok
}

// UseReport takes the image's facts from a report, probed or cached.
func (f *ImageFacts) UseReport(r workload.ImageReport) {
	f.Report, f.SynapseVersion = r, r.SynapseVersion
	f.NoSynapseUser = r.Lacks(workload.SynapseUserNeed)
}

// cacheImageReport keeps the probe's report in this unit's peer bag, so
// the next hooks ask the image nothing.
func (x *decider) cacheImageReport() {
	img := x.s.Image
	if !img.Probed || x.s.Peer == nil {
		return
	}
	x.d.set(x.s.Peer.ID, false, x.s.Peer.Own, map[string]string{relations.PeerKeyImage: img.Report.Encode()})
}

// imageFits blocks, naming what the synapse image lacks and the fix, when
// it misses a need of a feature in use (always, or an integration that is
// ready): Synapse is then left as it runs. Needs the charm can do without
// only add a note.
func (x *decider) imageFits(in inputs) bool {
	s := x.s
	r := s.Image.Report
	if !s.Synapse.Reachable || len(r.Missing) == 0 {
		return true
	}
	app := x.ev().App
	if r.Lacks("python3") {
		x.d.blocked(RankImage, "the %s image cannot run python3: deploy an image with python3 and Synapse (image/build.sh builds one)", workload.SynapseContainer)
		return false
	}
	fits := true
	for _, use := range []struct {
		feature workload.Feature
		rel     *RelationView
		on      bool
	}{
		{workload.FeatureAlways, nil, true},
		{workload.FeatureDatabase, s.Database, in.db != nil},
		{workload.FeatureRedis, s.Redis, in.redis != nil},
		{workload.FeatureMedia, s.Media, in.media != nil},
		{workload.FeatureSAML, s.SAML, in.saml != nil},
	} {
		if !use.on {
			continue
		}
		var lacks []string
		for _, n := range workload.ImageNeeds(use.feature) {
			switch {
			case !r.Lacks(n.Name):
			case !n.Informs:
				lacks = append(lacks, n.String())
			case n.Kind != workload.NeedUser: // version() notes the user
				x.d.note(fmt.Sprintf("the %s image lacks %s", workload.SynapseContainer, n))
			}
		}
		if len(lacks) == 0 {
			continue
		}
		fits = false
		what := ", which this charm always needs: deploy an image that has " + them(lacks) + " (image/build.sh builds one)"
		if use.rel != nil {
			what = fmt.Sprintf(" needed by the %s integration: deploy an image that has %s (image/build.sh builds one), or juju remove-relation %s:%s %s",
				use.feature, them(lacks), app, endpointOf(use.feature), use.rel.RemoteApp)
		}
		x.d.blocked(RankImage, "%s", Truncate(fmt.Sprintf("the %s image lacks %s%s", workload.SynapseContainer, strings.Join(lacks, " and "), what), maxImageStatus))
	}
	return fits
}

func them(lacks []string) string {
	if len(lacks) == 1 {
		return "it"
	}
	return "them"
}

// endpointOf is the endpoint an integration's feature comes from.
func endpointOf(f workload.Feature) string {
	switch f {
	case workload.FeatureDatabase:
		return DatabaseEndpoint
	case workload.FeatureRedis:
		return RedisEndpoint
	case workload.FeatureMedia:
		return MediaEndpoint
	case workload.FeatureSAML:
		return SAMLEndpoint
	}
	return string(f)
}
