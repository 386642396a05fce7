package sim

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yamlv2 "gopkg.in/yaml.v2"
)

// The server side of the hook tools: each entry parses its flags and
// arguments as the Juju 3.6 jujuc command of the same name does, answers
// from the model and the hook context, and fails the same way.

// toolDef declares one hook tool.
type toolDef struct {
	usage   string
	purpose string
	flags   func(tc *toolCall) []flagDef
	run     func(tc *toolCall, fs *flagSet, args []string) error
}

// ToolNames are the hook tools the simulator serves (the names of the
// hooktool symlinks).
var ToolNames = []string{
	"action-fail", "action-get", "action-log", "action-set",
	"application-version-set", "close-port", "config-get", "goal-state",
	"is-leader", "juju-log", "network-get", "open-port", "opened-ports",
	"relation-get", "relation-ids", "relation-list", "relation-model-get", "relation-set",
	"secret-add", "secret-get", "secret-grant", "secret-ids", "secret-info-get",
	"secret-remove", "secret-revoke", "secret-set",
	"state-delete", "state-get", "state-set", "status-get", "status-set",
	"storage-get", "storage-list",
}

var toolTable map[string]toolDef

func init() {
	toolTable = map[string]toolDef{
		"relation-ids":            {usage: "<name>", purpose: "List all relation IDs for the given endpoint.", flags: outFlags("smart", allFormats), run: relationIDs},
		"relation-list":           {usage: "", purpose: "list relation units", flags: withRelation(outFlags("smart", allFormats), appFlag), run: relationList},
		"relation-get":            {usage: "<key> <unit id>", purpose: "Get relation settings.", flags: withRelation(outFlags("smart", allFormats), appFlag), run: relationGet},
		"relation-set":            {usage: "key=value [key=value ...]", purpose: "set relation settings", flags: withRelation(staticFlags(appFlag, fileFlag, flagDef{names: []string{"format"}, kind: stringFlag})), run: relationSet},
		"relation-model-get":      {usage: "", purpose: "Get details about the model hosing a related application.", flags: withRelation(outFlags("smart", allFormats)), run: relationModelGet},
		"config-get":              {usage: "[<key>]", purpose: "Print application configuration.", flags: outFlags("smart", allFormats, flagDef{names: []string{"a", "all"}, kind: boolFlag, def: "false"}), run: configGet},
		"is-leader":               {usage: "", purpose: "print application leadership status", flags: outFlags("smart", allFormats), run: isLeader},
		"status-set":              {usage: "<maintenance | blocked | waiting | active> [message]", purpose: "set status information", flags: staticFlags(flagDef{names: []string{"application"}, kind: boolFlag, def: "false"}), run: statusSet},
		"status-get":              {usage: "[--include-data] [--application]", purpose: "Print status information.", flags: outFlags("smart", allFormats, flagDef{names: []string{"include-data"}, kind: boolFlag, def: "false"}, flagDef{names: []string{"application"}, kind: boolFlag, def: "false"}), run: statusGet},
		"application-version-set": {usage: "<new-version>", purpose: "specify which version of the application is deployed", flags: nil, run: applicationVersionSet},
		"juju-log":                {usage: "<message>", purpose: "write a message to the juju log", flags: staticFlags(flagDef{names: []string{"debug"}, kind: boolFlag, def: "false"}, flagDef{names: []string{"l", "log-level"}, kind: stringFlag, def: "INFO"}, flagDef{names: []string{"format"}, kind: stringFlag}), run: jujuLog},
		"network-get":             {usage: "<binding-name> [--ingress-address] [--bind-address] [--egress-subnets]", purpose: "get network config", flags: withRelation(outFlags("smart", allFormats, flagDef{names: []string{"primary-address"}, kind: boolFlag, def: "false"}, flagDef{names: []string{"bind-address"}, kind: boolFlag, def: "false"}, flagDef{names: []string{"ingress-address"}, kind: boolFlag, def: "false"}, flagDef{names: []string{"egress-subnets"}, kind: boolFlag, def: "false"})), run: networkGet},
		"open-port":               {usage: portFormat, purpose: "Register a request to open a port or port range.", flags: staticFlags(flagDef{names: []string{"format"}, kind: stringFlag}, flagDef{names: []string{"endpoints"}, kind: stringFlag}), run: portCmd(true)},
		"close-port":              {usage: portFormat, purpose: "Register a request to close a port or port range.", flags: staticFlags(flagDef{names: []string{"format"}, kind: stringFlag}, flagDef{names: []string{"endpoints"}, kind: stringFlag}), run: portCmd(false)},
		"opened-ports":            {usage: "", purpose: "List all ports or port ranges opened by the unit.", flags: outFlags("smart", allFormats, flagDef{names: []string{"endpoints"}, kind: boolFlag, def: "false"}), run: openedPorts},
		"state-get":               {usage: "[<key>]", purpose: "print server-side-state value", flags: outFlags("smart", allFormats, flagDef{names: []string{"strict"}, kind: boolFlag, def: "false"}), run: stateGet},
		"state-set":               {usage: "key=value [key=value ...]", purpose: "set server-side-state values", flags: staticFlags(fileFlag), run: stateSet},
		"state-delete":            {usage: "<key>", purpose: "delete server-side-state key value pairs", flags: nil, run: stateDelete},
		"goal-state":              {usage: "", purpose: "print the status of the charm's peers and related units", flags: outFlags("yaml", yamlFormats), run: goalState},
		"storage-get":             {usage: "[<key>]", purpose: "print information for the storage instance with the specified ID", flags: outFlags("smart", allFormats, flagDef{names: []string{"s"}, kind: stringFlag}), run: storageGet},
		"storage-list":            {usage: "[<storage-name>]", purpose: "list storage attached to the unit", flags: outFlags("smart", allFormats), run: storageList},
	}
	addSecretTools(toolTable)
	addActionTools(toolTable)
}

