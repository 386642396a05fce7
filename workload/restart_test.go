package workload_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// slot is a process of a test cluster: its name and the unit it runs on.
type slot struct{ name, unit string }

// app is a test application: its processes and what they are configured
// with.
type app struct {
	slots  []slot
	hs     workload.Homeserver
	secret workload.Secrets
}

func newApp(t *testing.T, slots ...slot) *app {
	t.Helper()
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	return &app{
		slots: slices.Clone(slots),
		hs: workload.Homeserver{
			Config:        mustConfig(t, map[string]any{"server_name": "example.com"}),
			PublicBaseURL: "https://example.com/",
			Postgres:      &relations.Database{Host: "pg", Port: 5432, Name: "synapse", User: "synapse", Password: "pw"},
			Redis:         &relations.Redis{Host: "redis", Port: 6379},
		},
		secret: secrets,
	}
}

func host(unit string) string { return "synapse-" + unit + ".synapse-endpoints.m.svc.cluster.local" }

// role is the role of a slot name "<role>-<n>".
func role(name string) workload.Role {
	if name == "main" {
		return workload.RoleMain
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '-' {
			return workload.Role(name[:i])
		}
	}
	return workload.Role(name)
}

// render renders every unit's synapse container, as each unit would:
// the service definitions of the whole application by service name.
func (a *app) render(t *testing.T) map[string]workload.Service {
	t.Helper()
	c := &workload.Cluster{}
	index := map[string]int{}
	byUnit := map[string][]workload.ClusterProcess{}
	for _, s := range a.slots {
		p := workload.ClusterProcess{Name: s.name, Role: role(s.name), Host: host(s.unit), Index: index[s.unit]}
		if p.Role != workload.RoleMain {
			p.Index = index[s.unit] + 1
		}
		index[s.unit] = p.Index
		c.Processes = append(c.Processes, p)
		byUnit[s.unit] = append(byUnit[s.unit], p)
	}
	services := map[string]workload.Service{}
	for unit, local := range byUnit {
		hs := a.hs
		hs.BindAddress = "10.0.0." + unit
		if len(a.slots) > 1 {
			hs.Cluster = c
		} else {
			hs.Redis, local = nil, nil
		}
		out, err := workload.RenderSynapse(workload.SynapseInput{Homeserver: hs, Secrets: a.secret, Local: local})
		require.NoError(t, err)
		for name, svc := range out.Layer.Services {
			services[name] = svc
		}
	}
	return services
}

