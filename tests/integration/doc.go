// Package integration deploys the synapse charm on a real Juju controller
// on Kubernetes and checks, step by step, what an operator would check:
// statuses and their messages, the process roles in the cluster plan, and
// Matrix traffic through every unit's nginx. It is its own Go module, so
// that github.com/juju/juju (125 modules in the build) stays out of the
// charm's build. The tests skip unless JUJU_CONTROLLER is set; see README.md.
package integration
