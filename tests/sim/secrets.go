package sim

import (
	"fmt"
	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
	"maps"
	"sort"
)

// Secrets live in a jujuc.Secrets: the store and rules the hook tools
// share with jujutest.Memory. The model adds what only an agent does:
// telling consumers about new revisions.

// addRevisionLocked adds a revision if content differs from the latest,
// and queues secret-changed on every consumer tracking an older one.
func (m *Model) addRevisionLocked(s *jujuc.Secret, content map[string]string) {
	if m.secrets.AddRevision(s, content) {
		m.queueSecretChangedLocked(s)
	}
}

func (m *Model) queueSecretChangedLocked(s *jujuc.Secret) {
	latest := s.Latest().Rev
	for name, c := range s.Consumers {
		u := m.units[name]
		if u == nil || c.Rev >= latest {
			continue
		}
		if !contains(u.secretChanged, s.ID) {
			u.secretChanged = append(u.secretChanged, s.ID)
		}
	}
}

// ownSecret finds a secret by URI that app owns.
func (m *Model) ownSecret(uri, app string) (*jujuc.Secret, error) {
	id, err := parseSecretURI(uri)
	if err != nil {
		return nil, err
	}
	s := m.secrets.Get(id)
	if s == nil {
		return nil, fmt.Errorf("secret %q not found", id)
	}
	if s.Owner.App != app || s.Owner.Unit != "" {
		return nil, fmt.Errorf("secret %q is not owned by %s", id, app)
	}
	return s, nil
}

// SecretInfo describes a secret for tests.
type SecretInfo struct {
	// ID is the bare id; URI is "secret:<id>".
	ID, URI string
	// Owner is the owning application or unit.
	Owner string
	// OwnerKind is "application" or "unit".
	OwnerKind string
	// Label is the owner's label.
	Label string
	// Description is the description.
	Description string
	// Revision is the latest revision.
	Revision int
	// Content is the latest revision's content.
	Content map[string]string
	// Consumers maps consumer units to the revision they track.
	Consumers map[string]int
	// ConsumerLabels maps consumer units to their label.
	ConsumerLabels map[string]string
	// Grants maps relation ids to the application or unit granted.
	Grants map[int]string
}

// Secrets returns every secret in the model, by id.
func (m *Model) Secrets() []SecretInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SecretInfo
	for _, s := range m.secrets.All() {
		info := SecretInfo{
			ID: s.ID, URI: s.URI(), Owner: s.Owner.Name(), OwnerKind: s.Owner.Kind(), Label: s.Label, Description: s.Description,
			Revision: s.Latest().Rev, Content: maps.Clone(s.Latest().Content),
			Consumers: map[string]int{}, ConsumerLabels: map[string]string{}, Grants: map[int]string{},
		}
		for u, c := range s.Consumers {
			info.Consumers[u] = c.Rev
			if c.Label != "" {
				info.ConsumerLabels[u] = c.Label
			}
		}
		for id, g := range s.Grants {
			info.Grants[id] = g.App
			if g.Unit != "" {
				info.Grants[id] = g.Unit
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Secret returns one secret by URI or id.
func (m *Model) Secret(uri string) (SecretInfo, bool) {
	id, err := parseSecretURI(uri)
	if err != nil {
		return SecretInfo{}, false
	}
	for _, s := range m.Secrets() {
		if s.ID == id {
			return s, true
		}
	}
	return SecretInfo{}, false
}

// AddUserSecret creates a secret owned by the model (as "juju add-secret"
// does) and returns its URI; Grant it with GrantUserSecret.
func (m *Model) AddUserSecret(content map[string]string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.secrets.Create(jujuc.Owner{App: "model-" + m.opts.ModelUUID}, "", "", content)
	return s.URI()
}

// GrantUserSecret lets the application under test read a user secret (as
// "juju grant-secret").
func (m *Model) GrantUserSecret(uri string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.ownSecret(uri, "model-"+m.opts.ModelUUID)
	if err != nil {
		return err
	}
	s.UserGrants[m.opts.App] = true
	return nil
}

// UpdateSecretContent adds a revision to any secret (as the owner would);
// consumers tracking an older revision get secret-changed.
func (m *Model) UpdateSecretContent(uri string, content map[string]string) error {
	id, err := parseSecretURI(uri)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.secrets.Get(id)
	if s == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	m.addRevisionLocked(s, content)
	return nil
}

// SecretChanged queues secret-changed on every consumer of a secret, with
// JUJU_SECRET_ID, whether or not it tracks the latest revision.
func (m *Model) SecretChanged(uri string) error {
	id, err := parseSecretURI(uri)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.secrets.Get(id)
	if s == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	for name := range s.Consumers {
		if u := m.units[name]; u != nil && !contains(u.secretChanged, id) {
			u.secretChanged = append(u.secretChanged, id)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
