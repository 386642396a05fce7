package decide

import (
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// What the Python charm (canonical/synapse-operator) leaves in the peer
// application bag: secret_storage.py, signing_key.py and macaroon_key.py,
// and the 2024 main election (main_unit_id). This charm reads them and
// never writes or deletes them, so a switch back finds them as they were.
const (
	// PySigningIDKey names its secret holding the signing key file's
	// content under PySigningContent (label PySigningLabel since 2025).
	PySigningIDKey   = "secret-signing-id"
	PySigningContent = "secret-signing-key"
	PySigningLabel   = "synapse-signing-key"
	// PyMacaroonIDKey names its macaroon secret (2025 revisions).
	PyMacaroonIDKey   = "secret-macaroon-id"
	PyMacaroonContent = "secret-macaroon-key"
	PyMacaroonLabel   = "synapse-macaroon-key"
	// PyAdminIDKey names its admin access token secret (content key
	// PyAdminTokenKey); without Juju secrets the token itself is under
	// PyAdminTokenKey. This charm's revisions before the rename used the
	// same key for its own secret (LegacySecretIDKey).
	PyAdminIDKey    = "secret-id"
	PyAdminTokenKey = "secret-key"
	// PyMainUnitKey names the main unit (2024 revisions); 2025 revisions
	// pin the main to unit 0.
	PyMainUnitKey = "main_unit_id"
)

// LegacySecretIDKey is where this charm named its secret before
// SecretIDKey: the Python charm's admin-token key, so it is moved.
const LegacySecretIDKey = PyAdminIDKey

// Files the Python charm leaves on its main unit's volume; the signing key
// and macaroon files are /data/<server_name>.signing.key and .macaroon.key.
const (
	PyMediaStorePath = workload.DataDir + "/media"
	PySigningSuffix  = ".signing.key"
	PyMacaroonSuffix = ".macaroon.key"
)

// PythonState is what the Python charm left that the bag alone does not
// say, observed while the application has no secret of this charm yet
// (keys) and on every hook (the media directory).
type PythonState struct {
	// SigningKey and Macaroon are the contents of its secrets, read by the
	// leader; "" when there is none.
	SigningKey, Macaroon string
	// SigningKeyFile and MacaroonFile are its key files on this unit's
	// volume, read by the leader; used only on its main unit.
	SigningKeyFile, MacaroonFile string
	// MediaStore is its media directory when this unit's volume holds it
	// and not this charm's: Synapse keeps serving from it.
	MediaStore string
}

// pythonLeft reports whether the peer bag holds what only the Python charm
// writes. A "secret-id" whose content is this charm's (own) is not.
func pythonLeft(app map[string]string, own AppSecret) bool {
	for _, k := range []string{PySigningIDKey, PyMacaroonIDKey, PyMainUnitKey, PyAdminTokenKey} {
		if app[k] != "" {
			return true
		}
	}
	return app[PyAdminIDKey] != "" && !(own.Legacy && own.ID == app[PyAdminIDKey])
}

// pythonMain is the Python charm's main unit: main_unit_id (2024), else
// unit 0 (2025 revisions pin it).
func pythonMain(app map[string]string, appName string) string {
	if m := app[PyMainUnitKey]; m != "" {
		return m
	}
	return appName + "/0"
}

// pythonPreferredMain is the unit the first plan makes main after a
// switch: the Python charm's main, whose volume holds its data; "" when
// a plan exists or the Python charm left nothing.
func (x *decider) pythonPreferredMain() string {
	if x.app[PlanKey] != "" || !pythonLeft(x.app, x.s.AppSecret) {
		return ""
	}
	return pythonMain(x.app, x.ev().App)
}

// migrateSecretID moves this charm's secret ID from the key it shared with
// the Python charm to its own (leader only). The old key is cleared so a
// switch back to the Python charm does not take it for its admin token.
func (x *decider) migrateSecretID(id string) {
	x.setPeerApp(map[string]string{SecretIDKey: id, LegacySecretIDKey: ""})
	x.d.logf("moved the application secret's ID from %s to %s", LegacySecretIDKey, SecretIDKey)
}

// adoptPython puts the Python charm's signing key and macaroon key into
// the secrets the leader is about to create: its signing key is the
// server's federation identity, never replaced. It returns false, with a
// status, when the Python charm left state but its key is not readable.
func (x *decider) adoptPython(fresh workload.Secrets) (workload.Secrets, bool) {
	s, d, ev := x.s, x.d, x.ev()
	if !pythonLeft(x.app, s.AppSecret) {
		return fresh, true
	}
	py, main := s.Python, pythonMain(x.app, ev.App)
	key, from := py.SigningKey, "its Juju secret"
	if key == "" && ev.Unit == main {
		key, from = py.SigningKeyFile, "/data/<server_name>"+PySigningSuffix
	}
	if key == "" {
		d.blocked(RankSetup, "switching from the Python charm: its signing key is in no readable Juju secret and only on %s's volume; this charm never makes a second one: juju scale-application %s 1 lets %s lead and adopt it, then scale back", main, ev.App, ev.App+"/0")
		return workload.Secrets{}, false
	}
	if err := workload.ValidateSigningKey(key); err != nil {
		d.blocked(RankSetup, "switching from the Python charm: its signing key (from %s) is unusable: %v", from, err)
		return workload.Secrets{}, false
	}
	fresh.SigningKey = key
	d.logf("adopting the Python charm's signing key from %s", from)
	if mac := py.Macaroon; mac != "" {
		fresh.Macaroon = mac
		d.logf("adopting the Python charm's macaroon key from its Juju secret")
	} else if ev.Unit == main && py.MacaroonFile != "" {
		fresh.Macaroon = py.MacaroonFile
		d.logf("adopting the Python charm's macaroon key from /data/<server_name>%s", PyMacaroonSuffix)
	}
	return fresh, true
}
