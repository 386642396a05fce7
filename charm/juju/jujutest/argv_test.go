package jujutest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArgv(t *testing.T) {
	fs := flags("format=", "r|relation=", "app", "file=")
	tests := []struct {
		argv  []string
		flags map[string]string
		args  []string
	}{
		{[]string{"--format=json", "-r", "db:1", "-", "pg/0"},
			map[string]string{"format": "json", "r": "db:1"}, []string{"-", "pg/0"}},
		{[]string{"--relation=db:1", "--app", "--file", "-"},
			map[string]string{"r": "db:1", "app": "true", "file": "-"}, nil},
		{[]string{"-app=false", "k=v", "--", "--app", "-r"},
			map[string]string{"app": "false"}, []string{"k=v", "--app", "-r"}},
		{[]string{"--app=True", "x"},
			map[string]string{"app": "true"}, []string{"x"}},
		{[]string{"--file", "--app"},
			map[string]string{"file": "--app"}, nil},
	}
	for _, tt := range tests {
		c, err := parseArgv(tt.argv, fs)
		require.NoError(t, err, tt.argv)
		assert.Equal(t, tt.flags, c.flags, tt.argv)
		assert.Equal(t, tt.args, c.args, tt.argv)
	}
	for _, bad := range [][]string{{"--nope"}, {"-r"}, {"--app=maybe"}, {"--=x"}} {
		_, err := parseArgv(bad, fs)
		assert.Error(t, err, bad)
	}
}

func TestParseKeyValues(t *testing.T) {
	kv, err := parseKeyValues([]string{"a=1", "b=", "c=x=y"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "", "c": "x=y"}, kv)
	for _, bad := range [][]string{{"a"}, {"=1"}, {"a=1", "a=2"}} {
		_, err := parseKeyValues(bad)
		assert.Error(t, err, bad)
	}
}
