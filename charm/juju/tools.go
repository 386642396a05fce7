package juju

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Tools is a typed client for the hook tools. Its methods are safe for
// concurrent use if its Runner is.
type Tools struct {
	// Runner runs each hook tool. It must not be nil.
	Runner Runner
	// TempDir is where secret contents are written, one private file per
	// value, for the duration of a secret-add or secret-set call. Empty means
	// os.TempDir().
	TempDir string
}

// New returns Tools that run every hook tool through r.
func New(r Runner) *Tools {
	return &Tools{Runner: r}
}

// run runs one tool through the Runner.
func (t *Tools) run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	return t.Runner.Run(ctx, tool, args, stdin)
}

// isNull reports whether out is empty or the JSON null (after whitespace).
func isNull(out []byte) bool {
	out = bytes.TrimSpace(out)
	return len(out) == 0 || bytes.Equal(out, []byte("null"))
}

// decodeStringMap reads a JSON object whose values should all be strings,
// such as a relation bag, a secret's content or charm state. Empty output and
// null read as an empty map. A value that is not a string (which Juju does not
// produce) is kept in its compact JSON form rather than failing the whole
// read; a null value reads as "".
func decodeStringMap(out []byte) (map[string]string, error) {
	if isNull(out) {
		return map[string]string{}, nil
	}
	m := map[string]string{}
	err := json.Unmarshal(out, &m)
	if err == nil {
		return m, nil
	}
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return nil, fmt.Errorf("decode JSON object: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("decode JSON object: %w", err)
	}
	m = make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		switch {
		case json.Unmarshal(v, &s) == nil:
			// A string, or null (read as "", as the fast path does).
			m[k] = s
		default:
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				m[k] = buf.String()
			} else {
				m[k] = string(v)
			}
		}
	}
	return m, nil
}

// decodeStringList reads a JSON list of strings; empty output and null read
// as an empty (non-nil) list.
func decodeStringList(out []byte) ([]string, error) {
	if isNull(out) {
		return []string{}, nil
	}
	var l []string
	if err := json.Unmarshal(out, &l); err != nil {
		return nil, fmt.Errorf("decode JSON list: %w", err)
	}
	if l == nil {
		l = []string{}
	}
	return l, nil
}

// decodeAnyMap reads a JSON object of typed values. Numbers become int when
// they are integral in the JSON text (no fraction or exponent) and fit, and
// float64 otherwise; nested objects become map[string]any. Empty output and
// null read as an empty map.
func decodeAnyMap(out []byte) (map[string]any, error) {
	if isNull(out) {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode JSON object: %w", err)
	}
	if m == nil {
		return map[string]any{}, nil
	}
	for k, v := range m {
		m[k] = convertNumbers(v)
	}
	return m, nil
}

// convertNumbers replaces json.Number values (recursively) with int or
// float64.
func convertNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.Atoi(string(v)); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return string(v)
	case map[string]any:
		for k, e := range v {
			v[k] = convertNumbers(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = convertNumbers(e)
		}
		return v
	default:
		return v
	}
}

// encodeStringMap renders data as a JSON object for a --file - stdin. HTML
// characters are not escaped, so the bytes stay readable and YAML-safe.
func encodeStringMap(data map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