var (
	appFlag  = flagDef{names: []string{"app"}, kind: boolFlag, def: "false"}
	fileFlag = flagDef{names: []string{"file"}, kind: stringFlag}
)

func staticFlags(defs ...flagDef) func(*toolCall) []flagDef {
	return func(*toolCall) []flagDef { return defs }
}

func outFlags(def string, choices []string, extra ...flagDef) func(*toolCall) []flagDef {
	return func(*toolCall) []flagDef { return append(formatFlags(def, choices), extra...) }
}

// withRelation adds -r/--relation, defaulting to the hook's relation and
// rejecting ids the unit does not know.
func withRelation(base func(*toolCall) []flagDef, extra ...flagDef) func(*toolCall) []flagDef {
	return func(tc *toolCall) []flagDef {
		var defs []flagDef
		if base != nil {
			defs = base(tc)
		}
		def := ""
		if id := tc.hc.spec.relID; id >= 0 {
			def = strconv.Itoa(id)
		}
		defs = append(defs, flagDef{names: []string{"r", "relation"}, kind: stringFlag, def: def, check: func(v string) error {
			_, err := tc.parseRelationID(v)
			return err
		}})
		return append(defs, extra...)
	}
}

// parseRelationID accepts "id" or "endpoint:id".
func (tc *toolCall) parseRelationID(v string) (int, error) {
	trim := v
	if i := strings.LastIndex(trim, ":"); i >= 0 {
		trim = trim[i+1:]
	}
	id, err := strconv.Atoi(trim)
	if err != nil {
		return 0, errors.New("invalid relation id")
	}
	if _, err := tc.relation(id); err != nil {
		return 0, err
	}
	return id, nil
}

// relationFromFlags returns the relation of -r (or the hook's); a missing
// one is a usage error.
func (tc *toolCall) relationFromFlags(fs *flagSet) (*relation, error) {
	v := fs.str("relation")
	if v == "" {
		return nil, usagef("no relation id specified")
	}
	id, err := tc.parseRelationID(v)
	if err != nil {
		return nil, err
	}
	return tc.relation(id)
}

// relation returns a relation this unit takes part in.
func (tc *toolCall) relation(id int) (*relation, error) {
	r := tc.m.relations[id]
	if r == nil || tc.u.rel[id] == nil {
		return nil, errors.New("unknown relation id")
	}
	return r, nil
}

// inScope reports whether the unit entered the relation's scope (its
// relation-created hook started): before that Juju refuses bag access.
func (tc *toolCall) inScope(r *relation) bool {
	ur := tc.u.rel[r.id]
	return ur != nil && ur.inScope
}

func (tc *toolCall) isLeader() bool { return tc.m.leader == tc.u.name }

