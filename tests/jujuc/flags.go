package jujuc

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

// FlagKind is the type of a flag's value.
type FlagKind int

const (
	BoolFlag FlagKind = iota
	StringFlag
	IntFlag
)

// Flag declares one flag; names lists its spellings without dashes,
// e.g. {"r", "relation"}. check, if set, validates a value as it is parsed
// (the gnuflag.Value Set method).
type Flag struct {
	Names []string
	Kind  FlagKind
	Def   string
	Check func(string) error
}

// FlagSet is the result of parsing.
type FlagSet struct {
	values  map[string]string // by primary name (names[0])
	set     map[string]bool
	primary map[string]string // any spelling -> primary name
}

func (f *FlagSet) key(name string) string {
	if p, ok := f.primary[name]; ok {
		return p
	}
	return name
}

// Str returns a flag's value by any of its spellings.
func (f *FlagSet) Str(name string) string { return f.values[f.key(name)] }

// IsSet reports whether the flag was given.
func (f *FlagSet) IsSet(name string) bool { return f.set[f.key(name)] }

// Bool returns a boolean flag, false if unset or invalid.
func (f *FlagSet) Bool(name string) bool {
	v, _ := strconv.ParseBool(f.Str(name))
	return v
}

// Int returns an integer flag, 0 if unset or invalid.
func (f *FlagSet) Int(name string) int {
	v, _ := strconv.Atoi(f.Str(name))
	return v
}

// UsageError marks an error found while parsing arguments (Init in Juju):
// the tool exits 2 rather than 1.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// HelpRequest is returned for -h/--help.
type HelpRequest struct{}

func (HelpRequest) Error() string { return "help requested" }

// ParseFlags parses args against defs, gnuflag style with interspersed
// flags allowed, and returns the flags and the positional arguments.
func ParseFlags(defs []Flag, args []string) (*FlagSet, []string, error) {
	fs := &FlagSet{values: map[string]string{}, set: map[string]bool{}, primary: map[string]string{}}
	byName := map[string]*Flag{}
	for i := range defs {
		d := &defs[i]
		fs.values[d.Names[0]] = d.Def
		for _, n := range d.Names {
			byName[n] = d
			fs.primary[n] = d.Names[0]
		}
	}
	var positional []string
	setValue := func(d *Flag, shown, value string) error {
		switch d.Kind {
		case BoolFlag:
			if _, err := strconv.ParseBool(value); err != nil {
				return Usagef("invalid value %q for flag %s: %v", value, shown, err)
			}
		case IntFlag:
			if _, err := strconv.Atoi(value); err != nil {
				return Usagef("invalid value %q for flag %s: parse error", value, shown)
			}
		}
		if d.Check != nil {
			if err := d.Check(value); err != nil {
				return Usagef("invalid value %q for flag %s: %v", value, shown, err)
			}
		}
		fs.values[d.Names[0]] = value
		fs.set[d.Names[0]] = true
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
				return nil, nil, HelpRequest{}
			}
			d, ok := byName[name]
			if !ok || len(name) == 1 {
				return nil, nil, Usagef("flag provided but not defined: --%s", name)
			}
			shown := "--" + name
			if d.Kind == BoolFlag {
				if !hasValue {
					value = "true"
				}
			} else if !hasValue {
				if i+1 >= len(args) {
					return nil, nil, Usagef("flag needs an argument: %s", shown)
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
					return nil, nil, HelpRequest{}
				}
				d, ok := byName[name]
				if !ok {
					return nil, nil, Usagef("flag provided but not defined: -%s", name)
				}
				shown := "-" + name
				if d.Kind == BoolFlag {
					if err := setValue(d, shown, "true"); err != nil {
						return nil, nil, err
					}
					continue
				}
				value := letters[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						return nil, nil, Usagef("flag needs an argument: %s", shown)
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

// CheckEmpty is cmd.CheckEmpty.
func CheckEmpty(args []string) error {
	if len(args) != 0 {
		return Usagef("unrecognized args: %s", quoteList(args))
	}
	return nil
}

// quoteList formats a []string the way Go's %q does: ["a" "b"].
func quoteList(args []string) string {
	return fmt.Sprintf("%q", args)
}

// ParseKeyValues is Juju's keyvalues.Parse(args, true): "k=v" pairs, keys and
// values trimmed, empty values allowed, duplicates rejected.
func ParseKeyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, Usagef("expected \"key=value\", got %q", kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, Usagef("expected \"key=value\", got \"%s=%s\"", k, v)
		}
		if _, dup := out[k]; dup {
			return nil, Usagef("key %q specified more than once", k)
		}
		out[k] = v
	}
	return out, nil
}

// Flags declares flags compactly: "name" is a boolean flag, "name=" takes a
// value, and "a|b=" lists spellings, the first being the primary name.
func Flags(specs ...string) []Flag {
	out := make([]Flag, 0, len(specs))
	for _, s := range specs {
		f := Flag{Kind: BoolFlag, Def: "false"}
		if n, ok := strings.CutSuffix(s, "="); ok {
			f = Flag{Kind: StringFlag}
			s = n
		}
		f.Names = strings.Split(s, "|")
		out = append(out, f)
	}
	return out
}
