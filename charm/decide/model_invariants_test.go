package decide_test

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// The invariants, as their failure reports name them.
const (
	modelInvOneMain      = "exactly one main in the plan, and it is a live unit"
	modelInvMainSticky   = "the main never moves while its unit lives"
	modelInvSlotsStable  = "a slot keeps its name, unit and ports while its unit lives and the topology settings are unchanged"
	modelInvSigningKey   = "the signing key is never replaced once created"
	modelInvFilesFirst   = "every process has its configuration files before it starts"
	modelInvSynapseRules = "Synapse's rules hold in every homeserver.yaml"
	modelInvWorkerAfter  = "a worker starts only once the main reports it runs the plan, on the same Synapse version"
	modelInvSameShared   = "instance_map and stream_writers are identical on every running process"
	modelInvStatus       = "at quiescence every unit is active, waiting for something named, or blocked naming a juju command"
	modelInvBounded      = "every step quiesces within a bounded number of hooks"
	modelInvRestart      = "a process restarts only when its own inputs changed"
	modelInvDataHome     = "no process is started on a unit whose data it needs lives elsewhere"
	modelInvPlanRepair   = "a plan another revision left is rebuilt, or (only when newer) blocks naming a juju command"
	modelInvConfigFix    = "an invalid configuration blocks naming the juju config command that fixes it"
	modelInvRelationFix  = "a malformed provider relation blocks naming a juju command that fixes it"
	modelInvDeparting    = "a departing unit never publishes a plan and never starts a process"
	modelInvLeftDropped  = "no published plan names a unit that has left (once the leader has run a hook after it left)"
	modelInvScaleQuiet   = "without a topology change or a planned restart, no slot whose role restarts others is added"
	modelInvImageBlocks  = "a unit whose image lacks what a feature in use needs is blocked naming it (or held, as with the full image, by a step before the image)"
	modelInvImageHolds   = "while a unit's image lacks what a feature in use needs, its hooks push no file and start, stop or restart nothing"
	modelInvImageLifts   = "at quiescence no unit whose image has every need the charm has is blocked for the image"
	modelInvImageNotes   = "at quiescence an active unit whose image lacks only what the charm can do without says so in its status"
)

// modelExpectedToFail are the invariants today's code breaks, with the
// issue that fixes them. Their violations do not fail the main test.
var modelExpectedToFail = map[string]string{}

// modelUnusablePlan starts the status of a unit that cannot read the plan.
const modelUnusablePlan = "the cluster plan in the peer relation is unusable"

// modelViolation is one broken invariant and the hook it broke in.
type modelViolation struct {
	invariant, hook, detail string
}

func (v modelViolation) String() string {
	return fmt.Sprintf("%s\n  broken in: %s\n  %s", v.invariant, v.hook, v.detail)
}

// modelChecker checks the invariants as the model runs, remembering what
// they need from the past (the first signing key, the last plan, where
// the SQLite database and local media were first written).
type modelChecker struct {
	w          *modelWorld
	found      []modelViolation
	hook       string
	signingKey string
	planRaw    string
	plan       *topology.Plan
	sqliteHome string
	mediaHome  string
	// checked caches the homeserver.yaml contents already checked.
	checked map[string]bool
	// checks counts invariant evaluations, for the figures.
	checks int
	// left holds the units that are leaving or gone: true once a leader
	// that stays has run a hook since.
	left map[string]bool
	// imageGaps are, in the current hook, the needs of a feature in use
	// that the unit's image lacks; imageRef is then the status the hook
	// would have with the full image.
	imageGaps []workload.ImageNeed
	imageRef  decide.Item
}

func newModelChecker(w *modelWorld) *modelChecker {
	return &modelChecker{w: w, checked: map[string]bool{}, left: map[string]bool{}}
}

// unitLeaves records that a unit's removal started.
func (c *modelChecker) unitLeaves(unit string) { c.left[unit] = false }

// leaderKnows reports whether a leader that stays has run a hook since
// unit left (true for a unit that never left).
func (c *modelChecker) leaderKnows(unit string) bool {
	seen, left := c.left[unit]
	return !left || seen
}