var (
	appNameRE  = regexp.MustCompile(`^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*$`)
	unitNameRE = regexp.MustCompile(`^([a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*)/(0|[1-9][0-9]*)$`)
)

// readInput reads --file: "-" is stdin, anything else a path relative to
// the tool's directory.
func (tc *toolCall) readInput(path string) ([]byte, error) {
	if path == "-" {
		return tc.stdin, nil
	}
	return os.ReadFile(tc.absPath(path))
}

// readSettings is Juju's readSettings: a YAML (or JSON) map of strings.
func readSettings(data []byte) (map[string]string, error) {
	kvs := map[string]string{}
	if err := yamlv2.Unmarshal(data, kvs); err != nil {
		return nil, err
	}
	return kvs, nil
}

func relationIDs(tc *toolCall, fs *flagSet, args []string) error {
	name := ""
	if r := tc.m.relations[tc.hc.spec.relID]; r != nil && tc.hc.spec.relID >= 0 {
		name = r.endpoint
	}
	if len(args) > 0 {
		name = args[0]
		args = args[1:]
	} else if name == "" {
		return usagef("no endpoint name specified")
	}
	if err := checkEmpty(args); err != nil {
		return err
	}
	result := []string{}
	for _, r := range tc.m.sortedRelations() {
		if r.endpoint == name && tc.u.rel[r.id] != nil {
			result = append(result, r.fakeID())
		}
	}
	sort.Strings(result)
	return writeOutput(tc, fs, result)
}

func relationList(tc *toolCall, fs *flagSet, args []string) error {
	if fs.str("relation") == "" {
		return usagef("no relation id specified")
	}
	if err := checkEmpty(args); err != nil {
		return err
	}
	r, err := tc.relationFromFlags(fs)
	if err != nil {
		return err
	}
	if fs.boolean("app") {
		return writeOutput(tc, fs, r.remoteApp)
	}
	units := []string{}
	if ur := tc.u.rel[r.id]; ur != nil {
		units = sortedUnitNames(ur.joined)
	}
	return writeOutput(tc, fs, units)
}

func relationGet(tc *toolCall, fs *flagSet, args []string) error {
	if fs.str("relation") == "" {
		return usagef("no relation id specified")
	}
	key := ""
	if len(args) > 0 {
		if key = args[0]; key == "-" {
			key = ""
		}
		args = args[1:]
	}
	app := fs.boolean("app")
	target := ""
	spec := tc.hc.spec
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
					return usagef("expected unit name, got application name %q", given)
				}
				return usagef("invalid unit name %q", given)
			}
			target = given
		}
	case app:
		if spec.remoteApp == "" {
			return usagef("no unit or application specified")
		}
		target = spec.remoteApp
	case spec.remoteUnit != "":
		target = spec.remoteUnit
	case spec.remoteApp != "":
		target, app = spec.remoteApp, true
	default:
		return usagef("no unit or application specified")
	}
	if err := checkEmpty(args); err != nil {
		return err
	}
	r, err := tc.relationFromFlags(fs)
	if err != nil {
		return err
	}
	settings, err := tc.readBag(r, target, app)
	if err != nil {
		return err
	}
	if key == "" {
		return writeOutput(tc, fs, settings)
	}
	if v, ok := settings[key]; ok {
		return writeOutput(tc, fs, v)
	}
	return writeOutput(tc, fs, nil)
}

// readBag is what relation-get may read: our own bags with this hook's
// pending writes; the leader's own application bag likewise; a
// non-leader's own application bag only on a peer relation; remote bags as
// committed.
func (tc *toolCall) readBag(r *relation, target string, app bool) (map[string]string, error) {
	m, u := tc.m, tc.u
	if !tc.inScope(r) {
		return nil, errors.New("permission denied")
	}
	if !app && target == u.name {
		return tc.hc.pendingBag(r.unitBags[u.name], tc.hc.relUnit[r.id]), nil
	}
	if target == m.opts.App && app {
		if tc.isLeader() {
			return tc.hc.pendingBag(r.appBag, tc.hc.relApp[r.id]), nil
		}
		if r.peer {
			return r.appBag.copy(), nil
		}
		return nil, errors.New("permission denied")
	}
	if app {
		if target != r.remoteApp {
			return nil, errors.New("permission denied")
		}
		return r.remoteAppBag.copy(), nil
	}
	if unitApp(target) != r.remoteApp {
		return nil, errors.New("permission denied")
	}
	b := r.remoteUnitBag(target)
	if b == nil {
		return nil, fmt.Errorf("cannot read settings for unit %q in relation %q: settings not found", target, r.key(m.opts.App))
	}
	return b.copy(), nil
}

