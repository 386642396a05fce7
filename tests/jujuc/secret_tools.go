package jujuc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	yamlv2 "gopkg.in/yaml.v2"
)

// The secret tools (jujuc secret-*.go). Creates, updates, removals, grants
// and revokes are SecretOps the Host applies at once or when the hook
// succeeds; reads see the unit's own pending ones. A consumer's label and
// tracked revision (--refresh) change at once, as in Juju, where secret-get
// talks to the controller.

var (
	secretKeyRE   = regexp.MustCompile(`^([a-z](?:-?[a-z0-9]){2,})$`)
	rotatePolices = []string{"never", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"}
	// errNotLeader is Juju's ErrIsNotLeader: a non-leader changing an
	// application-owned secret or creating one.
	errNotLeader = errors.New("this unit is not the leader")
)

const (
	maxSecretValueSize   = 8 * 1024
	maxSecretContentSize = 64 * 1024
)

func upsertFlags() []Flag {
	return []Flag{
		{Names: []string{"expire"}, Kind: StringFlag},
		{Names: []string{"rotate"}, Kind: StringFlag},
		{Names: []string{"description"}, Kind: StringFlag},
		{Names: []string{"label"}, Kind: StringFlag},
		{Names: []string{"file"}, Kind: StringFlag},
		{Names: []string{"owner"}, Kind: StringFlag, Def: "application"},
	}
}

func init() {
	tools["secret-add"] = Tool{Usage: "[key[#base64|#file]=value...]", Purpose: "Add a new secret.", Flags: staticFlags(upsertFlags()...), Run: secretAdd}
	tools["secret-set"] = Tool{Usage: "<ID> [key[#base64]=value...]", Purpose: "Update an existing secret.", Flags: staticFlags(upsertFlags()...), Run: secretSet}
	tools["secret-get"] = Tool{Usage: "<ID> [key[#base64]]", Purpose: "Get the content of a secret.", Flags: outFlags("yaml", YAMLFormats,
		Flag{Names: []string{"label"}, Kind: StringFlag},
		Flag{Names: []string{"peek"}, Kind: BoolFlag, Def: "false"},
		Flag{Names: []string{"refresh"}, Kind: BoolFlag, Def: "false"}), Run: secretGet}
	tools["secret-info-get"] = Tool{Usage: "<ID>", Purpose: "Get a secret's metadata info.", Flags: outFlags("yaml", YAMLFormats,
		Flag{Names: []string{"label"}, Kind: StringFlag}), Run: secretInfoGet}
	tools["secret-ids"] = Tool{Usage: "", Purpose: "Print secret IDs.", Flags: outFlags("smart", AllFormats), Run: secretIDs}
	tools["secret-remove"] = Tool{Usage: "<ID>", Purpose: "remove a existing secret", Flags: staticFlags(Flag{Names: []string{"revision"}, Kind: IntFlag, Def: "0"}), Run: secretRemove}
	tools["secret-grant"] = Tool{Usage: "<ID>", Purpose: "Grant access to a secret.", Flags: WithRelation(nil, Flag{Names: []string{"unit"}, Kind: StringFlag}), Run: secretGrant}
	tools["secret-revoke"] = Tool{Usage: "<ID>", Purpose: "Revoke access to a secret.", Flags: WithRelation(nil,
		Flag{Names: []string{"unit"}, Kind: StringFlag},
		Flag{Names: []string{"app", "application"}, Kind: StringFlag}), Run: secretRevoke}
}

// upsert is the parsed common part of secret-add and secret-set.
type upsert struct {
	data        map[string]string // decoded content
	label       *string
	description *string
	rotate      *string
	expire      *time.Time
}

func (c *Call) parseUpsert(fs *FlagSet, args []string) (*upsert, error) {
	up := &upsert{}
	if v := fs.Str("expire"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04:05", v)
		}
		if err != nil {
			d, derr := time.ParseDuration(v)
			if derr != nil {
				return nil, Usagef("expire time or duration %q not valid", v)
			}
			if d <= 0 {
				return nil, Usagef("negative expire duration %q not valid", v)
			}
			t = time.Now().Add(d)
		}
		t = t.UTC()
		up.expire = &t
	}
	if v := fs.Str("rotate"); v != "" {
		if !slices.Contains(rotatePolices, v) {
			return nil, Usagef("rotate policy %q not valid", v)
		}
		up.rotate = &v
	}
	if o := fs.Str("owner"); o != "application" && o != "unit" {
		return nil, Usagef("secret owner %q not valid", o)
	}
	if fs.IsSet("description") {
		v := fs.Str("description")
		up.description = &v
	}
	if fs.IsSet("label") {
		v := fs.Str("label")
		up.label = &v
	}
	raw := map[string]string{}
	for _, arg := range args {
		stripped := strings.TrimRight(arg, "=")
		idx := strings.Index(stripped, "=")
		if idx < 1 {
			return nil, Usagef("key value %q not valid", arg)
		}
		key, value := arg[:idx], arg[idx+1:]
		if k, ok := strings.CutSuffix(key, "#file"); ok {
			path := c.Path(value)
			if st, err := os.Stat(path); err == nil && st.Size() > maxSecretValueSize {
				return nil, Usagef("secret content in file %q too large: %d bytes", path, st.Size())
			}
			content, err := os.ReadFile(path)
			if err != nil {
				return nil, Usagef("reading content for secret key %q: %v", k, err)
			}
			raw[k] = string(content)
			continue
		}
		raw[key] = value
	}
	if path := fs.Str("file"); path != "" {
		p := c.Path(path)
		if st, err := os.Stat(p); err == nil && st.Size() > maxSecretContentSize {
			return nil, Usagef("secret content in file %q too large: %d bytes", p, st.Size())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, &UsageError{Msg: err.Error()}
		}
		fromFile := map[string]string{}
		if err := json.Unmarshal(data, &fromFile); err != nil {
			if err := yamlv2.Unmarshal(data, &fromFile); err != nil {
				return nil, &UsageError{Msg: err.Error()}
			}
		}
		maps.Copy(raw, fromFile)
	}
	data, err := decodeSecretData(raw)
	if err != nil {
		return nil, err
	}
	up.data = data
	return up, nil
}

