package sim

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"
)

// secret is a Juju secret: an owner (an application or a unit), revisions
// of content, labels (the owner's and each consumer's), and grants.
type secret struct {
	id          string
	owner       secretOwner
	label       string // the owner's label
	description string
	rotate      string
	expire      *time.Time
	revisions   []secretRevision
	consumers   map[string]*secretConsumer // by consumer unit
	grants      map[int]secretGrant        // by relation id
	userGrants  map[string]bool            // applications granted with "juju grant-secret"
	created     time.Time
}

type secretOwner struct {
	app  string // an application-owned secret
	unit string // a unit-owned secret
}

func (o secretOwner) kind() string {
	if o.unit != "" {
		return "unit"
	}
	return "application"
}

type secretRevision struct {
	rev     int
	content map[string]string
}

// secretConsumer is one unit reading a secret it does not own.
type secretConsumer struct {
	label string
	rev   int // the revision it tracks
}

// secretGrant is access through a relation: to a whole application, or to
// one unit.
type secretGrant struct {
	app  string
	unit string
}

func (s *secret) latest() secretRevision { return s.revisions[len(s.revisions)-1] }

func (s *secret) revision(rev int) (secretRevision, bool) {
	for _, r := range s.revisions {
		if r.rev == rev {
			return r, true
		}
	}
	return secretRevision{}, false
}

// uri is the short form "secret:<id>" that secret-add prints.
func (s *secret) uri() string { return "secret:" + s.id }

// parseSecretURI accepts "secret:<id>", "secret://<model-uuid>/<id>" and a
// bare 20-character id, and returns the id.
func parseSecretURI(s string) (string, error) {
	id := s
	switch {
	case strings.HasPrefix(s, "secret://"):
		rest := strings.TrimPrefix(s, "secret://")
		i := strings.LastIndex(rest, "/")
		if i < 0 {
			return "", fmt.Errorf("secret URI %q not valid", s)
		}
		id = rest[i+1:]
	case strings.HasPrefix(s, "secret:"):
		id = strings.TrimPrefix(s, "secret:")
	}
	if len(id) != 20 {
		return "", fmt.Errorf("secret URI %q not valid", s)
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'v') {
			return "", fmt.Errorf("secret URI %q not valid", s)
		}
	}
	return id, nil
}

func (m *Model) newSecretLocked(owner secretOwner, label, description string, content map[string]string) *secret {
	s := &secret{
		id: newSecretID(), owner: owner, label: label, description: description,
		revisions: []secretRevision{{rev: 1, content: maps.Clone(content)}},
		consumers: map[string]*secretConsumer{}, grants: map[int]secretGrant{},
		userGrants: map[string]bool{}, created: time.Now().UTC(),
	}
	m.secrets[s.id] = s
	return s
}

// addRevisionLocked adds a revision if content differs from the latest,
// and queues secret-changed on every consumer tracking an older one.
func (m *Model) addRevisionLocked(s *secret, content map[string]string) {
	if maps.Equal(s.latest().content, content) {
		return
	}
	s.revisions = append(s.revisions, secretRevision{rev: s.latest().rev + 1, content: maps.Clone(content)})
	m.queueSecretChangedLocked(s)
}

func (m *Model) queueSecretChangedLocked(s *secret) {
	latest := s.latest().rev
	for name, c := range s.consumers {
		u := m.units[name]
		if u == nil || c.rev >= latest {
			continue
		}
		if !contains(u.secretChanged, s.id) {
			u.secretChanged = append(u.secretChanged, s.id)
		}
	}
}

// ownSecret finds a secret by URI that app owns.
func (m *Model) ownSecret(uri, app string) (*secret, error) {
	id, err := parseSecretURI(uri)
	if err != nil {
		return nil, err
	}
	s := m.secrets[id]
	if s == nil {
		return nil, fmt.Errorf("secret %q not found", id)
	}
	if s.owner.app != app {
		return nil, fmt.Errorf("secret %q is not owned by %s", id, app)
	}
	return s, nil
}

// isOwner reports whether unit u may manage s: the unit that owns it, or
// the leader of the application that owns it.
func (m *Model) isOwner(s *secret, u *unit) bool {
	if s.owner.unit != "" {
		return s.owner.unit == u.name
	}
	return s.owner.app == m.opts.App && m.leader == u.name
}

// ownedBy reports whether s belongs to u's application or to u (every unit
// of the owning application may read an application secret).
func (m *Model) ownedBy(s *secret, u *unit) bool {
	if s.owner.unit != "" {
		return s.owner.unit == u.name
	}
	return s.owner.app == m.opts.App
}

// canRead reports whether unit u may read s as a consumer.
func (m *Model) canRead(s *secret, u *unit) bool {
	if s.userGrants[m.opts.App] {
		return true
	}
	for relID, g := range s.grants {
		if r := m.relations[relID]; r == nil || r.dying {
			continue
		}
		if g.unit == u.name || (g.unit == "" && g.app == m.opts.App) {
			return true
		}
	}
	return false
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
	for _, s := range m.secrets {
		info := SecretInfo{
			ID: s.id, URI: s.uri(), OwnerKind: s.owner.kind(), Label: s.label, Description: s.description,
			Revision: s.latest().rev, Content: maps.Clone(s.latest().content),
			Consumers: map[string]int{}, ConsumerLabels: map[string]string{}, Grants: map[int]string{},
		}
		info.Owner = s.owner.app
		if s.owner.unit != "" {
			info.Owner = s.owner.unit
		}
		for u, c := range s.consumers {
			info.Consumers[u] = c.rev
			if c.label != "" {
				info.ConsumerLabels[u] = c.label
			}
		}
		for id, g := range s.grants {
			info.Grants[id] = g.app
			if g.unit != "" {
				info.Grants[id] = g.unit
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
	s := m.newSecretLocked(secretOwner{app: "model-" + m.opts.ModelUUID}, "", "", content)
	return s.uri()
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
	s.userGrants[m.opts.App] = true
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
	s := m.secrets[id]
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
	s := m.secrets[id]
	if s == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	for name := range s.consumers {
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