func relationSet(tc *toolCall, fs *flagSet, args []string) error {
	if fs.str("relation") == "" {
		return usagef("no relation id specified")
	}
	settings, err := parseKeyValues(args)
	if err != nil {
		return err
	}
	if fs.isSet("format") {
		fmt.Fprintf(&tc.stderr, "--format flag deprecated for command %q", "relation-set")
	}
	if path := fs.str("file"); path != "" {
		data, err := tc.readInput(path)
		if err != nil {
			return err
		}
		fromFile, err := readSettings(data)
		if err != nil {
			return err
		}
		for k, v := range settings {
			fromFile[k] = v
		}
		settings = fromFile
	}
	r, err := tc.relationFromFlags(fs)
	if err != nil {
		return err
	}
	app := fs.boolean("app")
	if app && !tc.isLeader() {
		return errors.New("cannot write relation settings")
	}
	if !tc.inScope(r) {
		if app {
			return errors.New("cannot read relation application settings: permission denied")
		}
		return errors.New("cannot read relation settings: permission denied")
	}
	target := tc.hc.relUnit
	bagName := tc.u.name
	if app {
		target = tc.hc.relApp
		bagName = tc.m.opts.App
	}
	if target[r.id] == nil {
		target[r.id] = map[string]string{}
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		target[r.id][k] = settings[k]
		w := &BagWrite{Unit: tc.u.name, Hook: tc.hc.spec.name, RelationID: r.id, Bag: bagName, Key: k, Value: settings[k]}
		tc.hc.writes = append(tc.hc.writes, w)
		tc.m.rec.addBagWrite(w)
	}
	return nil
}

func relationModelGet(tc *toolCall, fs *flagSet, args []string) error {
	if fs.str("relation") == "" {
		return usagef("no relation id specified")
	}
	if err := checkEmpty(args); err != nil {
		return err
	}
	if _, err := tc.relationFromFlags(fs); err != nil {
		return err
	}
	return writeOutput(tc, fs, map[string]string{"uuid": tc.m.opts.ModelUUID})
}

func configGet(tc *toolCall, fs *flagSet, args []string) error {
	key := ""
	if len(args) > 0 {
		key = args[0]
		if key != "" && fs.boolean("a") {
			return usagef("cannot use argument --all together with key %q", key)
		}
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
	}
	settings := tc.m.configLocked(true)
	if key == "" {
		if !fs.boolean("a") {
			for k, v := range settings {
				if v == nil {
					delete(settings, k)
				}
			}
		}
		return writeOutput(tc, fs, settings)
	}
	return writeOutput(tc, fs, settings[key])
}

func isLeader(tc *toolCall, fs *flagSet, args []string) error {
	if err := checkEmpty(args); err != nil {
		return err
	}
	return writeOutput(tc, fs, tc.isLeader())
}

var validStatus = []string{"maintenance", "blocked", "waiting", "active"}

func statusSet(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("invalid args, require <status> [message]")
	}
	if !contains(validStatus, args[0]) {
		return usagef("invalid status %q, expected one of [%s]", args[0], strings.Join(validStatus, " "))
	}
	msg := ""
	if len(args) > 1 {
		msg = args[1]
		if err := checkEmpty(args[2:]); err != nil {
			return err
		}
	}
	st := Status{Status: args[0], Message: msg, Since: time.Now().UTC()}
	app := fs.boolean("application")
	if app {
		if !tc.isLeader() {
			return errors.New("this unit is not the leader")
		}
		tc.m.appStatus = st
		tc.m.appHistory = append(tc.m.appHistory, st)
	} else {
		if f := tc.u.failure; f != nil && tc.u.workloadStatus.Status == "error" {
			// The agent shows the error until the hook succeeds; what the
			// charm sets now is what it returns to.
			f.saved = st
			tc.u.history = append(tc.u.history, st)
		} else {
			tc.u.setWorkloadStatus(st)
		}
	}
	tc.m.rec.addStatus(StatusRecord{Unit: tc.u.name, Hook: tc.hc.spec.name, Application: app, Status: st.Status, Message: st.Message})
	return nil
}

