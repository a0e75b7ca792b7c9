"""Near caches that stay fresh: an in-process cache in front of Redis, told when a key changes.

`TwoLevelCache` serves another process's old value until its near copy
expires, so its near TTL is how stale a read may be.  The two caches here
drop a near copy as soon as the key changes anywhere, and keep a near hit
as cheap as a plain in-process hit::

    from cachelab import LRUCache
    from cachelab.redis import PubSubNearCache, RedisCache, TrackingNearCache, redis_server

    with redis_server() as server:
        far = RedisCache(server.url, prefix="shop:")
        with PubSubNearCache(LRUCache(maxsize=1000), far) as cache:     # invalidation over pub/sub
            cache["product:1"] = {"price": 999}     # written to Redis, then published
            cache.get("product:1")                  # a far hit, copied into near
            cache.get("product:1")                  # a near hit: no round trip
        with TrackingNearCache(LRUCache(maxsize=1000), far) as cache:   # CLIENT TRACKING
            cache.get("product:1")

* **`PubSubNearCache`**: every write, pop and clear through any instance
  goes to Redis and then publishes the key's Redis name on one channel
  (`channel`, by default from the prefix); every instance drops its near
  copy when the message comes.  It costs one message per write per
  subscribed instance, whatever the instance holds.
* **`TrackingNearCache`**: Redis's server-assisted client-side caching
  (`CLIENT TRACKING`, Redis 6+ and Valkey).  The server remembers which keys
  this instance read and pushes an invalidation (RESP3) when any client
  changes one, so writers need not cooperate: a plain `SET` from another
  program invalidates too.  `bcast=True` is broadcasting mode (`BCAST
  PREFIX`): the server remembers nothing per key and pushes every change
  under the prefix, read or not.  redis-py 8 has client-side caching of its
  own (`cache_config`), but it refuses any server that does not call itself
  "redis" 7.4+ (Valkey says "valkey"), so this builds it on redis-py's
  connections: one RESP3 connection listens, and the connection that reads
  and writes has tracking redirected to it (`REDIRECT id ... NOLOOP`).

What both do, and why:

* **A listener thread** reads the invalidations as they come, so a near hit
  never waits on the network and staleness is one message's trip.
* **Losing the connection flushes.**  Messages sent while the listener is
  disconnected are lost, so on a drop the near cache is emptied and reads
  go to Redis until the listener is back; it is emptied again once it
  resubscribes.  A silent drop (a black hole, no reset) is caught by a PING
  every `heartbeat` seconds that must be answered in time.
* **A slow subscriber** gets disconnected by the server when its output
  buffer passes `client-output-buffer-limit pubsub` (32 MB by default), which
  is a drop like any other: flushed, resubscribed.  That limit applies to
  RESP2 subscribers only (a RESP3 one counts as a "normal" client, unbounded
  by default), so the pub/sub listener speaks RESP2; the tracking listener
  needs RESP3 for its pushes, and a slow one grows the server's buffer.  In
  the process, the listener only queues; past `MAX_PENDING` queued
  invalidations the queue becomes one flush.
* **The writer's own echo** is skipped: a write drops its own near copy
  right after the write reaches Redis (so the next read is fresh, even
  across threads), and the message it publishes carries the writer's
  `origin` so its own listener ignores it; tracking uses `NOLOOP`.
* **No stale insert after a race.**  A far read copies its value into near
  only if no invalidation or flush came while the read was in flight (an
  epoch counter), so a message that overtakes a slow read is not undone.
* **A handler that fails flushes**: better a cold near cache than a stale one.
* **Starting while Redis is down** waits up to `ready_timeout` seconds for the
  listener, then carries on not live: reads go to Redis (failing open, as
  `RedisCache` does) until the listener connects.
"""

import collections
import logging
import threading
import time
import uuid
import weakref

from .._checks import check_seconds
from ..caches import MISSING, CacheInfo, LRUCache
from .cache import RedisCache

__all__ = ["NearStats", "PubSubNearCache", "TrackingNearCache"]

log = logging.getLogger("cachelab.redis")

_POLL = 0.05  # how long the listener waits for data before it looks at its clock and stop flag


class NearStats(dict):
    """A near cache's counts, as a dict: hits by level, messages, keys dropped, flushes, reconnects."""

    __slots__ = ()

    def __repr__(self):
        return "NearStats(" + ", ".join(f"{k}={v}" for k, v in self.items()) + ")"


