package workload

import (
	"strings"
	"testing"
)

// FuzzParseAppService: a registration is outside input (a bridge charm
// publishes it). Parsing never panics; what it accepts carries the id and
// as_token it was given and renders content that parses again to the same.
func FuzzParseAppService(f *testing.F) {
	f.Add([]byte("id: irc\nurl: http://irc:8090\nas_token: a\nhs_token: h\nsender_localpart: irc_bot\nnamespaces:\n  users:\n  - regex: '@irc_.*'\n    exclusive: true\n"))
	f.Add([]byte("id: x\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: b\nnamespaces: {rooms: [{regex: '(', exclusive: false}]}\n"))
	f.Add([]byte("{id: x, url: ~, as_token: a, hs_token: h, sender_localpart: b, namespaces: {1: [x]}, rate_limited: yes, protocols: [1]}"))
	f.Add([]byte("- a\n- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := ParseAppService("fuzz-1", data)
		if err != nil {
			return
		}
		if as.ID == "" && !strings.Contains(string(data), "id") {
			t.Fatalf("accepted a registration without an id: %q", data)
		}
		again, err := ParseAppService("fuzz-1", as.Content)
		if err != nil {
			t.Fatalf("the rendered registration does not parse again: %v\n%s", err, as.Content)
		}
		if again.ID != as.ID || again.ASToken != as.ASToken {
			t.Fatalf("id or as_token changed in rendering: %q/%q vs %q/%q", as.ID, as.ASToken, again.ID, again.ASToken)
		}
	})
}
