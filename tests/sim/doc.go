// Package sim is a Juju unit-agent simulator: it runs a charm binary as the
// dispatch of a simulated Kubernetes (sidecar) application, the way the
// Juju 3.6 unit agent does (or, with Options.Juju = Juju40, Juju 4.0's;
// mode.go), so that the charm can be tested end to end without Juju or
// Kubernetes.
//
// A Model holds one application (the charm under test), its units, its
// config, its relations with their application and unit databags, secrets
// (owners, revisions, grants, consumer labels and tracked revisions),
// statuses, opened ports, charm state and workload version; and simulated
// remote applications (PostgreSQL, Redis and S3 providers that behave like
// postgresql-k8s, redis-k8s and s3-integrator, pointing at real servers).
//
// For every hook it runs the charm with exactly the environment Juju gives
// (JUJU_DISPATCH_PATH, JUJU_UNIT_NAME, JUJU_RELATION_ID, ...), in a charm
// directory of its own per unit, in a mount namespace where the unit's
// containers directory is bound on /charm/containers, so that container
// X's Pebble socket is at /charm/containers/X/pebble.socket as in
// production (test charms may read SYNAPSE_CHARM_CONTAINERS_DIR, the
// charm reads no simulator-only variable). The hook tools are real executables
// first on the hook's PATH: one multicall binary (cmd/hooktool) that asks
// the simulator over a unix socket. They parse Juju's flags, print Juju's
// JSON, fail like Juju, and buffer their writes until the hook exits 0;
// status-set, application-version-set and juju-log act at once.
//
// Hooks fire in Juju's order for each operation (Deploy, AddUnit, Scale,
// RemoveUnit, DeletePod, Refresh, SetLeader, ConfigSet, Integrate,
// RemoveRelation, RestartContainer, UpdateStatus, SecretChanged, RunAction)
// and run, one at
// a time, in WaitIdle. A failing hook puts its unit in error, is retried
// with backoff, and leaves the model unchanged.
//
// Each unit has a loopback address 127.A.B.(N+1) (the application's
// service address is 127.A.B.254) and the stable DNS names
// Kubernetes gives its pod; one hosts file maps them all, for the
// containers to bind-mount at /etc/hosts. The containers themselves come
// from a Workload: NoWorkload (nothing runs) or BedWorkload (real Pebble
// daemons in their own roots, from tests/bed).
//
// Everything the charm does through the simulator is kept by the Recorder:
// every tool argv, juju-log line, databag write and status message, and
// counters of hooks and tool calls per unit. The jujusim command
// (cmd/jujusim) runs scenarios from YAML; see README.md.
package sim