// leftDropped checks, after a hook of a leader that stays, that the plan
// names no unit that left before it.
func (c *modelChecker) leftDropped(u *modelUnit) {
	if c.w.leader != u.name || u.dying {
		return
	}
	for unit := range c.left {
		c.left[unit] = true
	}
	// A blocked leader freezes the plan on purpose; its status names the
	// fix (the status invariant). So does one waiting before the plan
	// step (for the database's credentials again, say).
	if c.plan == nil || u.status.Level == decide.Blocked || u.status.Level == decide.Waiting && u.status.Rank < decide.RankPlan {
		return
	}
	named := []string{c.plan.Main}
	for _, p := range c.plan.Processes {
		named = append(named, p.Unit)
	}
	for _, unit := range named {
		if _, left := c.left[unit]; left {
			c.fail(modelInvLeftDropped, "after %s's hook plan %d still names %s, which left (goal-state: %q)", u.name, c.plan.Generation, unit, c.w.goal()[unit])
			return
		}
	}
}

func (c *modelChecker) fail(invariant, format string, args ...any) {
	for _, v := range c.found {
		if v.invariant == invariant {
			return
		}
	}
	c.found = append(c.found, modelViolation{invariant: invariant, hook: c.hook, detail: fmt.Sprintf(format, args...)})
}

// hard returns the first violation of an invariant expected to hold.
func (c *modelChecker) hard() *modelViolation {
	for i, v := range c.found {
		if modelExpectedToFail[v.invariant] == "" {
			return &c.found[i]
		}
	}
	return nil
}

// decided checks a decision before it is executed.
func (c *modelChecker) decided(u *modelUnit, h modelHook, s decide.Snapshot, d decide.Decision) {
	c.hook = u.name + " " + h.String()
	c.checks++
	if u.dying && s.Peer != nil && d.Write(s.Peer.ID, true)[decide.PlanKey] != "" {
		c.fail(modelInvDeparting, "%s, leaving, publishes a plan: %s", u.name, d.Write(s.Peer.ID, true)[decide.PlanKey])
	}
	c.imageGaps, c.imageRef = modelImageGaps(u.image, s, d), decide.Item{}
	if len(c.imageGaps) > 0 {
		full := s
		full.Image.Report, full.Image.NoSynapseUser = modelImage(""), false
		ref := decide.Decide(full)
		if c.w.mutant != nil && c.w.mutant.decision != nil {
			ref = c.w.mutant.decision(full, ref)
		}
		c.imageRef = ref.Status()
	}
	if d.CreateSecret != nil {
		if id := c.w.secretByLabel(decide.SecretLabel); id != "" {
			c.fail(modelInvSigningKey, "%s creates a second application secret with a new signing key while %s (label %s) exists", u.name, id, decide.SecretLabel)
		}
	}
}

// worldChanged records a change made outside any hook (a peer bag left by
// another revision): it is not the charm's doing.
func (c *modelChecker) worldChanged() {
	c.planRaw = c.w.peerApp[decide.PlanKey]
	c.plan, _ = topology.Decode(c.planRaw)
}

// afterHook checks what a committed hook left.
func (c *modelChecker) afterHook(u *modelUnit, h modelHook) {
	c.checks++
	w := c.w
	if id := w.peerApp[decide.SecretIDKey]; id != "" && w.secrets[id] != nil {
		key := w.secrets[id].content["signing-key"]
		switch {
		case c.signingKey == "":
			c.signingKey = key
		case key != c.signingKey:
			c.fail(modelInvSigningKey, "the peer bag names %s whose signing key %.20s... replaced %.20s...", id, key, c.signingKey)
		}
	}
	if raw := w.peerApp[decide.PlanKey]; raw != c.planRaw {
		c.planChanged(raw)
	}
	c.leftDropped(u)
	if len(c.imageGaps) > 0 {
		need, st := c.imageGaps[0], u.status
		named := st.Level == decide.Blocked && strings.Contains(st.Message, need.String())
		if !named && (st != c.imageRef || st.Level == decide.Active) {
			c.fail(modelInvImageBlocks, "%s's image lacks %s (%s in use), and its status is %s: %q (with the full image: %s: %q)",
				u.name, need, need.Feature, st.Level, st.Message, c.imageRef.Level, c.imageRef.Message)
		}
	}
	if hs := u.synapse.files[workload.HomeserverPath]; hs != nil && !c.checked[string(hs)] {
		c.checked[string(hs)] = true
		if err := modelSynapseRules(hs); err != nil {
			c.fail(modelInvSynapseRules, "%s renders a homeserver.yaml that breaks them: %v", u.name, err)
		}
	}
}

