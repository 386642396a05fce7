package jujutest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// clone deep-copies s.
func (s *Secret) clone() Secret {
	c := *s
	c.Revisions = make([]map[string]string, len(s.Revisions))
	for i, r := range s.Revisions {
		c.Revisions[i] = maps.Clone(r)
	}
	c.Grants = slices.Clone(s.Grants)
	return c
}

// latest returns the number of the latest revision.
func (s *Secret) latest() int {
	return len(s.Revisions)
}

// secretKeyRule is Juju's rule for secret content keys.
var secretKeyRule = regexp.MustCompile(`^[a-z](?:-?[a-z0-9]){2,}$`)

// errSecretNotFound is what secret-get answers for an unknown ID or label.
var errSecretNotFound = errors.New("secret not found")

// errNotLeader is Juju's answer when a non-leader manages an
// application-owned secret or sets application status.
var errNotLeader = errors.New("this unit is not the leader")

// AddSecret creates a secret owned by owner (this application, this unit, or
// another application whose secret this unit consumes) with label as the
// owner's label, and returns its ID. It does not go through the tools and is
// not counted.
func (m *Memory) AddSecret(owner, label string, content map[string]string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.newSecret(owner, label, "", maps.Clone(content)).ID
}

// UpdateSecret adds a revision to a secret, as its owner (wherever it runs)
// would with secret-set. It panics for an unknown ID.
func (m *Memory) UpdateSecret(id string, content map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.findSecretByID(id)
	if s == nil {
		panic(fmt.Sprintf("jujutest: no secret %q", id))
	}
	s.Revisions = append(s.Revisions, maps.Clone(content))
}

// Secrets returns copies of all secrets, in creation order.
func (m *Memory) Secrets() []Secret {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Secret, len(m.secrets))
	for i, s := range m.secrets {
		out[i] = s.clone()
	}
	return out
}

// SecretByLabel returns a copy of the secret with the given owner or
// consumer label.
func (m *Memory) SecretByLabel(label string) (Secret, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.findSecretByLabel(label)
	if s == nil {
		return Secret{}, false
	}
	return s.clone(), true
}

func (m *Memory) newSecret(owner, label, description string, content map[string]string) *Secret {
	m.nextSecret++
	s := &Secret{
		ID:          fmt.Sprintf("secret:d%019d", m.nextSecret),
		Owner:       owner,
		Label:       label,
		Description: description,
		Revisions:   []map[string]string{content},
	}
	m.secrets = append(m.secrets, s)
	return s
}

// shortID strips "secret:" and "secret://MODEL/" from an ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "secret:")
	if rest, ok := strings.CutPrefix(id, "//"); ok {
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			return rest[i+1:]
		}
		return rest
	}
	return id
}

func (m *Memory) findSecretByID(id string) *Secret {
	want := shortID(id)
	for _, s := range m.secrets {
		if shortID(s.ID) == want {
			return s
		}
	}
	return nil
}

func (m *Memory) findSecretByLabel(label string) *Secret {
	for _, s := range m.secrets {
		if m.owns(s) && s.Label == label {
			return s
		}
	}
	for _, s := range m.secrets {
		if !m.owns(s) && s.ConsumerLabel == label {
			return s
		}
	}
	return nil
}

// owns reports whether this unit reads s as its owner: s belongs to this
// application or to this unit.
func (m *Memory) owns(s *Secret) bool {
	return s.Owner == m.app || s.Owner == m.unit
}

// canManage applies Juju's rule: only the leader manages an
// application-owned secret; only the owning unit a unit-owned one.
func (m *Memory) canManage(s *Secret) error {
	switch s.Owner {
	case m.app:
		if !m.leader {
			return errNotLeader
		}
		return nil
	case m.unit:
		return nil
	}
	return errPermission
}

// secretContent reads secret-add and secret-set arguments: key=value,
// key#base64=value and key#file=path.
func secretContent(args []string) (map[string]string, error) {
	content := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usage("key value %q not valid", a)
		}
		switch {
		case strings.HasSuffix(k, "#file"):
			k = strings.TrimSuffix(k, "#file")
			data, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("reading content for secret key %q: %v", k, err)
			}
			v = string(data)
		case strings.HasSuffix(k, "#base64"):
			k = strings.TrimSuffix(k, "#base64")
			data, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, usage("base64 value for secret key %q not valid", k)
			}
			v = string(data)
		}
		if !secretKeyRule.MatchString(k) {
			return nil, usage("key %q not valid", k)
		}
		content[k] = v
	}
	return content, nil
}

func (m *Memory) secretAdd(c *call, _ []byte) ([]byte, error) {
	if c.has("file") {
		return nil, usage("jujutest does not model secret-add --file")
	}
	if len(c.args) == 0 {
		return nil, usage("missing secret value or filename")
	}
	ownerKind := "application"
	if c.has("owner") {
		ownerKind = c.value("owner")
	}
	owner := m.app
	switch ownerKind {
	case "application":
		if !m.leader {
			return nil, errNotLeader
		}
	case "unit":
		owner = m.unit
	default:
		return nil, usage("secret owner %q not valid", ownerKind)
	}
	content, err := secretContent(c.args)
	if err != nil {
		return nil, err
	}
	label := c.value("label")
	if label != "" {
		for _, s := range m.secrets {
			if s.Owner == owner && s.Label == label {
				return nil, fmt.Errorf("secret with label %q already exists", label)
			}
		}
	}
	s := m.newSecret(owner, label, c.value("description"), content)
	return []byte(s.ID + "\n"), nil
}

