package jujuc

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yamlv2 "gopkg.in/yaml.v2"
)

// The relation tools (jujuc relation-*.go) and the rules behind them: a unit
// reads its own bags, its application's bag when it is the leader or on a
// peer relation, and the remote application's and remote units' bags;
// only the leader writes the application bag; nothing before the unit
// entered the relation's scope.

func init() {
	tools["relation-ids"] = Tool{Usage: "<name>", Purpose: "List all relation IDs for the given endpoint.", Flags: outFlags("smart", AllFormats), Run: relationIDs}
	tools["relation-list"] = Tool{Usage: "", Purpose: "list relation units", Flags: WithRelation(outFlags("smart", AllFormats), appFlag), Run: relationList}
	tools["relation-get"] = Tool{Usage: "<key> <unit id>", Purpose: "Get relation settings.", Flags: WithRelation(outFlags("smart", AllFormats), appFlag), Run: relationGet}
	tools["relation-set"] = Tool{Usage: "key=value [key=value ...]", Purpose: "set relation settings", Flags: WithRelation(staticFlags(appFlag, fileFlag, Flag{Names: []string{"format"}, Kind: StringFlag})), Run: relationSet}
	tools["relation-model-get"] = Tool{Usage: "", Purpose: "Get details about the model hosing a related application.", Flags: WithRelation(outFlags("smart", AllFormats)), Run: relationModelGet}
}

var (
	appFlag  = Flag{Names: []string{"app"}, Kind: BoolFlag, Def: "false"}
	fileFlag = Flag{Names: []string{"file"}, Kind: StringFlag}
)

func staticFlags(defs ...Flag) func(*Call) []Flag {
	return func(*Call) []Flag { return defs }
}

func outFlags(def string, choices []string, extra ...Flag) func(*Call) []Flag {
	return func(*Call) []Flag { return append(FormatFlags(def, choices), extra...) }
}

// WithRelation adds -r/--relation to base: it defaults to the hook's
// relation and refuses ids the unit does not take part in.
func WithRelation(base func(*Call) []Flag, extra ...Flag) func(*Call) []Flag {
	return func(c *Call) []Flag {
		var defs []Flag
		if base != nil {
			defs = base(c)
		}
		def := ""
		if id := c.Host.HookRelation().ID; id >= 0 {
			def = strconv.Itoa(id)
		}
		defs = append(defs, Flag{Names: []string{"r", "relation"}, Kind: StringFlag, Def: def, Check: func(v string) error {
			_, err := ParseRelationID(c.Host, v)
			return err
		}})
		return append(defs, extra...)
	}
}

// ParseRelationID resolves -r as Juju's relationIdValue does: "N" or
// "endpoint:N", the endpoint ignored, N a relation the unit takes part in.
func ParseRelationID(h Host, v string) (Relation, error) {
	trim := v
	if i := strings.LastIndex(trim, ":"); i >= 0 {
		trim = trim[i+1:]
	}
	id, err := strconv.Atoi(trim)
	if err != nil {
		return Relation{}, errors.New("invalid relation id")
	}
	for _, r := range h.Relations() {
		if r.ID == id {
			return r, nil
		}
	}
	return Relation{}, errors.New("relation not found")
}

// relationFromFlags returns the relation of -r (or the hook's); none is a
// usage error.
func relationFromFlags(c *Call, fs *FlagSet) (Relation, error) {
	v := fs.Str("relation")
	if v == "" {
		return Relation{}, Usagef("no relation id specified")
	}
	return ParseRelationID(c.Host, v)
}

var (
	appNameRE  = regexp.MustCompile(`^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*$`)
	unitNameRE = regexp.MustCompile(`^([a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*)/(0|[1-9][0-9]*)$`)
)

// unitApp returns the application of "app/N".
func unitApp(name string) string {
	app, _, _ := strings.Cut(name, "/")
	return app
}

// ReadSettings is Juju's readSettings for --file: a YAML (or JSON) map of
// strings.
func ReadSettings(data []byte) (map[string]string, error) {
	kvs := map[string]string{}
	if err := yamlv2.Unmarshal(data, kvs); err != nil {
		return nil, err
	}
	return kvs, nil
}

// SettingsFromArgs merges --file and key=value arguments, arguments
// winning, as relation-set and state-set do.
func SettingsFromArgs(c *Call, fs *FlagSet, args []string) (map[string]string, error) {
	settings, err := ParseKeyValues(args)
	if err != nil {
		return nil, err
	}
	path := fs.Str("file")
	if path == "" {
		return settings, nil
	}
	data, err := c.ReadInput(path)
	if err != nil {
		return nil, err
	}
	fromFile, err := ReadSettings(data)
	if err != nil {
		return nil, err
	}
	maps.Copy(fromFile, settings)
	return fromFile, nil
}

