package bed_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

func startRedis(t *testing.T) *bed.Redis {
	t.Helper()
	start := time.Now()
	r, err := bed.StartRedis(testContext(t, time.Minute), t.TempDir())
	require.NoError(t, err)
	t.Logf("redis on %s:%d in %v", r.Host(), r.Port(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { assert.NoError(t, r.Stop()) })
	return r
}

func TestRedisPingSetGetRestart(t *testing.T) {
	ctx := testContext(t, time.Minute)
	r := startRedis(t)

	require.NoError(t, r.Ping(ctx))
	got, err := r.Do(ctx, "SET", "k", "v", "PX", "60000")
	require.NoError(t, err)
	assert.Equal(t, "OK", got)
	got, err = r.Do(ctx, "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "v", got)
	_, err = r.Do(ctx, "NOSUCHCOMMAND")
	assert.ErrorContains(t, err, "unknown command")

	port, oldPID := r.Port(), r.PID()
	require.NoError(t, r.Restart(ctx))
	assert.Equal(t, port, r.Port())
	assert.ErrorIs(t, syscall.Kill(oldPID, 0), syscall.ESRCH, "old redis-server is gone")
	got, err = r.Do(ctx, "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "", got, "no persistence: a restarted Redis is empty")

	require.NoError(t, r.Stop())
	assert.ErrorIs(t, syscall.Kill(r.PID(), 0), syscall.ESRCH, "redis-server is gone after Stop")
	assert.Error(t, r.Ping(ctx))
}