def _connection_options(client, timeout):
    """The connection settings of a single-server redis-py client: host, port, db, password, timeouts."""
    if hasattr(client, "get_nodes") or not hasattr(client, "connection_pool"):
        raise TypeError(f"far must be a RedisCache on one server (redis.Redis), "
                        f"got a {type(client).__name__}")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    given = client.connection_pool.connection_kwargs
    keep = ("host", "port", "path", "db", "username", "password", "socket_connect_timeout")
    options = {k: given[k] for k in keep if given.get(k) is not None}
    options["socket_timeout"] = timeout
    options.setdefault("socket_connect_timeout", timeout)
    options["retry"] = Retry(NoBackoff(), 0)  # the listener's loop and RedisCache's breaker retry
    return client.connection_pool.connection_class, options


class _Listener(threading.Thread):
    """One connection that reads invalidations for a near cache; reconnects when it drops."""

    # State:
    #   owner        the near cache (weakly: a forgotten cache lets its listener end)
    #   connection   the redis-py connection while connected, else None
    #   stopping     set by close()
    def __init__(self, owner, connection_class, options, heartbeat, retry):
        super().__init__(name=f"near-cache-listener:{owner.origin}", daemon=True)
        self.owner = weakref.ref(owner)
        self.connection_class, self.options = connection_class, {**options, "protocol": owner.PROTOCOL}
        self.heartbeat, self.retry = heartbeat, retry
        self.connection = None
        self.stopping = threading.Event()

    def run(self):
        import redis

        expected = (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError)
        complained = False
        while not self.stopping.is_set():
            error = None
            try:
                self._listen()
            except Exception as caught:  # a dropped, refused or silent connection
                error = caught
                if not isinstance(caught, expected) and not complained:  # a bug: say so, once
                    complained = True
                    log.error("cachelab.redis: near-cache listener failed", exc_info=caught)
            self._disconnect()
            owner = self.owner()
            if owner is None:  # the cache was forgotten without close()
                return
            if not self.stopping.is_set():
                owner._lost(error)
            del owner
            self.stopping.wait(self.retry)

    def _listen(self):
        connection = self.connection = self.connection_class(**self.options)
        connection.connect()
        if self.options["protocol"] == 3:
            # redis-py hands a RESP3 "invalidate" push to a handler on the parser and drops
            # it when there is none; this one returns it, so read_response gives it to us.
            connection._get_parser().set_invalidation_push_handler(lambda push: push)
        owner = self.owner()
        if owner is None:
            return
        owner._subscribe(connection)
        owner._ready()
        del owner
        heard = time.monotonic()
        pinged = None
        while not self.stopping.is_set():
            if connection.can_read(timeout=_POLL):
                reply = connection.read_response(push_request=True)
                heard, pinged = time.monotonic(), None
                owner = self.owner()
                if owner is None:
                    return
                owner._received(reply)
                del owner
            now = time.monotonic()
            if pinged is not None and now - pinged > self.heartbeat:
                raise TimeoutError(f"no answer to PING in {self.heartbeat} s")
            if pinged is None and now - heard > self.heartbeat:
                connection.send_command("PING")
                pinged = now

    def _disconnect(self):
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.disconnect()
            except Exception:
                pass

    def stop(self):
        self.stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=2)
        self._disconnect()


