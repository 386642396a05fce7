package charm_test

// These tests load the charm's metadata.yaml, and the config and actions
// sections of charmcraft.yaml, through Juju's own charm parser
// (github.com/juju/charm/v12), the code the controller runs on deploy, and
// check them against the Python synapse charm's interface so that
// `juju refresh --switch` between the two charms keeps every integration and
// config value.
//
// Juju's parser ignores keys it does not know (its schema maps are not
// strict), so a typo such as `optinal: true` or `defualt: 10` would pass it
// silently. The tests therefore also check the raw YAML keys against the
// sets charmcraft and Juju understand.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	jujucharm "github.com/juju/charm/v12"
	"github.com/juju/charm/v12/assumes"
	"github.com/juju/charm/v12/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
)

// metaRepoRoot walks up from the test's working directory to the directory that
// holds go.mod.
func metaRepoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "go.mod not found above the test's working directory")
		dir = parent
	}
}

func metaReadFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(metaRepoRoot(t), name))
	require.NoError(t, err)
	return data
}

// metaRawYAML decodes a file into a generic map, for checks Juju's parser
// cannot make (unknown keys, keys it ignores such as upstream-source).
func metaRawYAML(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(metaReadFile(t, name), &m), name)
	require.NotNil(t, m, "%s is empty", name)
	return m
}

// packed returns the files the charm archive holds, as cmd/pack-charm
// builds it (with a stand-in dispatch: the packing is what is read here).
func packed(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := charmarchive.Files(charmarchive.Sources{
		Metadata:   metaReadFile(t, "metadata.yaml"),
		Charmcraft: metaReadFile(t, "charmcraft.yaml"),
		Dispatch:   []byte("#!/bin/sh\n"),
	})
	require.NoError(t, err)
	return files
}

// charmcraftSection returns one top-level section of charmcraft.yaml as
// the packed charm holds it (config -> config.yaml, actions ->
// actions.yaml).
func charmcraftSection(t *testing.T, key string) []byte {
	t.Helper()
	return packed(t)[key+".yaml"]
}

// packedCharmDir lays out the charm archive's files in a temporary
// directory.
func packedCharmDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range packed(t) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o755))
	}
	return dir
}

// TestMetadataJujuReadsPackedCharm reads the charm the way the controller
// does on deploy: ReadCharm parses every file and runs CheckMeta, which
// picks metadata format v2 from the manifest's bases.
func TestMetadataJujuReadsPackedCharm(t *testing.T) {
	ch, err := jujucharm.ReadCharm(packedCharmDir(t))
	require.NoError(t, err)
	format, reasons := jujucharm.MetaFormatReasons(ch)
	assert.Equal(t, jujucharm.FormatV2, format, "reasons: %v", reasons)
	require.NotNil(t, ch.Manifest())
	require.NoError(t, ch.Manifest().Validate())
	require.Len(t, ch.Manifest().Bases, 1)
	assert.Equal(t, "ubuntu@24.04/stable on amd64", ch.Manifest().Bases[0].String())
	assert.Equal(t, "synapse", ch.Meta().Name)
	assert.Len(t, ch.Config().Options, len(pythonOptions)+len(addedOptions)+len(python2026Options))
	assert.Len(t, ch.Actions().ActionSpecs, len(wantActions))
}

type metaEndpoint struct {
	role     jujucharm.RelationRole
	iface    string
	limit    int
	optional bool
}

