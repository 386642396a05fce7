package workload

import (
	"net"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
)

// SynapseContainer is the name of the Synapse workload container.
const SynapseContainer = "synapse"

// MainService is the Pebble service of the main Synapse process.
const MainService = "synapse"

// SynapseInput is everything the synapse container's desired state depends on.
type SynapseInput struct {
	Homeserver Homeserver
	Secrets    Secrets
}

// RenderSynapse renders the synapse container: config, secrets and a layer
// with the main process and its checks.
func RenderSynapse(in SynapseInput) (Container, error) {
	hs, err := RenderHomeserver(in.Homeserver)
	if err != nil {
		return Container{}, err
	}
	files := []File{
		{Path: HomeserverPath, Content: hs, Mode: 0o644},
		{Path: LogConfigPath, Content: RenderLogConfig(), Mode: 0o644},
	}
	files = append(files, in.Secrets.Files()...)
	if pg := in.Homeserver.Postgres; pg != nil {
		files = append(files, File{Path: PGPassPath, Content: RenderPGPass(pg), Mode: 0o600})
	}
	if r := in.Homeserver.Redis; r != nil && r.Password != "" {
		files = append(files, File{Path: SecretsDir + "/redis", Content: []byte(r.Password), Mode: 0o600})
	}
	addr := in.Homeserver.BindAddress
	alive := in.Homeserver.Config.AliveCheck
	layer := Layer{
		Summary: "Synapse, managed by the synapse charm",
		Services: map[string]Service{
			MainService: {
				Override: "replace",
				Summary:  "Synapse main process",
				Command:  "python3 -m synapse.app.homeserver --config-path " + HomeserverPath,
				Startup:  "enabled",
				Environment: map[string]string{
					// Changes exactly when a file this process reads changes.
					"SYNAPSE_CHARM_CONFIG_HASH": HashFiles(files),
				},
				OnCheckFailure: map[string]string{"synapse-alive": "restart"},
				KillDelay:      "20s",
			},
		},
		Checks: map[string]Check{
			"synapse-ready": {
				Override:  "replace",
				Level:     "ready",
				Period:    "5s",
				Timeout:   "3s",
				Threshold: 3,
				HTTP:      &HTTPCheck{URL: "http://" + hostPort(addr, ClientPort) + "/health"},
			},
			"synapse-alive": {
				Override:  "replace",
				Level:     "alive",
				Period:    alive.Period.String(),
				Timeout:   alive.Timeout.String(),
				Threshold: alive.Threshold,
				TCP:       &TCPCheck{Port: ClientPort, Host: addr},
			},
		},
	}
	return Container{
		Name:        SynapseContainer,
		Files:       files,
		Layer:       layer,
		ReadyChecks: []string{"synapse-ready"},
	}, nil
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