class _NearCache:
    """What both near caches share: the read path, the flush on a drop, stats and closing."""

    # State:
    #   near        the in-process cache (any CacheLike); only the threads that call this cache touch it
    #   far         the RedisCache behind it
    #   origin      this instance's id, in what it publishes
    #   _live       True while the listener is connected and subscribed: only then is near used
    #   _pending    invalidations the listener queued: (handler, args), or (None, None) for a flush
    #   _queued     how many the listener queued; _applied: how many a caller has applied
    #   _epoch      bumped by every write and flush; with _queued, a far read that saw either
    #               move while it was in flight does not fill near
    #   _lock       held while near changes (fills, drops, flushes); _queue_lock while queueing
    # The listener thread never touches near: it queues, and the next call applies the queue
    # under the lock.  So a near hit takes no lock and costs one comparison more than a plain hit.
    MAX_PENDING = 10_000  # more queued invalidations than this: one flush instead
    PROTOCOL = 3          # the listener's RESP version

    def __init__(self, near, far, *, heartbeat, retry):
        if not isinstance(far, RedisCache):
            raise TypeError(f"far must be a cachelab.redis.RedisCache, got {far!r}")
        if near is None:
            near = LRUCache(maxsize=10_000)
        elif not all(callable(getattr(near, m, None)) for m in ("get", "pop", "clear", "__setitem__")):
            raise TypeError(f"near must be an in-process cache with get, pop, clear and cache[key] = "
                            f"value (e.g. LRUCache(maxsize=1000)), got {near!r}")
        self.near, self.far = near, far
        self.heartbeat = check_seconds("heartbeat", heartbeat, positive=True, finite=True)
        self.retry = check_seconds("retry", retry, positive=True, finite=True)
        self.origin = uuid.uuid4().hex[:12]
        self._live = False
        self._pending = collections.deque()
        self._queued = self._applied = self._epoch = 0
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._connected = threading.Event()
        self._near_hits = 0
        self._counts = dict.fromkeys(("far_hits", "misses", "messages", "echoes", "invalidated",
                                      "flushes", "reconnects", "handler_errors"), 0)
        self._listener = None

    def _start(self, options, ready_timeout):
        ready_timeout = check_seconds("ready_timeout", ready_timeout, finite=True)
        connection_class, options = options
        self._listener = _Listener(self, connection_class, options, self.heartbeat, self.retry)
        self._listener.start()
        self.wait_live(ready_timeout)

    # -- the listener's side: it only queues

    def _subscribe(self, connection):
        raise NotImplementedError

    def _queue(self, handler, *args):
        with self._queue_lock:  # the listener queues, and so does a data connection reconnecting
            if len(self._pending) >= self.MAX_PENDING:
                self._pending.clear()
                handler, args = None, None
            self._pending.append((handler, args))
            self._queued += 1

    def _ready(self):
        """Subscribed again: near may have missed messages while we were away, so it starts empty."""
        self._queue(None)
        self._live = True
        self._connected.set()

    def _lost(self, error):
        """The listener's connection dropped: messages are being lost, so stop using near."""
        was_live, self._live = self._live, False
        self._connected.clear()
        if was_live:  # (not on every failed retry: near is already out of use)
            self._queue(None)
            self._counts["reconnects"] += 1
            log.warning("cachelab.redis: near cache %r lost its invalidation connection (%s: %s); "
                        "reads go to Redis until it is back, then near starts empty",
                        self.far.prefix, type(error).__name__, error)

    def _received(self, reply):
        raise NotImplementedError

    # -- applying the queue, in the caller's thread

    def _catch_up(self):
        """Apply the queued invalidations under the lock; a handler that fails flushes near."""
        with self._lock:
            target = self._queued
            while self._pending:
                handler, args = self._pending.popleft()
                if handler is None:
                    self._flush()
                    continue
                try:
                    handler(*args)
                except Exception as error:
                    self._counts["handler_errors"] += 1
                    self._flush()
                    if self._counts["handler_errors"] == 1:  # once: a broken handler fails every time
                        log.warning("cachelab.redis: near cache %r: invalidation handler failed (%s: "
                                    "%s); near emptied, and on every failure after this",
                                    self.far.prefix, type(error).__name__, error)
            self._applied = target

    def _flush(self):
        """Empty near; the caller holds the lock."""
        self.near.clear()
        self._epoch += 1
        self._counts["flushes"] += 1

    def _drop(self, key):
        """Drop one near copy (the caller holds the lock)."""
        if self.near.pop(key, MISSING) is not MISSING:
            self._counts["invalidated"] += 1

    def wait_live(self, timeout=1.0):
        """Wait until the listener is connected and subscribed (near in use); return whether it is."""
        return self._connected.wait(timeout)

    @property
    def live(self):
        """True while invalidations arrive, so near copies are used; False: every read goes to Redis."""
        return self._live

    # -- reads

    def get(self, key, default=None):
        """Return the value: from near if there, else from Redis (copied into near); default on a miss."""
        if self._live:
            if self._queued != self._applied:
                self._catch_up()
            try:
                value = self.near.get(key, MISSING)
            except KeyError:  # another thread dropped it while this one read it
                value = MISSING
            if value is not MISSING:
                self._near_hits += 1
                return value
        queued, epoch = self._queued, self._epoch
        value = self.far.get(key, MISSING)
        if value is MISSING:
            self._counts["misses"] += 1
            return default
        self._counts["far_hits"] += 1
        with self._lock:
            # Only if nothing was invalidated meanwhile: the message may be about this very read.
            if self._live and self._queued == queued and self._epoch == epoch:
                self.near[key] = value
        return value

    def __getitem__(self, key):
        value = self.get(key, MISSING)
        if value is MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        if self._live:
            self._catch_up()
            if self.near.get(key, MISSING) is not MISSING:
                return True
        return key in self.far

    # -- writes: Redis first, then our own near copy, then tell the others

    def _forget(self, key):
        with self._lock:
            self._epoch += 1
            self.near.pop(key, None)

    def set(self, key, value, ttl=None):
        """Store in Redis (with ttl, or the far cache's default), drop the near copy, tell the others."""
        self.far.set(key, value, ttl)
        self._forget(key)
        self._announce(key)

    def __setitem__(self, key, value):
        self.set(key, value)

    def pop(self, key, default=None):
        """Remove key from Redis and near, tell the others; return its value or default."""
        value = self.far.pop(key, MISSING)
        self._forget(key)
        self._announce(key)
        if value is MISSING:
            return default
        return value

    def __delitem__(self, key):
        if self.pop(key, MISSING) is MISSING:
            raise KeyError(key)

    def clear(self):
        """Delete every key under the far prefix, empty near, tell the others; reset the counts."""
        self.far.clear()
        with self._lock:
            self._flush()
        self._announce(None)
        self._near_hits = 0
        for name in self._counts:
            self._counts[name] = 0

    def _announce(self, key):
        """Tell the other instances that key (None: every key) changed."""

    # -- statistics and lifetime

    def cache_info(self):
        """CacheInfo(hits, misses, maxsize, currsize): hits from either level, near's size."""
        return CacheInfo(self._near_hits + self._counts["far_hits"], self._counts["misses"],
                         getattr(self.near, "maxsize", None), len(self.near))

    def stats(self):
        """NearStats: near and far hits, misses, messages received, own echoes skipped, keys
        dropped, flushes, reconnects and failed handlers."""
        return NearStats(near_hits=self._near_hits, **self._counts)

    def close(self):
        """Stop the listener and empty near (a closed near cache reads from Redis only)."""
        if self._listener is not None:
            self._listener.stop()
        self._live = False
        self._connected.clear()
        with self._lock:
            self._pending.clear()
            self.near.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "live" if self._live else "not live: reads go to Redis"
        return f"{type(self).__name__}(prefix={self.far.prefix!r}, near={self.near!r}, {state})"