// decodeSecretData validates keys and sizes (secrets.encodeBase64) and
// decodes "#base64" values, so that content is kept as plain strings.
func decodeSecretData(in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	size := 0
	for k, v := range in {
		if len(v) > maxSecretValueSize {
			return nil, Usagef("secret content for key %q too large: %d bytes", k, len(v))
		}
		size += len(v)
		if key, ok := strings.CutSuffix(k, "#base64"); ok {
			if !secretKeyRE.MatchString(key) {
				return nil, Usagef("key %q not valid", key)
			}
			dec, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, Usagef("value of key %q is not valid base64: %v", key, err)
			}
			out[key] = string(dec)
			continue
		}
		if !secretKeyRE.MatchString(k) {
			return nil, Usagef("key %q not valid", k)
		}
		out[k] = v
	}
	if size > maxSecretContentSize {
		return nil, Usagef("secret content too large: %d bytes", size)
	}
	return out, nil
}

// view is the secrets as this unit sees them: committed, with its own
// pending changes applied.
func (c *Call) view() *Secrets { return c.Host.Secrets().View(c.Host.PendingSecretOps()) }

// manage applies Juju's rule for changing s: the owning unit; for an
// application secret, its leader.
func (c *Call) manage(s *Secret) error {
	h := c.Host
	switch {
	case Manages(s, h.Unit(), h.App(), h.IsLeader()):
		return nil
	case s.Owner.Unit == "" && s.Owner.App == h.App():
		return errNotLeader
	}
	return errPermission
}

