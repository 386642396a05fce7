# TEST-ONLY STAND-IN for the `txredisapi` package (PyPI txredisapi 1.4.x).
#
# Part of github.com/synapse-charm/synapse-k8s-go, tests/bed. It exists only
# because no Debian suite packages txredisapi and the test machines cannot
# reach PyPI. tests/bed installs it into the test image ONLY when
# `import txredisapi` fails there. Production images must ship the real
# txredisapi (from PyPI or the Matrix.org packages, which bundle it).
#
# It implements the subset of txredisapi that Synapse (1.160) uses for
# replication and the external cache: a RESP2 client over Twisted with a
# reconnecting, pooled factory, a lazy connection handler, pub/sub
# (SUBSCRIBE, PUBLISH) and PING, GET, SET (EX/PX/NX/XX), DEL, plus AUTH and
# SELECT on connect.

import logging
import re
from collections import deque

from twisted.internet import defer, protocol, reactor

__all__ = [
    "ConnectionError",
    "ConnectionHandler",
    "RedisError",
    "RedisFactory",
    "RedisProtocol",
    "ResponseError",
    "SubscriberProtocol",
    "TimeoutError",
    "UnixConnectionHandler",
]

logger = logging.getLogger(__name__)

_INT_RE = re.compile(r"^-?[0-9]+$")
_FLOAT_RE = re.compile(r"^-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?$")
_PUBSUB_CONFIRMATIONS = ("subscribe", "unsubscribe", "psubscribe", "punsubscribe")


class RedisError(Exception):
    """Base class of the errors this module raises."""


class ConnectionError(RedisError):  # noqa: A001 (same name as txredisapi)
    """The connection to Redis is not, or no longer, available."""


class ResponseError(RedisError):
    """Redis answered a command with an error reply."""


class TimeoutError(ConnectionError):  # noqa: A001 (same name as txredisapi)
    """No reply arrived within replyTimeout seconds."""