// restarted lists the services, existing before and after, whose
// definition changed: the ones Pebble restarts.
func restarted(before, after map[string]workload.Service) []string {
	var out []string
	for name, svc := range before {
		if now, ok := after[name]; ok && !reflect.DeepEqual(now, svc) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

var s3 = &relations.S3{AccessKey: "ak", SecretKey: "sk", Bucket: "media", Endpoint: "http://s3:9000"}

func TestEachChangeRestartsOnlyTheProcessesThatReadIt(t *testing.T) {
	base := []slot{
		{"main", "0"}, {"generic-1", "1"}, {"pusher-1", "1"}, {"federation-sender-1", "1"},
		{"media-1", "2"}, {"sync-1", "2"}, {"event-persister-1", "2"},
	}
	all := []string{"synapse", "synapse-event-persister-1", "synapse-federation-sender-1", "synapse-generic-1",
		"synapse-media-1", "synapse-pusher-1", "synapse-sync-1"}
	without := func(name string) []slot {
		return slices.DeleteFunc(slices.Clone(base), func(s slot) bool { return s.name == name })
	}
	for _, tc := range []struct {
		name   string
		slots  []slot
		change func(a *app)
		want   []string
	}{
		{name: "S3 integrated with a media worker", slots: base,
			change: func(a *app) { a.hs.Media = s3 }, want: []string{"synapse-media-1"}},
		{name: "S3 integrated without a media worker", slots: without("media-1"),
			change: func(a *app) { a.hs.Media = s3 }, want: []string{"synapse"}},
		{name: "S3 credentials rotated", slots: base,
			change: func(a *app) {
				a.hs.Media = &relations.S3{AccessKey: "ak2", SecretKey: "sk2", Bucket: "media", Endpoint: "http://s3:9000"}
			},
			want: []string{"synapse-media-1"}},
		{name: "pushers 1 to 2", slots: base,
			change: func(a *app) { a.slots = append(a.slots, slot{"pusher-2", "2"}) }, want: []string{"synapse", "synapse-pusher-1"}},
		{name: "a background slot added", slots: base,
			change: func(a *app) { a.slots = append(a.slots, slot{"background-1", "1"}) }, want: []string{"synapse"}},
		{name: "a federation sender added", slots: base,
			change: func(a *app) { a.slots = append(a.slots, slot{"federation-sender-2", "2"}) },
			want:   []string{"synapse", "synapse-federation-sender-1"}},
		{name: "a sync reader added", slots: base,
			change: func(a *app) { a.slots = append(a.slots, slot{"sync-2", "1"}) }, want: nil},
		{name: "a generic worker added", slots: base,
			change: func(a *app) { a.slots = append(a.slots, slot{"generic-2", "3"}) }, want: nil},
		{name: "an event persister added", slots: base,
			change: func(a *app) { a.slots = append(a.slots, slot{"event-persister-2", "1"}) }, want: all},
		{name: "a server-wide option changed", slots: base,
			change: func(a *app) { a.hs.Config.EnableRoomListSearch = !a.hs.Config.EnableRoomListSearch }, want: all},
		{name: "monolith: S3 integrated", slots: base[:1],
			change: func(a *app) { a.hs.Media = s3 }, want: []string{"synapse"}},
		{name: "monolith: an option changed", slots: base[:1],
			change: func(a *app) { a.hs.Config.EnableRoomListSearch = !a.hs.Config.EnableRoomListSearch }, want: []string{"synapse"}},
		{name: "monolith: max_upload_size changed", slots: base[:1],
			change: func(a *app) { a.hs.Config.MaxUploadSize = "1G" }, want: []string{"synapse"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, tc.slots...)
			before := a.render(t)
			tc.change(a)
			assert.Equal(t, tc.want, restarted(before, a.render(t)))
		})
	}
}

func TestOnlyTheMediaLoaderGetsTheS3Environment(t *testing.T) {
	a := newApp(t, slot{"main", "0"}, slot{"generic-1", "1"}, slot{"media-1", "1"})
	a.hs.Media = s3
	for name, svc := range a.render(t) {
		_, has := svc.Environment["AWS_SHARED_CREDENTIALS_FILE"]
		assert.Equal(t, name == "synapse-media-1", has, name)
	}
	a = newApp(t, slot{"main", "0"}, slot{"generic-1", "1"})
	a.hs.Media = s3
	for name, svc := range a.render(t) {
		_, has := svc.Environment["AWS_CONFIG_FILE"]
		assert.Equal(t, name == "synapse", has, "without a media worker the main loads media: %s", name)
	}
}

func TestProcessConfigHashIsTheServicesHash(t *testing.T) {
	a := newApp(t, slot{"main", "0"}, slot{"pusher-1", "0"}, slot{"media-1", "0"})
	a.hs.Media = s3
	a.hs.BindAddress = "10.0.0.0"
	c := &workload.Cluster{Processes: []workload.ClusterProcess{
		{Name: "main", Role: workload.RoleMain, Host: host("0")},
		{Name: "pusher-1", Role: workload.RolePusher, Host: host("0"), Index: 1},
		{Name: "media-1", Role: workload.RoleMedia, Host: host("0"), Index: 2},
	}}
	a.hs.Cluster = c
	out, err := workload.RenderSynapse(workload.SynapseInput{Homeserver: a.hs, Secrets: a.secret, Local: c.Processes})
	require.NoError(t, err)
	for _, p := range c.Processes {
		hash, err := workload.ProcessConfigHash(out.Files, p.Name)
		require.NoError(t, err)
		assert.Equal(t, out.Layer.Services[workload.ServiceName(p.Name)].Environment["SYNAPSE_CHARM_CONFIG_HASH"], hash, p.Name)
	}
}

func TestRestartTokenChangesOnlyWhenEveryProcessRestarts(t *testing.T) {
	a := newApp(t)
	token := func(h workload.Homeserver, version string) string {
		tok, err := workload.RestartToken(h, version)
		require.NoError(t, err)
		return tok
	}
	h := a.hs
	first := token(h, "1.160.0")
	h.BindAddress = "10.9.9.9"
	h.Cluster = &workload.Cluster{Processes: []workload.ClusterProcess{
		{Name: "main", Role: workload.RoleMain, Host: host("0")},
		{Name: "event-persister-1", Role: workload.RoleEventPersister, Host: host("1"), Index: 1},
		{Name: "pusher-1", Role: workload.RolePusher, Host: host("1"), Index: 2},
	}}
	h.Media = s3
	assert.Equal(t, first, token(h, "1.160.0"), "the plan, the unit's address and the media store are not in it")
	assert.NotEqual(t, first, token(h, "1.161.0"), "an upgrade restarts everything")
	h.Config.EnableRoomListSearch = !h.Config.EnableRoomListSearch
	assert.NotEqual(t, first, token(h, "1.160.0"), "a server-wide option restarts everything")
}

func TestEveryRoleRendersFromItsRow(t *testing.T) {
	var slots []slot
	slots = append(slots, slot{"main", "0"})
	for i, spec := range workload.Roles {
		slots = append(slots, slot{string(spec.Role) + "-1", fmt.Sprint(i % 3)})
	}
	a := newApp(t, slots...)
	a.hs.BindAddress = "10.0.0.0"
	c := &workload.Cluster{}
	for i, s := range slots {
		c.Processes = append(c.Processes, workload.ClusterProcess{Name: s.name, Role: role(s.name), Host: host("0"), Index: i})
	}
	a.hs.Cluster = c
	out, err := workload.RenderSynapse(workload.SynapseInput{Homeserver: a.hs, Secrets: a.secret, Local: c.Processes})
	require.NoError(t, err)
	docs := map[string]map[string]any{}
	for _, f := range out.Files {
		var doc map[string]any
		if yaml.Unmarshal(f.Content, &doc) == nil {
			docs[f.Path] = doc
		}
	}
	hs := docs[workload.HomeserverPath]
	require.NotNil(t, hs)
	writers := hs["stream_writers"].(map[string]any)
	instanceMap := hs["instance_map"].(map[string]any)
	assert.Contains(t, instanceMap, "main")
	for _, spec := range workload.Roles {
		name := string(spec.Role) + "-1"
		for _, stream := range spec.Streams {
			assert.Equal(t, []any{name}, writers[stream], "stream %s", stream)
		}
		_, inMap := instanceMap[name]
		assert.Equal(t, spec.Replication(), inMap, "%s in instance_map", name)
		if spec.InstancesKey != "" {
			assert.Equal(t, []any{name}, hs[spec.InstancesKey])
		}
		if spec.SingleKey != "" {
			assert.Equal(t, name, hs[spec.SingleKey])
		}
		for k, v := range spec.SharedWhenHeld {
			assert.Equal(t, v, hs[k])
		}
		w := docs[workload.WorkerConfigPath(name)]
		require.NotNil(t, w, name)
		assert.Equal(t, spec.LoadsMedia, w["enable_media_repo"], "%s loads media", name)
		listeners := w["worker_listeners"].([]any)
		var resources []any
		for _, r := range spec.Resources {
			resources = append(resources, r)
		}
		assert.Equal(t, []any{map[string]any{"names": resources}}, listeners[0].(map[string]any)["resources"], name)
		hasRepl := false
		for _, l := range listeners {
			rs, _ := l.(map[string]any)["resources"].([]any) // metrics listeners have none
			for _, r := range rs {
				hasRepl = hasRepl || slices.Contains(r.(map[string]any)["names"].([]any), any("replication"))
			}
		}
		assert.Equal(t, spec.Replication(), hasRepl, "%s replication listener", name)
	}
	streams := map[string]bool{}
	for _, spec := range workload.Roles {
		for _, s := range spec.Streams {
			streams[s] = true
		}
	}
	assert.Len(t, writers, len(streams), "every stream of the table, no other")
}
