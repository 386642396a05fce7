// Package charm is the synapse charm's one holistic reconcile. Every hook
// runs the same pipeline: observe everything once into a Snapshot, decide,
// render the desired workload, apply the difference through Pebble, and
// report a status that says what the unit is and what it waits for.
// Handlers do not call each other and keep no state between hooks beyond
// what Juju stores.
package charm
