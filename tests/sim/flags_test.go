package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlagsGnuStyle(t *testing.T) {
	defs := []flagDef{
		{names: []string{"r", "relation"}, kind: stringFlag},
		{names: []string{"app"}, kind: boolFlag, def: "false"},
		{names: []string{"a", "all"}, kind: boolFlag, def: "false"},
		{names: []string{"format"}, kind: stringFlag, def: "smart"},
	}
	for _, tc := range []struct {
		args       []string
		relation   string
		app, all   bool
		format     string
		positional []string
	}{
		{args: []string{"-r", "db:1", "key"}, relation: "db:1", format: "smart", positional: []string{"key"}},
		{args: []string{"-rdb:2", "--app"}, relation: "db:2", app: true, format: "smart"},
		{args: []string{"key", "--format=json", "unit/0", "--relation", "3"}, relation: "3", format: "json", positional: []string{"key", "unit/0"}},
		{args: []string{"--app=false", "-a", "--format", "yaml"}, all: true, format: "yaml"},
		{args: []string{"-", "--", "--app", "-r"}, format: "smart", positional: []string{"-", "--app", "-r"}},
	} {
		fs, pos, err := parseFlags(defs, tc.args)
		require.NoError(t, err, tc.args)
		assert.Equal(t, tc.relation, fs.str("relation"), tc.args)
		assert.Equal(t, tc.relation, fs.str("r"), tc.args)
		assert.Equal(t, tc.app, fs.boolean("app"), tc.args)
		assert.Equal(t, tc.all, fs.boolean("all"), tc.args)
		assert.Equal(t, tc.format, fs.str("format"), tc.args)
		assert.Equal(t, tc.positional, pos, tc.args)
	}
	for want, args := range map[string][]string{
		"flag provided but not defined: --nope": {"--nope"},
		"flag provided but not defined: -x":     {"-x"},
		"flag provided but not defined: -f":     {"-format=json"},
		"flag needs an argument: --format":      {"--format"},
		"flag needs an argument: -r":            {"-r"},
		"invalid value \"maybe\" for flag --app: strconv.ParseBool: parsing \"maybe\": invalid syntax": {"--app=maybe"},
	} {
		_, _, err := parseFlags(defs, args)
		require.Error(t, err, args)
		assert.Equal(t, want, err.Error())
		var ue *usageError
		assert.ErrorAs(t, err, &ue)
	}
	_, _, err := parseFlags(defs, []string{"--help"})
	assert.ErrorIs(t, err, helpRequest{})
}

func TestParseKeyValues(t *testing.T) {
	kv, err := parseKeyValues([]string{"a=1", " b = two ", "c=", "d=x=y"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "two", "c": "", "d": "x=y"}, kv)
}

func TestSecretURIForms(t *testing.T) {
	for _, s := range []string{"secret:d4jc8ugr4l3s72sq2dr0", "secret://0e2e8a4d-0c0d-4b4b-8e6e-2a4b6c8d0e1f/d4jc8ugr4l3s72sq2dr0", "d4jc8ugr4l3s72sq2dr0"} {
		id, err := parseSecretURI(s)
		require.NoError(t, err, s)
		assert.Equal(t, "d4jc8ugr4l3s72sq2dr0", id)
	}
	_, err := parseSecretURI("secret:short")
	assert.EqualError(t, err, `secret URI "secret:short" not valid`)
	assert.Regexp(t, `^[0-9a-v]{20}$`, newSecretID())
}

func TestHelp(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	res := tool(t, m, "synapse/0", "relation-get", "--help")
	assert.Equal(t, 0, res.Code)
	assert.Contains(t, res.Stdout, "Usage: relation-get")
}