// wantEndpoints are the Python charm's (rev426) endpoints, names and
// interfaces unchanged. Limits follow it too; Juju reads a missing limit as 0
// (unlimited).
var wantEndpoints = map[string]metaEndpoint{
	"synapse-peers":     {role: jujucharm.RolePeer, iface: "synapse-instance"},
	"metrics-endpoint":  {role: jujucharm.RoleProvider, iface: "prometheus_scrape"},
	"grafana-dashboard": {role: jujucharm.RoleProvider, iface: "grafana_dashboard"},
	// Added by the Python charm after rev426 (its 2026 main).
	"matrix-auth": {role: jujucharm.RoleProvider, iface: "matrix_auth"},
	"database":    {role: jujucharm.RoleRequirer, iface: "postgresql_client", limit: 1, optional: true},
	"redis":       {role: jujucharm.RoleRequirer, iface: "redis", limit: 1, optional: true},
	"media":       {role: jujucharm.RoleRequirer, iface: "s3", limit: 1, optional: true},
	"backup":      {role: jujucharm.RoleRequirer, iface: "s3", limit: 1, optional: true},
	"ingress":     {role: jujucharm.RoleRequirer, iface: "ingress", limit: 2, optional: true},
	"nginx-route": {role: jujucharm.RoleRequirer, iface: "nginx-route", limit: 1, optional: true},
	"saml":        {role: jujucharm.RoleRequirer, iface: "saml", limit: 1, optional: true},
	"smtp":        {role: jujucharm.RoleRequirer, iface: "smtp", limit: 1, optional: true},
	"logging":     {role: jujucharm.RoleRequirer, iface: "loki_push_api", limit: 1, optional: true},
}

func metaReadMeta(t *testing.T) *jujucharm.Meta {
	t.Helper()
	meta, err := jujucharm.ReadMeta(bytes.NewReader(metaReadFile(t, "metadata.yaml")))
	require.NoError(t, err, "metadata.yaml")
	// A packed charm has a manifest with bases, so Juju checks format v2.
	require.NoError(t, meta.Check(jujucharm.FormatV2, jujucharm.SelectionManifest, jujucharm.SelectionBases))
	return meta
}

func TestMetadataEndpointsMatchPythonCharm(t *testing.T) {
	meta := metaReadMeta(t)
	assert.Equal(t, "synapse", meta.Name)
	assert.NotEmpty(t, meta.Summary)
	assert.NotEmpty(t, meta.Description)
	assert.False(t, meta.Subordinate)

	got := map[string]metaEndpoint{}
	for name, rel := range meta.CombinedRelations() {
		assert.Equal(t, name, rel.Name)
		assert.Equal(t, jujucharm.ScopeGlobal, rel.Scope, name)
		got[name] = metaEndpoint{role: rel.Role, iface: rel.Interface, limit: rel.Limit, optional: rel.Optional}
	}
	assert.Equal(t, wantEndpoints, got)
}

func TestMetadataAssumes(t *testing.T) {
	meta := metaReadMeta(t)
	require.NotNil(t, meta.Assumes, "assumes")
	root, ok := meta.Assumes.Expression.(assumes.CompositeExpression)
	require.True(t, ok, "assumes root is %T", meta.Assumes.Expression)
	assert.Equal(t, assumes.AllOfExpression, root.ExprType)
	features := map[string]string{}
	for _, sub := range root.SubExpressions {
		f, ok := sub.(assumes.FeatureExpression)
		require.True(t, ok, "assumes entry %#v", sub)
		v := ""
		if f.Version != nil {
			v = string(f.Constraint) + " " + f.Version.String()
		}
		features[f.Name] = v
	}
	assert.Equal(t, map[string]string{"k8s-api": "", "juju": ">= 3.4.0"}, features)
}

