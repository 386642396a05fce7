// Package lazyre compiles a regular expression on first use, not at
// program start: every hook starts the charm's binary afresh, and most
// hooks never match most expressions.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, when first called, and
// panics then if expr is invalid (as regexp.MustCompile does at start).
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
