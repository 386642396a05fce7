// Package workload renders everything the Synapse and nginx containers run
// (homeserver.yaml, the log config, secret files, Pebble layers) as pure
// functions of their inputs, and applies the result through a Pebble client:
// it pushes only files whose content changed and lets Pebble restart only
// the services whose definition (including a hash of the files they read)
// changed.
package workload