func TestMetadataContainersResourcesStorage(t *testing.T) {
	meta := metaReadMeta(t)

	assert.Equal(t, map[string]jujucharm.Container{
		"synapse": {
			Resource: "synapse-image",
			Mounts:   []jujucharm.Mount{{Storage: "data", Location: "/data"}},
		},
		"synapse-nginx": {Resource: "synapse-nginx-image"},
	}, meta.Containers)

	require.Len(t, meta.Resources, 2)
	for _, name := range []string{"synapse-image", "synapse-nginx-image"} {
		r, ok := meta.Resources[name]
		require.True(t, ok, "resource %s", name)
		assert.Equal(t, name, r.Name)
		assert.Equal(t, resource.TypeContainerImage, r.Type, name)
		assert.NotEmpty(t, r.Description, name)
	}

	require.Len(t, meta.Storage, 1)
	data := meta.Storage["data"]
	assert.Equal(t, "data", data.Name)
	assert.Equal(t, jujucharm.StorageFilesystem, data.Type)
	assert.Equal(t, "/data", data.Location)
	assert.False(t, data.Shared, "each pod gets its own volume")
	assert.False(t, data.ReadOnly)
	assert.Equal(t, 1, data.CountMin)
	assert.Equal(t, 1, data.CountMax)

	// upstream-source is read by charmcraft (the image charmcraft upload
	// attaches), not by Juju: check it in the raw YAML. Each is a pinned tag.
	raw := metaRawYAML(t, "metadata.yaml")
	resources := raw["resources"].(map[string]any)
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+$`)
	wantImage := map[string]string{
		"synapse-image":       "ghcr.io/element-hq/synapse:",
		"synapse-nginx-image": "nginx:",
	}
	for name, prefix := range wantImage {
		src, _ := resources[name].(map[string]any)["upstream-source"].(string)
		assert.True(t, strings.HasPrefix(src, prefix), "%s upstream-source %q should be %s<tag>", name, src, prefix)
		assert.Regexp(t, pinned, src, "%s upstream-source must name a tag", name)
		assert.NotContains(t, src, ":latest", "%s upstream-source must be pinned", name)
	}
}

// Keys charmcraft and Juju understand in metadata.yaml. Juju's own parser
// ignores anything else without a word.
var (
	knownMetadataYAMLKeys = metaKeySet("name", "display-name", "summary", "description", "docs", "issues",
		"source", "website", "maintainers", "terms", "subordinate", "assumes", "containers",
		"resources", "storage", "devices", "peers", "provides", "requires", "extra-bindings",
		"charm-user")
	knownRelationKeys  = metaKeySet("interface", "limit", "optional", "scope", "description")
	knownContainerKeys = metaKeySet("resource", "mounts", "uid", "gid")
	knownMountKeys     = metaKeySet("storage", "location")
	knownResourceKeys  = metaKeySet("type", "description", "filename", "upstream-source")
	knownStorageKeys   = metaKeySet("type", "description", "location", "shared", "read-only",
		"multiple", "minimum-size", "properties")
	knownOptionKeys = metaKeySet("type", "description", "default")
)

func metaKeySet(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func metaAssertKnownKeys(t *testing.T, where string, v any, known map[string]bool) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !assert.True(t, ok, "%s: want a mapping, got %T", where, v) {
		return
	}
	for k := range m {
		assert.True(t, known[k], "%s: unknown key %q", where, k)
	}
}

func TestMetadataRawKeys(t *testing.T) {
	raw := metaRawYAML(t, "metadata.yaml")
	metaAssertKnownKeys(t, "metadata.yaml", raw, knownMetadataYAMLKeys)
	for _, section := range []string{"peers", "provides", "requires"} {
		rels, _ := raw[section].(map[string]any)
		for name, rel := range rels {
			metaAssertKnownKeys(t, section+"."+name, rel, knownRelationKeys)
		}
	}
	containers, _ := raw["containers"].(map[string]any)
	for name, c := range containers {
		metaAssertKnownKeys(t, "containers."+name, c, knownContainerKeys)
		mounts, _ := c.(map[string]any)["mounts"].([]any)
		for _, m := range mounts {
			metaAssertKnownKeys(t, "containers."+name+".mounts", m, knownMountKeys)
		}
	}
	resources, _ := raw["resources"].(map[string]any)
	for name, r := range resources {
		metaAssertKnownKeys(t, "resources."+name, r, knownResourceKeys)
	}
	storage, _ := raw["storage"].(map[string]any)
	for name, s := range storage {
		metaAssertKnownKeys(t, "storage."+name, s, knownStorageKeys)
	}

	// charmcraft refuses a key present in both metadata.yaml and charmcraft.yaml.
	for k := range metaRawYAML(t, "charmcraft.yaml") {
		assert.NotContains(t, raw, k, "key %q is in both metadata.yaml and charmcraft.yaml", k)
	}
}

type metaOption struct {
	typ string
	def any // nil: no default
}

// pythonOptions are the Python charm's 22 options: same names, types and
// defaults. Juju's parser turns an int default into int64 and a float into
// float64.
var pythonOptions = map[string]metaOption{
	"server_name":                            {"string", nil},
	"public_baseurl":                         {"string", nil},
	"report_stats":                           {"boolean", false},
	"enable_password_config":                 {"boolean", true},
	"enable_room_list_search":                {"boolean", true},
	"allow_public_rooms_over_federation":     {"boolean", false},
	"block_non_admin_invites":                {"boolean", false},
	"enable_email_notifs":                    {"boolean", false},
	"notif_from":                             {"string", nil},
	"enable_mjolnir":                         {"boolean", false},
	"federation_domain_whitelist":            {"string", nil},
	"ip_range_whitelist":                     {"string", nil},
	"trusted_key_servers":                    {"string", nil},
	"invite_checker_blocklist_allowlist_url": {"string", nil},
	"invite_checker_policy_rooms":            {"string", nil},
	"limit_remote_rooms_complexity":          {"float", nil},
	"rc_joins_remote_burst_count":            {"int", int64(10)},
	"rc_joins_remote_per_second":             {"float", 0.01},
	"publish_rooms_allowlist":                {"string", nil},
	"experimental_alive_check":               {"string", "2m,5,20s"},
	"backup_passphrase":                      {"string", nil},
	"workers_ignore_list":                    {"string", nil},
}

// addedOptions are this charm's additions (worker topology, upload size).
var addedOptions = map[string]metaOption{
	"event_persisters":        {"int", int64(-1)},
	"federation_senders":      {"int", int64(-1)},
	"pushers":                 {"int", int64(-1)},
	"workers_preset":          {"string", "balanced"},
	"worker_counts":           {"string", ""},
	"keep_singletons_on_main": {"boolean", false},
	"max_processes_per_unit":  {"int", int64(4)},
	"max_upload_size":         {"string", "50M"},
	"trusted_proxies":         {"string", nil},

	"saml_allow_insecure_metadata_url": {"boolean", false},
}

// python2026Options are the options the Python charm added in 2025-26
// (issue 17); rate_limiting_level's Python default is unset, which it
// treats as "default".
var python2026Options = map[string]metaOption{
	"rate_limiting_level":                   {"string", "default"},
	"experimental_extract_background_tasks": {"boolean", false},
	"enable_media_sync_cleanup":             {"boolean", false},
	"enable_draupnir":                       {"boolean", false},
}

func metaReadConfig(t *testing.T) *jujucharm.Config {
	t.Helper()
	cfg, err := jujucharm.ReadConfig(bytes.NewReader(charmcraftSection(t, "config")))
	require.NoError(t, err, "charmcraft.yaml config")
	return cfg
}

func TestMetadataConfigOptions(t *testing.T) {
	require.Len(t, pythonOptions, 22)
	cfg := metaReadConfig(t)

	check := func(name string, want metaOption) {
		t.Helper()
		got, ok := cfg.Options[name]
		if !assert.True(t, ok, "option %q missing", name) {
			return
		}
		assert.Equal(t, want.typ, got.Type, "type of %s", name)
		assert.Equal(t, want.def, got.Default, "default of %s", name)
		assert.NotEmpty(t, strings.TrimSpace(got.Description), "description of %s", name)
	}
	for name, want := range pythonOptions {
		check(name, want)
	}
	for name, want := range addedOptions {
		check(name, want)
	}
	for name, want := range python2026Options {
		check(name, want)
	}
	for name := range cfg.Options {
		_, py := pythonOptions[name]
		_, added := addedOptions[name]
		_, py2026 := python2026Options[name]
		assert.True(t, py || added || py2026, "option %q is neither the Python charm's nor a listed addition", name)
	}

	// The defaults are what a fresh deployment gets from config-get.
	defaults := cfg.DefaultSettings()
	assert.Equal(t, "2m,5,20s", defaults["experimental_alive_check"])
	assert.Nil(t, defaults["server_name"])

	// Juju's own type checks on operator input.
	_, err := cfg.ParseSettingsStrings(map[string]string{
		"server_name":                   "example.com",
		"rc_joins_remote_burst_count":   "20",
		"rc_joins_remote_per_second":    "0.5",
		"limit_remote_rooms_complexity": "1.5",
		"report_stats":                  "true",
		"federation_senders":            "2",
	})
	require.NoError(t, err)
	_, err = cfg.ParseSettingsStrings(map[string]string{"rc_joins_remote_burst_count": "many"})
	assert.Error(t, err)

	// Keys Juju's parser would ignore (a misspelt "default" passes silently).
	raw := map[string]any{}
	require.NoError(t, yaml.Unmarshal(charmcraftSection(t, "config"), &raw))
	metaAssertKnownKeys(t, "config", raw, metaKeySet("options"))
	options, _ := raw["options"].(map[string]any)
	for name, opt := range options {
		metaAssertKnownKeys(t, "config.options."+name, opt, knownOptionKeys)
		typ, hasType := opt.(map[string]any)["type"]
		assert.True(t, hasType, "config.options.%s: declare the type (Juju assumes string)", name)
		// Juju coerces a quoted "10" into an int default; charmcraft and
		// readers of the file should see the declared type itself.
		if def, ok := opt.(map[string]any)["default"]; ok {
			switch typ {
			case "string":
				assert.IsType(t, "", def, "config.options.%s default", name)
			case "int":
				assert.IsType(t, 0, def, "config.options.%s default", name)
			case "float":
				_, isInt := def.(int)
				_, isFloat := def.(float64)
				assert.True(t, isInt || isFloat, "config.options.%s default %#v is not a number", name, def)
			case "boolean":
				assert.IsType(t, false, def, "config.options.%s default", name)
			}
		}
	}
}

type metaParam struct {
	typ string
	def any // nil: no default
}

type metaAction struct {
	required []string
	params   map[string]metaParam
}

var wantActions = map[string]metaAction{
	"register-user": {
		required: []string{"username"},
		params: map[string]metaParam{
			"username": {typ: "string"},
			"admin":    {typ: "boolean", def: false},
			"password": {typ: "string"},
		},
	},
	"promote-user-admin": {
		required: []string{"username"},
		params:   map[string]metaParam{"username": {typ: "string"}},
	},
	"anonymize-user": {
		required: []string{"username"},
		params:   map[string]metaParam{"username": {typ: "string"}},
	},
	"reset-user-password": {
		required: []string{"username"},
		params: map[string]metaParam{
			"username": {typ: "string"},
			"password": {typ: "string"},
		},
	},
	"create-backup": {params: map[string]metaParam{}},
	"list-backups":  {params: map[string]metaParam{}},
	"restore-backup": {
		required: []string{"backup-id"},
		params:   map[string]metaParam{"backup-id": {typ: "string"}},
	},
	"delete-backup": {
		required: []string{"backup-id"},
		params:   map[string]metaParam{"backup-id": {typ: "string"}},
	},
}

func metaReadActions(t *testing.T) *jujucharm.Actions {
	t.Helper()
	actions, err := jujucharm.ReadActionsYaml("synapse", bytes.NewReader(charmcraftSection(t, "actions")))
	require.NoError(t, err, "charmcraft.yaml actions")
	return actions
}

func TestMetadataActions(t *testing.T) {
	actions := metaReadActions(t)
	var names []string
	for name := range actions.ActionSpecs {
		names = append(names, name)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"anonymize-user", "create-backup", "delete-backup", "list-backups", "promote-user-admin", "register-user", "reset-user-password", "restore-backup"}, names)

	for name, want := range wantActions {
		spec, ok := actions.ActionSpecs[name]
		if !assert.True(t, ok, "action %q missing", name) {
			continue
		}
		assert.NotEqual(t, "No description", spec.Description, "%s needs a description", name)
		assert.NotEmpty(t, strings.TrimSpace(spec.Description), name)

		var required []string
		if req, ok := spec.Params["required"].([]any); ok {
			for _, r := range req {
				required = append(required, r.(string))
			}
		}
		assert.Equal(t, want.required, required, "required params of %s", name)
		assert.Equal(t, false, spec.Params["additionalProperties"], "%s should refuse unknown params", name)

		props, _ := spec.Params["properties"].(map[string]any)
		assert.Len(t, props, len(want.params), "params of %s", name)
		for pname, wp := range want.params {
			p, ok := props[pname].(map[string]any)
			if !assert.True(t, ok, "%s: param %q missing", name, pname) {
				continue
			}
			assert.Equal(t, wp.typ, p["type"], "%s.%s type", name, pname)
			assert.Equal(t, wp.def, p["default"], "%s.%s default", name, pname)
			assert.NotEmpty(t, p["description"], "%s.%s description", name, pname)
		}

		// Juju validates `juju run` parameters against this schema.
		valid := map[string]any{}
		for _, r := range want.required {
			valid[r] = "alice"
		}
		assert.NoError(t, spec.ValidateParams(valid), name)
		bogus := map[string]any{"bogus": "x"}
		for k, v := range valid {
			bogus[k] = v
		}
		assert.Error(t, spec.ValidateParams(bogus), "%s with an unknown param", name)
		for _, r := range want.required {
			assert.Error(t, spec.ValidateParams(map[string]any{}), "%s without %s", name, r)
			assert.Error(t, spec.ValidateParams(map[string]any{r: 7}), "%s with a non-string %s", name, r)
		}
	}

	reg := actions.ActionSpecs["register-user"]
	withDefaults, err := reg.InsertDefaults(map[string]any{"username": "alice"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"username": "alice", "admin": false}, withDefaults,
		"admin defaults to false; password stays absent so the charm generates one")
	assert.Error(t, reg.ValidateParams(map[string]any{"username": "alice", "admin": "yes"}))
}

// TestMetadataCharmcraftBuild checks the build half of charmcraft.yaml:
// the go plugin builds ./cmd/charm (installed as bin/charm) and only that
// binary, renamed dispatch, ends up in the charm.
func TestMetadataCharmcraftBuild(t *testing.T) {
	cc := metaRawYAML(t, "charmcraft.yaml")
	assert.Equal(t, "charm", cc["type"])
	assert.Equal(t, "ubuntu@24.04", cc["base"])
	assert.Equal(t, "ubuntu@24.04", cc["build-base"])
	platforms, ok := cc["platforms"].(map[string]any)
	require.True(t, ok, "platforms")
	assert.Equal(t, []string{"amd64"}, metaSortedKeys(platforms))

	parts, _ := cc["parts"].(map[string]any)
	require.Equal(t, []string{"charm"}, metaSortedKeys(parts))
	part, _ := parts["charm"].(map[string]any)
	assert.Equal(t, "go", part["plugin"])
	assert.Equal(t, ".", part["source"])

	// The Go snap track must follow go.mod's go directive (major.minor).
	goMod := string(metaReadFile(t, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	require.NotNil(t, m, "go directive in go.mod")
	assert.Contains(t, part["build-snaps"], "go/"+m[1]+"/stable")

	env := map[string]any{}
	list, _ := part["build-environment"].([]any)
	for _, e := range list {
		for k, v := range e.(map[string]any) {
			env[k] = v
		}
	}
	assert.Equal(t, "0", env["CGO_ENABLED"], `CGO_ENABLED must be the string "0"`)

	assert.Equal(t, map[string]any{"bin/charm": "dispatch", "bin/charm-backup": charmarchive.BackupActions}, part["organize"])
	assert.Equal(t, []any{"dispatch", charmarchive.BackupActions}, part["prime"], "only dispatch and the backup actions' program may be primed")
	assert.Equal(t, part["prime"], part["stage"])
}

// TestMetadataDispatchMainPackage checks that `organize: bin/charm` names the
// right binary: the go plugin installs the main package in cmd/charm as
// bin/charm.
func TestMetadataDispatchMainPackage(t *testing.T) {
	// bin/charm is the install name of the main package in cmd/charm; no
	// other main package in the module may be called charm (go install
	// would overwrite one with the other).
	root := metaRepoRoot(t)
	var charmMains []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root {
				if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				// A nested module is not built by `go install ./...`.
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if filepath.Base(filepath.Dir(path)) != "charm" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if packageMain.Match(src) {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			charmMains = append(charmMains, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	charmMains = metaDedupe(charmMains)
	if len(charmMains) == 0 {
		// Until cmd/charm has any Go file there is nothing to check yet.
		if src, _ := filepath.Glob(filepath.Join(root, "cmd", "charm", "*.go")); len(src) == 0 {
			t.Skip("cmd/charm has no Go files yet")
		}
	}
	assert.Equal(t, []string{"cmd/charm"}, charmMains, "main packages installed as bin/charm")
}

var packageMain = regexp.MustCompile(`(?m)^package main\b`)

func metaSortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func metaDedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
