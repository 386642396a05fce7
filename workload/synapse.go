package workload

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
	"net"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
)

// SynapseContainer is the name of the Synapse workload container.
const SynapseContainer = "synapse"

// MainService is the Pebble service of the main Synapse process.
const MainService = "synapse"

// Synapse's user and group: every Synapse process runs as them, as in the
// upstream image, never as root. The image must have the user.
const (
	SynapseUserID  = 991
	SynapseGroupID = 991
)

// SynapseOwner owns what only Synapse may read (its secrets) and what it
// writes (its data).
var SynapseOwner = Owner{UserID: SynapseUserID, GroupID: SynapseGroupID}

// SynapseInput is everything the synapse container's desired state depends on.
type SynapseInput struct {
	Homeserver Homeserver
	Secrets    Secrets
	// Local are the processes the plan runs on this unit; nil means the
	// main process alone (a monolith).
	Local []ClusterProcess
}

// RenderSynapse renders the synapse container: the shared config, the
// secrets, one file per local worker, and a layer with one service and its
// checks per local process. Each service's environment carries the hash
// of what its process reads (ProcessConfigHash), so a change restarts the
// processes that read it and no other.
func RenderSynapse(in SynapseInput) (Container, error) {
	shared, configPaths, err := sharedFiles(in.Homeserver)
	if err != nil {
		return Container{}, err
	}
	shared = append(shared, in.Secrets.Files()...)
	// boto3 finds the S3 files through these; only a process that loads
	// the media repository gets them.
	mediaEnv := map[string]string{}
	if in.Homeserver.Media != nil {
		mediaEnv["AWS_SHARED_CREDENTIALS_FILE"] = AWSCredentialsPath
		mediaEnv["AWS_CONFIG_FILE"] = AWSConfigPath
	}
	local := in.Local
	if local == nil {
		local = []ClusterProcess{{Name: string(RoleMain), Role: RoleMain}}
	}
	addr := in.Homeserver.BindAddress
	alive := in.Homeserver.Config.AliveCheck
	out := Container{
		Name:      SynapseContainer,
		PruneDirs: []string{SecretsDir, DataDir + "/workers", SAMLDir, AppServicesDir},
		Files:     append([]File(nil), shared...),
		Layer: Layer{
			Summary:  "Synapse, managed by the synapse charm",
			Services: map[string]Service{},
			Checks:   map[string]Check{},
		},
	}
	// Every process's restart hash reads homeserver.yaml: parse it once.
	hs, err := homeserverDoc(shared)
	if err != nil {
		return Container{}, err
	}
	for _, p := range local {
		files := shared
		command := "python3 -m synapse.app.homeserver" + configPaths
		summary := "Synapse main process"
		if p.Role != RoleMain {
			if _, ok := Spec(p.Role); !ok {
				return Container{}, fmt.Errorf("render %s: unknown role %q", p.Name, p.Role)
			}
			data, err := yaml.Marshal(renderWorkerFile(p, addr))
			if err != nil {
				return Container{}, fmt.Errorf("render worker %s: %w", p.Name, err)
			}
			wf := File{Path: WorkerConfigPath(p.Name), Content: data, Mode: 0o644}
			out.Files = append(out.Files, wf)
			files = append(slices.Clone(shared), wf)
			command = "python3 -m synapse.app.generic_worker" + configPaths + " --config-path " + wf.Path
			summary = "Synapse worker " + p.Name
		}
		reads, media, err := processReads(files, hs, p.Name, p.Role)
		if err != nil {
			return Container{}, err
		}
		env := map[string]string{}
		if media {
			env = mediaEnv
		}
		svc := ServiceName(p.Name)
		httpPort, _, _ := Ports(p.Index)
		aliveName := svc + "-alive"
		uid, gid := SynapseUserID, SynapseGroupID
		out.Layer.Services[svc] = Service{
			Override:       "replace",
			Summary:        summary,
			Command:        command,
			Startup:        "enabled",
			Environment:    serviceEnv(env, HashFiles(reads)),
			OnCheckFailure: map[string]string{aliveName: "restart"},
			KillDelay:      "20s",
			UserID:         &uid,
			GroupID:        &gid,
		}
		out.Layer.Checks[ReadyCheckName(p.Name)] = Check{
			Override:  "replace",
			Level:     "ready",
			Period:    "5s",
			Timeout:   "3s",
			Threshold: 3,
			HTTP:      &HTTPCheck{URL: "http://" + hostPort(addr, httpPort) + "/health"},
		}
		out.Layer.Checks[aliveName] = Check{
			Override:  "replace",
			Level:     "alive",
			Period:    alive.Period.String(),
			Timeout:   alive.Timeout.String(),
			Threshold: alive.Threshold,
			TCP:       &TCPCheck{Port: httpPort, Host: addr},
		}
		out.ReadyChecks = append(out.ReadyChecks, ReadyCheckName(p.Name))
	}
	// Synapse's /health stays 200 while its database or Redis is away, so
	// the container watches them itself (from where Synapse connects).
	deps := map[string]Check{}
	out.DependencyChecks = map[string]string{}
	if pg := in.Homeserver.Postgres; pg != nil {
		deps[DatabaseCheck] = dependencyCheck(pg.Host, pg.Port)
		out.DependencyChecks[DatabaseCheck] = "PostgreSQL at " + hostPort(pg.Host, pg.Port)
	}
	if r := in.Homeserver.Redis; r != nil {
		deps[RedisCheck] = dependencyCheck(r.Host, r.Port)
		out.DependencyChecks[RedisCheck] = "Redis at " + hostPort(r.Host, r.Port)
	}
	for name, check := range deps {
		out.Layer.Checks[name] = check
	}
	// Synapse reads every file; those only it may read (0600) are its own.
	owner := SynapseOwner
	for i, f := range out.Files {
		if f.Mode.Perm()&0o077 == 0 {
			out.Files[i].Owner = &owner
		}
	}
	out.Writable = synapseWritable(in.Homeserver.mediaStorePath())
	return out, nil
}

