package decide_test

import (
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
)

// FuzzParseDataHome: the data-home record comes from the peer bag, which
// another revision (or a hand-edited relation) may have written. It parses
// or says why not, and what it accepts encodes back to itself.
func FuzzParseDataHome(f *testing.F) {
	for _, seed := range []string{
		"",
		`{"database":"sqlite","media":"local","volume":"v1","unit":"synapse/0"}`,
		`{"database":"postgresql","postgres":"synapse@db","media":"s3","bucket":"b"}`,
		`{"database":"postgresql","media":"local"}`,
		`{"database":"mysql","media":"local","unit":"synapse/0"}`,
		`{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := decide.ParseDataHome(map[string]string{decide.DataHomeKey: raw})
		if err != nil || h == nil {
			return
		}
		if h.Local() && h.Unit == "" {
			t.Fatalf("accepted local state without a unit: %q", raw)
		}
		again, err := decide.ParseDataHome(map[string]string{decide.DataHomeKey: h.Encode()})
		if err != nil || again == nil || *again != *h {
			t.Fatalf("%q: re-encoded record %q does not parse back: %v", raw, h.Encode(), err)
		}
	})
}
