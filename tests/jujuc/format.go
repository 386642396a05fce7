package jujuc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	yamlv2 "gopkg.in/yaml.v2"
)

// Output formatting of the reading tools, as Juju's cmd.Output does it:
// "json" is encoding/json plus a newline (so nil prints "null"), "yaml" is
// yaml.v2 (nothing for nil), and "smart" prints strings as they are, lists
// of strings one per line, booleans as True/False and anything else as YAML.

var (
	AllFormats  = []string{"json", "smart", "yaml"}
	YAMLFormats = []string{"json", "yaml"}
)

// FormatFlags returns the --format and -o/--output flag definitions with the
// given default and choices.
func FormatFlags(def string, choices []string) []Flag {
	return []Flag{
		{Names: []string{"format"}, Kind: StringFlag, Def: def, Check: func(v string) error {
			for _, c := range choices {
				if c == v {
					return nil
				}
			}
			return fmt.Errorf("unknown format %q", v)
		}},
		{Names: []string{"o", "output"}, Kind: StringFlag},
	}
}

// FormatValue renders value in format ("json", "yaml" or "smart").
func FormatValue(format string, value any) ([]byte, error) {
	switch format {
	case "json":
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf) // HTML escaping on, as json.Marshal
		if err := enc.Encode(value); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case "yaml":
		return formatYAML(value)
	default:
		return formatSmart(value)
	}
}

func formatYAML(value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	out, err := yamlv2.Marshal(value)
	if err != nil {
		return nil, err
	}
	out = bytes.TrimRight(out, "\n")
	if len(out) == 0 {
		return nil, nil
	}
	return append(out, '\n'), nil
}

func formatSmart(value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	var s string
	switch v := value.(type) {
	case string:
		s = v
	case []string:
		s = strings.Join(v, "\n")
	case bool:
		s = "False"
		if v {
			s = "True"
		}
	default:
		return formatYAML(value)
	}
	if s == "" {
		return nil, nil
	}
	return []byte(s + "\n"), nil
}