func statusDetails(st Status, includeData bool) map[string]any {
	d := map[string]any{"status": st.Status}
	if includeData {
		d["message"] = st.Message
		d["status-data"] = map[string]any{}
	}
	return d
}

func statusGet(tc *toolCall, fs *flagSet, args []string) error {
	if err := checkEmpty(args); err != nil {
		return err
	}
	include := fs.boolean("include-data")
	smart := fs.str("format") == "smart"
	if fs.boolean("application") {
		if !tc.isLeader() {
			return errors.New("finding application status: this unit is not the leader")
		}
		if !include && smart {
			return writeOutput(tc, fs, tc.m.appStatus.Status)
		}
		details := statusDetails(tc.m.appStatus, include)
		units := map[string]any{}
		for _, u := range tc.m.sortedUnits() {
			units[u.name] = statusDetails(u.workloadStatus, include)
		}
		details["units"] = units
		return writeOutput(tc, fs, map[string]any{"application-status": details})
	}
	if !include && smart {
		return writeOutput(tc, fs, tc.u.workloadStatus.Status)
	}
	return writeOutput(tc, fs, statusDetails(tc.u.workloadStatus, include))
}

func applicationVersionSet(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("no version specified")
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	tc.m.workloadVersion = args[0]
	return nil
}

var logLevels = map[string]string{
	"TRACE": "TRACE", "DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "WARN": "WARNING",
	"ERROR": "ERROR", "CRITICAL": "CRITICAL",
}

func jujuLog(tc *toolCall, fs *flagSet, args []string) error {
	if args == nil {
		return usagef("no message specified")
	}
	if fs.isSet("format") {
		fmt.Fprintf(&tc.stderr, "--format flag deprecated for command %q", "juju-log")
	}
	level := "INFO"
	if fs.boolean("debug") {
		level = "DEBUG"
	} else if l, ok := logLevels[strings.ToUpper(fs.str("l"))]; ok {
		level = l
	} else {
		tc.m.logf("%s: WARNING Specified log level of %q is not valid", tc.u.name, fs.str("l"))
	}
	msg := strings.Join(args, " ")
	if r := tc.m.relations[tc.hc.spec.relID]; r != nil && tc.hc.spec.relID >= 0 {
		msg = r.fakeID() + ": " + msg
	}
	tc.m.rec.addLog(LogLine{Unit: tc.u.name, Hook: tc.hc.spec.name, Level: level, Message: msg})
	tc.m.logf("unit.%s.juju-log %s %s", tc.u.name, level, msg)
	return nil
}

// Network info display shapes (jujuc network-get).
type interfaceAddressDisplay struct {
	Hostname string `json:"hostname" yaml:"hostname"`
	Address  string `json:"value" yaml:"value"`
	CIDR     string `json:"cidr" yaml:"cidr"`
	AddressX string `json:"-" yaml:"address"`
}

type networkInfoDisplay struct {
	MACAddress     string                    `json:"mac-address" yaml:"mac-address"`
	InterfaceName  string                    `json:"interface-name" yaml:"interface-name"`
	Addresses      []interfaceAddressDisplay `json:"addresses" yaml:"addresses"`
	MACAddressX    string                    `json:"-" yaml:"macaddress"`
	InterfaceNameX string                    `json:"-" yaml:"interfacename"`
}

type networkInfoResultDisplay struct {
	Info             []networkInfoDisplay `json:"bind-addresses,omitempty" yaml:"bind-addresses,omitempty"`
	EgressSubnets    []string             `json:"egress-subnets,omitempty" yaml:"egress-subnets,omitempty"`
	IngressAddresses []string             `json:"ingress-addresses,omitempty" yaml:"ingress-addresses,omitempty"`
}

