package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewSecretID(t *testing.T) {
	assert.Regexp(t, `^[0-9a-v]{20}$`, newSecretID())
}

func TestHelp(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	res := tool(t, m, "synapse/0", "relation-get", "--help")
	assert.Equal(t, 0, res.Code)
	assert.Contains(t, res.Stdout, "Usage: relation-get")
}
