package workload

import (
	"fmt"

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

// HasUserID reports whether an /etc/passwd file has a user with uid.
func HasUserID(passwd []byte, uid int) bool {
	for _, line := range strings.Split(string(passwd), "\n") {
		if fields := strings.Split(line, ":"); len(fields) >= 3 && fields[2] == strconv.Itoa(uid) {
			return true
		}
	}
	return false
}

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
// checks per local process.
func RenderSynapse(in SynapseInput) (Container, error) {
	hs, err := RenderHomeserver(in.Homeserver)
	if err != nil {
		return Container{}, err
	}
	shared := []File{
		{Path: HomeserverPath, Content: hs, Mode: 0o644},
		{Path: LogConfigPath, Content: RenderLogConfig(), Mode: 0o644},
	}
	shared = append(shared, in.Secrets.Files()...)
	if pg := in.Homeserver.Postgres; pg != nil {
		shared = append(shared, File{Path: PGPassPath, Content: RenderPGPass(pg), Mode: 0o600})
	}
	if r := in.Homeserver.Redis; r != nil && r.Password != "" {
		shared = append(shared, File{Path: SecretsDir + "/redis", Content: []byte(r.Password), Mode: 0o600})
	}
	configPaths := " --config-path " + HomeserverPath
	if e := in.Homeserver.Email; e != nil {
		data, err := RenderEmailConfig(e)
		if err != nil {
			return Container{}, err
		}
		shared = append(shared, File{Path: EmailConfigPath, Content: data, Mode: 0o600})
		configPaths += " --config-path " + EmailConfigPath
	}
	shared = append(shared, samlFiles(in.Homeserver.SAML)...)
	env := map[string]string{}
	if m := in.Homeserver.Media; m != nil {
		shared = append(shared, RenderAWSFiles(m)...)
		env["AWS_SHARED_CREDENTIALS_FILE"] = AWSCredentialsPath
		env["AWS_CONFIG_FILE"] = AWSConfigPath
	}
	local := in.Local
	if local == nil {
		local = []ClusterProcess{{Name: string(RoleMain), Role: RoleMain}}
	}
	addr := in.Homeserver.BindAddress
	alive := in.Homeserver.Config.AliveCheck
	out := Container{
		Name:      SynapseContainer,
		PruneDirs: []string{SecretsDir, DataDir + "/workers", SAMLDir},
		Files:     append([]File(nil), shared...),
		Layer: Layer{
			Summary:  "Synapse, managed by the synapse charm",
			Services: map[string]Service{},
			Checks:   map[string]Check{},
		},
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
			files = append(append([]File(nil), shared...), wf)
			command = "python3 -m synapse.app.generic_worker" + configPaths + " --config-path " + wf.Path
			summary = "Synapse worker " + p.Name
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
			Environment:    serviceEnv(env, HashFiles(files)),
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
