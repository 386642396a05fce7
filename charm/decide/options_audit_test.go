package decide_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
)

// auditCase is how one option shows: the options both runs share (and a
// relation the option needs), and a value other than the default.
type auditCase struct {
	base   map[string]any
	setup  func(*decide.Snapshot)
	change any
}

var (
	smtpRelation = func(s *decide.Snapshot) {
		s.SMTP = &decide.RelationView{ID: "smtp:6", RemoteApp: "smtp-integrator",
			App: map[string]string{"host": "mail.example", "port": "587", "transport_security": "starttls", "auth_type": "none"}}
	}
	samlHTTPRelation = func(s *decide.Snapshot) {
		s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator",
			App: map[string]string{"entity_id": "https://idp.example/", "metadata_url": "http://idp.example/metadata"}}
	}
)

// auditCases has every option of charmcraft.yaml; a new option without a
// case fails TestEveryOptionHasAnEffect.
var auditCases = map[string]auditCase{
	"server_name":                            {change: "other.local"},
	"public_baseurl":                         {change: "https://matrix.example.com/"},
	"report_stats":                           {change: true},
	"enable_password_config":                 {change: false},
	"saml_allow_insecure_metadata_url":       {setup: samlHTTPRelation, change: true},
	"enable_room_list_search":                {change: false},
	"allow_public_rooms_over_federation":     {change: true},
	"block_non_admin_invites":                {change: true},
	"enable_email_notifs":                    {change: true},
	"notif_from":                             {setup: smtpRelation, change: "Matrix <hs@test.local>"},
	"enable_mjolnir":                         {change: true},
	"enable_draupnir":                        {change: true},
	"enable_media_sync_cleanup":              {change: true},
	"federation_domain_whitelist":            {change: "example.com"},
	"ip_range_whitelist":                     {change: "10.0.0.0/8"},
	"trusted_key_servers":                    {change: "matrix.org"},
	"invite_checker_blocklist_allowlist_url": {change: "https://example.com/list.json"},
	"invite_checker_policy_rooms":            {change: "!a:example.com"},
	"limit_remote_rooms_complexity":          {change: 1.5},
	"rc_joins_remote_burst_count":            {change: 20},
	"rc_joins_remote_per_second":             {change: 0.5},
	"publish_rooms_allowlist":                {change: "alice:test.local"},
	"experimental_alive_check":               {change: "3m,5,20s"},
	"workers_ignore_list":                    {change: "synapse/1"},
	"workers_preset":                         {change: "one-of-each"},
	"worker_counts":                          {change: "sync=1"},
	"event_persisters":                       {change: 1},
	"federation_senders":                     {change: 2},
	"pushers":                                {change: 2},
	"keep_singletons_on_main":                {change: true},
	"max_processes_per_unit":                 {change: 1},
	"trusted_proxies":                        {change: "10.1.0.0/16"},
	"max_upload_size":                        {change: "100M"},
	"rate_limiting_level":                    {change: "permissive"},
	// Every preset already moves background tasks off the main; with
	// keep_singletons_on_main they stay unless this option says otherwise.
	"experimental_extract_background_tasks": {base: map[string]any{"keep_singletons_on_main": true}, change: true},
}

// actionOptions are read by actions, not by the hooks' decisions: the
// file of charm/ that reads each field is checked instead.
var actionOptions = map[string]struct{ field, file string }{
	"backup_passphrase": {"BackupPassphrase", "backup.go"},
}

// charmcraftOptions reads the option names and defaults of charmcraft.yaml.
func charmcraftOptions(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "charmcraft.yaml"))
	require.NoError(t, err)
	var cc struct {
		Config struct {
			Options map[string]struct {
				Default any `yaml:"default"`
			} `yaml:"options"`
		} `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cc))
	out := map[string]any{}
	for name, o := range cc.Config.Options {
		out[name] = o.Default
	}
	require.NotEmpty(t, out)
	return out
}

// auditOutput is what a hook of the settled leader of a two-unit
// cluster decides with the given options: every rendered file, the
// layers, the bag writes and the status, as one comparable string.
func auditOutput(t *testing.T, cluster decide.Snapshot, options map[string]any, setup func(*decide.Snapshot)) string {
	t.Helper()
	s := ttClone(cluster)
	raw := map[string]any{"server_name": "test.local"}
	maps.Copy(raw, options)
	s.Config, s.ConfigErr = config.Parse(raw)
	if setup != nil {
		setup(&s)
	}
	d := decide.Decide(s)
	out, err := json.Marshal(struct {
		D      decide.Decision
		Status decide.Item
	}{d, ttStatus(d)})
	require.NoError(t, err)
	return string(out)
}

// TestEveryOptionHasAnEffect fails for an option that is parsed and
// ignored: changing it from its default must change what the charm
// renders, plans, writes or says.
func TestEveryOptionHasAnEffect(t *testing.T) {
	cluster := ttCluster(t, nil)
	options := charmcraftOptions(t)
	names := make([]string, 0, len(options))
	for name := range options {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if a, ok := actionOptions[name]; ok {
				assert.True(t, readsField(t, filepath.Join("..", a.file), a.field), "%s is read by no action (%s in charm/%s)", name, a.field, a.file)
				return
			}
			tc, ok := auditCases[name]
			require.True(t, ok, "option %s has no audit case: add one showing its effect", name)
			assert.True(t, optionHasEffect(t, cluster, name, tc), "changing %s to %v changes nothing the charm renders, plans, writes or says", name, tc.change)
		})
	}
}

// optionHasEffect compares the decisions with the option unset and set.
func optionHasEffect(t *testing.T, cluster decide.Snapshot, name string, tc auditCase) bool {
	t.Helper()
	base := maps.Clone(tc.base)
	if base == nil {
		base = map[string]any{}
	}
	before := auditOutput(t, cluster, base, tc.setup)
	require.Equal(t, before, auditOutput(t, cluster, base, tc.setup), "decisions are deterministic")
	changed := maps.Clone(base)
	changed[name] = tc.change
	return before != auditOutput(t, cluster, changed, tc.setup)
}

// TestOptionAuditCatchesAnIgnoredOption: an option config.Parse does
// not read (as enable_mjolnir was before issue 17) is caught.
func TestOptionAuditCatchesAnIgnoredOption(t *testing.T) {
	cluster := ttCluster(t, nil)
	assert.False(t, optionHasEffect(t, cluster, "seeded_ignored_option", auditCase{change: true}))
	assert.True(t, optionHasEffect(t, cluster, "report_stats", auditCase{change: true}))
}

// readsField reports whether a Go file selects a field of that name.
func readsField(t *testing.T, file, field string) bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	require.NoError(t, err)
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == field {
			found = true
		}
		return !found
	})
	return found
}
