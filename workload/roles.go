package workload

// The worker roles of Synapse 1.160, as data. Adding a role is adding a
// row: topology places slots from this table, the renderer derives the
// shared configuration (instance_map, stream_writers, the *_instances and
// duty keys) and each worker's file from its columns, nginx builds its
// pools from the Serves and Streams columns, and each process's restart
// hash covers only the shared keys its rows say it reads.
//
// Checked against synapse/config/workers.py, synapse/config/repository.py
// and synapse/replication/tcp/handler.py of 1.160.0 (the pinned release):
//   - stream_writers keys: events, typing, to_device, account_data,
//     receipts, presence, push_rules, device_lists, thread_subscriptions,
//     quarantined_media_changes. typing, to_device, account_data, presence
//     and push_rules take exactly one writer; the others one or more.
//     Every writer must be in instance_map (checked for all ten in 1.160).
//   - the events writers also write backfill, sticky_events and
//     profile_updates.
//   - a process writes quarantined_media_changes only if it is listed
//     (storage/databases/main/room.py asserts it), and the quarantine
//     admin endpoints exist only where the media repository loads: so the
//     media worker is that stream's writer.
//   - duties: federation_sender_instances, pusher_instances (lists);
//     run_background_tasks_on, update_user_directory_from_worker,
//     notify_appservices_from_worker, media_instance_running_background_jobs
//     (one name each).
// Re-check on every upgrade.

// Role is one kind of Synapse process.
type Role string

// Roles, named as slot prefixes: a slot is "<role>-<n>", e.g. "generic-3".
// The names are stored in plans and, as worker_name, in Synapse's stream
// positions: never rename one.
const (
	RoleMain              Role = "main"
	RoleGeneric           Role = "generic"
	RoleFederationSend    Role = "federation-sender"
	RolePusher            Role = "pusher"
	RoleBackground        Role = "background"
	RoleUserDirectory     Role = "user-directory"
	RoleMedia             Role = "media"
	RoleEventPersister    Role = "event-persister"
	RoleAppservice        Role = "appservice"
	RoleSync              Role = "sync"
	RoleInitialSync       Role = "initial-sync"
	RoleFederationInbound Role = "federation-inbound"
	RoleEventCreator      Role = "event-creator"
	RoleTyping            Role = "typing"
	RoleToDevice          Role = "to-device"
	RoleAccountData       Role = "account-data"
	RoleReceipts          Role = "receipts"
	RolePresence          Role = "presence"
	RolePushRules         Role = "push-rules"
	RoleDeviceLists       Role = "device-lists"
	RoleThreadSubs        Role = "thread-subscriptions"
)

// Restart says which processes restart when the set of a role's holders
// changes (a slot added, removed or moved).
type Restart string

const (
	// RestartRouting: nobody; only nginx reloads its pools. Readers.
	RestartRouting Restart = "routing"
	// RestartMainAndHolders: the main and the role's processes, which read
	// the role's shared keys (workers.md: pushers, user directory,
	// appservices; background tasks, federation senders and media by the
	// same reading of synapse/config).
	RestartMainAndHolders Restart = "main-and-holders"
	// RestartAll: every process. Stream writers: every process tracks
	// each stream's writers (MultiWriterIdGenerator) and their
	// instance_map addresses, and Synapse reads them at startup only.
	RestartAll Restart = "all"
)

// RoleSpec is one row of the role table.
type RoleSpec struct {
	Role Role
	// Placement.
	//
	// Scalable roles get one slot per non-main unit; others get slots from
	// the preset and the per-role counts.
	Scalable bool
	// Single roles have at most one slot.
	Single bool
	// OnMainUnitWhileLocalMedia: the process reads the media store on the
	// main's volume, so it runs on the main's unit until S3 holds the
	// media (then it may move, at a restart that happens anyway).
	OnMainUnitWhileLocalMedia bool

	// Shared-config keys.
	//
	// Streams are the stream_writers keys the role writes. A writer gets
	// a replication listener and an instance_map entry.
	Streams []string
	// InstancesKey is the shared list of the role's holders (e.g.
	// federation_sender_instances); SingleKey the one-name key.
	InstancesKey string
	SingleKey    string
	// SharedWhenHeld are shared keys set while the role has a holder
	// (media: enable_media_repo false, so the main stops serving media).
	SharedWhenHeld map[string]any

	// Worker-config keys.
	//
	// LoadsMedia: the worker file sets enable_media_repo true; every other
	// worker's sets it false, so that only one process per cluster runs
	// the media repository's jobs (media retention deletes rows and files).
	LoadsMedia bool

	// Listener resources of the process's HTTP listener; "health" alone for
	// processes that serve no traffic, so Pebble can still probe them.
	Resources []string

	// Routes: the pools (routes.go) whose requests the role serves; stream
	// pools are made of the writers of Streams.
	Serves []Pool

	// Restart rule.
	//
	// Restart says who restarts when the holders change.
	Restart Restart
	// StopTogether roles change holders only with every old holder
	// stopped before any new one starts (Synapse's rule for federation
	// senders): the plan counts an epoch for them and units hold their
	// processes until every unit has stopped the old set.
	StopTogether bool
}

