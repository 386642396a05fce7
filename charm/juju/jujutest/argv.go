package jujutest

import (
	"fmt"
	"strings"
)

// flagKind says whether a flag takes a value.
type flagKind uint8

const (
	boolFlag flagKind = iota + 1
	valueFlag
)

// flagSpec is one flag of a tool; canon is the name it is stored under (so
// -r and --relation are the same flag).
type flagSpec struct {
	kind  flagKind
	canon string
}

// flagSet is a tool's flags by every name they answer to.
type flagSet map[string]flagSpec

// flags builds a flagSet. Each entry is "name", "name=" (takes a value) or
// "a|b=" (aliases, stored under the first name).
func flags(names ...string) flagSet {
	fs := flagSet{}
	for _, n := range names {
		kind := boolFlag
		if strings.HasSuffix(n, "=") {
			kind = valueFlag
			n = strings.TrimSuffix(n, "=")
		}
		aliases := strings.Split(n, "|")
		for _, a := range aliases {
			fs[a] = flagSpec{kind: kind, canon: aliases[0]}
		}
	}
	return fs
}

// call is one parsed command line.
type call struct {
	// flags holds each given flag's value ("true"/"false" for booleans)
	// under its canonical name.
	flags map[string]string
	// args are the positional arguments.
	args []string
}

// has reports whether the flag was given.
func (c *call) has(name string) bool {
	_, ok := c.flags[name]
	return ok
}

// value returns a flag's value, "" if absent.
func (c *call) value(name string) string {
	return c.flags[name]
}

// bool returns a boolean flag's value, false if absent.
func (c *call) bool(name string) bool {
	return c.flags[name] == "true"
}

// parseArgv parses argv as gnuflag (Juju's flag package) does with
// interspersed flags: "-x" and "--x" are the same, "--x=v" and "--x v" set a
// value, "--" ends the flags, and "-" is a positional argument.
func parseArgv(argv []string, fs flagSet) (*call, error) {
	c := &call{flags: make(map[string]string, 4)}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			c.args = append(c.args, argv[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			c.args = append(c.args, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		value, hasValue := "", false
		if k := strings.IndexByte(name, '='); k >= 0 {
			name, value, hasValue = name[:k], name[k+1:], true
		}
		spec, ok := fs[name]
		if !ok || name == "" {
			return nil, fmt.Errorf("flag provided but not defined: -%s", name)
		}
		switch spec.kind {
		case boolFlag:
			if !hasValue {
				value = "true"
				break
			}
			switch value {
			case "true", "True", "TRUE", "t", "T", "1":
				value = "true"
			case "false", "False", "FALSE", "f", "F", "0":
				value = "false"
			default:
				return nil, fmt.Errorf("invalid value %q for flag -%s: parse error", value, name)
			}
		case valueFlag:
			if !hasValue {
				if i+1 >= len(argv) {
					return nil, fmt.Errorf("flag needs an argument: -%s", name)
				}
				i++
				value = argv[i]
			}
		}
		c.flags[spec.canon] = value
	}
	return c, nil
}

// parseKeyValues parses key=value arguments as Juju's keyvalues.Parse does
// with empty values allowed.
func parseKeyValues(args []string) (map[string]string, error) {
	kv := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("expected \"key=value\", got %q", a)
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("key %q specified more than once", k)
		}
		kv[k] = v
	}
	return kv, nil
}
