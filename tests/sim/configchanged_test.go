package sim

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ConfigChanged fires config-changed once on every unit with the config
// as it was (the no-op hook hookbench measures).
func TestConfigChangedWithoutAChange(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "example.com"}))
	waitIdle(t, m)
	before := m.Config()
	mark := len(m.Recorder().Hooks())
	m.ConfigChanged()
	waitIdle(t, m)
	got := hookNames(m, mark)
	sort.Strings(got)
	assert.Equal(t, []string{"synapse/0 config-changed", "synapse/1 config-changed"}, got)
	assert.Equal(t, before, m.Config())
}