// Replication reports whether the role's processes are in instance_map
// with a replication listener: the stream writers.
func (s RoleSpec) Replication() bool { return len(s.Streams) > 0 }

// MediaKeys are the shared keys only the processes that load the media
// repository read: the main (while no media worker exists) and the media
// worker. A change of them (S3 integrated, its credentials rotated)
// restarts only those.
var MediaKeys = []string{"media_storage_providers", "media_store_path", "max_upload_size", "enable_media_repo", "media_instance_running_background_jobs", "media_retention", "url_preview_enabled"}

var clientOnly = []string{"client"}

// Roles is the role table, in placement order: when a unit's capacity runs
// out, the rows first in the table are placed first.
var Roles = []RoleSpec{
	{Role: RoleGeneric, Scalable: true, Resources: []string{"client", "federation"}, Restart: RestartRouting,
		Serves: []Pool{PoolGeneric}},
	{Role: RoleFederationSend, Resources: []string{"health"}, InstancesKey: "federation_sender_instances",
		Restart: RestartMainAndHolders, StopTogether: true},
	{Role: RolePusher, Resources: []string{"health"}, InstancesKey: "pusher_instances", Restart: RestartMainAndHolders},
	{Role: RoleMedia, Single: true, OnMainUnitWhileLocalMedia: true, Resources: []string{"client", "media"},
		Streams: []string{"quarantined_media_changes"}, SingleKey: "media_instance_running_background_jobs",
		SharedWhenHeld: map[string]any{"enable_media_repo": false}, LoadsMedia: true,
		Serves: []Pool{PoolMedia}, Restart: RestartAll},
	{Role: RoleBackground, Single: true, Resources: []string{"health"}, SingleKey: "run_background_tasks_on", Restart: RestartMainAndHolders},
	{Role: RoleUserDirectory, Single: true, Resources: clientOnly, SingleKey: "update_user_directory_from_worker", Restart: RestartMainAndHolders},
	{Role: RoleAppservice, Single: true, Resources: []string{"health"}, SingleKey: "notify_appservices_from_worker", Restart: RestartMainAndHolders},
	{Role: RoleEventPersister, Resources: []string{"health"}, Streams: []string{"events"}, Restart: RestartAll},
	{Role: RoleSync, Resources: clientOnly, Serves: []Pool{PoolSync}, Restart: RestartRouting},
	{Role: RoleInitialSync, Resources: clientOnly, Serves: []Pool{PoolInitialSync}, Restart: RestartRouting},
	{Role: RoleFederationInbound, Resources: []string{"federation"}, Serves: []Pool{PoolFederationInbound}, Restart: RestartRouting},
	{Role: RoleEventCreator, Resources: clientOnly, Serves: []Pool{PoolRoom}, Restart: RestartRouting},
	{Role: RoleTyping, Single: true, Resources: clientOnly, Streams: []string{"typing"}, Restart: RestartAll},
	{Role: RoleToDevice, Single: true, Resources: clientOnly, Streams: []string{"to_device"}, Restart: RestartAll},
	{Role: RoleAccountData, Single: true, Resources: clientOnly, Streams: []string{"account_data"}, Restart: RestartAll},
	{Role: RoleReceipts, Resources: clientOnly, Streams: []string{"receipts"}, Restart: RestartAll},
	{Role: RolePresence, Single: true, Resources: clientOnly, Streams: []string{"presence"}, Restart: RestartAll},
	{Role: RolePushRules, Single: true, Resources: clientOnly, Streams: []string{"push_rules"}, Restart: RestartAll},
	{Role: RoleDeviceLists, Resources: clientOnly, Streams: []string{"device_lists"}, Restart: RestartAll},
	// Its endpoints exist only with experimental_features.msc4306_enabled,
	// which the charm does not set: no preset runs it.
	{Role: RoleThreadSubs, Resources: clientOnly, Streams: []string{"thread_subscriptions"}, Restart: RestartAll},
}

// Spec returns the table row of a role.
func Spec(r Role) (RoleSpec, bool) {
	for _, s := range Roles {
		if s.Role == r {
			return s, true
		}
	}
	return RoleSpec{}, false
}
