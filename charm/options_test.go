package charm_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// pushSitePackage puts a Python file into this container's copy of the
// image's site-packages (its own overlay).
func (u *unit) pushSitePackage(name, source string) {
	u.t.Helper()
	sites, err := filepath.Glob(filepath.Join(bed.ImagePath(), "usr/local/lib/python3.*/dist-packages"))
	require.NoError(u.t, err)
	require.Len(u.t, sites, 1)
	site := strings.TrimPrefix(sites[0], bed.ImagePath())
	require.NoError(u.t, u.container.Client().Push(&client.PushOptions{Path: site + "/" + name, Source: strings.NewReader(source), MakeDirs: true}))
}

// The probe loads the module the way Synapse does: the bed image lacks
// it, a same-named module of another project is not taken for it, and
// nbuechner's module (its parse_config) is.
func TestInviteCheckerProbe(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	ok, err := container.HasInviteChecker(ctx, u.container.Client())
	require.NoError(t, err)
	assert.False(t, ok, "the bed image has no synapse_invite_checker")

	// PyPI's famedly synapse-invite-checker: the same package name, another module.
	u.pushSitePackage("synapse_invite_checker/__init__.py", "class InviteCheckerConfig: pass\n")
	ok, err = container.HasInviteChecker(ctx, u.container.Client())
	require.NoError(t, err)
	assert.False(t, ok, "a module without InviteChecker is not the one the options configure")

	u.pushSitePackage("synapse_invite_checker/__init__.py", `class InviteChecker:
    def __init__(self, config, api): pass
    @staticmethod
    def parse_config(config):
        assert config["blocklist_allowlist_url"] and all(r.startswith("!") for r in config["policy_room_ids"])
        return config
`)
	ok, err = container.HasInviteChecker(ctx, u.container.Client())
	require.NoError(t, err)
	assert.True(t, ok)
}

// On the bed image, which lacks the module, invite_checker_* block naming
// the module and the fix, before they touch Synapse.
func TestInviteCheckerOptionsBlockOnTheBedImage(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	before := u.file(workload.HomeserverPath)
	since := u.service().CurrentSince

	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "invite_checker_policy_rooms": "!policy:test.local"})
	u.run("config-changed")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.Contains(t, st.Message, "invite_checker_* options need the synapse_invite_checker module")
	assert.Contains(t, st.Message, "juju config synapse --reset invite_checker_blocklist_allowlist_url,invite_checker_policy_rooms")
	assert.Equal(t, before, u.file(workload.HomeserverPath), "the workload stays as it was")
	assert.Equal(t, since, u.service().CurrentSince, "synapse not restarted")
}

// enable_mjolnir on the bed image: blocked, naming the missing entry
// point, while Synapse keeps serving.
func TestMjolnirBlocksNamingTheImage(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "enable_mjolnir": true})
	u.run("config-changed")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.Contains(t, st.Message, "the synapse image lacks "+decide.MjolnirProgram)
	assert.Contains(t, st.Message, "juju config synapse enable_mjolnir=false")
	assert.Equal(t, 200, u.health(), "Synapse keeps serving")

	ok, err := container.HasFile(u.container.Client(), "/usr/bin/python3")
	require.NoError(t, err)
	assert.True(t, ok, "HasFile sees a file the image has")
}
