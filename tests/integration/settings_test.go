package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// settings is everything the suite reads from the environment. The table
// in README.md lists the same variables.
type settings struct {
	// Controller is the controller's name in the Juju client store
	// (`juju controllers`); setting it is the switch that runs the suite.
	Controller string
	// Model is an existing model to deploy into ("name", "owner/name" or
	// "controller:name"); empty means a fresh model that the suite adds
	// and, when every step passed, destroys.
	Model string
	// KeepModel keeps a model the suite added, even when it passed.
	KeepModel bool

	// The API connection without the client store, all optional: with
	// Addresses set, the suite logs in with User and Password and trusts
	// CACert (PEM, or a path to a PEM file). The steps done by the juju CLI
	// still need the controller in the CLI's own store.
	Addresses []string
	User      string
	Password  string
	CACert    string

	// Juju is the juju CLI (for `add-model` and `deploy`).
	Juju string
	// Kubectl runs kubectl against the model's cluster, e.g.
	// "microk8s kubectl"; used to delete the main unit's pod.
	Kubectl []string

	// Charm is the packed synapse .charm file.
	Charm        string
	SynapseImage string
	NginxImage   string
	ServerName   string

	PostgresChannel     string
	RedisChannel        string
	S3IntegratorChannel string

	// S3 is the bucket for the media scenario; nil skips that scenario.
	S3 *s3Settings
}

type s3Settings struct {
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	Path      string
	URIStyle  string
}

// Defaults: the images the charm's metadata pins, and the channels the
// README's integration table documents.
const (
	defaultSynapseImage        = "ghcr.io/element-hq/synapse:v1.160.0"
	defaultNginxImage          = "nginx:1.27.5"
	defaultServerName          = "synapse-it.example.com"
	defaultPostgresChannel     = "14/stable"
	defaultRedisChannel        = "latest/edge"
	defaultS3IntegratorChannel = "latest/stable"
)

// skipReason is why the suite does not run here, empty when it runs.
func skipReason(getenv func(string) string) string {
	if getenv("JUJU_CONTROLLER") == "" {
		return "JUJU_CONTROLLER is not set: these tests deploy the charm on a real Juju controller on Kubernetes. " +
			"Set JUJU_CONTROLLER to a controller known to `juju controllers` and SYNAPSE_CHARM to the packed .charm " +
			"(see tests/integration/README.md)"
	}
	return ""
}

// loadSettings reads the environment; an error is a setup mistake the
// user must fix (the suite was asked to run, so it fails rather than
// skipping).
func loadSettings(getenv func(string) string) (settings, error) {
	or := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	s := settings{
		Controller:          getenv("JUJU_CONTROLLER"),
		Model:               strings.TrimSpace(getenv("JUJU_MODEL")),
		KeepModel:           getenv("SYNAPSE_IT_KEEP_MODEL") != "",
		User:                getenv("JUJU_USER"),
		Password:            getenv("JUJU_PASSWORD"),
		CACert:              getenv("JUJU_CA_CERT"),
		Juju:                or("SYNAPSE_IT_JUJU", "juju"),
		Kubectl:             strings.Fields(or("SYNAPSE_IT_KUBECTL", "kubectl")),
		Charm:               getenv("SYNAPSE_CHARM"),
		SynapseImage:        or("SYNAPSE_IMAGE", defaultSynapseImage),
		NginxImage:          or("SYNAPSE_NGINX_IMAGE", defaultNginxImage),
		ServerName:          or("SYNAPSE_SERVER_NAME", defaultServerName),
		PostgresChannel:     or("SYNAPSE_IT_POSTGRESQL_CHANNEL", defaultPostgresChannel),
		RedisChannel:        or("SYNAPSE_IT_REDIS_CHANNEL", defaultRedisChannel),
		S3IntegratorChannel: or("SYNAPSE_IT_S3_INTEGRATOR_CHANNEL", defaultS3IntegratorChannel),
	}
	if s.Controller == "" {
		return s, fmt.Errorf("JUJU_CONTROLLER is not set")
	}
	// `juju` accepts controller:model; so do we, when the controllers agree.
	if c, m, ok := strings.Cut(s.Model, ":"); ok {
		if c != s.Controller {
			return s, fmt.Errorf("JUJU_MODEL %q names controller %q but JUJU_CONTROLLER is %q", s.Model, c, s.Controller)
		}
		s.Model = m
	}
	for _, a := range strings.Split(getenv("JUJU_CONTROLLER_ADDRESSES"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.Addresses = append(s.Addresses, a)
		}
	}
	if len(s.Addresses) > 0 {
		if s.User == "" || s.Password == "" || s.CACert == "" {
			return s, fmt.Errorf("JUJU_CONTROLLER_ADDRESSES is set: JUJU_USER, JUJU_PASSWORD and JUJU_CA_CERT are needed too")
		}
		if !strings.Contains(s.CACert, "-----BEGIN") {
			pem, err := os.ReadFile(s.CACert)
			if err != nil {
				return s, fmt.Errorf("JUJU_CA_CERT is neither a PEM certificate nor a readable file: %w", err)
			}
			s.CACert = string(pem)
		}
	}
	if s.Charm == "" {
		// charmcraft pack at the repository root leaves synapse_<base>-<arch>.charm there.
		found, _ := filepath.Glob("../../synapse_*.charm")
		if len(found) != 1 {
			return s, fmt.Errorf("SYNAPSE_CHARM is not set and ../../ holds %d synapse_*.charm files: run `charmcraft pack` at the repository root and set SYNAPSE_CHARM to the .charm", len(found))
		}
		s.Charm = found[0]
	}
	abs, err := filepath.Abs(s.Charm)
	if err != nil {
		return s, err
	}
	if _, err := os.Stat(abs); err != nil {
		return s, fmt.Errorf("SYNAPSE_CHARM: %w", err)
	}
	s.Charm = abs

	s3 := &s3Settings{
		Endpoint:  getenv("SYNAPSE_S3_ENDPOINT"),
		Bucket:    getenv("SYNAPSE_S3_BUCKET"),
		AccessKey: getenv("SYNAPSE_S3_ACCESS_KEY"),
		SecretKey: getenv("SYNAPSE_S3_SECRET_KEY"),
		Region:    or("SYNAPSE_S3_REGION", "us-east-1"),
		Path:      strings.Trim(getenv("SYNAPSE_S3_PATH"), "/"),
		URIStyle:  or("SYNAPSE_S3_URI_STYLE", "path"),
	}
	set := 0
	for _, v := range []string{s3.Endpoint, s3.Bucket, s3.AccessKey, s3.SecretKey} {
		if v != "" {
			set++
		}
	}
	switch set {
	case 0:
	case 4:
		if !strings.Contains(s3.Endpoint, "://") {
			return s, fmt.Errorf("SYNAPSE_S3_ENDPOINT %q needs a scheme (http:// or https://)", s3.Endpoint)
		}
		s.S3 = s3
	default:
		return s, fmt.Errorf("the S3 scenario needs all of SYNAPSE_S3_ENDPOINT, SYNAPSE_S3_BUCKET, SYNAPSE_S3_ACCESS_KEY and SYNAPSE_S3_SECRET_KEY, or none of them")
	}
	return s, nil
}