func networkGet(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("no arguments specified")
	}
	binding := args[0]
	if binding == "" {
		return usagef("no binding name specified")
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	if !tc.m.meta.hasEndpoint(binding) {
		return fmt.Errorf("binding name %q not defined by the unit's charm", binding)
	}
	addr := tc.u.address
	cidr := fmt.Sprintf("127.%d.%d.0/24", tc.m.addrs.a, tc.m.addrs.b)
	display := networkInfoResultDisplay{
		Info: []networkInfoDisplay{{
			InterfaceName: "eth0", InterfaceNameX: "eth0",
			Addresses: []interfaceAddressDisplay{{Address: addr, CIDR: cidr, AddressX: addr}},
		}},
		EgressSubnets:    []string{addr + "/32"},
		IngressAddresses: []string{addr},
	}
	var keys []string
	for _, k := range []string{"bind-address", "ingress-address", "egress-subnets"} {
		if fs.boolean(k) {
			keys = append(keys, k)
		}
	}
	if fs.boolean("primary-address") {
		if len(keys) > 0 {
			return errors.New("--primary-address must be the only flag specified")
		}
		return writeOutput(tc, fs, addr)
	}
	if len(keys) == 0 {
		return writeOutput(tc, fs, display)
	}
	values := map[string]any{"bind-address": addr, "ingress-address": addr, "egress-subnets": display.EgressSubnets}
	if len(keys) == 1 {
		return writeOutput(tc, fs, values[keys[0]])
	}
	out := map[string]any{}
	for _, k := range keys {
		out[k] = values[k]
	}
	return writeOutput(tc, fs, out)
}

const portFormat = "<port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp"

// parsePortRange is network.ParsePortRange.
func parsePortRange(s string) (openPort, error) {
	if s == "icmp" {
		return openPort{Protocol: "icmp"}, nil
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return openPort{}, fmt.Errorf("invalid protocol %q", proto)
	}
	from, to, isRange := strings.Cut(spec, "-")
	f, err := strconv.Atoi(from)
	if err != nil {
		return openPort{}, fmt.Errorf("invalid port range %q", s)
	}
	t := f
	if isRange {
		if t, err = strconv.Atoi(to); err != nil {
			return openPort{}, fmt.Errorf("invalid port range %q", s)
		}
	}
	if f < 1 || f > 65535 || t < 1 || t > 65535 || t < f {
		return openPort{}, fmt.Errorf("invalid port range %d-%d/%s", f, t, proto)
	}
	return openPort{Protocol: proto, From: f, To: t}, nil
}

func portCmd(open bool) func(*toolCall, *flagSet, []string) error {
	return func(tc *toolCall, fs *flagSet, args []string) error {
		if args == nil {
			return usagef("no port or range specified")
		}
		p, err := parsePortRange(strings.ToLower(args[0]))
		if err != nil {
			return &usageError{msg: err.Error()}
		}
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
		if fs.isSet("format") {
			fmt.Fprintf(&tc.stderr, "--format flag deprecated for command %q", tc.tool)
		}
		endpoints := []string{""}
		if e := fs.str("endpoints"); e != "" {
			endpoints = nil
			for _, ep := range strings.Split(e, ",") {
				ep = strings.TrimSpace(ep)
				if !tc.m.meta.hasEndpoint(ep) {
					return fmt.Errorf("open/close port: endpoint %q not found", ep)
				}
				endpoints = append(endpoints, ep)
			}
		}
		for _, ep := range endpoints {
			p.Endpoint = ep
			tc.hc.ports = append(tc.hc.ports, portChange{open: open, port: p})
		}
		return nil
	}
}

func openedPorts(tc *toolCall, fs *flagSet, args []string) error {
	if err := checkEmpty(args); err != nil {
		return err
	}
	byRange := map[string][]string{}
	var order []string
	for _, p := range tc.u.ports {
		k := openPort{Protocol: p.Protocol, From: p.From, To: p.To}.String()
		if _, seen := byRange[k]; !seen {
			order = append(order, k)
		}
		byRange[k] = append(byRange[k], p.Endpoint)
	}
	results := make([]string, 0, len(order))
	for _, k := range order {
		if !fs.boolean("endpoints") {
			results = append(results, k)
			continue
		}
		eps := byRange[k]
		descr := "*"
		if !contains(eps, "") {
			sort.Strings(eps)
			descr = strings.Join(eps, ", ")
		}
		results = append(results, fmt.Sprintf("%s (%s)", k, descr))
	}
	return writeOutput(tc, fs, results)
}

func stateGet(tc *toolCall, fs *flagSet, args []string) error {
	key := ""
	if len(args) > 0 {
		if key = args[0]; key == "-" {
			key = ""
		}
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
	}
	state := tc.hc.pendingState()
	if key == "" {
		return writeOutput(tc, fs, state)
	}
	v, ok := state[key]
	if !ok && fs.boolean("strict") {
		return fmt.Errorf("%q not found", key)
	}
	return writeOutput(tc, fs, v)
}

