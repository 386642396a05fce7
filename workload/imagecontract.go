package workload

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Feature is what the charm uses an image's need for: always, or one
// integration.
type Feature string

// Features, named as the operator knows them.
const (
	FeatureAlways   Feature = "always"
	FeatureDatabase Feature = "database" // the postgresql integration
	FeatureRedis    Feature = "redis"    // replication between processes
	FeatureMedia    Feature = "media"    // S3 media storage
	FeatureSAML     Feature = "saml"     // SAML2 single sign-on
)

// NeedKind is how the image probe looks for a need.
type NeedKind string

// Need kinds.
const (
	// NeedPython is the interpreter itself: the probe runs only if it does.
	NeedPython NeedKind = "python3"
	// NeedModule is a Python module, found with importlib.util.find_spec.
	NeedModule NeedKind = "module"
	// NeedProgram is an executable on the image's PATH.
	NeedProgram NeedKind = "program"
	// NeedUser is a numeric uid in the image's user database.
	NeedUser NeedKind = "user"
	// NeedPath is a file or directory that must exist.
	NeedPath NeedKind = "path"
)

// ImageNeed is one thing the charm needs from the synapse image.
type ImageNeed struct {
	Kind NeedKind
	// Name is the module, program, uid or absolute path; it is the need's
	// ID in an ImageReport.
	Name string
	// Feature is what needs it.
	Feature Feature
	// Package is the Debian package image/build.sh installs it from.
	Package string
	// Informs is true when the charm works without it (the status only
	// says so): Pebble runs Synapse as uid 991 by number whether or not
	// /etc/passwd names it, and the upstream image names none.
	Informs bool
}

// String names the need for an operator.
func (n ImageNeed) String() string {
	switch n.Kind {
	case NeedModule:
		return "the Python module " + n.Name
	case NeedProgram:
		return "the program " + n.Name
	case NeedUser:
		return "user " + n.Name + " in /etc/passwd"
	case NeedPath:
		return n.Name
	}
	return n.Name
}

// SynapseImageContract is what the charm needs from the synapse image
// (docs/image-contract.md is its long form). Order matters: reports and
// statuses list needs in this order.
var SynapseImageContract = []ImageNeed{
	{Kind: NeedPython, Name: "python3", Feature: FeatureAlways, Package: "python3"},
	{Kind: NeedModule, Name: "synapse", Feature: FeatureAlways, Package: "matrix-synapse"},
	{Kind: NeedUser, Name: SynapseUserNeed, Feature: FeatureAlways, Package: "(image/build.sh adds it)", Informs: true},
	{Kind: NeedPath, Name: "/etc/ssl/certs", Feature: FeatureAlways, Package: "ca-certificates", Informs: true},
	{Kind: NeedModule, Name: "psycopg2", Feature: FeatureDatabase, Package: "python3-psycopg2"},
	{Kind: NeedModule, Name: "txredisapi", Feature: FeatureRedis, Package: "(none in Debian)"},
	{Kind: NeedModule, Name: "hiredis", Feature: FeatureRedis, Package: "python3-hiredis"},
	{Kind: NeedModule, Name: "s3_storage_provider", Feature: FeatureMedia, Package: "(none in Debian)"},
	{Kind: NeedModule, Name: "boto3", Feature: FeatureMedia, Package: "python3-boto3"},
	{Kind: NeedModule, Name: SAMLModule, Feature: FeatureSAML, Package: "python3-pysaml2"},
	{Kind: NeedProgram, Name: "xmlsec1", Feature: FeatureSAML, Package: "xmlsec1"},
}

// SynapseUserNeed names the need for Synapse's user: its uid.
var SynapseUserNeed = strconv.Itoa(SynapseUserID)

// ImageNeeds returns the needs of a feature, in contract order.
func ImageNeeds(f Feature) []ImageNeed {
	var out []ImageNeed
	for _, n := range SynapseImageContract {
		if n.Feature == f {
			out = append(out, n)
		}
	}
	return out
}

// ImageReport is what the image probe found.
type ImageReport struct {
	// Fingerprint identifies the image as the probe saw it (Python and
	// Synapse versions, where each need was found, the OS release).
	Fingerprint string
	// Missing are the names of the needs the image lacks.
	Missing []string
	// SynapseVersion is Synapse's __version__, "" when Synapse is missing
	// or does not import.
	SynapseVersion string
}

