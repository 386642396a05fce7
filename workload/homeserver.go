package workload

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/relations"
)

// Homeserver is everything homeserver.yaml is rendered from.
type Homeserver struct {
	// Config is the validated charm configuration.
	Config config.Config
	// PublicBaseURL is the resolved public_baseurl (config, ingress or default).
	PublicBaseURL string
	// BindAddress is the address this unit's listeners bind to.
	BindAddress string
	// Postgres is the database; nil means SQLite on the unit's storage.
	Postgres *relations.Database
	// Redis is the replication bus; nil means none (a monolith).
	Redis *relations.Redis
	// Cluster is the application's processes; nil means a monolith.
	Cluster *Cluster
	// Media is the S3 bucket behind the media store; nil keeps media local.
	Media *relations.S3
	// SAML is the SAML2 identity provider for single sign-on; nil means none.
	SAML *SAML
	// Email is the SMTP relay; nil means Synapse sends no email. It is
	// rendered into its own 0600 file (EmailConfigPath), not homeserver.yaml.
	Email *Email
	// MediaStorePath is where local media lives; "" means MediaStorePath.
	MediaStorePath string
	// AppServices are the application services registered over
	// matrix-auth, one 0600 file each (app_service_config_files).
	AppServices []AppService
}

// Files holding the S3 credentials and client config for boto3.
const (
	AWSCredentialsPath = SecretsDir + "/aws-credentials"
	AWSConfigPath      = SecretsDir + "/aws-config"
)

// S3ProviderModule is the media storage provider Synapse loads.
const S3ProviderModule = "s3_storage_provider.S3StorageProviderBackend"

// PGPassPath is the libpq passfile holding the database password.
const PGPassPath = SecretsDir + "/pgpass"

// RenderHomeserver renders the shared homeserver.yaml. The output is
// deterministic (sorted keys), so unchanged inputs give unchanged bytes and
// restart nothing.
func RenderHomeserver(h Homeserver) ([]byte, error) {
	c := h.Config
	if c.ServerName == "" {
		return nil, fmt.Errorf("render homeserver.yaml: server_name is empty")
	}
	if h.BindAddress == "" {
		return nil, fmt.Errorf("render homeserver.yaml: no bind address")
	}
	doc := map[string]any{
		"server_name":      c.ServerName,
		"public_baseurl":   h.PublicBaseURL,
		"report_stats":     c.ReportStats,
		"log_config":       LogConfigPath,
		"media_store_path": h.mediaStorePath(),
		"max_upload_size":  c.MaxUploadSize,
		"enable_metrics":   true,
		// Secrets live in files of mode 0600, never in this file.
		"signing_key_path":                SigningKeyPath,
		"macaroon_secret_key_path":        MacaroonPath,
		"registration_shared_secret_path": RegistrationPath,
		"form_secret_path":                FormSecretPath,
		"listeners": []any{
			map[string]any{
				"port":           ClientPort,
				"bind_addresses": []string{h.BindAddress},
				"type":           "http",
				"tls":            false,
				"x_forwarded":    true,
				"resources": []any{
					map[string]any{"names": []string{"client", "federation", "health"}, "compress": false},
				},
			},
			map[string]any{
				"port":           MetricsPort,
				"bind_addresses": []string{h.BindAddress},
				"type":           "metrics",
			},
		},
		"enable_room_list_search":            c.EnableRoomListSearch,
		"allow_public_rooms_over_federation": c.AllowPublicRoomsOverFederation,
		"block_non_admin_invites":            c.BlockNonAdminInvites,
		"serve_server_wellknown":             true,
		"forgotten_room_retention_period":    "28d",
		"media_retention": map[string]any{
			"local_media_lifetime":  "28d",
			"remote_media_lifetime": "14d",
		},
		"delete_stale_devices_after":  "1y",
		"suppress_key_server_warning": true,
	}
	renderRateLimits(doc, c)
	if !c.EnablePasswordConfig {
		doc["password_config"] = map[string]any{"enabled": false}
	}
	if len(c.FederationDomainWhitelist) > 0 {
		doc["federation_domain_whitelist"] = c.FederationDomainWhitelist
	}
	if len(c.IPRangeWhitelist) > 0 {
		doc["ip_range_whitelist"] = c.IPRangeWhitelist
	}
	if c.TrustedKeyServers != nil {
		servers := make([]any, 0, len(c.TrustedKeyServers))
		for _, s := range c.TrustedKeyServers {
			servers = append(servers, map[string]any{"server_name": s})
		}
		doc["trusted_key_servers"] = servers
	}
	if c.LimitRemoteRoomsComplexity != nil {
		doc["limit_remote_rooms"] = map[string]any{"enabled": true, "complexity": *c.LimitRemoteRoomsComplexity}
	}
	if len(c.PublishRoomsAllowlist) > 0 {
		rules := make([]any, 0, len(c.PublishRoomsAllowlist)+1)
		for _, u := range c.PublishRoomsAllowlist {
			rules = append(rules, map[string]any{"user_id": "@" + trimAt(u), "action": "allow"})
		}
		rules = append(rules, map[string]any{"action": "deny"})
		doc["room_list_publication_rules"] = rules
	}
	if c.InviteCheckerBlocklistAllowlistURL != "" || len(c.InviteCheckerPolicyRooms) > 0 {
		moduleConfig := map[string]any{}
		if c.InviteCheckerBlocklistAllowlistURL != "" {
			moduleConfig["blocklist_allowlist_url"] = c.InviteCheckerBlocklistAllowlistURL
		}
		if len(c.InviteCheckerPolicyRooms) > 0 {
			moduleConfig["policy_room_ids"] = c.InviteCheckerPolicyRooms
		}
		doc["modules"] = []any{map[string]any{"module": "synapse_invite_checker.InviteChecker", "config": moduleConfig}}
	}
	if h.Postgres != nil {
		doc["database"] = map[string]any{
			"name": "psycopg2",
			"args": map[string]any{
				"user":            h.Postgres.User,
				"dbname":          h.Postgres.Name,
				"host":            h.Postgres.Host,
				"port":            h.Postgres.Port,
				"passfile":        PGPassPath,
				"cp_min":          5,
				"cp_max":          10,
				"keepalives_idle": 10,
			},
		}
	} else {
		doc["database"] = map[string]any{
			"name": "sqlite3",
			"args": map[string]any{"database": SQLitePath},
		}
	}
	if h.Redis != nil {
		redis := map[string]any{"enabled": true, "host": h.Redis.Host, "port": h.Redis.Port}
		if h.Redis.Password != "" {
			redis["password_path"] = SecretsDir + "/redis"
		}
		doc["redis"] = redis
	}
	if m := h.Media; m != nil {
		cfg := map[string]any{"bucket": m.Bucket}
		if m.Endpoint != "" {
			cfg["endpoint_url"] = m.Endpoint
		}
		if m.Region != "" {
			cfg["region_name"] = m.Region
		}
		if m.Prefix != "" {
			cfg["prefix"] = m.Prefix
		}
		doc["media_storage_providers"] = []any{map[string]any{
			"module":            S3ProviderModule,
			"store_local":       true,
			"store_remote":      true,
			"store_synchronous": true,
			"config":            cfg,
		}}
	}
	if h.SAML != nil {
		doc["saml2_config"] = samlConfig(h.SAML)
	}
	if len(h.AppServices) > 0 {
		doc["app_service_config_files"] = appServicePaths(h.AppServices)
	}
	if h.Cluster != nil {
		h.Cluster.sharedWorkerConfig(doc)
		_, repl, _ := Ports(0)
		doc["listeners"] = append(doc["listeners"].([]any), map[string]any{
			"port":           repl,
			"bind_addresses": []string{h.BindAddress},
			"type":           "http",
			"resources":      []any{map[string]any{"names": []string{"replication"}}},
		})
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render homeserver.yaml: %w", err)
	}
	return append([]byte("# Rendered by the synapse charm. Local edits are overwritten.\n"), out...), nil
}

