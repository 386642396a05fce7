// Package juju is the Juju unit agent as a Go charm sees it: the Event that
// started this run of the charm (read from the environment) and Tools, a small
// typed client for the hook tools (relation-get, status-set, secret-add, ...).
//
// Every call goes through one Runner, so the same code runs the real tools in
// production (ExecRunner) and an in-memory model in tests (jujutest.Memory).
//
// Conventions, following how canonical/operator's ops.hookcmds calls the same
// tools:
//
//   - every read asks for --format=json;
//   - relation and state data go to the tool as JSON on stdin (--file -),
//     never as key=value arguments;
//   - secret contents never appear in argv: each value is written to a private
//     (0600) temporary file, passed as key#file=PATH and removed afterwards;
//   - free-text messages follow "--", so a message starting with "-" is safe;
//   - leader-get and leader-set are not offered (they are gone in Juju 4); use
//     the peer relation's application bag instead.
//
// Tool calls are the expensive part of a hook (each is a process start and a
// round trip to the unit agent), so the client offers whole-bag reads and
// writes and never reads or writes key by key.
package juju