// Lacks reports whether the image lacks the need named name.
func (r ImageReport) Lacks(name string) bool {
	for _, m := range r.Missing {
		if m == name {
			return true
		}
	}
	return false
}

// Encode is the report's compact form for the peer unit bag:
// "<fingerprint>:<missing>,<missing>:<synapse version>".
func (r ImageReport) Encode() string {
	return r.Fingerprint + ":" + strings.Join(r.Missing, ",") + ":" + r.SynapseVersion
}

// ParseImageReport reads Encode's form; ok is false for anything else
// (the report is then asked from the image again).
func ParseImageReport(s string) (ImageReport, bool) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] == "" {
		return ImageReport{}, false
	}
	r := ImageReport{Fingerprint: parts[0], SynapseVersion: parts[2]}
	if parts[1] != "" {
		r.Missing = strings.Split(parts[1], ",")
	}
	for _, m := range r.Missing {
		if !knownNeed(m) {
			return ImageReport{}, false
		}
	}
	return r, true
}

func knownNeed(name string) bool {
	for _, n := range SynapseImageContract {
		if n.Name == name {
			return true
		}
	}
	return false
}

// imageProbe looks for every need at once, without importing anything
// but Synapse (for its version), and prints one JSON object.
const imageProbe = `import hashlib, importlib.util, json, os, pwd, shutil, sys
needs = json.loads(sys.argv[1])
missing, seen = [], [sys.version]
for kind, name in needs:
    where = None
    try:
        if kind == "python3":
            where = sys.executable
        elif kind == "module":
            spec = importlib.util.find_spec(name)
            where = spec and (spec.origin or "namespace")
        elif kind == "program":
            where = shutil.which(name)
        elif kind == "user":
            where = pwd.getpwuid(int(name)).pw_name
        elif kind == "path":
            where = name if os.path.exists(name) else None
    except Exception:
        where = None
    if not where:
        missing.append(name)
    seen.append("%s=%s" % (name, where))
version, error = "", ""
if "synapse" not in missing:
    try:
        import synapse
        version = synapse.__version__
    except Exception as e:
        error = "import synapse: %s: %s" % (type(e).__name__, e)
seen.append(version)
try:
    with open("/etc/os-release") as f:
        seen.append(f.read())
except OSError:
    pass
fingerprint = hashlib.sha256("\n".join(seen).encode()).hexdigest()[:16]
print(json.dumps({"missing": missing, "fingerprint": fingerprint, "synapse_version": version, "synapse_error": error}))
`

// ImageProbe is the command that probes an image for every need of the
// contract: python3 -c <script> <needs as JSON>.
func ImageProbe() []string {
	needs := make([][2]string, len(SynapseImageContract))
	for i, n := range SynapseImageContract {
		needs[i] = [2]string{string(n.Kind), n.Name}
	}
	arg, _ := json.Marshal(needs) // strings only: cannot fail
	return []string{"python3", "-c", imageProbe, string(arg)}
}

// ImageProbeResult is the probe's output.
type ImageProbeResult struct {
	Report ImageReport
	// SynapseError says why Synapse, though present, does not import.
	SynapseError string
	// PythonError says why python3 did not run the probe.
	PythonError string
}

// ParseImageProbe reads the probe's output.
func ParseImageProbe(out []byte) (ImageProbeResult, error) {
	var raw struct {
		Missing        []string `json:"missing"`
		Fingerprint    string   `json:"fingerprint"`
		SynapseVersion string   `json:"synapse_version"`
		SynapseError   string   `json:"synapse_error"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return ImageProbeResult{}, fmt.Errorf("image probe output: %w", err)
	}
	if raw.Fingerprint == "" || strings.ContainsAny(raw.Fingerprint, ":,") {
		return ImageProbeResult{}, fmt.Errorf("image probe output: bad fingerprint %q", raw.Fingerprint)
	}
	for _, m := range raw.Missing {
		if !knownNeed(m) {
			return ImageProbeResult{}, fmt.Errorf("image probe output: unknown need %q", m)
		}
	}
	return ImageProbeResult{
		Report:       ImageReport{Fingerprint: raw.Fingerprint, Missing: raw.Missing, SynapseVersion: raw.SynapseVersion},
		SynapseError: raw.SynapseError,
	}, nil
}