// imageHeld checks, after the containers' apply, a hook whose image
// lacks a need in use: nothing changed.
func (c *modelChecker) imageHeld(u *modelUnit, before []modelContainer) {
	for i, ct := range []*modelContainer{u.synapse, u.nginx} {
		if what := ct.changedSince(before[i]); what != "" {
			c.fail(modelInvImageHolds, "%s's image lacks %s (%s in use), yet in its %s container: %s",
				u.name, c.imageGaps[0], c.imageGaps[0].Feature, []string{workload.SynapseContainer, workload.NginxContainer}[i], what)
			return
		}
	}
}

// modelImageGaps are the needs, of the features this hook uses, that img
// lacks and the charm cannot do without. A feature is in use as image.go
// has it: always; an integration once its data is ready for this unit
// (the database once the peer bag marks it ready, after this hook's
// writes). Nothing is known of a unit whose Pebble does not answer.
func modelImageGaps(img workload.ImageReport, s decide.Snapshot, d decide.Decision) []workload.ImageNeed {
	if !s.Synapse.Reachable || s.Peer == nil || len(img.Missing) == 0 {
		return nil
	}
	use := []workload.Feature{workload.FeatureAlways}
	if r := s.Database; r != nil && !r.Pending {
		if db, err := relations.ParseDatabase(r.App, r.Secret, modelApp); err == nil {
			ready, written := d.Write(s.Peer.ID, true)[decide.DatabaseReadyKey]
			if !written {
				ready = s.Peer.App[decide.DatabaseReadyKey]
			}
			if ready == db.Name+"@"+db.Host {
				use = append(use, workload.FeatureDatabase)
			}
		}
	}
	if r := s.Redis; r != nil && !r.Pending {
		if _, err := relations.ParseRedis(r.App, r.Units); err == nil {
			use = append(use, workload.FeatureRedis)
		}
	}
	if r := s.Media; r != nil && !r.Pending {
		if _, err := relations.ParseS3(r.App, r.Secret); err == nil {
			use = append(use, workload.FeatureMedia)
		}
	}
	var gaps []workload.ImageNeed
	for _, f := range use {
		for _, n := range workload.ImageNeeds(f) {
			if !n.Informs && img.Lacks(n.Name) {
				gaps = append(gaps, n)
			}
		}
	}
	return gaps
}

// planChanged checks a plan the leader published against the last one.
func (c *modelChecker) planChanged(raw string) {
	next, err := topology.Decode(raw)
	c.planRaw = raw
	if err != nil {
		c.fail(modelInvOneMain, "the leader published a plan that does not validate: %v", err)
		c.plan = nil
		return
	}
	prev := c.plan
	c.plan = next
	if prev == nil {
		return
	}
	if next.Main != prev.Main && c.w.isLive(prev.Main) {
		c.fail(modelInvMainSticky, "plan %d moves the main from %s (alive) to %s", next.Generation, prev.Main, next.Main)
	}
	if next.Main != prev.Main || next.Settings != prev.Settings || prev.Settings == "" ||
		(prev.RestartToken != "" && next.RestartToken != prev.RestartToken) {
		// The operator changed the topology, or every process restarts
		// anyway (a planned restart): slots may move then.
		return
	}
	if len(prev.Processes) > 1 {
		for _, p := range next.Processes {
			spec, _ := workload.Spec(p.Role)
			if p.Role == workload.RoleMain || spec.Restart == workload.RestartRouting ||
				slices.ContainsFunc(prev.Processes, func(q topology.Process) bool { return q.Name == p.Name }) {
				continue
			}
			c.fail(modelInvScaleQuiet, "plan %d adds %s (%s restarts %s) with the same settings %s and no planned restart",
				next.Generation, p.Name, p.Role, spec.Restart, next.Settings)
		}
	}
	for _, p := range prev.Processes {
		if !c.w.isLive(p.Unit) {
			continue
		}
		if spec, _ := workload.Spec(p.Role); spec.Restart == workload.RestartRouting &&
			!slices.ContainsFunc(next.Processes, func(q topology.Process) bool { return q.Name == p.Name }) {
			// A reader the preset no longer asks for at this size leaves:
			// only routing changes.
			continue
		}
		if spec, _ := workload.Spec(p.Role); spec.OnMainUnitWhileLocalMedia && !c.w.mediaInS3() && p.Unit != next.Main &&
			!slices.ContainsFunc(next.Processes, func(q topology.Process) bool { return q.Name == p.Name && q.Unit != next.Main }) {
			// S3 removed: the media is local again, so its worker leaves
			// for the main's unit at once, or (no room there) the main
			// serves media itself (topology's hosts).
			continue
		}
		if !slices.Contains(next.Processes, p) {
			c.fail(modelInvSlotsStable, "plan %d drops or moves %s (%s, index %d) with the same settings %s: %v", next.Generation, p.Name, p.Unit, p.Index, next.Settings, next.Processes)
		}
	}
}

