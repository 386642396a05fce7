package jujuc

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Secrets is a model's secrets: owners, revisions, labels (the owner's and
// each consumer unit's), tracked revisions and grants. It holds no lock:
// the Host serialises calls.
type Secrets struct {
	byID  map[string]*Secret
	order []string // creation order
	// NewID mints the bare id of a new secret.
	NewID func() string
}

// NewSecrets returns an empty store minting ids with newID.
func NewSecrets(newID func() string) *Secrets {
	return &Secrets{byID: map[string]*Secret{}, NewID: newID}
}

// Secret is one secret.
type Secret struct {
	// ID is the bare id; URI() is "secret:<id>".
	ID          string
	Owner       Owner
	Label       string // the owner's label
	Description string
	Rotate      string
	Expire      *time.Time
	// Revisions are the live revisions, oldest first.
	Revisions []Revision
	// Consumers are the units reading the secret without owning it.
	Consumers map[string]*Consumer
	// Grants are access through relations, by relation id.
	Grants map[int]Grant
	// UserGrants are applications granted with "juju grant-secret".
	UserGrants map[string]bool
	Created    time.Time
}

// Owner owns a secret: an application, or one unit.
type Owner struct {
	App  string
	Unit string
}

// Kind is "unit" or "application", as secret-info-get prints it.
func (o Owner) Kind() string {
	if o.Unit != "" {
		return "unit"
	}
	return "application"
}

// Name is the owning unit or application.
func (o Owner) Name() string {
	if o.Unit != "" {
		return o.Unit
	}
	return o.App
}

// Revision is one revision's content.
type Revision struct {
	Rev     int
	Content map[string]string
}

// Consumer is one unit reading a secret it does not own.
type Consumer struct {
	Label string
	Rev   int // the revision it tracks
}

// Grant is access through a relation: to a whole application, or one unit.
type Grant struct {
	App  string
	Unit string
}

// URI is the short form secret-add prints, "secret:<id>".
func (s *Secret) URI() string { return "secret:" + s.ID }

// Latest returns the newest revision.
func (s *Secret) Latest() Revision { return s.Revisions[len(s.Revisions)-1] }

// Revision returns revision rev, if it still exists.
func (s *Secret) Revision(rev int) (Revision, bool) {
	for _, r := range s.Revisions {
		if r.Rev == rev {
			return r, true
		}
	}
	return Revision{}, false
}

func (s *Secret) clone() *Secret {
	c := *s
	c.Revisions = slices.Clone(s.Revisions)
	c.Consumers = make(map[string]*Consumer, len(s.Consumers))
	for u, x := range s.Consumers {
		cc := *x
		c.Consumers[u] = &cc
	}
	c.Grants = maps.Clone(s.Grants)
	c.UserGrants = maps.Clone(s.UserGrants)
	return &c
}

// Get returns a secret by bare id.
func (st *Secrets) Get(id string) *Secret { return st.byID[id] }

// All returns the secrets in creation order.
func (st *Secrets) All() []*Secret {
	out := make([]*Secret, 0, len(st.order))
	for _, id := range st.order {
		out = append(out, st.byID[id])
	}
	return out
}

// Create adds a secret with its first revision and returns it.
func (st *Secrets) Create(owner Owner, label, description string, content map[string]string) *Secret {
	s := &Secret{
		ID: st.NewID(), Owner: owner, Label: label, Description: description,
		Revisions: []Revision{{Rev: 1, Content: maps.Clone(content)}},
		Consumers: map[string]*Consumer{}, Grants: map[int]Grant{}, UserGrants: map[string]bool{},
		Created: time.Now().UTC(),
	}
	st.put(s)
	return s
}

func (st *Secrets) put(s *Secret) {
	if st.byID[s.ID] == nil {
		st.order = append(st.order, s.ID)
	}
	st.byID[s.ID] = s
}

// Delete removes a secret.
func (st *Secrets) Delete(id string) {
	delete(st.byID, id)
	st.order = slices.DeleteFunc(st.order, func(x string) bool { return x == id })
}

// AddRevision adds a revision if content differs from the latest one, and
// reports whether it did.
func (st *Secrets) AddRevision(s *Secret, content map[string]string) bool {
	if maps.Equal(s.Latest().Content, content) {
		return false
	}
	s.Revisions = append(s.Revisions, Revision{Rev: s.Latest().Rev + 1, Content: maps.Clone(content)})
	return true
}

// RevokeRelation drops every grant made through a relation, as Juju does
// when the relation goes.
func (st *Secrets) RevokeRelation(relationID int) {
	for _, s := range st.byID {
		delete(s.Grants, relationID)
	}
}

