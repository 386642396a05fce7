package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// The hook tools parse their command lines the way Juju's jujuc commands do,
// with github.com/juju/gnuflag: long flags take two dashes ("--format=json",
// "--format json"), one-letter flags one dash ("-r 3", "-r3"), flags may
// appear between positional arguments, and "--" ends the flags. A flag
// error is a usage error: Juju prints "ERROR <message>" and exits 2.

// flagKind is the type of a flag's value.
type flagKind int

const (
	boolFlag flagKind = iota
	stringFlag
	intFlag
)

// flagDef declares one flag; names lists its spellings without dashes,
// e.g. {"r", "relation"}. check, if set, validates a value as it is parsed
// (the gnuflag.Value Set method).
type flagDef struct {
	names []string
	kind  flagKind
	def   string
	check func(string) error
}

// flagSet is the result of parsing.
type flagSet struct {
	values  map[string]string // by primary name (names[0])
	set     map[string]bool
	primary map[string]string // any spelling -> primary name
}

func (f *flagSet) key(name string) string {
	if p, ok := f.primary[name]; ok {
		return p
	}
	return name
}

// str returns a flag's value by any of its spellings.
func (f *flagSet) str(name string) string { return f.values[f.key(name)] }

func (f *flagSet) isSet(name string) bool { return f.set[f.key(name)] }

func (f *flagSet) boolean(name string) bool {
	v, _ := strconv.ParseBool(f.str(name))
	return v
}

func (f *flagSet) integer(name string) int {
	v, _ := strconv.Atoi(f.str(name))
	return v
}

// usageError marks an error found while parsing arguments (Init in Juju):
// the tool exits 2 rather than 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelp is returned for -h/--help.
type helpRequest struct{}

func (helpRequest) Error() string { return "help requested" }

// parseFlags parses args against defs, gnuflag style with interspersed
// flags allowed, and returns the flags and the positional arguments.
func parseFlags(defs []flagDef, args []string) (*flagSet, []string, error) {
	fs := &flagSet{values: map[string]string{}, set: map[string]bool{}, primary: map[string]string{}}
	byName := map[string]*flagDef{}
	for i := range defs {
		d := &defs[i]
		fs.values[d.names[0]] = d.def
		for _, n := range d.names {
			byName[n] = d
			fs.primary[n] = d.names[0]
		}
	}
	var positional []string
	setValue := func(d *flagDef, shown, value string) error {
		switch d.kind {
		case boolFlag:
			if _, err := strconv.ParseBool(value); err != nil {
				return usagef("invalid value %q for flag %s: %v", value, shown, err)
			}
		case intFlag:
			if _, err := strconv.Atoi(value); err != nil {
				return usagef("invalid value %q for flag %s: parse error", value, shown)
			}
		}
		if d.check != nil {
			if err := d.check(value); err != nil {
				return usagef("invalid value %q for flag %s: %v", value, shown, err)
			}
		}
		fs.values[d.names[0]] = value
		fs.set[d.names[0]] = true
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			return fs, positional, nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			if name == "help" || name == "h" {
				return nil, nil, helpRequest{}
			}
			d, ok := byName[name]
			if !ok || len(name) == 1 {
				return nil, nil, usagef("flag provided but not defined: --%s", name)
			}
			shown := "--" + name
			if d.kind == boolFlag {
				if !hasValue {
					value = "true"
				}
			} else if !hasValue {
				if i+1 >= len(args) {
					return nil, nil, usagef("flag needs an argument: %s", shown)
				}
				i++
				value = args[i]
			}
			if err := setValue(d, shown, value); err != nil {
				return nil, nil, err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// One or more one-letter flags; a flag that takes a value takes
			// the rest of the argument or, failing that, the next one.
			letters := a[1:]
			for j := 0; j < len(letters); j++ {
				name := string(letters[j])
				if name == "h" {
					return nil, nil, helpRequest{}
				}
				d, ok := byName[name]
				if !ok {
					return nil, nil, usagef("flag provided but not defined: -%s", name)
				}
				shown := "-" + name
				if d.kind == boolFlag {
					if err := setValue(d, shown, "true"); err != nil {
						return nil, nil, err
					}
					continue
				}
				value := letters[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						return nil, nil, usagef("flag needs an argument: %s", shown)
					}
					i++
					value = args[i]
				}
				if err := setValue(d, shown, value); err != nil {
					return nil, nil, err
				}
				break
			}
		default:
			positional = append(positional, a)
		}
	}
	return fs, positional, nil
}

// checkEmpty is cmd.CheckEmpty.
func checkEmpty(args []string) error {
	if len(args) != 0 {
		return usagef("unrecognized args: %s", quoteList(args))
	}
	return nil
}

// quoteList formats a []string the way Go's %q does: ["a" "b"].
func quoteList(args []string) string {
	return fmt.Sprintf("%q", args)
}

// parseKeyValues is Juju's keyvalues.Parse(args, true): "k=v" pairs, keys and
// values trimmed, empty values allowed, duplicates rejected.
func parseKeyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, usagef("expected \"key=value\", got %q", kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, usagef("expected \"key=value\", got \"%s=%s\"", k, v)
		}
		if _, dup := out[k]; dup {
			return nil, usagef("key %q specified more than once", k)
		}
		out[k] = v
	}
	return out, nil
}
