package sim

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
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
		"config-get":              {usage: "[<key>]", purpose: "Print application configuration.", flags: outFlags("smart", allFormats, flagDef{Names: []string{"a", "all"}, Kind: boolFlag, Def: "false"}), run: configGet},
		"is-leader":               {usage: "", purpose: "print application leadership status", flags: outFlags("smart", allFormats), run: isLeader},
		"status-set":              {usage: "<maintenance | blocked | waiting | active> [message]", purpose: "set status information", flags: staticFlags(flagDef{Names: []string{"application"}, Kind: boolFlag, Def: "false"}), run: statusSet},
		"status-get":              {usage: "[--include-data] [--application]", purpose: "Print status information.", flags: outFlags("smart", allFormats, flagDef{Names: []string{"include-data"}, Kind: boolFlag, Def: "false"}, flagDef{Names: []string{"application"}, Kind: boolFlag, Def: "false"}), run: statusGet},
		"application-version-set": {usage: "<new-version>", purpose: "specify which version of the application is deployed", flags: nil, run: applicationVersionSet},
		"juju-log":                {usage: "<message>", purpose: "write a message to the juju log", flags: staticFlags(flagDef{Names: []string{"debug"}, Kind: boolFlag, Def: "false"}, flagDef{Names: []string{"l", "log-level"}, Kind: stringFlag, Def: "INFO"}, flagDef{Names: []string{"format"}, Kind: stringFlag}), run: jujuLog},
		"network-get":             {usage: "<binding-name> [--ingress-address] [--bind-address] [--egress-subnets]", purpose: "get network config", flags: withRelation(outFlags("smart", allFormats, flagDef{Names: []string{"primary-address"}, Kind: boolFlag, Def: "false"}, flagDef{Names: []string{"bind-address"}, Kind: boolFlag, Def: "false"}, flagDef{Names: []string{"ingress-address"}, Kind: boolFlag, Def: "false"}, flagDef{Names: []string{"egress-subnets"}, Kind: boolFlag, Def: "false"})), run: networkGet},
		"open-port":               {usage: portFormat, purpose: "Register a request to open a port or port range.", flags: staticFlags(flagDef{Names: []string{"format"}, Kind: stringFlag}, flagDef{Names: []string{"endpoints"}, Kind: stringFlag}), run: portCmd(true)},
		"close-port":              {usage: portFormat, purpose: "Register a request to close a port or port range.", flags: staticFlags(flagDef{Names: []string{"format"}, Kind: stringFlag}, flagDef{Names: []string{"endpoints"}, Kind: stringFlag}), run: portCmd(false)},
		"opened-ports":            {usage: "", purpose: "List all ports or port ranges opened by the unit.", flags: outFlags("smart", allFormats, flagDef{Names: []string{"endpoints"}, Kind: boolFlag, Def: "false"}), run: openedPorts},
		"state-get":               {usage: "[<key>]", purpose: "print server-side-state value", flags: outFlags("smart", allFormats, flagDef{Names: []string{"strict"}, Kind: boolFlag, Def: "false"}), run: stateGet},
		"state-set":               {usage: "key=value [key=value ...]", purpose: "set server-side-state values", flags: staticFlags(fileFlag), run: stateSet},
		"state-delete":            {usage: "<key>", purpose: "delete server-side-state key value pairs", flags: nil, run: stateDelete},
		"goal-state":              {usage: "", purpose: "print the status of the charm's peers and related units", flags: outFlags("yaml", yamlFormats), run: goalState},
		"storage-get":             {usage: "[<key>]", purpose: "print information for the storage instance with the specified ID", flags: outFlags("smart", allFormats, flagDef{Names: []string{"s"}, Kind: stringFlag}), run: storageGet},
		"storage-list":            {usage: "[<storage-name>]", purpose: "list storage attached to the unit", flags: outFlags("smart", allFormats), run: storageList},
	}
	addActionTools(toolTable)
}

var fileFlag = flagDef{Names: []string{"file"}, Kind: stringFlag}

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
		defs = append(defs, flagDef{Names: []string{"r", "relation"}, Kind: stringFlag, Def: def, Check: func(v string) error {
			_, err := jujuc.ParseRelationID(tc.host(), v)
			return err
		}})
		return append(defs, extra...)
	}
}

func (tc *toolCall) isLeader() bool { return tc.m.leader == tc.u.name }

func configGet(tc *toolCall, fs *flagSet, args []string) error {
	key := ""
	if len(args) > 0 {
		key = args[0]
		if key != "" && fs.Bool("a") {
			return usagef("cannot use argument --all together with key %q", key)
		}
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
	}
	settings := tc.m.configLocked(true)
	if key == "" {
		if !fs.Bool("a") {
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
	app := fs.Bool("application")
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
	include := fs.Bool("include-data")
	smart := fs.Str("format") == "smart"
	if fs.Bool("application") {
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
	if fs.IsSet("format") {
		fmt.Fprintf(&tc.stderr, "--format flag deprecated for command %q", "juju-log")
	}
	level := "INFO"
	if fs.Bool("debug") {
		level = "DEBUG"
	} else if l, ok := logLevels[strings.ToUpper(fs.Str("l"))]; ok {
		level = l
	} else {
		tc.m.logf("%s: WARNING Specified log level of %q is not valid", tc.u.name, fs.Str("l"))
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
	// On Kubernetes the unit binds to its pod's address and is reached
	// through the application's service address (3.6
	// apiserver/facades/agent/uniter/networkinfocaas.go; 4.x
	// domain/network/service/unitinfo.go, which also fills hostname).
	addr, ingress := tc.u.address, tc.m.addrs.serviceAddress()
	cidr := fmt.Sprintf("127.%d.%d.0/24", tc.m.addrs.a, tc.m.addrs.b)
	bind := interfaceAddressDisplay{Address: addr, CIDR: cidr, AddressX: addr}
	if tc.m.mode().bindHostname {
		bind.Hostname = addr
	}
	display := networkInfoResultDisplay{
		Info: []networkInfoDisplay{{
			InterfaceName: "eth0", InterfaceNameX: "eth0",
			Addresses: []interfaceAddressDisplay{bind},
		}},
		EgressSubnets:    []string{ingress + "/32"},
		IngressAddresses: []string{ingress},
	}
	var keys []string
	for _, k := range []string{"bind-address", "ingress-address", "egress-subnets"} {
		if fs.Bool(k) {
			keys = append(keys, k)
		}
	}
	if fs.Bool("primary-address") {
		if len(keys) > 0 {
			return errors.New("--primary-address must be the only flag specified")
		}
		return writeOutput(tc, fs, addr)
	}
	if len(keys) == 0 {
		return writeOutput(tc, fs, display)
	}
	values := map[string]any{"bind-address": addr, "ingress-address": ingress, "egress-subnets": display.EgressSubnets}
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
			return &usageError{Msg: err.Error()}
		}
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
		if fs.IsSet("format") {
			fmt.Fprintf(&tc.stderr, "--format flag deprecated for command %q", tc.tool)
		}
		endpoints := []string{""}
		if e := fs.Str("endpoints"); e != "" {
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
		if !fs.Bool("endpoints") {
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
	if !ok && fs.Bool("strict") {
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
	if path := fs.Str("file"); path != "" {
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
	id := fs.Str("s")
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

// readInput reads --file: "-" is stdin, anything else a path relative to
// the tool's directory.
func (tc *toolCall) readInput(path string) ([]byte, error) {
	if path == "-" {
		return tc.stdin, nil
	}
	return os.ReadFile(tc.absPath(path))
}