class _Parser:
    """Incremental RESP2 reply parser."""

    def __init__(self):
        self._buf = b""

    def feed(self, data):
        self._buf += data
        replies = []
        while True:
            parsed = self._parse(0)
            if parsed is None:
                break
            reply, end = parsed
            self._buf = self._buf[end:]
            replies.append(reply)
        return replies

    def _line(self, pos):
        end = self._buf.find(b"\r\n", pos)
        if end < 0:
            return None
        return self._buf[pos:end], end + 2

    def _parse(self, pos):
        got = self._line(pos)
        if got is None:
            return None
        line, pos = got
        if not line:
            raise ResponseError("protocol error: empty reply line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest, pos
        if kind == b"-":
            return ResponseError(rest.decode("utf-8", "replace")), pos
        if kind == b":":
            return int(rest), pos
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None, pos
            if len(self._buf) < pos + size + 2:
                return None
            return self._buf[pos : pos + size], pos + size + 2
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None, pos
            items = []
            for _ in range(count):
                parsed = self._parse(pos)
                if parsed is None:
                    return None
                item, pos = parsed
                items.append(item)
            return items, pos
        raise ResponseError("protocol error: unexpected reply type %r" % kind)


class _Pending:
    """A command waiting for `remaining` replies."""

    __slots__ = ("deferred", "remaining", "timeout")

    def __init__(self, deferred, remaining):
        self.deferred = deferred
        self.remaining = remaining
        self.timeout = None


class RedisProtocol(protocol.Protocol):
    """One connection to Redis: sends commands, matches replies in order."""

    def __init__(
        self,
        charset="utf-8",
        errors="strict",
        replyTimeout=None,
        password=None,
        dbid=None,
        convertNumbers=True,
    ):
        self.charset = charset
        self.errors = errors
        self.replyTimeout = replyTimeout
        self.password = password
        self.dbid = dbid
        self.convertNumbers = convertNumbers
        self.factory = None
        self._parser = _Parser()
        self._pending = deque()
        self._connected = False

    # -- connection life cycle -------------------------------------------

    def connectionMade(self):
        self._connected = True
        factory = self.factory
        password = self.password if self.password is not None else getattr(factory, "password", None)
        dbid = self.dbid if self.dbid is not None else getattr(factory, "dbid", None)
        self._setup(password, dbid)

    @defer.inlineCallbacks
    def _setup(self, password, dbid):
        try:
            if password:
                yield self.execute_command("AUTH", password)
            if dbid:
                yield self.execute_command("SELECT", dbid)
        except Exception as e:
            logger.warning("txredisapi stand-in: connection setup failed: %s", e)
            self.transport.loseConnection()
            return
        if self.factory is not None:
            self.factory.addConnection(self)

    def connectionLost(self, reason):
        self._connected = False
        if self.factory is not None:
            self.factory.delConnection(self)
        pending, self._pending = self._pending, deque()
        for p in pending:
            if p.timeout is not None and p.timeout.active():
                p.timeout.cancel()
            if not p.deferred.called:
                p.deferred.errback(ConnectionError("Lost connection"))

    # -- sending -----------------------------------------------------------

    def _encode(self, value):
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode(self.charset or "utf-8", self.errors)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(value).encode("ascii")
        raise RedisError("cannot encode %r for redis" % (value,))

    def execute_command(self, *args, **kwargs):
        """Send one command; the Deferred fires with its (decoded) reply."""
        return self._send(args, replies=1)

    def _send(self, args, replies):
        if self.transport is None or not self._connected:
            return defer.fail(ConnectionError("Not connected"))
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = self._encode(arg)
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        d = defer.Deferred()
        pending = _Pending(d, replies)
        if self.replyTimeout:
            pending.timeout = reactor.callLater(self.replyTimeout, self._timedOut, pending)
        self._pending.append(pending)
        self.transport.write(b"".join(parts))
        return d

    def _timedOut(self, pending):
        pending.timeout = None
        if not pending.deferred.called:
            pending.deferred.errback(TimeoutError("no reply within %ss" % self.replyTimeout))
        # Replies are matched by order: after a lost reply the stream cannot
        # be trusted any more. Drop the connection; the factory reconnects.
        self.transport.abortConnection()

    # -- receiving ---------------------------------------------------------

    def dataReceived(self, data):
        try:
            replies = self._parser.feed(data)
        except Exception as e:
            logger.warning("txredisapi stand-in: %s", e)
            self.transport.abortConnection()
            return
        for reply in replies:
            self.replyReceived(reply)

    def replyReceived(self, reply):
        if not self._pending:
            logger.warning("txredisapi stand-in: unexpected reply %r", reply)
            return
        head = self._pending[0]
        head.remaining -= 1
        if head.remaining > 0:
            return
        self._pending.popleft()
        if head.timeout is not None and head.timeout.active():
            head.timeout.cancel()
        if head.deferred.called:
            return
        if isinstance(reply, ResponseError):
            head.deferred.errback(reply)
        else:
            head.deferred.callback(self._convert(reply))

    def _decode(self, value):
        if isinstance(value, bytes) and self.charset:
            try:
                return value.decode(self.charset)
            except UnicodeDecodeError:
                return value
        return value

    def _convert(self, value):
        if isinstance(value, list):
            return [self._convert(v) for v in value]
        value = self._decode(value)
        if self.convertNumbers and isinstance(value, str):
            if _INT_RE.match(value):
                return int(value)
            if _FLOAT_RE.match(value):
                return float(value)
        return value

    # -- commands ------------------------------------------------------------

    def ping(self):
        return self.execute_command("PING")

    def get(self, key):
        return self.execute_command("GET", key)

    def set(self, key, value, expire=None, pexpire=None, only_if_not_exists=False, only_if_exists=False):
        args = ["SET", key, value]
        if expire is not None:
            args += ["EX", expire]
        if pexpire is not None:
            args += ["PX", pexpire]
        if only_if_not_exists:
            args.append("NX")
        elif only_if_exists:
            args.append("XX")
        return self.execute_command(*args)

    def delete(self, keys, *args):
        if isinstance(keys, (str, bytes)):
            keys = [keys]
        return self.execute_command("DEL", *(list(keys) + list(args)))

    def publish(self, channel, message):
        return self.execute_command("PUBLISH", channel, message)

    def select(self, index):
        return self.execute_command("SELECT", index)

    def auth(self, password):
        return self.execute_command("AUTH", password)

    def quit(self):
        return self.execute_command("QUIT")


class SubscriberProtocol(RedisProtocol):
    """A connection in pub/sub mode: messages arrive in messageReceived."""

    def messageReceived(self, pattern, channel, message):
        """Called for every published message; subclasses override it."""

    def replyReceived(self, reply):
        if isinstance(reply, list) and reply:
            kind = self._decode(reply[0])
            if kind == "message" and len(reply) == 3:
                self.messageReceived(None, self._decode(reply[1]), self._decode(reply[2]))
                return
            if kind == "pmessage" and len(reply) == 4:
                self.messageReceived(self._decode(reply[1]), self._decode(reply[2]), self._decode(reply[3]))
                return
            if kind in _PUBSUB_CONFIRMATIONS:
                super().replyReceived([self._decode(v) for v in reply])
                return
        super().replyReceived(reply)

    def _channels(self, channels):
        if isinstance(channels, (str, bytes)):
            return [channels]
        return list(channels)

    def subscribe(self, channels):
        channels = self._channels(channels)
        return self._send(["SUBSCRIBE"] + channels, replies=max(len(channels), 1))

    def psubscribe(self, patterns):
        patterns = self._channels(patterns)
        return self._send(["PSUBSCRIBE"] + patterns, replies=max(len(patterns), 1))

    def unsubscribe(self, channels):
        channels = self._channels(channels)
        return self._send(["UNSUBSCRIBE"] + channels, replies=max(len(channels), 1))

    def punsubscribe(self, patterns):
        patterns = self._channels(patterns)
        return self._send(["PUNSUBSCRIBE"] + patterns, replies=max(len(patterns), 1))


class ConnectionHandler:
    """What the factory hands out: any command method waits for a pooled
    connection, then forwards the call, and returns a Deferred."""

    def __init__(self, factory):
        self._factory = factory

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            d = self._factory.getConnection()
            d.addCallback(lambda conn: getattr(conn, name)(*args, **kwargs))
            return d

        return call

    def disconnect(self):
        """Stop reconnecting and close every pooled connection."""
        self._factory.continueTrying = False
        for conn in list(self._factory.pool):
            conn.transport.loseConnection()
        return defer.succeed(None)

    def __repr__(self):
        return "<Redis Connection: %s (pool %d)>" % (self._factory.uuid, len(self._factory.pool))


class UnixConnectionHandler(ConnectionHandler):
    """The same as ConnectionHandler, for connections over a unix socket."""


class RedisFactory(protocol.ReconnectingClientFactory):
    """A reconnecting factory that keeps a pool of ready connections."""

    maxDelay = 10
    continueTrying = True
    noisy = False
    protocol = RedisProtocol

    def __init__(
        self,
        uuid,
        dbid,
        poolsize,
        isLazy=False,
        handler=ConnectionHandler,
        charset="utf-8",
        password=None,
        replyTimeout=None,
        convertNumbers=True,
    ):
        self.uuid = uuid
        self.dbid = dbid
        self.poolsize = poolsize
        self.isLazy = isLazy
        self.charset = charset
        self.password = password
        self.replyTimeout = replyTimeout
        self.convertNumbers = convertNumbers
        self.pool = []
        self._next = 0
        self._waiting = []
        self.deferred = defer.Deferred()
        self.handler = handler(self)

    def buildProtocol(self, addr):
        self.resetDelay()
        p = self.protocol(
            charset=self.charset,
            replyTimeout=self.replyTimeout,
            password=self.password,
            dbid=self.dbid,
            convertNumbers=self.convertNumbers,
        )
        p.factory = self
        return p

    def addConnection(self, conn):
        self.pool.append(conn)
        if len(self.pool) >= self.poolsize and not self.deferred.called:
            self.deferred.callback(self.handler)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(conn)

    def delConnection(self, conn):
        try:
            self.pool.remove(conn)
        except ValueError:
            pass

    def getConnection(self):
        """A Deferred that fires with a ready connection from the pool."""
        if self.pool:
            self._next = (self._next + 1) % len(self.pool)
            return defer.succeed(self.pool[self._next])
        if not self.continueTrying and not self.isLazy:
            return defer.fail(ConnectionError("Not connected"))
        d = defer.Deferred()
        self._waiting.append(d)
        return d
