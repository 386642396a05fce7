package decide

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// MatrixAuthEndpoint is where bridges and bots register application
// services (Canonical's matrix_auth interface, lib v0 and v1).
const MatrixAuthEndpoint = "matrix-auth"

// Keys of the peer application bag naming the secrets we provide over
// matrix-auth, so every unit finds them and the leader never makes a
// second one.
const (
	MatrixAuthSharedIDKey = "matrix-auth-shared-secret-id"
	MatrixAuthKeyIDKey    = "matrix-auth-encryption-key-id"
)

// MatrixAuthSecrets are the secrets we own and provide over matrix-auth,
// as observed.
type MatrixAuthSecrets struct {
	// Shared holds the registration shared secret (content key
	// shared-secret-content); Key the Fernet key v1 requirers encrypt
	// their registration with (encryption-key-content). ID "" when none.
	Shared, Key OwnedSecret
	// FreshKey is a new Fernet key, observed by the leader only when there
	// is no key secret yet (randomness enters the decision here).
	FreshKey string
}

// OwnedSecret is one of our application's secrets.
type OwnedSecret struct {
	ID      string
	Content map[string]string
}

// ProvidedSecret is a secret the leader gives to requirers.
type ProvidedSecret struct {
	Label, Description string
	// ID is the secret; "" creates it with Content, and the new ID is
	// recorded in the peer application bag under PeerKey.
	ID string
	// Content, when ID is set, is a new revision to write; nil for none.
	Content map[string]string
	PeerKey string
	// Publish are the relations to grant it to and name it on, under
	// BagKey of our application bag.
	Publish []string
	BagKey  string
}

// matrixAuth decides the matrix-auth relations: the leader provides the
// homeserver URL and both secrets; every unit returns the registrations
// to render. A registration Synapse would refuse blocks (false) naming
// its relation: nothing of the workload changes then, so Synapse keeps
// the registrations it runs with.
func (x *decider) matrixAuth(secrets workload.Secrets) ([]workload.AppService, bool) {
	s, d := x.s, x.d
	var rels []*RelationView
	for _, r := range s.MatrixAuth {
		if r != nil && !r.Pending {
			rels = append(rels, r)
		}
	}
	if len(rels) == 0 {
		return nil, true
	}
	sort.Slice(rels, func(i, j int) bool { return relationNumber(rels[i].ID) < relationNumber(rels[j].ID) })
	if s.Leader {
		x.provideMatrixAuth(rels, secrets)
	}
	key := s.MatrixAuthSecrets.Key.Content[relations.MatrixAuthEncryptionKeyContent]
	var list []workload.AppService
	var waiting []string
	for _, rel := range rels {
		reg, err := relations.ParseMatrixAuthRegistration(rel.App, rel.Secret, key)
		if errors.Is(err, relations.ErrNotReady) {
			waiting = append(waiting, rel.RemoteApp)
			continue
		}
		if err != nil {
			x.badRegistration(rel, err)
			return nil, false
		}
		as, err := workload.ParseAppService(appServiceName(rel), reg)
		if err != nil {
			x.badRegistration(rel, err)
			return nil, false
		}
		list = append(list, as)
	}
	if err := workload.CheckAppServices(list); err != nil {
		d.blocked(RankRelation, "matrix-auth registrations clash (Synapse would not start): %s; Synapse keeps running as it was: juju remove-relation %s one of them",
			Truncate(err.Error(), 200), x.ev().App)
		return nil, false
	}
	if len(waiting) > 0 {
		d.note("waiting for the application-service registration of " + strings.Join(waiting, ", "))
	}
	return list, true
}

func (x *decider) badRegistration(rel *RelationView, err error) {
	x.d.blocked(RankRelation, "matrix-auth relation %s from %s: registration refused (%s); Synapse keeps running as it was: fix %s's registration, or juju remove-relation %s:%s %s",
		rel.ID, rel.RemoteApp, Truncate(err.Error(), 200), rel.RemoteApp, x.ev().App, MatrixAuthEndpoint, rel.RemoteApp)
}

// provideMatrixAuth has the leader publish on every relation: the URL,
// the shared secret (kept equal to Synapse's registration shared
// secret) and the encryption key, made once and never rotated (a new key
// would make every v1 requirer's registration undecryptable).
func (x *decider) provideMatrixAuth(rels []*RelationView, secrets workload.Secrets) {
	s, d := x.s, x.d
	ms := s.MatrixAuthSecrets
	url := s.Config.PublicBaseURL
	if url == "" {
		url = "https://" + s.Config.ServerName
	}
	for _, rel := range rels {
		d.set(rel.ID, true, rel.Local, map[string]string{relations.MatrixAuthHomeserverKey: url})
	}
	shared := map[string]string{relations.MatrixAuthSharedSecretContentKey: secrets.Registration}
	sp := ProvidedSecret{
		Label: relations.MatrixAuthSharedSecretLabel, Description: "Synapse registration shared secret for matrix-auth requirers",
		ID: ms.Shared.ID, PeerKey: MatrixAuthSharedIDKey, BagKey: relations.MatrixAuthSharedSecretIDKey,
	}
	if sp.ID == "" || !maps.Equal(ms.Shared.Content, shared) {
		sp.Content = shared
	}
	kp := ProvidedSecret{
		Label: relations.MatrixAuthEncryptionKeyLabel, Description: "Fernet key matrix-auth requirers encrypt their registration with",
		ID: ms.Key.ID, PeerKey: MatrixAuthKeyIDKey, BagKey: relations.MatrixAuthEncryptionKeyIDKey,
	}
	if kp.ID == "" {
		if ms.FreshKey == "" {
			d.waiting(RankRelation, "waiting to generate the matrix-auth encryption key")
			return
		}
		kp.Content = map[string]string{relations.MatrixAuthEncryptionKeyContent: ms.FreshKey}
	}
	for _, p := range []*ProvidedSecret{&sp, &kp} {
		for _, rel := range rels {
			if p.ID == "" || rel.Local[p.BagKey] != p.ID {
				p.Publish = append(p.Publish, rel.ID)
			}
		}
		if p.Content != nil || len(p.Publish) > 0 {
			d.ProvidedSecrets = append(d.ProvidedSecrets, *p)
		}
	}
}

// appServiceName names a relation's registration file: the remote
// application and the relation's number, unique and readable.
func appServiceName(rel *RelationView) string {
	return fmt.Sprintf("%s-%d", rel.RemoteApp, relationNumber(rel.ID))
}

// relationNumber is the number of a relation ID "endpoint:N".
func relationNumber(id string) int {
	n := 0
	for _, c := range id[strings.LastIndexByte(id, ':')+1:] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
