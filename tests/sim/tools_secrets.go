package sim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	yamlv2 "gopkg.in/yaml.v2"
)

// Secret tools (jujuc secret-*.go). Creates, updates, removals, grants and
// revokes are buffered in the hook context and applied when the hook exits
// 0; reads see the hook's own pending creates and updates. Consumer labels
// and the revision a consumer tracks (--refresh) change at once, as in Juju,
// where secret-get talks to the controller.

// secretOp is one buffered secret change.
type secretOp struct {
	kind string // "create", "update", "remove", "grant", "revoke"
	id   string

	owner       secretOwner
	content     map[string]string // create; update (nil: keep)
	label       *string
	description *string
	rotate      *string
	expire      *time.Time
	revision    int // remove: 0 = all

	relID int // grant, revoke (-1: any)
	app   string
	unit  string
}

var (
	secretKeyRE   = regexp.MustCompile(`^([a-z](?:-?[a-z0-9]){2,})$`)
	rotatePolices = []string{"never", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"}
)

const (
	maxSecretValueSize   = 8 * 1024
	maxSecretContentSize = 64 * 1024
)

func upsertFlags() []flagDef {
	return []flagDef{
		{names: []string{"expire"}, kind: stringFlag},
		{names: []string{"rotate"}, kind: stringFlag},
		{names: []string{"description"}, kind: stringFlag},
		{names: []string{"label"}, kind: stringFlag},
		{names: []string{"file"}, kind: stringFlag},
		{names: []string{"owner"}, kind: stringFlag, def: "application"},
	}
}

func addSecretTools(t map[string]toolDef) {
	t["secret-add"] = toolDef{usage: "[key[#base64|#file]=value...]", purpose: "Add a new secret.", flags: staticFlags(upsertFlags()...), run: secretAdd}
	t["secret-set"] = toolDef{usage: "<ID> [key[#base64]=value...]", purpose: "Update an existing secret.", flags: staticFlags(upsertFlags()...), run: secretSet}
	t["secret-get"] = toolDef{usage: "<ID> [key[#base64]]", purpose: "Get the content of a secret.", flags: outFlags("yaml", yamlFormats,
		flagDef{names: []string{"label"}, kind: stringFlag},
		flagDef{names: []string{"peek"}, kind: boolFlag, def: "false"},
		flagDef{names: []string{"refresh"}, kind: boolFlag, def: "false"}), run: secretGet}
	t["secret-info-get"] = toolDef{usage: "<ID>", purpose: "Get a secret's metadata info.", flags: outFlags("yaml", yamlFormats,
		flagDef{names: []string{"label"}, kind: stringFlag}), run: secretInfoGet}
	t["secret-ids"] = toolDef{usage: "", purpose: "Print secret IDs.", flags: outFlags("smart", allFormats), run: secretIDs}
	t["secret-remove"] = toolDef{usage: "<ID>", purpose: "remove a existing secret", flags: staticFlags(flagDef{names: []string{"revision"}, kind: intFlag, def: "0"}), run: secretRemove}
	t["secret-grant"] = toolDef{usage: "<ID>", purpose: "Grant access to a secret.", flags: withRelation(nil, flagDef{names: []string{"unit"}, kind: stringFlag}), run: secretGrantTool}
	t["secret-revoke"] = toolDef{usage: "<ID>", purpose: "Revoke access to a secret.", flags: withRelation(nil,
		flagDef{names: []string{"unit"}, kind: stringFlag},
		flagDef{names: []string{"app", "application"}, kind: stringFlag}), run: secretRevoke}
}

// upsert is the parsed common part of secret-add and secret-set.
type upsert struct {
	data        map[string]string // decoded content
	label       *string
	description *string
	rotate      *string
	expire      *time.Time
}

func (tc *toolCall) parseUpsert(fs *flagSet, args []string) (*upsert, error) {
	up := &upsert{}
	if v := fs.str("expire"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04:05", v)
		}
		if err != nil {
			d, derr := time.ParseDuration(v)
			if derr != nil {
				return nil, usagef("expire time or duration %q not valid", v)
			}
			if d <= 0 {
				return nil, usagef("negative expire duration %q not valid", v)
			}
			t = time.Now().Add(d)
		}
		t = t.UTC()
		up.expire = &t
	}
	if v := fs.str("rotate"); v != "" {
		if !contains(rotatePolices, v) {
			return nil, usagef("rotate policy %q not valid", v)
		}
		up.rotate = &v
	}
	if o := fs.str("owner"); o != "application" && o != "unit" {
		return nil, usagef("secret owner %q not valid", o)
	}
	if fs.isSet("description") {
		v := fs.str("description")
		up.description = &v
	}
	if fs.isSet("label") {
		v := fs.str("label")
		up.label = &v
	}
	raw := map[string]string{}
	for _, arg := range args {
		stripped := strings.TrimRight(arg, "=")
		idx := strings.Index(stripped, "=")
		if idx < 1 {
			return nil, usagef("key value %q not valid", arg)
		}
		key, value := arg[:idx], arg[idx+1:]
		if k, ok := strings.CutSuffix(key, "#file"); ok {
			path := tc.absPath(value)
			if st, err := os.Stat(path); err == nil && st.Size() > maxSecretValueSize {
				return nil, usagef("secret content in file %q too large: %d bytes", path, st.Size())
			}
			content, err := os.ReadFile(path)
			if err != nil {
				return nil, usagef("reading content for secret key %q: %v", k, err)
			}
			raw[k] = string(content)
			continue
		}
		raw[key] = value
	}
	if path := fs.str("file"); path != "" {
		p := tc.absPath(path)
		if st, err := os.Stat(p); err == nil && st.Size() > maxSecretContentSize {
			return nil, usagef("secret content in file %q too large: %d bytes", p, st.Size())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		fromFile := map[string]string{}
		if err := json.Unmarshal(data, &fromFile); err != nil {
			if err := yamlv2.Unmarshal(data, &fromFile); err != nil {
				return nil, &usageError{msg: err.Error()}
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
			return nil, usagef("secret content for key %q too large: %d bytes", k, len(v))
		}
		size += len(v)
		if key, ok := strings.CutSuffix(k, "#base64"); ok {
			if !secretKeyRE.MatchString(key) {
				return nil, usagef("key %q not valid", key)
			}
			dec, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, usagef("value of key %q is not valid base64: %v", key, err)
			}
			out[key] = string(dec)
			continue
		}
		if !secretKeyRE.MatchString(k) {
			return nil, usagef("key %q not valid", k)
		}
		out[k] = v
	}
	if size > maxSecretContentSize {
		return nil, usagef("secret content too large: %d bytes", size)
	}
	return out, nil
}

// secretView is a secret as this hook context sees it.
type secretView struct {
	id      string
	owner   secretOwner
	label   string
	desc    string
	rotate  string
	expire  *time.Time
	rev     int
	content map[string]string
	pending bool // created in this hook
	s       *secret
}

// viewSecret merges a committed secret with this context's pending
// ops (or builds it from a pending create).
func (tc *toolCall) viewSecret(id string) *secretView {
	var v *secretView
	if s := tc.m.secrets[id]; s != nil {
		v = &secretView{id: id, owner: s.owner, label: s.label, desc: s.description, rotate: s.rotate,
			expire: s.expire, rev: s.latest().rev, content: s.latest().content, s: s}
	}
	for _, op := range tc.hc.secrets {
		if op.id != id {
			continue
		}
		switch op.kind {
		case "create":
			v = &secretView{id: id, owner: op.owner, rev: 1, content: op.content, pending: true}
			if op.label != nil {
				v.label = *op.label
			}
			if op.description != nil {
				v.desc = *op.description
			}
			if op.rotate != nil {
				v.rotate = *op.rotate
			}
			v.expire = op.expire
		case "update":
			if v == nil {
				continue
			}
			if op.content != nil && !maps.Equal(op.content, v.content) {
				v.content = op.content
				v.rev++
			}
			if op.label != nil {
				v.label = *op.label
			}
			if op.description != nil {
				v.desc = *op.description
			}
			if op.rotate != nil {
				v.rotate = *op.rotate
			}
			if op.expire != nil {
				v.expire = op.expire
			}
		case "remove":
			if op.revision == 0 {
				v = nil
			}
		}
	}
	return v
}

// ownedSecretIDs lists what this unit may manage: its own secrets and, on
// the leader, its application's; pending creates included.
func (tc *toolCall) ownedSecretIDs() []string {
	seen := map[string]bool{}
	var ids []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for id, s := range tc.m.secrets {
		if tc.m.isOwner(s, tc.u) {
			add(id)
		}
	}
	for _, op := range tc.hc.secrets {
		if op.kind == "create" {
			add(op.id)
		}
	}
	var out []string
	for _, id := range ids {
		if v := tc.viewSecret(id); v != nil {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// labelTaken reports whether label names another secret this unit owns or
// consumes.
func (tc *toolCall) labelTaken(label, except string) bool {
	for _, id := range tc.ownedSecretIDs() {
		if v := tc.viewSecret(id); id != except && v != nil && v.label == label {
			return true
		}
	}
	for id, s := range tc.m.secrets {
		if c := s.consumers[tc.u.name]; id != except && c != nil && c.label == label {
			return true
		}
	}
	return false
}

func secretAdd(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 && fs.str("file") == "" {
		return usagef("missing secret value or filename")
	}
	up, err := tc.parseUpsert(fs, args)
	if err != nil {
		return err
	}
	owner := secretOwner{app: tc.m.opts.App}
	if fs.str("owner") == "unit" {
		owner = secretOwner{unit: tc.u.name}
	} else if !tc.isLeader() {
		return errors.New("this unit is not the leader")
	}
	if len(up.data) == 0 {
		return errors.New("empty secret value not valid")
	}
	if up.label != nil && tc.labelTaken(*up.label, "") {
		return fmt.Errorf("secret with label %q already exists", *up.label)
	}
	id := newSecretID()
	tc.hc.secrets = append(tc.hc.secrets, secretOp{kind: "create", id: id, owner: owner, content: up.data,
		label: up.label, description: up.description, rotate: up.rotate, expire: up.expire})
	fmt.Fprintln(&tc.stdout, "secret:"+id)
	return nil
}

func secretSet(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("missing secret URI")
	}
	id, err := parseSecretURI(args[0])
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	up, err := tc.parseUpsert(fs, args[1:])
	if err != nil {
		return err
	}
	v := tc.viewSecret(id)
	if v == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	if !tc.canManage(v) {
		return errors.New("permission denied")
	}
	if up.label != nil && tc.labelTaken(*up.label, id) {
		return fmt.Errorf("secret with label %q already exists", *up.label)
	}
	op := secretOp{kind: "update", id: id, label: up.label, description: up.description, rotate: up.rotate, expire: up.expire}
	if len(up.data) > 0 {
		op.content = up.data
	}
	tc.hc.secrets = append(tc.hc.secrets, op)
	return nil
}

// canManage reports whether this unit owns v (the leader, for an
// application secret).
func (tc *toolCall) canManage(v *secretView) bool {
	if v.owner.unit != "" {
		return v.owner.unit == tc.u.name
	}
	return v.owner.app == tc.m.opts.App && tc.isLeader()
}

// resolveSecretLabel finds the id of a secret by label: the owner's label,
// or this unit's consumer label.
func (tc *toolCall) resolveSecretLabel(label string) string {
	for _, id := range tc.ownedSecretIDs() {
		if v := tc.viewSecret(id); v != nil && v.label == label {
			return id
		}
	}
	ids := make([]string, 0, len(tc.m.secrets))
	for id := range tc.m.secrets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := tc.m.secrets[id]
		if tc.m.ownedBy(s, tc.u) && s.label == label {
			return id
		}
		if c := s.consumers[tc.u.name]; c != nil && c.label == label {
			return id
		}
	}
	return ""
}

func secretGet(tc *toolCall, fs *flagSet, args []string) error {
	id := ""
	if len(args) > 0 {
		var err error
		if id, err = parseSecretURI(args[0]); err != nil {
			return usagef("secret URI %q not valid", args[0])
		}
		args = args[1:]
	}
	label := fs.str("label")
	if id == "" && label == "" {
		return usagef("require either a secret URI or label")
	}
	if fs.boolean("peek") && fs.boolean("refresh") {
		return usagef("specify one of --peek or --refresh but not both")
	}
	key := ""
	if len(args) > 0 {
		key = args[0]
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
	}
	if id == "" {
		if id = tc.resolveSecretLabel(label); id == "" {
			return fmt.Errorf("secret %q not found", label)
		}
		label = ""
	}
	content, err := tc.secretContent(id, label, fs.boolean("refresh"), fs.boolean("peek"))
	if err != nil {
		return err
	}
	if key == "" {
		return writeOutput(tc, fs, content)
	}
	if k, ok := strings.CutSuffix(key, "#base64"); ok {
		v, found := content[k]
		if !found {
			return fmt.Errorf("secret key %q not found", k)
		}
		return writeOutput(tc, fs, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	v, found := content[key]
	if !found {
		return fmt.Errorf("secret key %q not found", key)
	}
	return writeOutput(tc, fs, v)
}

// secretContent returns what secret-get shows: an owner (any unit of the
// owning application) reads the latest revision, pending updates included;
// a consumer needs a grant and reads the revision it tracks.
func (tc *toolCall) secretContent(id, label string, refresh, peek bool) (map[string]string, error) {
	m, u := tc.m, tc.u
	v := tc.viewSecret(id)
	if v == nil {
		return nil, fmt.Errorf("secret %q not found", id)
	}
	owned := v.owner.unit == u.name || (v.owner.unit == "" && v.owner.app == m.opts.App)
	if owned {
		if label != "" && tc.canManage(v) && label != v.label {
			if tc.labelTaken(label, id) {
				return nil, fmt.Errorf("secret with label %q already exists", label)
			}
			tc.hc.secrets = append(tc.hc.secrets, secretOp{kind: "update", id: id, label: &label})
		}
		return maps.Clone(v.content), nil
	}
	s := v.s
	if s == nil || !m.canRead(s, u) {
		return nil, errors.New("permission denied")
	}
	c := s.consumers[u.name]
	if c == nil {
		c = &secretConsumer{rev: s.latest().rev}
		s.consumers[u.name] = c
	}
	if label != "" && label != c.label {
		if tc.labelTaken(label, id) {
			return nil, fmt.Errorf("secret with label %q already exists", label)
		}
		c.label = label
	}
	switch {
	case refresh:
		c.rev = s.latest().rev
	case peek:
		return maps.Clone(s.latest().content), nil
	}
	rev, ok := s.revision(c.rev)
	if !ok {
		return nil, fmt.Errorf("secret revision %d of %q not found", c.rev, id)
	}
	return maps.Clone(rev.content), nil
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

func secretInfoGet(tc *toolCall, fs *flagSet, args []string) error {
	id := ""
	if len(args) > 0 {
		var err error
		if id, err = parseSecretURI(args[0]); err != nil {
			return usagef("secret URI %q not valid", args[0])
		}
		args = args[1:]
	}
	label := fs.str("label")
	if id == "" && label == "" {
		return usagef("require either a secret URI or label")
	}
	if id != "" && label != "" {
		return usagef("specify either a secret URI or label but not both")
	}
	if err := checkEmpty(args); err != nil {
		return err
	}
	want := id
	if id == "" {
		want = label
	}
	for _, sid := range tc.ownedSecretIDs() {
		v := tc.viewSecret(sid)
		if (id != "" && sid == id) || (id == "" && v.label == label) {
			md := secretMetadataDisplay{LatestRevision: v.rev, Label: v.label, Owner: v.owner.kind(),
				Description: v.desc, RotatePolicy: v.rotate, LatestExpireTime: v.expire}
			if v.rotate == "" {
				md.RotatePolicy = "never"
			}
			if v.s != nil {
				for _, relID := range sortedKeys(v.s.grants) {
					g := v.s.grants[relID]
					target := "application-" + g.app
					if g.unit != "" {
						target = "unit-" + strings.ReplaceAll(g.unit, "/", "-")
					}
					scope := ""
					if r := tc.m.relations[relID]; r != nil {
						scope = "relation-" + strings.NewReplacer(":", ".", " ", "#").Replace(r.key(tc.m.opts.App))
					}
					md.Access = append(md.Access, secretAccessEntry{Target: target, Scope: scope, Role: "view"})
				}
			}
			return writeOutput(tc, fs, map[string]secretMetadataDisplay{sid: md})
		}
	}
	return fmt.Errorf("secret %q not found", want)
}

func secretIDs(tc *toolCall, fs *flagSet, args []string) error {
	if err := checkEmpty(args); err != nil {
		return err
	}
	var out []string // nil when empty: Juju prints null
	out = append(out, tc.ownedSecretIDs()...)
	return writeOutput(tc, fs, out)
}

func secretRemove(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("missing secret URI")
	}
	id, err := parseSecretURI(args[0])
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	v := tc.viewSecret(id)
	if v == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	if !tc.canManage(v) {
		return errors.New("permission denied")
	}
	rev := fs.integer("revision")
	if rev > 0 && v.s != nil {
		if _, ok := v.s.revision(rev); !ok {
			return fmt.Errorf("secret revision %d not found", rev)
		}
	}
	tc.hc.secrets = append(tc.hc.secrets, secretOp{kind: "remove", id: id, revision: rev})
	return nil
}

func secretGrantTool(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("missing secret URI")
	}
	id, err := parseSecretURI(args[0])
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if fs.str("r") == "" {
		return usagef("no relation id specified")
	}
	r, err := tc.relationFromFlags(fs)
	if err != nil {
		return err
	}
	unitName := fs.str("unit")
	if unitName != "" {
		if !unitNameRE.MatchString(unitName) {
			return usagef("unit %q not valid", unitName)
		}
		if unitApp(unitName) != r.remoteApp {
			return usagef("cannot specify unit %q in relation to application %q", unitName, r.remoteApp)
		}
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	v := tc.viewSecret(id)
	if v == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	if !tc.canManage(v) {
		return errors.New("permission denied")
	}
	tc.hc.secrets = append(tc.hc.secrets, secretOp{kind: "grant", id: id, relID: r.id, app: r.remoteApp, unit: unitName})
	return nil
}

func secretRevoke(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("missing secret URI")
	}
	id, err := parseSecretURI(args[0])
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	op := secretOp{kind: "revoke", id: id, relID: -1, app: fs.str("app"), unit: fs.str("unit")}
	if fs.str("r") != "" {
		r, err := tc.relationFromFlags(fs)
		if err != nil {
			return err
		}
		op.relID = r.id
		if op.app == "" {
			op.app = r.remoteApp
		}
	}
	if op.relID < 0 && op.app == "" && op.unit == "" {
		return usagef("missing relation or application or unit")
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	v := tc.viewSecret(id)
	if v == nil {
		return fmt.Errorf("secret %q not found", id)
	}
	if !tc.canManage(v) {
		return errors.New("permission denied")
	}
	tc.hc.secrets = append(tc.hc.secrets, op)
	return nil
}

// applySecretOpLocked commits one buffered secret change.
func (m *Model) applySecretOpLocked(hc *hookContext, op secretOp) {
	switch op.kind {
	case "create":
		s := &secret{
			id: op.id, owner: op.owner, revisions: []secretRevision{{rev: 1, content: maps.Clone(op.content)}},
			consumers: map[string]*secretConsumer{}, grants: map[int]secretGrant{}, userGrants: map[string]bool{},
			created: time.Now().UTC(), expire: op.expire,
		}
		if op.label != nil {
			s.label = *op.label
		}
		if op.description != nil {
			s.description = *op.description
		}
		if op.rotate != nil {
			s.rotate = *op.rotate
		}
		m.secrets[s.id] = s
	case "update":
		s := m.secrets[op.id]
		if s == nil {
			return
		}
		if op.label != nil {
			s.label = *op.label
		}
		if op.description != nil {
			s.description = *op.description
		}
		if op.rotate != nil {
			s.rotate = *op.rotate
		}
		if op.expire != nil {
			s.expire = op.expire
		}
		if op.content != nil {
			m.addRevisionLocked(s, op.content)
		}
	case "remove":
		s := m.secrets[op.id]
		if s == nil {
			return
		}
		if op.revision == 0 {
			delete(m.secrets, op.id)
			return
		}
		var keep []secretRevision
		for _, r := range s.revisions {
			if r.rev != op.revision {
				keep = append(keep, r)
			}
		}
		if len(keep) == 0 {
			delete(m.secrets, op.id)
			return
		}
		s.revisions = keep
	case "grant":
		if s := m.secrets[op.id]; s != nil {
			s.grants[op.relID] = secretGrant{app: op.app, unit: op.unit}
		}
	case "revoke":
		s := m.secrets[op.id]
		if s == nil {
			return
		}
		for relID, g := range s.grants {
			if op.relID >= 0 && relID != op.relID {
				continue
			}
			if op.unit != "" && g.unit != op.unit {
				continue
			}
			if op.unit == "" && op.app != "" && g.app != op.app {
				continue
			}
			delete(s.grants, relID)
		}
	}
}
