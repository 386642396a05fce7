package relations

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// TestEmbeddedDashboardIsCurrent: the compressed dashboard the charm
// publishes is dashboards/synapse.json as it is now (after editing the
// JSON, run go generate ./relations).
func TestEmbeddedDashboardIsCurrent(t *testing.T) {
	source, err := os.ReadFile("dashboards/synapse.json")
	require.NoError(t, err)
	r, err := xz.NewReader(bytes.NewReader(synapseDashboardXZ))
	require.NoError(t, err, "the embedded dashboard is XZ")
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(source, got), "dashboards/synapse.json.xz is stale: run go generate ./relations")
}
