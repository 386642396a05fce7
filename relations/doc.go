// Package relations holds the wire contracts of the charm's relations, one
// file per interface, as pure functions: parse what a provider wrote into
// typed values (with errors an operator can act on) and produce what our
// side writes. Only package charm talks to the hook tools.
package relations
