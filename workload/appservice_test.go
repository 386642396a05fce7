package workload_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

const goodRegistration = `id: irc
url: http://irc:8090
as_token: at
hs_token: ht
sender_localpart: irc_bot
rate_limited: false
protocols: [irc]
ip_range_whitelist: [10.0.0.0/8, 192.168.1.1]
org.matrix.msc3202: true
io.element.msc4502.scopes: ["urn:matrix:client:io.element.msc4502:rooms:is_joined"]
namespaces:
  users: [{regex: '@irc_.*:example\.com', exclusive: true}]
  rooms: []
`

func TestParseAppServiceAcceptsWhatSynapseAccepts(t *testing.T) {
	as, err := workload.ParseAppService("irc-7", []byte(goodRegistration))
	require.NoError(t, err)
	assert.Equal(t, "irc", as.ID)
	assert.Equal(t, "at", as.ASToken)
	assert.Equal(t, workload.AppServicesDir+"/irc-7.yaml", as.Path())
	var back map[string]any
	require.NoError(t, yaml.Unmarshal(as.Content, &back), "rendered as YAML Synapse reads")
	assert.Equal(t, false, back["rate_limited"])
	assert.Equal(t, "irc_bot", back["sender_localpart"])

	for name, reg := range map[string]string{
		"url null":             strings.Replace(goodRegistration, "url: http://irc:8090", "url: null", 1),
		"no namespaces listed": "id: a\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: a\nnamespaces: {}\n",
		"lookahead (Python)":   strings.Replace(goodRegistration, `'@irc_.*:example\.com'`, `'@irc_(?!admin).*'`, 1),
		"backreference":        strings.Replace(goodRegistration, `'@irc_.*:example\.com'`, `'(a)\1'`, 1),
		"localpart with /~.-_": strings.Replace(goodRegistration, "sender_localpart: irc_bot", "sender_localpart: a/b~c.d-e_f", 1),
		"protocols empty str":  strings.Replace(goodRegistration, "protocols: [irc]", `protocols: ""`, 1),
	} {
		_, err := workload.ParseAppService("x-1", []byte(reg))
		assert.NoError(t, err, name)
	}
}

func TestParseAppServiceRefusesWhatSynapseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"missing id", "id: irc\n", "", "id"},
		{"numeric as_token", "as_token: at", "as_token: 12", "as_token"},
		{"missing hs_token", "hs_token: ht\n", "", "hs_token"},
		{"missing url", "url: http://irc:8090\n", "", "url"},
		{"url not a string", "url: http://irc:8090", "url: [a]", "url"},
		{"id with |", "id: irc", "id: 'a|b'", "|"},
		{"localpart needs encoding", "sender_localpart: irc_bot", "sender_localpart: 'irc bot'", "sender_localpart"},
		{"namespaces missing", "namespaces:\n  users: [{regex: '@irc_.*:example\\.com', exclusive: true}]\n  rooms: []\n", "", "namespaces"},
		{"namespace not a list", "rooms: []", "rooms: {}", "namespaces.rooms"},
		{"exclusive not bool", "exclusive: true", "exclusive: 'yes'", "exclusive"},
		{"regex missing", "regex: '@irc_.*:example\\.com', ", "", "regex"},
		{"unbalanced (", `'@irc_.*:example\.com'`, `'('`, "missing closing )"},
		{"unbalanced [", `'@irc_.*:example\.com'`, `'[a'`, "missing closing ]"},
		{"nothing to repeat", `'@irc_.*:example\.com'`, `'*a'`, "repetition"},
		{"protocols not strings", "protocols: [irc]", "protocols: [1]", "protocols"},
		{"bad ip range", "192.168.1.1", "not-an-ip", "ip_range_whitelist"},
		{"msc3202 not bool", "org.matrix.msc3202: true", "org.matrix.msc3202: 1", "msc3202"},
		{"unknown scope", "rooms:is_joined", "rooms:everything", "scope"},
	} {
		reg := strings.Replace(goodRegistration, tc.from, tc.to, 1)
		require.NotEqual(t, goodRegistration, reg, tc.name)
		_, err := workload.ParseAppService("x-1", []byte(reg))
		if assert.Error(t, err, tc.name) {
			assert.Contains(t, err.Error(), tc.want, tc.name)
		}
	}
	for name, reg := range map[string]string{"not YAML": "id: [", "a list": "- a\n- b\n", "empty": ""} {
		_, err := workload.ParseAppService("x-1", []byte(reg))
		assert.Error(t, err, name)
	}
}