// synapseWritable is what Synapse writes: /data itself (where SQLite and
// the media store are created), the SQLite database with its journals,
// and the media store with everything in it.
func synapseWritable(mediaStore string) []Writable {
	w := []Writable{{Path: DataDir, Owner: SynapseOwner}}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		w = append(w, Writable{Path: SQLitePath + suffix, Owner: SynapseOwner})
	}
	return append(w, Writable{Path: mediaStore, Owner: SynapseOwner, Recursive: true})
}

// Pebble checks on the services Synapse depends on.
const (
	DatabaseCheck = "database-reachable"
	RedisCheck    = "redis-reachable"
)

// dependencyCheck is down after two failed connections 5 s apart, and up
// again at the first success.
func dependencyCheck(host string, port int) Check {
	return Check{Override: "replace", Period: "5s", Timeout: "3s", Threshold: 2, TCP: &TCPCheck{Host: host, Port: port}}
}

// PublicBaseURL resolves public_baseurl: the configured value, else the
// ingress URL, else https://<server_name>/.
func PublicBaseURL(c config.Config, ingressURL string) string {
	switch {
	case c.PublicBaseURL != "":
		return c.PublicBaseURL
	case ingressURL != "":
		if !strings.HasSuffix(ingressURL, "/") {
			ingressURL += "/"
		}
		return ingressURL
	default:
		return "https://" + c.ServerName + "/"
	}
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// sharedFiles renders the files every process of the unit is given (the
// secrets aside) and the --config-path arguments they share.
func sharedFiles(h Homeserver) ([]File, string, error) {
	hs, err := RenderHomeserver(h)
	if err != nil {
		return nil, "", err
	}
	files := []File{
		{Path: HomeserverPath, Content: hs, Mode: 0o644},
		{Path: LogConfigPath, Content: RenderLogConfig(), Mode: 0o644},
	}
	if pg := h.Postgres; pg != nil {
		files = append(files, File{Path: PGPassPath, Content: RenderPGPass(pg), Mode: 0o600})
	}
	if r := h.Redis; r != nil && r.Password != "" {
		files = append(files, File{Path: SecretsDir + "/redis", Content: []byte(r.Password), Mode: 0o600})
	}
	configPaths := " --config-path " + HomeserverPath
	if e := h.Email; e != nil {
		data, err := RenderEmailConfig(e)
		if err != nil {
			return nil, "", err
		}
		files = append(files, File{Path: EmailConfigPath, Content: data, Mode: 0o600})
		configPaths += " --config-path " + EmailConfigPath
	}
	files = append(files, samlFiles(h.SAML)...)
	files = append(files, appServiceFiles(h.AppServices)...)
	if m := h.Media; m != nil {
		files = append(files, RenderAWSFiles(m)...)
	}
	return files, configPaths, nil
}

// RestartToken is a digest of what every Synapse process reads that the
// cluster plan does not shape (no instance_map, stream_writers, role or
// media keys, no unit's listeners), with the Synapse version: it changes
// exactly when every process restarts anyway, the moment to rebalance
// slots at no extra cost. The same on every unit.
func RestartToken(h Homeserver, synapseVersion string) (string, error) {
	h.Cluster = nil
	h.BindAddress = "0.0.0.0" // listeners are cut below: the main's, not everyone's
	files, _, err := sharedFiles(h)
	if err != nil {
		return "", fmt.Errorf("restart token: %w", err)
	}
	doc, err := homeserverDoc(files)
	if err != nil {
		return "", fmt.Errorf("restart token: %w", err)
	}
	var reads []File
	for _, f := range files {
		switch f.Path {
		case AWSCredentialsPath, AWSConfigPath:
			continue
		case HomeserverPath:
			// A process of no role reads what every process reads.
			cut, err := cutKeys(doc, func(key string) bool { return key != "listeners" && readsKey(key, "", false) })
			if err != nil {
				return "", fmt.Errorf("restart token: %w", err)
			}
			f = File{Path: f.Path, Content: cut}
		}
		reads = append(reads, f)
	}
	reads = append(reads, File{Path: "synapse-version", Content: []byte(synapseVersion)})
	return HashFiles(reads), nil
}

func serviceEnv(base map[string]string, hash string) map[string]string {
	env := map[string]string{
		// Changes exactly when a file this process reads changes.
		"SYNAPSE_CHARM_CONFIG_HASH": hash,
	}
	for k, v := range base {
		env[k] = v
	}
	return env
}
