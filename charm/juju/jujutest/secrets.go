package jujutest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// Secret is a secret as Memory holds it.
type Secret struct {
	// ID is the secret's ID as secret-add prints it, "secret:<id>".
	ID string
	// Owner is the owning application (e.g. "synapse") or unit (e.g.
	// "synapse/0"); another application's name for a secret this unit only
	// consumes.
	Owner string
	// Label is the owner's label.
	Label string
	// ConsumerLabel is the label this unit gave the secret as a consumer
	// (secret-get ID --label L).
	ConsumerLabel string
	// Description is the owner's description.
	Description string
	// Revisions holds the content of each revision; revision n is
	// Revisions[n-1]. A removed revision is nil.
	Revisions []map[string]string
	// Tracked is the revision this unit reads as a consumer; 0 until its
	// first secret-get.
	Tracked int
	// Grants are the secret-grant calls in effect.
	Grants []SecretGrant
}

// SecretGrant is one grant of a secret.
type SecretGrant struct {
	// RelationID is the relation the grant goes with, "endpoint:N".
	RelationID string
	// App is the application granted (the relation's remote application).
	App string
	// Unit, when set, limits the grant to that unit.
	Unit string
}

// AddSecret creates a secret owned by owner (this application, this unit, or
// another application whose secret this unit consumes, which is then
// granted to this application) with label as the owner's label, and
// returns its ID. It does not go through the tools and is not counted.
func (m *Memory) AddSecret(owner, label string, content map[string]string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := jujuc.Owner{App: owner}
	if strings.Contains(owner, "/") {
		o = jujuc.Owner{Unit: owner}
	}
	s := m.secrets.Create(o, label, "", content)
	if !jujuc.Owns(s, m.unit, m.app) {
		// The test plays the owner, who granted it.
		s.UserGrants[m.app] = true
	}
	return s.URI()
}

// UpdateSecret adds a revision to a secret, as its owner (wherever it runs)
// would with secret-set. It panics for an unknown ID.
func (m *Memory) UpdateSecret(id string, content map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bare, err := jujuc.ParseSecretURI(id)
	s := m.secrets.Get(bare)
	if err != nil || s == nil {
		panic(fmt.Sprintf("jujutest: no secret %q", id))
	}
	m.secrets.AddRevision(s, content)
}

// Secrets returns copies of all secrets, in creation order.
func (m *Memory) Secrets() []Secret {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Secret
	for _, s := range m.secrets.All() {
		out = append(out, m.export(s))
	}
	return out
}

// SecretByLabel returns a copy of the secret with the given owner or
// consumer label.
func (m *Memory) SecretByLabel(label string) (Secret, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.secrets.All() {
		if jujuc.Owns(s, m.unit, m.app) && s.Label == label {
			return m.export(s), true
		}
	}
	for _, s := range m.secrets.All() {
		if c := s.Consumers[m.unit]; c != nil && c.Label == label {
			return m.export(s), true
		}
	}
	return Secret{}, false
}

// export copies a stored secret into Memory's public shape.
func (m *Memory) export(s *jujuc.Secret) Secret {
	out := Secret{ID: s.URI(), Owner: s.Owner.Name(), Label: s.Label, Description: s.Description}
	out.Revisions = make([]map[string]string, s.Latest().Rev)
	for _, r := range s.Revisions {
		out.Revisions[r.Rev-1] = maps.Clone(r.Content)
	}
	if c := s.Consumers[m.unit]; c != nil {
		out.ConsumerLabel, out.Tracked = c.Label, c.Rev
	}
	for _, id := range slices.Sorted(maps.Keys(s.Grants)) {
		g := s.Grants[id]
		name := strconv.Itoa(id)
		if r := m.relations[id]; r != nil {
			name = r.name()
		}
		out.Grants = append(out.Grants, SecretGrant{RelationID: name, App: g.App, Unit: g.Unit})
	}
	return out
}