func TestCheckAppServicesRefusesReuse(t *testing.T) {
	parse := func(name, id, tok string) workload.AppService {
		reg := strings.NewReplacer("id: irc", "id: "+id, "as_token: at", "as_token: "+tok).Replace(goodRegistration)
		as, err := workload.ParseAppService(name, []byte(reg))
		require.NoError(t, err)
		return as
	}
	assert.NoError(t, workload.CheckAppServices([]workload.AppService{parse("a-1", "a", "t1"), parse("b-2", "b", "t2")}))
	err := workload.CheckAppServices([]workload.AppService{parse("a-1", "a", "t1"), parse("b-2", "a", "t2")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a-1 and b-2 reuse the id")
	err = workload.CheckAppServices([]workload.AppService{parse("a-1", "a", "secret-tok"), parse("b-2", "b", "secret-tok")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "as_token")
	assert.NotContains(t, err.Error(), "secret-tok", "a token is never quoted")
}

// Every process loads the registrations when it starts: any change to them
// restarts every process, and moves the restart token.
func TestAppServicesRestartEveryProcess(t *testing.T) {
	slots := []slot{{"main", "0"}, {"generic-1", "1"}, {"appservice-1", "1"}, {"media-1", "2"}, {"pusher-1", "2"}}
	all := []string{"synapse", "synapse-appservice-1", "synapse-generic-1", "synapse-media-1", "synapse-pusher-1"}
	irc, err := workload.ParseAppService("irc-7", []byte(goodRegistration))
	require.NoError(t, err)
	changed, err := workload.ParseAppService("irc-7", []byte(strings.Replace(goodRegistration, "hs_token: ht", "hs_token: ht2", 1)))
	require.NoError(t, err)

	a := newApp(t, slots...)
	tok0, err := workload.RestartToken(a.hs, "1.160.0")
	require.NoError(t, err)
	before := a.render(t)
	a.hs.AppServices = []workload.AppService{irc}
	added := a.render(t)
	assert.Equal(t, all, restarted(before, added), "registered")
	tok1, err := workload.RestartToken(a.hs, "1.160.0")
	require.NoError(t, err)
	assert.NotEqual(t, tok0, tok1)
	a.hs.AppServices = []workload.AppService{changed}
	assert.Equal(t, all, restarted(added, a.render(t)), "registration changed")
	a.hs.AppServices = nil
	assert.Equal(t, all, restarted(added, a.render(t)), "unregistered")

	// The monolith's files: the registration 0600 and owned by Synapse,
	// listed in homeserver.yaml; gone, with the key, once unregistered.
	hs := a.hs
	hs.Redis, hs.BindAddress = nil, "10.0.0.1"
	hs.AppServices = []workload.AppService{irc}
	out, err := workload.RenderSynapse(workload.SynapseInput{Homeserver: hs, Secrets: a.secret})
	require.NoError(t, err)
	var found bool
	for _, f := range out.Files {
		if f.Path == irc.Path() {
			found = true
			assert.EqualValues(t, 0o600, f.Mode)
			require.NotNil(t, f.Owner)
			assert.Equal(t, workload.SynapseOwner, *f.Owner)
		}
		if f.Path == workload.HomeserverPath {
			assert.Contains(t, string(f.Content), "app_service_config_files:\n    - "+irc.Path())
		}
	}
	assert.True(t, found)
	assert.Contains(t, out.PruneDirs, workload.AppServicesDir, "a registration no longer wanted is removed")
}
