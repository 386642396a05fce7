package workload

// The worker roles of Synapse 1.160, as data. Adding a role is adding a
// row; topology places slots from this table and the renderer derives the
// shared configuration (instance_map, stream_writers and the *_instances
// keys) from it. Checked against synapse/config/workers.py of the pinned
// Synapse version; re-check on every upgrade.

// Role is one kind of Synapse process.
type Role string

// Roles, named as slot prefixes: a slot is "<role>-<n>", e.g. "generic-3".
const (
	RoleMain           Role = "main"
	RoleGeneric        Role = "generic"
	RoleFederationSend Role = "federation-sender"
	RolePusher         Role = "pusher"
	RoleBackground     Role = "background"
	RoleUserDirectory  Role = "user-directory"
	RoleMedia          Role = "media"
	RoleEventPersister Role = "event-persister"
)

// RoleSpec is one row of the role table.
type RoleSpec struct {
	Role Role
	// Scalable roles get one slot per non-main unit; others get slots from
	// counts in the configuration.
	Scalable bool
	// Single roles have at most one slot.
	Single bool
	// Resources of the process's HTTP listener; "health" alone for
	// processes that serve no traffic, so Pebble can still probe them.
	Resources []string
	// Replication is true when the process is in instance_map and needs a
	// replication listener (stream writers).
	Replication bool
	// Stream is the stream_writers key the role writes, if any.
	Stream string
	// InstancesKey is the shared-config list of instances holding the role
	// (e.g. federation_sender_instances); SingleKey the one-name key.
	InstancesKey string
	SingleKey    string
	// StopTogether roles change holders only with every old holder
	// stopped before any new one starts (Synapse's rule for federation
	// senders): the plan counts an epoch for them and units hold their
	// processes until every unit has stopped the old set. Other holder
	// changes need no ordering: the shared configuration changes, and
	// with it the hash in every process's environment, so each process
	// that reads it restarts (main and pushers for pushers, every process
	// for event persisters).
	StopTogether bool
}

// Roles is the role table, in placement order.
var Roles = []RoleSpec{
	{Role: RoleGeneric, Scalable: true, Resources: []string{"client", "federation"}},
	{Role: RoleFederationSend, Resources: []string{"health"}, InstancesKey: "federation_sender_instances", StopTogether: true},
	{Role: RolePusher, Resources: []string{"health"}, InstancesKey: "pusher_instances"},
	{Role: RoleBackground, Single: true, Resources: []string{"health"}, SingleKey: "run_background_tasks_on"},
	{Role: RoleUserDirectory, Single: true, Resources: []string{"client"}, SingleKey: "update_user_directory_from_worker"},
	{Role: RoleMedia, Single: true, Resources: []string{"media"}, SingleKey: "media_instance_running_background_jobs"},
	{Role: RoleEventPersister, Resources: []string{"health"}, Replication: true, Stream: "events"},
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
