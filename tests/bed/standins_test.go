package bed_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// txredisapiCheck drives the txredisapi stand-in in the image against a real
// Redis that wants a password, the way Synapse does: a lazy handler used
// before it is connected, AUTH and SELECT on connect, SET with PX, GET with
// number conversion, and a subscriber factory whose protocol subclass gets
// published messages in messageReceived. It prints what it saw as JSON.
const txredisapiCheck = `
import json, sys
import txredisapi
from twisted.internet import defer, reactor

host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {"messages": []}
subscribed, received = defer.Deferred(), defer.Deferred()

class Subscriber(txredisapi.SubscriberProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
    def connectionMade(self):
        super().connectionMade()
        self.subscribe(["bed.test", "bed.test/events"]).addCallback(subscribed.callback)
    def messageReceived(self, pattern, channel, message):
        out["messages"].append([channel, message])
        if len(out["messages"]) == 2:
            received.callback(None)

def connect(dbid, factory_class=txredisapi.RedisFactory, protocol=None):
    f = factory_class(uuid="bed", dbid=dbid, poolsize=1, isLazy=True, handler=txredisapi.ConnectionHandler,
                      charset="utf-8", password=password, replyTimeout=5, convertNumbers=True)
    if protocol:
        f.protocol = protocol
        f.maxDelay = 1
    reactor.connectTCP(host, port, f, timeout=5)
    return f

@defer.inlineCallbacks
def main():
    try:
        db3 = connect(3).handler                       # used before it connects
        out["ping"] = yield db3.ping()
        out["set"] = yield db3.set("cache_v1:k", '{"a": 1}', pexpire=60000)
        out["get"] = yield db3.get("cache_v1:k")
        out["pttl_ok"] = 0 < (yield db3.execute_command("PTTL", "cache_v1:k")) <= 60000
        yield db3.set("n", "42", pexpire=60000)
        out["number"] = yield db3.get("n")
        out["missing"] = yield db3.get("nope")
        out["other_db"] = yield connect(None).handler.get("cache_v1:k")
        sub = connect(None, protocol=Subscriber)
        out["subscribe"] = yield subscribed
        out["published"] = [(yield db3.publish("bed.test", b"POSITION events master 1 2")),
                            (yield db3.publish("bed.test/events", "RDATA x y"))]
        yield received
        out["subscriber_ping"] = yield sub.pool[0].ping()
        try:
            yield db3.execute_command("NOSUCHCOMMAND")
        except txredisapi.ResponseError as e:
            out["error"] = str(e)
    except Exception as e:
        out["exception"] = "%s: %s" % (type(e).__name__, e)
    finally:
        print(json.dumps(out))
        reactor.stop()

reactor.callWhenRunning(main)
reactor.callLater(20, reactor.stop)
reactor.run()
`

func TestTxredisapiStandinSpeaksRESP(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	ctx := testContext(t, time.Minute)
	redis := startRedis(t)
	_, err := redis.Do(ctx, "CONFIG", "SET", "requirepass", "redis pass")
	require.NoError(t, err)

	c := startContainer(t, bed.ContainerOptions{Name: "synapse", Image: img, Dir: filepath.Join(t.TempDir(), "c")})
	push(t, c, "/srv/check.py", txredisapiCheck)
	raw := execIn(t, c, "python3", "/srv/check.py", redis.Host(), fmt.Sprint(redis.Port()), "redis pass")

	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &got), "%s", raw)
	assert.Nil(t, got["exception"])
	assert.Equal(t, "PONG", got["ping"])
	assert.Equal(t, "OK", got["set"])
	assert.Equal(t, `{"a": 1}`, got["get"])
	assert.Equal(t, true, got["pttl_ok"], "SET ... PX sets the expiry")
	assert.Equal(t, float64(42), got["number"], "numbers come back converted, as Synapse expects")
	assert.Nil(t, got["missing"])
	assert.Nil(t, got["other_db"], "SELECT 3 on connect: database 0 does not have the key")
	assert.Equal(t, []any{"subscribe", "bed.test/events", float64(2)}, got["subscribe"])
	assert.Equal(t, []any{float64(1), float64(1)}, got["published"])
	assert.Equal(t, []any{
		[]any{"bed.test", "POSITION events master 1 2"},
		[]any{"bed.test/events", "RDATA x y"},
	}, got["messages"])
	assert.Equal(t, []any{"pong", ""}, got["subscriber_ping"])
	assert.Contains(t, got["error"], "unknown command")
}