func relationIDs(c *Call, fs *FlagSet, args []string) error {
	name := ""
	rels := c.Host.Relations()
	if hr := c.Host.HookRelation(); hr.ID >= 0 {
		for _, r := range rels {
			if r.ID == hr.ID {
				name = r.Endpoint
			}
		}
	}
	if len(args) > 0 {
		name = args[0]
		args = args[1:]
	} else if name == "" {
		return Usagef("no endpoint name specified")
	}
	if err := CheckEmpty(args); err != nil {
		return err
	}
	result := []string{}
	for _, r := range rels {
		if r.Endpoint == name {
			result = append(result, r.Name())
		}
	}
	slices.Sort(result)
	return c.Output(result)
}

func relationList(c *Call, fs *FlagSet, args []string) error {
	if fs.Str("relation") == "" {
		return Usagef("no relation id specified")
	}
	if err := CheckEmpty(args); err != nil {
		return err
	}
	r, err := relationFromFlags(c, fs)
	if err != nil {
		return err
	}
	if fs.Bool("app") {
		return c.Output(r.RemoteApp)
	}
	units := slices.Clone(r.Members)
	if units == nil {
		units = []string{}
	}
	return c.Output(units)
}

func relationGet(c *Call, fs *FlagSet, args []string) error {
	if fs.Str("relation") == "" {
		return Usagef("no relation id specified")
	}
	key := ""
	if len(args) > 0 {
		if key = args[0]; key == "-" {
			key = ""
		}
		args = args[1:]
	}
	app := fs.Bool("app")
	target := ""
	hook := c.Host.HookRelation()
	switch {
	case len(args) > 0:
		given := args[0]
		args = args[1:]
		if app {
			if appNameRE.MatchString(given) {
				target = given
			} else if unitNameRE.MatchString(given) {
				target = unitApp(given)
			}
		} else {
			if !unitNameRE.MatchString(given) {
				if appNameRE.MatchString(given) {
					return Usagef("expected unit name, got application name %q", given)
				}
				return Usagef("invalid unit name %q", given)
			}
			target = given
		}
	case app:
		if hook.RemoteApp == "" {
			return Usagef("no unit or application specified")
		}
		target = hook.RemoteApp
	case hook.RemoteUnit != "":
		target = hook.RemoteUnit
	case hook.RemoteApp != "":
		target, app = hook.RemoteApp, true
	default:
		return Usagef("no unit or application specified")
	}
	if err := CheckEmpty(args); err != nil {
		return err
	}
	r, err := relationFromFlags(c, fs)
	if err != nil {
		return err
	}
	settings, err := ReadBag(c.Host, r, target, app)
	if err != nil {
		return err
	}
	if key == "" {
		return c.Output(settings)
	}
	if v, ok := settings[key]; ok {
		return c.Output(v)
	}
	return c.Output(nil)
}

var errPermission = errors.New("permission denied")

// ReadBag applies Juju's read rules and returns a bag as h's unit sees it:
// its own unit bag; its application's bag if it is the leader or on a
// peer relation; the remote application's bag and its units' bags.
func ReadBag(h Host, r Relation, owner string, app bool) (map[string]string, error) {
	if !r.InScope {
		return nil, errPermission
	}
	switch {
	case !app && owner == h.Unit():
	case app && owner == h.App():
		if !h.IsLeader() && !r.Peer {
			return nil, errPermission
		}
	case app:
		if owner != r.RemoteApp {
			return nil, errPermission
		}
	default:
		if unitApp(owner) != r.RemoteApp {
			return nil, errPermission
		}
	}
	bag, ok := h.Bag(r.ID, owner, app)
	if !ok {
		if !app && owner != h.Unit() {
			return nil, fmt.Errorf("cannot read settings for unit %q in relation %q: settings not found", owner, r.Key)
		}
		bag = map[string]string{}
	}
	if bag == nil {
		bag = map[string]string{}
	}
	return bag, nil
}

func relationSet(c *Call, fs *FlagSet, args []string) error {
	if fs.Str("relation") == "" {
		return Usagef("no relation id specified")
	}
	if fs.IsSet("format") {
		fmt.Fprintf(&c.Stderr, "--format flag deprecated for command %q", "relation-set")
	}
	settings, err := SettingsFromArgs(c, fs, args)
	if err != nil {
		return err
	}
	r, err := relationFromFlags(c, fs)
	if err != nil {
		return err
	}
	app := fs.Bool("app")
	if app && !c.Host.IsLeader() {
		return errors.New("cannot write relation settings")
	}
	if !r.InScope {
		if app {
			return errors.New("cannot read relation application settings: permission denied")
		}
		return errors.New("cannot read relation settings: permission denied")
	}
	c.Host.SetBag(r.ID, app, settings)
	return nil
}

func relationModelGet(c *Call, fs *FlagSet, args []string) error {
	if fs.Str("relation") == "" {
		return Usagef("no relation id specified")
	}
	if err := CheckEmpty(args); err != nil {
		return err
	}
	if _, err := relationFromFlags(c, fs); err != nil {
		return err
	}
	return c.Output(map[string]string{"uuid": c.Host.ModelUUID()})
}
