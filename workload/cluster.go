package workload

// Cluster is the part of the plan the renderer needs: every process of the
// application with the host other units reach it at. Nil in Homeserver
// means a monolith.
type Cluster struct {
	Processes []ClusterProcess
}

// ClusterProcess is one Synapse process of the application.
type ClusterProcess struct {
	// Name is "main" or a slot name such as "generic-3".
	Name string
	Role Role
	// Host is the stable DNS name of the process's unit.
	Host string
	// Index numbers the process's ports on its unit; 0 is the main.
	Index int
}

// Ports of a process: the main has the well-known ones; worker index i
// listens on 8100+i (HTTP), 8200+i (replication) and 9000+i (metrics), so
// a slot keeps its ports wherever other slots come and go.
func Ports(index int) (http, replication, metrics int) {
	if index == 0 {
		return ClientPort, ReplicationPort, MetricsPort
	}
	return 8100 + index, 8200 + index, MetricsPort + index
}

// holders returns the processes with role, in plan order.
func (c *Cluster) holders(role Role) []ClusterProcess {
	var out []ClusterProcess
	for _, p := range c.Processes {
		if p.Role == role {
			out = append(out, p)
		}
	}
	return out
}

// sharedWorkerConfig renders what every process must agree on: where
// processes are, who writes which stream and who holds which duty. It is
// derived from the role table's columns alone; the bytes depend only on
// the plan, so every unit renders the same.
func (c *Cluster) sharedWorkerConfig(doc map[string]any) {
	instanceMap := map[string]any{}
	streams := map[string][]string{}
	for _, p := range c.Processes {
		if p.Role == RoleMain {
			_, repl, _ := Ports(0)
			instanceMap["main"] = map[string]any{"host": p.Host, "port": repl}
			continue
		}
		if spec, ok := Spec(p.Role); ok && spec.Replication() {
			_, repl, _ := Ports(p.Index)
			instanceMap[p.Name] = map[string]any{"host": p.Host, "port": repl}
		}
	}
	for _, spec := range Roles {
		holders := c.holders(spec.Role)
		if len(holders) == 0 {
			// Leaving a key out keeps the duty or stream on main; an empty
			// list would mean "nobody does it".
			continue
		}
		names := make([]string, len(holders))
		for i, h := range holders {
			names[i] = h.Name
		}
		for _, s := range spec.Streams {
			streams[s] = append(streams[s], names...)
		}
		if spec.InstancesKey != "" {
			doc[spec.InstancesKey] = names
		}
		if spec.SingleKey != "" {
			doc[spec.SingleKey] = names[0]
		}
		for k, v := range spec.SharedWhenHeld {
			doc[k] = v
		}
	}
	doc["instance_map"] = instanceMap
	if len(streams) > 0 {
		doc["stream_writers"] = streams
	}
	doc["worker_replication_secret_path"] = ReplicationPath
}

// WorkerConfigPath is the per-worker config file of a slot.
func WorkerConfigPath(name string) string {
	return DataDir + "/workers/" + name + ".yaml"
}

// ServiceName is the Pebble service of a process.
func ServiceName(name string) string {
	if name == string(RoleMain) {
		return MainService
	}
	return "synapse-" + name
}

// ReadyCheckName is the Pebble ready check of a process.
func ReadyCheckName(name string) string {
	return ServiceName(name) + "-ready"
}

func renderWorkerFile(p ClusterProcess, bind string) map[string]any {
	spec, _ := Spec(p.Role)
	httpPort, replPort, metricsPort := Ports(p.Index)
	listeners := []any{
		map[string]any{
			"type":           "http",
			"port":           httpPort,
			"bind_addresses": []string{bind},
			"x_forwarded":    true,
			"resources":      []any{map[string]any{"names": spec.Resources}},
		},
	}
	if spec.Replication() {
		listeners = append(listeners, map[string]any{
			"type":           "http",
			"port":           replPort,
			"bind_addresses": []string{bind},
			"resources":      []any{map[string]any{"names": []string{"replication"}}},
		})
	}
	listeners = append(listeners, map[string]any{"type": "metrics", "port": metricsPort, "bind_addresses": []string{bind}})
	doc := map[string]any{
		"worker_app":        "synapse.app.generic_worker",
		"worker_name":       p.Name,
		"worker_listeners":  listeners,
		"worker_log_config": LogConfigPath,
	}
	// Every worker says whether it loads the media repository: left out,
	// each would load it and run media retention on a volume without the
	// media (synapse/config/repository.py).
	doc["enable_media_repo"] = spec.LoadsMedia
	return doc
}