class PubSubNearCache(_NearCache):
    """A near cache kept fresh by invalidation messages over Redis pub/sub.

    Every write, pop and clear publishes `origin` and the key's Redis name on
    `channel` (default: "cachelab:invalidate:" + the far prefix) after the
    Redis write; each instance drops its near copy when a message comes
    (`on_message`).  Every instance that writes must be a PubSubNearCache on
    the same channel: a write that does not publish is not seen.
    """

    # RESP2: the server counts a RESP2 subscriber as "pubsub" and cuts it when it falls behind
    # (client-output-buffer-limit pubsub, 32 MB by default), which this cache treats as a drop.
    # A RESP3 subscriber counts as a "normal" client, whose buffer may grow without bound.
    PROTOCOL = 2

    def __init__(self, near, far, *, channel=None, heartbeat=1.0, retry=0.05, timeout=1.0,
                 ready_timeout=2.0):
        super().__init__(near, far, heartbeat=heartbeat, retry=retry)
        if channel is None:
            channel = "cachelab:invalidate:" + far.prefix
        elif not isinstance(channel, str) or not channel:
            raise TypeError(f"channel must be a non-empty str, got {channel!r}")
        self.channel = channel
        self._unsent = set()  # names whose message could not be published: sent with the next one
        self._published = 0
        timeout = check_seconds("timeout", timeout, positive=True, finite=True)
        self._start(_connection_options(far.client, timeout), ready_timeout)

    def _subscribe(self, connection):
        connection.send_command("SUBSCRIBE", self.channel)
        connection.read_response(push_request=True)  # [subscribe, channel, 1]

    def _received(self, reply):
        if not (isinstance(reply, list) and len(reply) == 3 and reply[0] in (b"message", "message")):
            return  # a pong, or a subscribe confirmation
        self._counts["messages"] += 1
        payload = reply[2].decode() if isinstance(reply[2], bytes) else reply[2]
        origin, _, name = payload.partition(" ")
        if origin == self.origin:
            self._counts["echoes"] += 1
        self._queue(self.on_message, origin, name or None)

    def on_message(self, origin, name):
        """Handle one invalidation message: drop the near copy of the key named.

        Called under the lock, by the next call to the cache.  `origin` is
        the writer's id (this instance's own write: already dropped), `name`
        the Redis key name written, prefix included, or None when the writer
        cleared the whole cache.
        """
        if origin == self.origin:
            return
        if name is None:
            self.near.clear()
            return
        try:
            key = self.far.key_of(name)
        except KeyError:
            return  # not a key of this cache
        self._drop(key)

    def _announce(self, key):
        import redis

        names = {self.far.name_of(key) if key is not None else None}
        names |= self._unsent
        try:
            for name in names:
                payload = self.origin if name is None else f"{self.origin} {name}"
                self.far.client.publish(self.channel, payload)
                self._published += 1
                self._unsent.discard(name)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            # The others keep their copies until a message reaches them: send it later.
            self._unsent |= names
            if len(self._unsent) > RedisCache.MAX_DIRTY:
                self._unsent = {None}

    def stats(self):
        stats = super().stats()
        stats["published"] = self._published
        return stats


