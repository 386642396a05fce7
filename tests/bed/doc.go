// Package bed is the project's test bed: the real components a Synapse charm
// talks to, run as ordinary processes on this machine's loopback network.
//
// Nothing here fakes a protocol. PostgreSQL 15 and Redis 7 are the host's
// Debian packages, each in a private instance on a free port; S3 is gofakes3
// served over real HTTP; every simulated workload container is a real Pebble
// daemon, PID 1 of its own PID and mount namespace, in an overlay root whose
// lower layers are the bed layer (Pebble, nginx, TEST-ONLY stand-ins) over
// the Synapse workload image operators deploy, image/build.sh's OCI archive
// unpacked (see Image).
//
// Every Start function returns a handle whose Stop stops the component and
// waits for it; tests should register Stop with t.Cleanup right after a
// successful Start, so that teardown runs in reverse order: containers first,
// then S3, Redis and PostgreSQL.
//
// Most of it needs root (namespaces, mounts, chroot, switching to the
// postgres user). Tests call RequireRoot to skip with a clear message
// elsewhere.
package bed