func (m *Memory) secretSet(c *call, _ []byte) ([]byte, error) {
	if c.has("file") {
		return nil, usage("jujutest does not model secret-set --file")
	}
	if len(c.args) == 0 {
		return nil, usage("missing secret URI")
	}
	s := m.findSecretByID(c.args[0])
	if s == nil {
		return nil, errSecretNotFound
	}
	if err := m.canManage(s); err != nil {
		return nil, err
	}
	content, err := secretContent(c.args[1:])
	if err != nil {
		return nil, err
	}
	if len(content) > 0 && !maps.Equal(content, s.Revisions[s.latest()-1]) {
		s.Revisions = append(s.Revisions, content)
	}
	if c.has("label") {
		s.Label = c.value("label")
	}
	if c.has("description") {
		s.Description = c.value("description")
	}
	return nil, nil
}

func (m *Memory) secretGet(c *call, _ []byte) ([]byte, error) {
	if c.bool("peek") && c.bool("refresh") {
		return nil, usage("specify one of --peek or --refresh but not both")
	}
	label := c.value("label")
	var s *Secret
	key := ""
	switch len(c.args) {
	case 0:
		if label == "" {
			return nil, usage("require either a secret URI or label")
		}
		s = m.findSecretByLabel(label)
	case 1, 2:
		s = m.findSecretByID(c.args[0])
		if len(c.args) == 2 {
			key = c.args[1]
		}
		if s != nil && label != "" {
			if m.owns(s) {
				s.Label = label
			} else {
				s.ConsumerLabel = label
			}
		}
	default:
		return nil, usage("unrecognized args: %q", c.args[2:])
	}
	if s == nil {
		return nil, errSecretNotFound
	}
	rev := s.latest()
	if !m.owns(s) {
		switch {
		case c.bool("peek"):
		case c.bool("refresh") || s.Tracked == 0:
			s.Tracked = rev
		default:
			rev = s.Tracked
		}
	}
	content := s.Revisions[rev-1]
	if content == nil {
		return nil, errSecretNotFound
	}
	if key != "" {
		v, ok := content[key]
		if !ok {
			return nil, fmt.Errorf("secret key %q not found", key)
		}
		return jsonOut(v)
	}
	return jsonOut(content)
}

func (m *Memory) secretGrant(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usage("expected one secret URI, got %q", c.args)
	}
	r, err := m.relationFlag(c)
	if err != nil {
		return nil, err
	}
	unit := c.value("unit")
	if unit != "" && appOf(unit) != r.remoteApp {
		return nil, usage("cannot specify unit %q in relation to application %q", unit, r.remoteApp)
	}
	s := m.findSecretByID(c.args[0])
	if s == nil || !m.owns(s) {
		return nil, errSecretNotFound
	}
	if err := m.canManage(s); err != nil {
		return nil, err
	}
	g := SecretGrant{RelationID: r.name(), App: r.remoteApp, Unit: unit}
	if !slices.Contains(s.Grants, g) {
		s.Grants = append(s.Grants, g)
	}
	return nil, nil
}

func (m *Memory) secretRevoke(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usage("expected one secret URI, got %q", c.args)
	}
	s := m.findSecretByID(c.args[0])
	if s == nil || !m.owns(s) {
		return nil, errSecretNotFound
	}
	if err := m.canManage(s); err != nil {
		return nil, err
	}
	relID := ""
	if c.has("r") {
		r, err := m.relationFlag(c)
		if err != nil {
			return nil, err
		}
		relID = r.name()
	}
	unit, app := c.value("unit"), c.value("app")
	s.Grants = slices.DeleteFunc(s.Grants, func(g SecretGrant) bool {
		return (relID == "" || g.RelationID == relID) &&
			(unit == "" || g.Unit == unit) &&
			(app == "" || g.App == app)
	})
	return nil, nil
}

func (m *Memory) secretRemove(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usage("expected one secret URI, got %q", c.args)
	}
	s := m.findSecretByID(c.args[0])
	if s == nil || !m.owns(s) {
		return nil, errSecretNotFound
	}
	if err := m.canManage(s); err != nil {
		return nil, err
	}
	if c.has("revision") {
		n, err := strconv.Atoi(c.value("revision"))
		if err != nil || n < 1 || n > s.latest() {
			return nil, usage("revision %q not valid", c.value("revision"))
		}
		s.Revisions[n-1] = nil
		return nil, nil
	}
	m.secrets = slices.DeleteFunc(m.secrets, func(x *Secret) bool { return x == s })
	return nil, nil
}

func (m *Memory) secretIDs(c *call, _ []byte) ([]byte, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	ids := []string{}
	for _, s := range m.secrets {
		if m.owns(s) {
			// Juju prints the bare ID, without "secret:".
			ids = append(ids, shortID(s.ID))
		}
	}
	return jsonOut(ids)
}