const (
	maxStateKeySize   = 256
	maxStateValueSize = 64 * 1024
)

func stateSet(tc *toolCall, fs *flagSet, args []string) error {
	values, err := parseKeyValues(args)
	if err != nil {
		return err
	}
	if path := fs.str("file"); path != "" {
		data, err := tc.readInput(path)
		if err != nil {
			return err
		}
		fromFile, err := readSettings(data)
		if err != nil {
			return err
		}
		for k, v := range values {
			fromFile[k] = v
		}
		values = fromFile
	}
	for k, v := range values {
		if len(k) > maxStateKeySize {
			return fmt.Errorf("key %q exceeds the maximum key size of %d bytes", k, maxStateKeySize)
		}
		if len(v) > maxStateValueSize {
			return fmt.Errorf("value for key %q exceeds the maximum value size of %d bytes", k, maxStateValueSize)
		}
		v := v
		tc.hc.state[k] = &v
	}
	return nil
}

func stateDelete(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) < 1 {
		return usagef("no key specified")
	}
	if err := checkEmpty(args[1:]); err != nil {
		return err
	}
	tc.hc.state[args[0]] = nil
	return nil
}

type goalStateStatus struct {
	Status string `json:"status" yaml:"status"`
	Since  string `json:"since,omitempty" yaml:"since,omitempty"`
}

type goalStateDisplay struct {
	Units     map[string]goalStateStatus            `json:"units" yaml:"units"`
	Relations map[string]map[string]goalStateStatus `json:"relations" yaml:"relations"`
}

func goalTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func goalState(tc *toolCall, fs *flagSet, args []string) error {
	if err := checkEmpty(args); err != nil {
		return err
	}
	m := tc.m
	gs := goalStateDisplay{Units: map[string]goalStateStatus{}, Relations: map[string]map[string]goalStateStatus{}}
	unitGoal := func(u *unit) goalStateStatus {
		st := "active"
		if u.life == dying {
			st = "dying"
		} else if !u.installed {
			st = "waiting"
		}
		return goalStateStatus{Status: st, Since: goalTime(u.agentStatus.Since)}
	}
	for _, u := range m.sortedUnits() {
		gs.Units[u.name] = unitGoal(u)
	}
	for _, r := range m.sortedRelations() {
		if r.dying {
			continue
		}
		entry := gs.Relations[r.endpoint]
		if entry == nil {
			entry = map[string]goalStateStatus{}
			gs.Relations[r.endpoint] = entry
		}
		if r.peer {
			for _, u := range m.sortedUnits() {
				if u != tc.u {
					entry[u.name] = unitGoal(u)
				}
			}
			continue
		}
		entry[r.remoteApp] = goalStateStatus{Status: "joined", Since: goalTime(r.created)}
		for _, n := range r.remoteUnitNames() {
			entry[n] = goalStateStatus{Status: "active", Since: goalTime(r.created)}
		}
	}
	return writeOutput(tc, fs, gs)
}

func storageGet(tc *toolCall, fs *flagSet, args []string) error {
	id := fs.str("s")
	if id == "" && tc.hc.spec.storage != "" {
		id = tc.hc.spec.storage + "/" + strconv.Itoa(tc.u.number)
	}
	if id == "" {
		return usagef("no storage instance specified")
	}
	name, _, _ := strings.Cut(id, "/")
	var st *StorageMeta
	for i := range tc.m.meta.Storage {
		if tc.m.meta.Storage[i].Name == name {
			st = &tc.m.meta.Storage[i]
		}
	}
	if st == nil || id != name+"/"+strconv.Itoa(tc.u.number) {
		return fmt.Errorf("storage %q not found", id)
	}
	kind := st.Type
	if kind == "" {
		kind = "filesystem"
	}
	info := map[string]string{"kind": kind, "location": tc.u.storageDirs[name]}
	if len(args) > 0 {
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
		return writeOutput(tc, fs, info[args[0]])
	}
	return writeOutput(tc, fs, info)
}

func storageList(tc *toolCall, fs *flagSet, args []string) error {
	filter := ""
	if len(args) > 0 {
		filter = args[0]
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
	}
	out := []string{}
	for _, st := range tc.m.meta.Storage {
		if filter == "" || filter == st.Name {
			out = append(out, st.Name+"/"+strconv.Itoa(tc.u.number))
		}
	}
	return writeOutput(tc, fs, out)
}