// managed returns the secrets this unit may change, sorted by id: its own,
// and its application's on the leader (secret-ids, secret-info-get).
func (c *Call) managed(v *Secrets) []*Secret {
	h := c.Host
	var out []*Secret
	for _, s := range v.All() {
		if Manages(s, h.Unit(), h.App(), h.IsLeader()) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Secret) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// labelTaken reports whether label names another secret this unit owns or
// consumes.
func (c *Call) labelTaken(v *Secrets, label, except string) bool {
	for _, s := range v.All() {
		if s.ID == except {
			continue
		}
		if Manages(s, c.Host.Unit(), c.Host.App(), c.Host.IsLeader()) && s.Label == label {
			return true
		}
		if k := s.Consumers[c.Host.Unit()]; k != nil && k.Label == label {
			return true
		}
	}
	return false
}

// findManaged finds a secret for set, remove, grant and revoke.
func (c *Call) findManaged(v *Secrets, id string) (*Secret, error) {
	s := v.Get(id)
	if s == nil {
		return nil, fmt.Errorf("secret %q not found", id)
	}
	return s, c.manage(s)
}

func secretAdd(c *Call, fs *FlagSet, args []string) error {
	if len(args) < 1 && fs.Str("file") == "" {
		return Usagef("missing secret value or filename")
	}
	up, err := c.parseUpsert(fs, args)
	if err != nil {
		return err
	}
	h := c.Host
	owner := Owner{App: h.App()}
	if fs.Str("owner") == "unit" {
		owner = Owner{Unit: h.Unit()}
	} else if !h.IsLeader() {
		return errNotLeader
	}
	if len(up.data) == 0 {
		return errors.New("empty secret value not valid")
	}
	v := c.view()
	if up.label != nil && c.labelTaken(v, *up.label, "") {
		return fmt.Errorf("secret with label %q already exists", *up.label)
	}
	id := h.Secrets().NewID()
	h.AddSecretOp(SecretOp{Kind: OpCreate, ID: id, Owner: owner, Content: up.data,
		Label: up.label, Description: up.description, Rotate: up.rotate, Expire: up.expire})
	fmt.Fprintln(&c.Stdout, "secret:"+id)
	return nil
}

func secretSet(c *Call, fs *FlagSet, args []string) error {
	if len(args) < 1 {
		return Usagef("missing secret URI")
	}
	id, err := ParseSecretURI(args[0])
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	up, err := c.parseUpsert(fs, args[1:])
	if err != nil {
		return err
	}
	v := c.view()
	if _, err := c.findManaged(v, id); err != nil {
		return err
	}
	if up.label != nil && c.labelTaken(v, *up.label, id) {
		return fmt.Errorf("secret with label %q already exists", *up.label)
	}
	op := SecretOp{Kind: OpUpdate, ID: id, Label: up.label, Description: up.description, Rotate: up.rotate, Expire: up.expire}
	if len(up.data) > 0 {
		op.Content = up.data
	}
	c.Host.AddSecretOp(op)
	return nil
}

// resolveLabel finds a secret by label: the owner's label (any unit of the
// owning application), or this unit's consumer label.
func (c *Call) resolveLabel(v *Secrets, label string) string {
	h := c.Host
	for _, s := range c.managed(v) {
		if s.Label == label {
			return s.ID
		}
	}
	for _, s := range v.All() {
		if Owns(s, h.Unit(), h.App()) && s.Label == label {
			return s.ID
		}
		if k := s.Consumers[h.Unit()]; k != nil && k.Label == label {
			return s.ID
		}
	}
	return ""
}

func secretGet(c *Call, fs *FlagSet, args []string) error {
	id, label, args, err := secretRef(fs, args)
	if err != nil {
		return err
	}
	if fs.Bool("peek") && fs.Bool("refresh") {
		return Usagef("specify one of --peek or --refresh but not both")
	}
	key := ""
	if len(args) > 0 {
		key = args[0]
		if err := CheckEmpty(args[1:]); err != nil {
			return err
		}
	}
	v := c.view()
	if id == "" {
		if id = c.resolveLabel(v, label); id == "" {
			return fmt.Errorf("secret %q not found", label)
		}
		label = ""
	}
	content, err := c.secretContent(v, id, label, fs.Bool("refresh"), fs.Bool("peek"))
	if err != nil {
		return err
	}
	if key == "" {
		return c.Output(content)
	}
	if k, ok := strings.CutSuffix(key, "#base64"); ok {
		val, found := content[k]
		if !found {
			return fmt.Errorf("secret key %q not found", k)
		}
		return c.Output(base64.StdEncoding.EncodeToString([]byte(val)))
	}
	val, found := content[key]
	if !found {
		return fmt.Errorf("secret key %q not found", key)
	}
	return c.Output(val)
}

// secretContent returns what secret-get shows: an owner (any unit of the
// owning application) reads the latest revision, pending updates included;
// a consumer needs a grant and reads the revision it tracks.
func (c *Call) secretContent(v *Secrets, id, label string, refresh, peek bool) (map[string]string, error) {
	h := c.Host
	s := v.Get(id)
	if s == nil {
		return nil, fmt.Errorf("secret %q not found", id)
	}
	if Owns(s, h.Unit(), h.App()) {
		if label != "" && label != s.Label && c.manage(s) == nil {
			if c.labelTaken(v, label, id) {
				return nil, fmt.Errorf("secret with label %q already exists", label)
			}
			h.AddSecretOp(SecretOp{Kind: OpUpdate, ID: id, Label: &label})
		}
		return maps.Clone(s.Latest().Content), nil
	}
	// A consumer reads the committed secret and changes its own record in
	// it at once.
	s = h.Secrets().Get(id)
	if s == nil || !CanConsume(s, h.Unit(), h.App()) {
		return nil, errPermission
	}
	k := s.Consumers[h.Unit()]
	if k == nil {
		k = &Consumer{Rev: s.Latest().Rev}
		s.Consumers[h.Unit()] = k
	}
	if label != "" && label != k.Label {
		if c.labelTaken(v, label, id) {
			return nil, fmt.Errorf("secret with label %q already exists", label)
		}
		k.Label = label
	}
	switch {
	case refresh:
		k.Rev = s.Latest().Rev
	case peek:
		return maps.Clone(s.Latest().Content), nil
	}
	rev, ok := s.Revision(k.Rev)
	if !ok {
		return nil, fmt.Errorf("secret revision %d of %q not found", k.Rev, id)
	}
	return maps.Clone(rev.Content), nil
}

type secretMetadataDisplay struct {
	LatestRevision   int                 `json:"revision" yaml:"revision"`
	Label            string              `json:"label" yaml:"label"`
	Owner            string              `json:"owner" yaml:"owner"`
	Description      string              `json:"description,omitempty" yaml:"description,omitempty"`
	RotatePolicy     string              `json:"rotation,omitempty" yaml:"rotation,omitempty"`
	LatestExpireTime *time.Time          `json:"expiry,omitempty" yaml:"expiry,omitempty"`
	Access           []secretAccessEntry `json:"access,omitempty" yaml:"access,omitempty"`
}

type secretAccessEntry struct {
	Target string `json:"target" yaml:"target"`
	Scope  string `json:"scope" yaml:"scope"`
	Role   string `json:"role" yaml:"role"`
}

func secretInfoGet(c *Call, fs *FlagSet, args []string) error {
	id, label, args, err := secretRef(fs, args)
	if err != nil {
		return err
	}
	if id != "" && label != "" {
		return Usagef("specify either a secret URI or label but not both")
	}
	if err := CheckEmpty(args); err != nil {
		return err
	}
	want := id
	if id == "" {
		want = label
	}
	rels := map[int]Relation{}
	for _, r := range c.Host.Relations() {
		rels[r.ID] = r
	}
	for _, s := range c.managed(c.view()) {
		if (id != "" && s.ID != id) || (id == "" && s.Label != label) {
			continue
		}
		md := secretMetadataDisplay{LatestRevision: s.Latest().Rev, Label: s.Label, Owner: s.Owner.Kind(),
			Description: s.Description, RotatePolicy: s.Rotate, LatestExpireTime: s.Expire}
		if s.Rotate == "" {
			md.RotatePolicy = "never"
		}
		relIDs := slices.Sorted(maps.Keys(s.Grants))
		for _, relID := range relIDs {
			g := s.Grants[relID]
			target := "application-" + g.App
			if g.Unit != "" {
				target = "unit-" + strings.ReplaceAll(g.Unit, "/", "-")
			}
			scope := ""
			if r, ok := rels[relID]; ok {
				scope = "relation-" + strings.NewReplacer(":", ".", " ", "#").Replace(r.Key)
			}
			md.Access = append(md.Access, secretAccessEntry{Target: target, Scope: scope, Role: "view"})
		}
		return c.Output(map[string]secretMetadataDisplay{s.ID: md})
	}
	return fmt.Errorf("secret %q not found", want)
}

func secretIDs(c *Call, fs *FlagSet, args []string) error {
	if err := CheckEmpty(args); err != nil {
		return err
	}
	var out []string // nil when empty: Juju prints null
	for _, s := range c.managed(c.view()) {
		out = append(out, s.ID)
	}
	return c.Output(out)
}

func secretRemove(c *Call, fs *FlagSet, args []string) error {
	if len(args) < 1 {
		return Usagef("missing secret URI")
	}
	id, err := ParseSecretURI(args[0])
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	if err := CheckEmpty(args[1:]); err != nil {
		return err
	}
	s, err := c.findManaged(c.view(), id)
	if err != nil {
		return err
	}
	rev := fs.Int("revision")
	if rev > 0 {
		if _, ok := s.Revision(rev); !ok {
			return fmt.Errorf("secret revision %d not found", rev)
		}
	}
	c.Host.AddSecretOp(SecretOp{Kind: OpRemove, ID: id, Revision: rev})
	return nil
}

func secretGrant(c *Call, fs *FlagSet, args []string) error {
	if len(args) < 1 {
		return Usagef("missing secret URI")
	}
	id, err := ParseSecretURI(args[0])
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	if fs.Str("r") == "" {
		return Usagef("no relation id specified")
	}
	r, err := relationFromFlags(c, fs)
	if err != nil {
		return err
	}
	unitName := fs.Str("unit")
	if unitName != "" {
		if !unitNameRE.MatchString(unitName) {
			return Usagef("unit %q not valid", unitName)
		}
		if unitApp(unitName) != r.RemoteApp {
			return Usagef("cannot specify unit %q in relation to application %q", unitName, r.RemoteApp)
		}
	}
	if err := CheckEmpty(args[1:]); err != nil {
		return err
	}
	if _, err := c.findManaged(c.view(), id); err != nil {
		return err
	}
	c.Host.AddSecretOp(SecretOp{Kind: OpGrant, ID: id, RelationID: r.ID, App: r.RemoteApp, Unit: unitName})
	return nil
}

func secretRevoke(c *Call, fs *FlagSet, args []string) error {
	if len(args) < 1 {
		return Usagef("missing secret URI")
	}
	id, err := ParseSecretURI(args[0])
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	op := SecretOp{Kind: OpRevoke, ID: id, RelationID: -1, App: fs.Str("app"), Unit: fs.Str("unit")}
	if fs.Str("r") != "" {
		r, err := relationFromFlags(c, fs)
		if err != nil {
			return err
		}
		op.RelationID = r.ID
		if op.App == "" {
			op.App = r.RemoteApp
		}
	}
	if op.RelationID < 0 && op.App == "" && op.Unit == "" {
		return Usagef("missing relation or application or unit")
	}
	if err := CheckEmpty(args[1:]); err != nil {
		return err
	}
	if _, err := c.findManaged(c.view(), id); err != nil {
		return err
	}
	c.Host.AddSecretOp(op)
	return nil
}

// secretRef reads the secret a tool names: an optional URI argument and
// the --label flag, one of which is required. It returns the arguments
// after the URI.
func secretRef(fs *FlagSet, args []string) (id, label string, rest []string, err error) {
	if len(args) > 0 {
		if id, err = ParseSecretURI(args[0]); err != nil {
			return "", "", nil, Usagef("secret URI %q not valid", args[0])
		}
		args = args[1:]
	}
	label = fs.Str("label")
	if id == "" && label == "" {
		return "", "", nil, Usagef("require either a secret URI or label")
	}
	return id, label, args, nil
}
