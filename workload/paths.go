package workload

// Paths inside the synapse container. /data is the unit's persistent storage;
// the layout matches the Python charm so that `juju refresh --switch` keeps
// the database, the media and the signing key where they were.
const (
	DataDir            = "/data"
	HomeserverPath     = "/data/homeserver.yaml"
	LogConfigPath      = "/data/log.yaml"
	SQLitePath         = "/data/homeserver.db"
	MediaStorePath     = "/data/media_store"
	SecretsDir         = "/data/secrets"
	SigningKeyPath     = SecretsDir + "/signing.key"
	MacaroonPath       = SecretsDir + "/macaroon"
	RegistrationPath   = SecretsDir + "/registration"
	FormSecretPath     = SecretsDir + "/form"
	ReplicationPath    = SecretsDir + "/replication"
	DatabasePasswdPath = SecretsDir + "/database"
	// VolumeIDPath names this /data volume: the charm writes a random ID
	// once, so the unit whose volume holds the SQLite database or local
	// media is found again whatever its name.
	VolumeIDPath = "/data/.synapse-charm-volume"
)

// Ports used by every Synapse process on a unit.
const (
	ClientPort      = 8008
	MetricsPort     = 9000
	ReplicationPort = 8035
	NginxPort       = 8080
)