class TrackingNearCache(_NearCache):
    """A near cache kept fresh by Redis's server-assisted client-side caching (CLIENT TRACKING).

    Reads and writes go through one connection of its own (made with the far
    cache's host, port, db and password) whose tracking is redirected to a
    RESP3 listener connection.  Default mode: the server remembers every key
    this instance read and pushes an invalidation when any client changes it
    (memory on the server grows with keys read times instances).  `bcast=True`:
    the server remembers only the prefix and pushes every change under it.
    """

    def __init__(self, near, far, *, bcast=False, heartbeat=1.0, retry=0.05, timeout=1.0,
                 ready_timeout=2.0):
        super().__init__(near, far, heartbeat=heartbeat, retry=retry)
        import redis

        if not isinstance(bcast, bool):
            raise TypeError(f"bcast must be True or False, got {bcast!r}")
        self.bcast = bcast
        self._redirect = None  # the listener's client id while it is connected
        timeout = check_seconds("timeout", timeout, positive=True, finite=True)
        options = _connection_options(far.client, timeout)
        owner = weakref.proxy(self)

        class TrackedConnection(options[0]):
            """A connection that turns tracking on, redirected to the listener, whenever it connects."""

            def on_connect(self):
                super().on_connect()
                owner._connected_data(self)

        pool = redis.BlockingConnectionPool(connection_class=TrackedConnection, max_connections=1,
                                            timeout=timeout, **options[1])
        client = redis.Redis(connection_pool=pool)
        self.far = RedisCache(client, prefix=far.prefix, ttl=far.ttl, codec=far.codec,
                              backoff=far.backoff, max_backoff=far.max_backoff, clock=far.clock)
        self._start(options, ready_timeout)

    def _tracking(self, redirect):
        args = ["CLIENT", "TRACKING", "ON", "REDIRECT", redirect]
        if self.bcast:
            args += ["BCAST", "PREFIX", self.far.prefix]
        return [*args, "NOLOOP"]

    def _connected_data(self, connection):
        """The data connection (re)connected: its old tracking is gone, so near starts over."""
        if self._redirect is not None:
            connection.send_command(*self._tracking(self._redirect))
            connection.read_response()
        self._queue(None)

    def _subscribe(self, connection):
        connection.send_command("CLIENT", "ID")
        self._redirect = connection.read_response()
        # Point the data connection at the new listener (its old redirect is dead).
        self.far.client.execute_command("CLIENT", "TRACKING", "OFF")
        self.far.client.execute_command(*self._tracking(self._redirect))

    def _lost(self, error):
        self._redirect = None
        super()._lost(error)

    def _received(self, reply):
        if not (isinstance(reply, list) and len(reply) == 2 and reply[0] in (b"invalidate", "invalidate")):
            return  # a PONG
        self._counts["messages"] += 1
        self._queue(self.on_invalidate, reply[1])

    def on_invalidate(self, names):
        """Handle one push: drop the near copies of the Redis keys named (None: the server
        flushed, drop everything).  Called under the lock, by the next call to the cache."""
        if names is None:
            self.near.clear()
            return
        for name in names:
            try:
                key = self.far.key_of(name)
            except KeyError:
                continue
            self._drop(key)

    def close(self):
        super().close()
        self.far.client.connection_pool.disconnect()

    def __repr__(self):
        mode = "bcast" if self.bcast else "default"
        return super().__repr__()[:-1] + f", mode={mode!r})"