// mediaInS3 is false once S3 for media is not integrated or is being
// removed.
func (w *modelWorld) mediaInS3() bool {
	r := w.rels[decide.MediaEndpoint]
	return r != nil && !r.removing
}

// started checks a synapse service the moment Pebble (re)starts it.
func (c *modelChecker) started(u *modelUnit, s decide.Snapshot, planRaw string, want workload.Container, st modelStart) {
	c.checks++
	if u.dying {
		c.fail(modelInvDeparting, "%s, leaving, starts %s", u.name, st.service)
	}
	if st.restart && st.hadBefore && reflect.DeepEqual(modelComparable(st.before), modelComparable(st.definition)) {
		c.fail(modelInvRestart, "%s restarts %s although neither its files nor its definition changed", u.name, st.service)
	}
	c.checkFiles(u, want, st)
	name := strings.TrimPrefix(st.service, workload.MainService+"-")
	if st.service == workload.MainService {
		c.mainStarted(u)
		return
	}
	plan, err := topology.Decode(planRaw)
	if err != nil || plan.Main == u.name {
		// A worker beside the main starts with it, in the same hook.
		return
	}
	main := c.w.units[plan.Main]
	if main == nil {
		c.fail(modelInvWorkerAfter, "%s starts worker %s while the main's unit %s is gone", u.name, name, plan.Main)
		return
	}
	r, _ := relations.ParseUnitReport(main.bag)
	if r.AppliedGeneration < plan.Generation || !r.Ready || r.SynapseVersion != s.Image.SynapseVersion {
		c.fail(modelInvWorkerAfter, "%s starts worker %s of plan %d on Synapse %s while main %s reports applied=%d ready=%t version=%q",
			u.name, name, plan.Generation, s.Image.SynapseVersion, plan.Main, r.AppliedGeneration, r.Ready, r.SynapseVersion)
	}
}

// checkFiles: every file the service reads is in place, and the hash in
// its definition is the hash of those files.
func (c *modelChecker) checkFiles(u *modelUnit, want workload.Container, st modelStart) {
	own := ""
	if st.service != workload.MainService {
		own = workload.WorkerConfigPath(strings.TrimPrefix(st.service, workload.MainService+"-"))
	}
	var reads []workload.File
	for _, f := range want.Files {
		if strings.HasPrefix(f.Path, workload.DataDir+"/workers/") && f.Path != own {
			continue
		}
		have, ok := u.synapse.files[f.Path]
		if !ok || !bytes.Equal(have, f.Content) {
			c.fail(modelInvFilesFirst, "%s starts %s before %s is in place", u.name, st.service, f.Path)
			return
		}
		reads = append(reads, workload.File{Path: f.Path, Content: have})
	}
	if own != "" && u.synapse.files[own] == nil {
		c.fail(modelInvFilesFirst, "%s starts %s without its worker file %s", u.name, st.service, own)
		return
	}
	name := string(workload.RoleMain)
	if st.service != workload.MainService {
		name = strings.TrimPrefix(st.service, workload.MainService+"-")
	}
	hash, err := workload.ProcessConfigHash(reads, name)
	if err != nil {
		c.fail(modelInvFilesFirst, "%s starts %s: %v", u.name, st.service, err)
		return
	}
	if got := st.definition.Environment["SYNAPSE_CHARM_CONFIG_HASH"]; got != hash {
		c.fail(modelInvFilesFirst, "%s starts %s defined for files %s, but the files in place hash to %s", u.name, st.service, got, hash)
	}
}

