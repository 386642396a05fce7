package jujuc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlagsGnuStyle(t *testing.T) {
	defs := []Flag{
		{Names: []string{"r", "relation"}, Kind: StringFlag},
		{Names: []string{"app"}, Kind: BoolFlag, Def: "false"},
		{Names: []string{"a", "all"}, Kind: BoolFlag, Def: "false"},
		{Names: []string{"format"}, Kind: StringFlag, Def: "smart"},
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
		fs, pos, err := ParseFlags(defs, tc.args)
		require.NoError(t, err, tc.args)
		assert.Equal(t, tc.relation, fs.Str("relation"), tc.args)
		assert.Equal(t, tc.relation, fs.Str("r"), tc.args)
		assert.Equal(t, tc.app, fs.Bool("app"), tc.args)
		assert.Equal(t, tc.all, fs.Bool("all"), tc.args)
		assert.Equal(t, tc.format, fs.Str("format"), tc.args)
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
		_, _, err := ParseFlags(defs, args)
		require.Error(t, err, args)
		assert.Equal(t, want, err.Error())
		var ue *UsageError
		assert.ErrorAs(t, err, &ue)
	}
	_, _, err := ParseFlags(defs, []string{"--help"})
	assert.ErrorIs(t, err, HelpRequest{})
}

func TestParseKeyValues(t *testing.T) {
	kv, err := ParseKeyValues([]string{"a=1", " b = two ", "c=", "d=x=y"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "two", "c": "", "d": "x=y"}, kv)
}

func TestSecretURIForms(t *testing.T) {
	for _, s := range []string{"secret:d4jc8ugr4l3s72sq2dr0", "secret://0e2e8a4d-0c0d-4b4b-8e6e-2a4b6c8d0e1f/d4jc8ugr4l3s72sq2dr0", "d4jc8ugr4l3s72sq2dr0"} {
		id, err := ParseSecretURI(s)
		require.NoError(t, err, s)
		assert.Equal(t, "d4jc8ugr4l3s72sq2dr0", id)
	}
	_, err := ParseSecretURI("secret:short")
	assert.EqualError(t, err, `secret URI "secret:short" not valid`)
}

// TestFlagsCompact: the compact declarations jujutest.Memory uses parse as
// the sim's (these cases came from jujutest's own argv parser, which
// jujuc replaced).
func TestFlagsCompact(t *testing.T) {
	defs := Flags("format=", "r|relation=", "app", "file=")
	tests := []struct {
		argv  []string
		check func(fs *FlagSet)
		args  []string
	}{
		{[]string{"--format=json", "-r", "db:1", "-", "pg/0"}, func(fs *FlagSet) {
			assert.Equal(t, "json", fs.Str("format"))
			assert.Equal(t, "db:1", fs.Str("r"))
		}, []string{"-", "pg/0"}},
		{[]string{"--relation=db:1", "--app", "--file", "-"}, func(fs *FlagSet) {
			assert.Equal(t, "db:1", fs.Str("relation"))
			assert.True(t, fs.Bool("app"))
			assert.Equal(t, "-", fs.Str("file"))
		}, nil},
		{[]string{"--app=false", "k=v", "--", "--app", "-r"}, func(fs *FlagSet) {
			assert.True(t, fs.IsSet("app"))
			assert.False(t, fs.Bool("app"))
		}, []string{"k=v", "--app", "-r"}},
		{[]string{"--app=True", "x"}, func(fs *FlagSet) { assert.True(t, fs.Bool("app")) }, []string{"x"}},
		{[]string{"--file", "--app"}, func(fs *FlagSet) { assert.Equal(t, "--app", fs.Str("file")) }, nil},
	}
	for _, tt := range tests {
		fs, args, err := ParseFlags(defs, tt.argv)
		require.NoError(t, err, tt.argv)
		tt.check(fs)
		assert.Equal(t, tt.args, args, tt.argv)
	}
	// gnuflag reads "-app" as the one-letter flags a, p, p.
	for _, bad := range [][]string{{"--nope"}, {"-r"}, {"--app=maybe"}, {"--=x"}, {"-app=false"}, {"--r", "1"}} {
		_, _, err := ParseFlags(defs, bad)
		assert.Error(t, err, bad)
	}
	for _, bad := range [][]string{{"a"}, {"=1"}, {"a=1", "a=2"}} {
		_, err := ParseKeyValues(bad)
		assert.Error(t, err, bad)
	}
}