// RenderAWSFiles renders the boto3 shared credentials and config files.
func RenderAWSFiles(m *relations.S3) []File {
	conf := "[default]\n"
	if m.Region != "" {
		conf += "region = " + m.Region + "\n"
	}
	if m.PathStyle {
		conf += "s3 =\n    addressing_style = path\n"
	}
	return []File{
		{Path: AWSCredentialsPath, Content: []byte("[default]\naws_access_key_id = " + m.AccessKey + "\naws_secret_access_key = " + m.SecretKey + "\n"), Mode: 0o600},
		{Path: AWSConfigPath, Content: []byte(conf), Mode: 0o600},
	}
}

// RenderPGPass renders a libpq passfile line for the database.
func RenderPGPass(p *relations.Database) []byte {
	esc := func(s string) string {
		out := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			if s[i] == ':' || s[i] == '\\' {
				out = append(out, '\\')
			}
			out = append(out, s[i])
		}
		return string(out)
	}
	return []byte(esc(p.Host) + ":" + strconv.Itoa(p.Port) + ":" + esc(p.Name) + ":" + esc(p.User) + ":" + esc(p.Password) + "\n")
}

func trimAt(s string) string {
	if len(s) > 0 && s[0] == '@' {
		return s[1:]
	}
	return s
}

// RenderLogConfig renders the Python logging config: everything to stdout,
// so Pebble (and through it Loki) holds the logs.
func RenderLogConfig() []byte {
	return []byte(`# Rendered by the synapse charm.
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
filters:
  context:
    (): synapse.logging.context.LoggingContextFilter
    request: ""
handlers:
  console:
    class: logging.StreamHandler
    formatter: precise
    filters: [context]
    stream: ext://sys.stdout
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: INFO
  handlers: [console]
disable_existing_loggers: false
`)
}

// DatabaseLocale is what the charm knows of a PostgreSQL database before
// Synapse first uses it: Synapse refuses any collation or ctype but C.
type DatabaseLocale struct {
	Collate string `json:"collate"`
	CType   string `json:"ctype"`
	// Tables counts the tables outside the system schemas: changing the
	// locale of a database that holds any would corrupt its indexes.
	Tables int `json:"tables"`
	// Superuser is true when our user may change the locale.
	Superuser bool `json:"superuser"`
	// ForeignUsers counts Synapse users of another server_name: the
	// database belongs to another homeserver.
	ForeignUsers int `json:"foreign_users"`
	// Identity tells this database from another of the same name on the
	// same host (one recreated, or a new server behind the same name):
	// the cluster's system identifier and the database's OID.
	Identity string `json:"identity"`
}

// SQLiteContent is what a unit's SQLite database holds that an empty
// database would lose.
type SQLiteContent struct {
	Users int `json:"users"`
	Rooms int `json:"rooms"`
}

// Empty reports whether the database holds no user and no room.
func (c SQLiteContent) Empty() bool { return c.Users == 0 && c.Rooms == 0 }

// IsC reports whether the database has the locale Synapse requires.
func (l DatabaseLocale) IsC() bool { return l.Collate == "C" && l.CType == "C" }

// mediaStorePath is where this unit's local media lives.
func (h Homeserver) mediaStorePath() string {
	if h.MediaStorePath != "" {
		return h.MediaStorePath
	}
	return MediaStorePath
}