// mainStarted records where the homeserver's local data is created, and
// checks that a main never starts away from it.
func (c *modelChecker) mainStarted(u *modelUnit) {
	doc := map[string]any{}
	if err := yaml.Unmarshal(u.synapse.files[workload.HomeserverPath], &doc); err != nil {
		return
	}
	if db, _ := doc["database"].(map[string]any); db["name"] == "sqlite3" {
		switch c.sqliteHome {
		case "":
			c.sqliteHome = u.name
		case u.name:
		default:
			c.fail(modelInvDataHome, "%s starts a main on an empty SQLite database: the homeserver's database is on %s's volume", u.name, c.sqliteHome)
		}
	}
	if doc["media_storage_providers"] == nil && c.mediaHome == "" {
		c.mediaHome = u.name
	}
}

// quiescent checks the application once no hook is queued.
func (c *modelChecker) quiescent() {
	c.checks++
	c.hook = "quiescence"
	w := c.w
	// A blocked leader freezes the plan on purpose (an invalid config, a
	// server_name change): its status must then name the fix, which the
	// status invariant checks; the plan is checked once it is unblocked.
	if leader := w.units[w.leader]; leader != nil && leader.status.Level != decide.Blocked && c.plan != nil && !w.isLive(c.plan.Main) && c.leaderKnows(c.plan.Main) {
		c.fail(modelInvOneMain, "plan %d names main %s, which is gone", c.plan.Generation, c.plan.Main)
	}
	var first, firstUnit string
	for _, u := range w.liveUnits() {
		if !u.statusSet || !modelStatusNamesFix(u.status) {
			c.fail(modelStatusInvariant(u.status.Message), "%s is %s: %q", u.name, u.status.Level, u.status.Message)
		}
		c.imageQuiescent(u)
		running := false
		for svc, on := range u.synapse.active {
			running = running || on && strings.HasPrefix(svc, workload.MainService)
		}
		if !running {
			continue
		}
		shared, err := modelSharedConfig(u.synapse.files[workload.HomeserverPath])
		if err != nil {
			c.fail(modelInvSynapseRules, "%s runs Synapse on an unreadable homeserver.yaml: %v", u.name, err)
			continue
		}
		if firstUnit == "" {
			first, firstUnit = shared, u.name
		} else if shared != first {
			c.fail(modelInvSameShared, "%s runs with\n%s\nbut %s with\n%s", firstUnit, first, u.name, shared)
		}
		if c.plan != nil && c.plan.Main == u.name && u.synapse.active[workload.MainService] && c.mediaHome != "" && c.mediaHome != u.name {
			hs := u.synapse.files[workload.HomeserverPath]
			// A blocked status leads with the fix the operator must make
			// first; every other status carries the warning.
			if !bytes.Contains(hs, []byte("media_storage_providers")) && u.status.Level != decide.Blocked && !strings.Contains(u.status.Message, "media") {
				c.fail(modelInvDataHome, "%s serves local media while the media uploaded before lives on %s's volume, and its status does not say so: %q", u.name, c.mediaHome, u.status.Message)
			}
		}
	}
	if c.signingKey != "" {
		for _, u := range w.liveUnits() {
			if key := u.synapse.files[workload.SigningKeyPath]; key != nil && string(key) != c.signingKey+"\n" {
				c.fail(modelInvSigningKey, "%s holds signing key %.20s..., not the application's", u.name, key)
			}
		}
	}
}

// imageQuiescent checks a settled unit against the image it runs: a
// block for the image lifts once the image has every need, and what the
// charm can do without is noted.
func (c *modelChecker) imageQuiescent(u *modelUnit) {
	var informs []workload.ImageNeed
	for _, m := range u.image.Missing {
		n := modelNeed(m)
		if !n.Informs {
			return
		}
		informs = append(informs, n)
	}
	st := u.status
	if st.Level == decide.Blocked && st.Rank == decide.RankImage {
		c.fail(modelInvImageLifts, "%s runs image %s (lacking %v) and is blocked: %q", u.name, u.image.Fingerprint, u.image.Missing, st.Message)
	}
	if st.Level != decide.Active || strings.HasSuffix(st.Message, "...") {
		return
	}
	for _, n := range informs {
		if !strings.Contains(st.Message, n.Name) {
			c.fail(modelInvImageNotes, "%s runs an image lacking %s, and its active status does not say so: %q", u.name, n, st.Message)
		}
	}
}