// View returns the secrets as a unit sees them with its own uncommitted
// changes applied: a copy, so that the committed store stays as it is.
func (st *Secrets) View(pending []SecretOp) *Secrets {
	if len(pending) == 0 {
		return st
	}
	v := &Secrets{byID: make(map[string]*Secret, len(st.byID)), order: slices.Clone(st.order), NewID: st.NewID}
	for id, s := range st.byID {
		v.byID[id] = s.clone()
	}
	for _, op := range pending {
		v.Apply(op)
	}
	return v
}

// SecretOpKind is what an owner change does.
type SecretOpKind int

// The owner changes the secret tools make.
const (
	OpCreate SecretOpKind = iota + 1
	OpUpdate
	OpRemove
	OpGrant
	OpRevoke
)

// SecretOp is one owner change, recorded by a tool and applied by Apply,
// at once or when the hook succeeds.
type SecretOp struct {
	Kind SecretOpKind
	ID   string

	Owner       Owner             // create
	Content     map[string]string // create; update (nil keeps it)
	Label       *string
	Description *string
	Rotate      *string
	Expire      *time.Time
	Revision    int // remove: 0 removes the secret

	RelationID int // grant, revoke (-1: any)
	App, Unit  string
}

// Apply applies op and reports whether it added a revision to an existing
// secret (the agent then tells consumers tracking an older one).
func (st *Secrets) Apply(op SecretOp) (newRevision bool) {
	s := st.byID[op.ID]
	switch op.Kind {
	case OpCreate:
		s = &Secret{
			ID: op.ID, Owner: op.Owner, Revisions: []Revision{{Rev: 1, Content: maps.Clone(op.Content)}},
			Consumers: map[string]*Consumer{}, Grants: map[int]Grant{}, UserGrants: map[string]bool{},
			Created: time.Now().UTC(), Expire: op.Expire,
		}
		setString(&s.Label, op.Label)
		setString(&s.Description, op.Description)
		setString(&s.Rotate, op.Rotate)
		st.put(s)
	case OpUpdate:
		if s == nil {
			return false
		}
		setString(&s.Label, op.Label)
		setString(&s.Description, op.Description)
		setString(&s.Rotate, op.Rotate)
		if op.Expire != nil {
			s.Expire = op.Expire
		}
		if op.Content != nil {
			return st.AddRevision(s, op.Content)
		}
	case OpRemove:
		if s == nil {
			return false
		}
		if op.Revision != 0 {
			s.Revisions = slices.DeleteFunc(s.Revisions, func(r Revision) bool { return r.Rev == op.Revision })
		}
		if op.Revision == 0 || len(s.Revisions) == 0 {
			st.Delete(op.ID)
		}
	case OpGrant:
		if s != nil {
			s.Grants[op.RelationID] = Grant{App: op.App, Unit: op.Unit}
		}
	case OpRevoke:
		if s == nil {
			return false
		}
		for relID, g := range s.Grants {
			if op.RelationID >= 0 && relID != op.RelationID {
				continue
			}
			if op.Unit != "" && g.Unit != op.Unit {
				continue
			}
			if op.Unit == "" && op.App != "" && g.App != op.App {
				continue
			}
			delete(s.Grants, relID)
		}
	}
	return false
}

func setString(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// ParseSecretURI accepts "secret:<id>", "secret://<model-uuid>/<id>" and a
// bare 20-character id (base32hex, as Juju's xids), and returns the id.
func ParseSecretURI(s string) (string, error) {
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

// Manages reports whether unit (of app, leader or not) may change s: the
// unit that owns it, or the leader of the application that owns it.
func Manages(s *Secret, unit, app string, leader bool) bool {
	if s.Owner.Unit != "" {
		return s.Owner.Unit == unit
	}
	return s.Owner.App == app && leader
}

// Owns reports whether s belongs to unit or its application (every unit of
// the owning application reads an application secret as its owner).
func Owns(s *Secret, unit, app string) bool {
	if s.Owner.Unit != "" {
		return s.Owner.Unit == unit
	}
	return s.Owner.App == app
}

// CanConsume reports whether unit (of app) may read s as a consumer: a
// grant to its application or to it, or a user grant to its application.
func CanConsume(s *Secret, unit, app string) bool {
	if s.UserGrants[app] {
		return true
	}
	for _, g := range s.Grants {
		if g.Unit == unit || (g.Unit == "" && g.App == app) {
			return true
		}
	}
	return false
}