// modelStatusInvariant splits the status invariant by what the status is
// about, so that the holes already known fail apart from the others.
func modelStatusInvariant(message string) string {
	switch {
	case strings.HasPrefix(message, modelUnusablePlan):
		return modelInvPlanRepair
	case strings.HasPrefix(message, "invalid configuration:"):
		return modelInvConfigFix
	case strings.Contains(message, " is malformed: "):
		return modelInvRelationFix
	}
	return modelInvStatus
}

// modelStatusNamesFix: blocked names a juju command, waiting names what
// it waits for, nothing stays in maintenance.
func modelStatusNamesFix(it decide.Item) bool {
	switch it.Level {
	case decide.Active:
		return true
	case decide.Blocked:
		return strings.Contains(it.Message, "juju ")
	case decide.Waiting:
		return it.Message != ""
	}
	return false
}

// modelComparable is a service definition as Pebble compares them.
func modelComparable(s workload.Service) workload.Service {
	s.Override = ""
	if len(s.Environment) == 0 {
		s.Environment = nil
	}
	return s
}

// modelSharedConfig is what every process must agree on.
func modelSharedConfig(hs []byte) (string, error) {
	doc := map[string]any{}
	if err := yaml.Unmarshal(hs, &doc); err != nil {
		return "", err
	}
	out, err := yaml.Marshal(map[string]any{"instance_map": doc["instance_map"], "stream_writers": doc["stream_writers"]})
	return string(out), err
}

// modelSynapseRules checks the worker rules of Synapse 1.160 on one
// rendered homeserver.yaml.
func modelSynapseRules(hs []byte) error {
	doc := map[string]any{}
	if err := yaml.Unmarshal(hs, &doc); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	instances, _ := doc["instance_map"].(map[string]any)
	workers := len(instances) > 0
	streams, _ := doc["stream_writers"].(map[string]any)
	for stream, v := range streams {
		writers, _ := v.([]any)
		if len(writers) == 0 {
			return fmt.Errorf("stream_writers.%s is empty", stream)
		}
		// synapse/config/workers.py of 1.160: these take exactly one writer.
		if len(writers) > 1 && slices.Contains([]string{"typing", "to_device", "account_data", "presence", "push_rules"}, stream) {
			return fmt.Errorf("stream %s takes one writer, got %v", stream, writers)
		}
		for _, name := range writers {
			if _, ok := instances[fmt.Sprint(name)]; !ok {
				return fmt.Errorf("stream writer %v of %s is not in instance_map", name, stream)
			}
		}
	}
	for _, key := range []string{"federation_sender_instances", "pusher_instances"} {
		if v, ok := doc[key]; ok {
			workers = true
			if list, _ := v.([]any); len(list) == 0 {
				return fmt.Errorf("%s is an empty list", key)
			}
		}
	}
	for _, key := range []string{"run_background_tasks_on", "update_user_directory_from_worker", "notify_appservices_from_worker", "media_instance_running_background_jobs"} {
		if v, ok := doc[key]; ok {
			workers = true
			if s, _ := v.(string); s == "" {
				return fmt.Errorf("%s must name one instance, got %v", key, v)
			}
		}
	}
	if doc["enable_media_repo"] == false && doc["media_instance_running_background_jobs"] == nil {
		return fmt.Errorf("enable_media_repo is false but no media worker runs the background jobs")
	}
	if !workers {
		return nil
	}
	if _, ok := instances["main"]; !ok {
		return fmt.Errorf("instance_map has no main")
	}
	if db, _ := doc["database"].(map[string]any); db["name"] != "psycopg2" {
		return fmt.Errorf("workers need PostgreSQL, the database is %v", db["name"])
	}
	if redis, _ := doc["redis"].(map[string]any); redis["enabled"] != true {
		return fmt.Errorf("workers need Redis")
	}
	return nil
}
