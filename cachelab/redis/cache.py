"""A cache in a Redis (Valkey) server, shared by every process that uses it.

`RedisCache` satisfies `cachelab.caches.CacheLike` and `ExpiringCache`, so
the patterns, `cached()` and `ECommerceService` run over it unchanged::

    from cachelab.redis import RedisCache, redis_server

    with redis_server() as server:          # embedded Valkey, or CACHELAB_REDIS_URL
        cache = RedisCache(server.url, prefix="shop:product:", ttl=60)
        cache["product:1"] = {"id": 1, "price": 999}
        cache.get("product:1")              # {'id': 1, 'price': 999}, a hit
        cache.cache_info()                  # CacheInfo(hits=1, misses=0, maxsize=None, currsize=1)

What it does, and the choices behind it:

* **Encoding.** Values go through a codec, `JSON` by default: what comes
  back is equal to what went in, or `set` raises `TypeError` naming the key
  and what to change (a set, a tuple, a datetime, a dict with non-str keys).
  `PICKLE` exists only for the pitfalls notebook and must be asked for:
  unpickling runs code chosen by whoever can write to the server.  A value
  the codec cannot decode (foreign or planted data) is a miss, never run.
* **Keys and expiry.** Every key lives under `prefix` (default
  "cachelab:cache:", apart from `service_caches`' "cachelab:service:");
  `clear()` deletes that prefix only (`SCAN` + `UNLINK`), never `FLUSHALL`.
  `set(key, value, ttl)` is one `SET ... PX`; `ttl=None` uses the cache's
  default `ttl` (at most `MAX_TTL`), and a cache without one keeps keys
  until Redis evicts them.  A key is str, int, float, bool, None, bytes or
  a tuple of those, named by value (`encode_key`): a str key is itself,
  others are `~` + canonical JSON (`~1`, `~1.0`, `~true`,
  `~["product",1]`), so `1`, `1.0`, `True` and `"1"` are four different
  keys.  Any other key is refused with a `TypeError`; a key named by
  `repr()` would let a new object at a freed address read a dead one's
  value.  `name_of(key)` and `key_of(name)` map between keys and Redis
  names; `keys()` skips names under the prefix that no key encodes to
  (planted or binary data).
* **Statistics.** `cache_info()` is `CacheInfo(hits, misses, maxsize=None,
  currsize)` like the other caches; `stats()` adds skipped writes (one per
  key), errors and outages.  `get_many()` is one `MGET`, `set_many()` one
  pipeline.
* **Failing open.** The cache is an optimisation, so its server going down
  must not take the application with it.  A client made from a URL waits at
  most `timeout` (50 ms) per request and does not retry.  A failed read is a
  miss (the caller loads from the database); a failed write or delete is
  skipped and counted (the database write has already happened in every
  pattern).  A circuit breaker then stops calling the server for `backoff`
  seconds, doubling with each failed probe up to `max_backoff`; the outage
  is logged once on the "cachelab.redis" logger, and its end once.
* **No stale copy after a blip.** The Redis keys of skipped writes and
  deletes are remembered.  When the back-off ends, one thread probes: it
  deletes them (a background thread does it if no request comes; with
  `background=False`, as under a `FakeClock`, call `retry()`), and only
  then, under the lock, closes the breaker, so no read can overtake the
  deletes; `pending` counts the keys still owed.  A server that answered
  but refused a write (full under `noeviction`) gets the delete at once.
  `close()` (also run at exit) tries once more and logs at ERROR every key
  it could not delete.  Such a key keeps its old value for the rest of its
  TTL: with `ttl=None` that is until Redis evicts it, possibly for ever, so
  give a shared cache a `ttl`; it is the bound on how stale a read can be
  when every retry fails.  For a bound that survives a crash of the writer
  too, write the invalidation in the database's transaction
  (`cachelab.outbox`); its invalidator deletes with `unlink(keys)`, which
  raises instead of failing open.
* **Bad configuration.** A malformed URL raises `ValueError` at once.  A
  server that refuses connections or a wrong password is an outage: the
  cache fails open and the log line says why; call `ping()` to fail fast.

A `RedisCluster` client works too (`RedisCache(cluster_client)`); give it
short timeouts and few retries (see `cachelab.redis.cluster_client`).
"""

import atexit
import collections
import functools
import json
import logging
import os
import pickle
import threading
import time
import weakref

from .._checks import check_callable, check_seconds
from ..caches import MISSING, CacheInfo
from .servers import mask_url

__all__ = [
    "Codec",
    "JSON",
    "PICKLE",
    "RedisCache",
    "RedisStats",
    "TwoLevelCache",
    "decode_key",
    "encode_key",
    "service_caches",
    "unreachable_errors",
]

log = logging.getLogger("cachelab.redis")

Codec = collections.namedtuple("Codec", "name dumps loads")
Codec.__doc__ = "How values become bytes and back: dumps(value) -> bytes, loads(bytes) -> value."

RedisStats = collections.namedtuple(
    "RedisStats", "hits misses writes skipped_writes errors outages")
RedisStats.__doc__ = (
    "A Redis cache's counts: reads that hit and missed (misses include reads the outage "
    "turned away), writes stored and skipped, failed requests, and outages begun.")


def _json_dumps(value):
    try:
        data = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{error}; store str, int, float, bool, None, lists and dicts with str keys, "
                        "e.g. list(a_set) or a_datetime.isoformat()") from None
    # JSON quietly turns tuples into lists and dict keys into strings; a hit
    # must return what a miss returned, so refuse what would come back different.
    if json.loads(data) != value:
        raise TypeError(f"{type(value).__name__} value would come back different from JSON "
                        "(tuples become lists, dict keys become str); store lists and "
                        "str-keyed dicts instead")
    return data.encode()


_json_decode = json.JSONDecoder().decode


def _json_loads(data):
    return _json_decode(data.decode() if isinstance(data, bytes) else data)


JSON = Codec("json", _json_dumps, _json_loads)  # the default: data only, nothing runs on a read

# Only for showing why not: pickle.loads runs whatever the payload says.
PICKLE = Codec("pickle", lambda value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
               pickle.loads)

# -- keys: a stable, injective encoding of the literal types people use as keys

_TAG = "~"  # after the prefix, a name starting with it holds an encoded non-str key
_KEY_TYPES = "str, int, float, bool, None, bytes, or a tuple of those"


def _refuse_key(key, why=""):
    kind = f"the class {key.__name__}" if isinstance(key, type) else type(key).__name__
    raise TypeError(
        f"a cache key must be {_KEY_TYPES}, got {kind}{why}: a shared cache names "
        "keys by value, never by repr() (an object's address is reused, so another object would "
        "read its value); pass key= to cached() returning such a value, or build one with "
        "cachelab.make_key") from None


def _to_json(key):
    kind = type(key)
    if kind is str or kind is int or kind is bool or key is None:
        return key
    if kind is float:
        return key + 0.0  # -0.0 + 0.0 is 0.0: equal floats are one key, as in a dict
    if kind is bytes:
        return {"b": key.hex()}
    if isinstance(key, tuple):  # tuple subclasses too (cachetools' hashkey); read back as tuples
        return [_to_json(part) for part in key]
    _refuse_key(key)


def _from_json(data):
    if isinstance(data, list):
        return tuple(_from_json(part) for part in data)
    if isinstance(data, dict):
        return bytes.fromhex(data["b"])
    return data


def encode_key(key):
    """The text a RedisCache puts after its prefix for `key`; TypeError for keys it cannot name.

    A str key is itself, so names stay readable in redis-cli.  Any other key
    (and a str that starts with "~" or cannot be UTF-8) is "~" and canonical
    ASCII JSON: ints as 1, floats as 1.0, True as true, None as null, bytes
    as {"b": hex}, tuples as lists.  So 1, 1.0, True and "1" are four keys
    (unlike a dict, where the first three are one); 0.0 and -0.0 are one.
    """
    if type(key) is str and not key.startswith(_TAG):
        try:
            key.encode()
            return key
        except UnicodeEncodeError:  # a lone surrogate: Redis names are UTF-8, so encode it
            pass
    try:
        return _TAG + json.dumps(_to_json(key), separators=(",", ":"), allow_nan=True)
    except RecursionError:
        _refuse_key(key, " nested too deep")
    except ValueError as error:  # an int too long to print
        _refuse_key(key, f" ({error})")


def decode_key(text):
    """The key `encode_key` made `text` from; KeyError if no key encodes to it (foreign data)."""
    if not text.startswith(_TAG):
        return text
    try:
        key = _from_json(json.loads(text[1:]))
        if encode_key(key) == text:  # canonical only: one key, one name
            return key
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        pass
    raise KeyError(text)


_DOWN = ()  # the errors that mean "the server is unreachable", filled in on first use


def unreachable_errors():
    """The redis-py errors (and OSError) that mean a server could not be reached: refused, reset, timed out."""
    global _DOWN
    if not _DOWN:
        import redis.exceptions as e

        _DOWN = (e.ConnectionError, e.TimeoutError, e.ClusterDownError, e.ClusterError,
                 e.SlotNotCoveredError, e.MaxConnectionsError, OSError)
    return _DOWN


def _client_from_url(url, timeout):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                    retry=Retry(NoBackoff(), 0), health_check_interval=0)
    except ValueError as error:
        raise ValueError(f"url {mask_url(url)!r} is not a Redis URL ({error}); expected e.g. "
                         "redis://127.0.0.1:6379/0 or redis://:password@host:port/0") from None


class _Breaker:
    """A circuit breaker for one server: shut while it answers, open for a back-off after a failure."""

    # State (read and written under the cache's lock):
    #   node        the cluster node's name, or None for a single server
    #   open_until  clock time before which nothing is sent, or None while the server answers
    #   failures    1 + the failed probes of this outage; the back-off is backoff * 2 ** (failures - 1)
    #   inflight    requests sent and not answered yet; the breaker closes only once none is left
    #   probing     True while one thread probes; every other request fails open meanwhile
    #   dirty       Redis names whose write or delete was skipped: deleted before the breaker closes
    #   clear_all   the whole prefix must go first (a skipped clear(), or more than MAX_DIRTY names)
    def __init__(self, node):
        self.node, self.open_until, self.failures = node, None, 0
        self.inflight, self.probing, self.dirty, self.clear_all = 0, False, set(), False

    @property
    def pending(self):
        return bool(self.dirty) or self.clear_all


_EVERYTHING = "everything"  # skip=_EVERYTHING: a skipped clear(), so the whole prefix is pending
_OPEN_CACHES = weakref.WeakSet()  # caches to close() at interpreter exit


@atexit.register
def _close_at_exit():
    for cache in list(_OPEN_CACHES):
        cache.close()


def _after_fork_in_child():
    # A forked worker gets a copy of each cache but none of its threads: a lock another
    # thread held at the fork would never be released, and the retrier does not exist.
    for cache in list(_OPEN_CACHES):
        cache._lock = threading.Lock()
        cache._settled = threading.Condition(cache._lock)
        cache._retrier, cache._wake = None, threading.Event()
        with cache._lock:
            for breaker in cache._breakers.values():
                breaker.inflight, breaker.probing = 0, False
            if any(breaker.pending for breaker in cache._breakers.values()):
                cache._ensure_retrier()  # the deletes it inherited are its to retry too


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class RedisCache:
    """A cache of JSON values in Redis under one key prefix, failing open when Redis is down."""

    # State:
    #   client          a redis-py Redis or RedisCluster client
    #   prefix          every key this cache writes starts with it
    #   ttl             default time-to-live in seconds, or None
    #   codec           Codec turning values into bytes and back
    #   background      True: a thread deletes skipped keys as soon as the server is back
    #   _hits, _misses, _writes, _skipped, _errors, _outages   the counts of stats()
    #   _breakers       node name (None for a single server) -> _Breaker
    #   _lock           guards the breakers and the counts of skipped writes, errors and outages
    #   _settled        notified (under _lock) when a breaker's last request in flight returns
    #   _retrier        the background thread while one runs, else None
    #   _wake           wakes the retrier: a breaker opened, or close() was called
    #   _closed         set by close(): no more background retries
    MAX_DIRTY = 10_000  # more skipped keys than this: clear the whole prefix on recovery
    MAX_TTL = 10**15  # seconds (31.7 million years): Redis keeps expiry as 64-bit milliseconds
    STRAGGLER_WAIT = 1.0  # seconds a probe waits for requests sent before the outage to return

    def __init__(self, client, *, prefix="cachelab:cache:", ttl=None, codec=JSON, timeout=0.05,
                 backoff=0.5, max_backoff=30.0, clock=time.monotonic, background=True):
        if isinstance(client, str):
            check_seconds("timeout", timeout, positive=True)
            client = _client_from_url(client, timeout)
        elif not callable(getattr(client, "execute_command", None)):
            raise TypeError(f"client must be a redis-py client (redis.Redis, RedisCluster) or a "
                            f"redis:// URL, got {client!r}")
        if not isinstance(prefix, str) or not prefix:
            raise TypeError(f"prefix must be a non-empty str such as 'myapp:', got {prefix!r}")
        if not isinstance(codec, Codec):
            raise TypeError(f"codec must be a cachelab.redis.Codec such as JSON, got {codec!r}")
        self.client, self.prefix, self.codec = client, prefix, codec
        self.ttl = None if ttl is None else self._check_ttl(ttl)
        self.backoff = check_seconds("backoff", backoff)
        self.max_backoff = check_seconds("max_backoff", max_backoff)
        self.clock = check_callable("clock", clock, "time.monotonic")
        self.background = bool(background)
        self._cluster = hasattr(client, "get_nodes")
        self._hits = self._misses = self._writes = self._skipped = self._errors = self._outages = 0
        self._breakers = {None: _Breaker(None)}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._retrier, self._wake, self._closed = None, threading.Event(), False
        _OPEN_CACHES.add(self)

    # -- keys

    def name_of(self, key):
        """The Redis key name of a cache key: the prefix, then the key's encoding (see the module doc)."""
        return self.prefix + encode_key(key)

    _name = name_of

    def key_of(self, name):
        """The cache key whose Redis name is `name` (str or bytes); KeyError if it is not one of ours."""
        if isinstance(name, (bytes, bytearray, memoryview)):
            try:
                name = bytes(name).decode()
            except UnicodeDecodeError:
                raise KeyError(name) from None
        if not isinstance(name, str) or not name.startswith(self.prefix):
            raise KeyError(name)
        return decode_key(name[len(self.prefix):])

    def _check_ttl(self, ttl):
        ttl = check_seconds("ttl", ttl, positive=True)
        if ttl > self.MAX_TTL:
            raise ValueError(f"ttl must be at most {self.MAX_TTL:.0e} seconds (Redis keeps expiry "
                             f"times as 64-bit milliseconds); use ttl=None for no expiry, got {ttl!r}")
        return ttl

    def _ttl_ms(self, ttl):
        ttl = self.ttl if ttl is None else self._check_ttl(ttl)
        return None if ttl is None else max(1, round(ttl * 1000))

    # -- the circuit breaker: one for a server, one per node of a cluster

    def _breaker(self, name):
        """The breaker guarding the server that holds the Redis key `name`."""
        if not self._cluster:
            return self._breakers[None]
        try:
            node = self.client.nodes_manager.get_node_from_slot(self.client.keyslot(name)).name
        except Exception:  # slots not known yet: the cluster as a whole
            node = None
        with self._lock:
            return self._breakers.setdefault(node, _Breaker(node))

    def _call(self, breaker, request, skip=()):
        """Return request() from breaker's server, or MISSING when it is (or just went) down.

        `skip` names the Redis keys the request writes or deletes: if it does not
        happen they are counted as skipped and deleted before the breaker closes.
        """
        if not self._admit(breaker, skip):
            return MISSING
        try:
            return request()
        except unreachable_errors() as error:
            self._trip(breaker, error, skip)
        except Exception as error:
            import redis

            if not isinstance(error, redis.RedisError):
                raise
            self._refused(breaker, error, skip)
        finally:
            with self._lock:
                breaker.inflight -= 1
                if not breaker.inflight:
                    self._settled.notify_all()
        return MISSING

    def _admit(self, breaker, skip=()):
        """True to send one request now (counted in flight); False to fail open, skip marked dirty."""
        with self._lock:
            if breaker.open_until is None:
                breaker.inflight += 1
                return True
            if breaker.probing or self.clock() < breaker.open_until:
                self._mark(breaker, skip)
                return False
            breaker.probing = True  # this thread probes; the others keep failing open
        probed = self._probe(breaker)
        with self._lock:
            if probed and breaker.open_until is None:
                breaker.inflight += 1
                return True
            self._mark(breaker, skip)
            return False

    def _mark(self, breaker, skip):
        """Under the lock, with the breaker open: skip did not reach the server; delete it on recovery."""
        if skip is _EVERYTHING:
            breaker.clear_all = True
        elif skip:
            self._skipped += len(skip)
            breaker.dirty.update(skip)
            if len(breaker.dirty) > self.MAX_DIRTY:
                breaker.dirty.clear()
                breaker.clear_all = True
        if breaker.pending:
            self._ensure_retrier()

    def _ensure_retrier(self):
        """Under the lock: start the background retry unless it runs (or is off, or closed)."""
        if self.background and self._retrier is None and not self._closed:
            self._retrier = threading.Thread(target=self._retry_in_background, daemon=True,
                                             name=f"cachelab.redis retry {self.prefix}")
            self._retrier.start()

    def _open(self, breaker, failures):
        """Under the lock: stop sending to breaker's server for the back-off of `failures`; return it."""
        wait = min(self.backoff * 2 ** (failures - 1), self.max_backoff)
        if breaker.open_until is None:
            self._outages += 1
            self._wake.set()  # a retrier still asleep from the last outage: look at this one
        breaker.failures, breaker.open_until = failures, self.clock() + wait
        return wait

    def _trip(self, breaker, error, skip):
        # Only the first request to fail opens the breaker: the others in flight meet the
        # same outage and must not double the back-off (it doubles once per failed probe).
        with self._lock:
            self._errors += 1
            first = breaker.open_until is None
            wait = self._open(breaker, 1) if first else None
            # Still open: the probe waits for this request before it may close the breaker.
            self._mark(breaker, skip)
        if first:
            where = f" node {breaker.node}" if breaker.node else ""
            log.warning("cachelab.redis: cache %r%s unreachable (%s: %s); failing open: reads go "
                        "to the database and cache writes are skipped; retrying in %.3g s",
                        self.prefix, where, type(error).__name__, error, wait)

    def _refused(self, breaker, error, skip):
        """The server answered but refused (e.g. OOM under noeviction): drop the old copies now."""
        with self._lock:
            self._errors += 1
        log.debug("cachelab.redis: %s failed: %s", self.prefix, error)
        if not skip or skip is _EVERYTHING:
            return
        try:
            self._unlink(list(skip), self._client_for(breaker))  # a full server still deletes
        except unreachable_errors() as down:
            self._trip(breaker, down, skip)
            return
        except Exception:  # refused again: keep them for a probe, as if it were down
            with self._lock:
                if breaker.open_until is None:
                    self._open(breaker, 1)
                self._mark(breaker, skip)
            return
        with self._lock:
            self._skipped += len(skip)

    def _probe(self, breaker):
        """Delete the keys skipped meanwhile, then close the breaker; False if still unreachable.

        Called by the one thread that set breaker.probing.  The breaker closes only
        under the lock, once no request sent before the outage is still in flight and
        no skipped key is left, so no read can overtake the deletes.
        """
        answered, dropped = False, 0
        try:
            client = self._client_for(breaker)
            while True:
                with self._lock:
                    if not self._settled.wait_for(lambda: not breaker.inflight, self.STRAGGLER_WAIT):
                        self._open(breaker, breaker.failures)  # a request still hangs: wait again
                        breaker.probing = False
                        return False
                    if answered and not breaker.pending:
                        breaker.open_until, breaker.failures, breaker.probing = None, 0, False
                        break
                    dirty, clear_all = set(breaker.dirty), breaker.clear_all
                if clear_all:
                    self._clear_prefix(client)
                elif dirty:
                    self._unlink(list(dirty), client)
                else:
                    client.ping()
                # A key skipped again meanwhile never reached the server, which now holds
                # no copy of it: it is done too.  They stay pending until the delete is.
                with self._lock:
                    breaker.dirty -= dirty
                    breaker.clear_all &= not clear_all
                answered, dropped = True, dropped + len(dirty)
        except Exception as error:  # down, refused, or anything else: still failing open
            with self._lock:
                self._errors += 1
                wait = self._open(breaker, breaker.failures + 1)
                breaker.probing = False
            log.info("cachelab.redis: cache %r still unreachable (%s); retrying in %.3g s",
                     self.prefix, type(error).__name__, wait)
            return False
        log.warning("cachelab.redis: cache %r reachable again; %d skipped keys dropped",
                    self.prefix, dropped)
        return True

    def retry(self):
        """Probe now each server whose back-off has passed; return how many skipped keys are left.

        The background thread calls this when a back-off ends; with background=False
        (a test with a fake clock) call it yourself.  A prefix-wide clear counts as one.
        """
        for breaker in list(self._breakers.values()):
            with self._lock:
                if breaker.open_until is None or breaker.probing or self.clock() < breaker.open_until:
                    continue
                breaker.probing = True
            self._probe(breaker)
        return self.pending

    def _retry_in_background(self):
        # Skipped deletes must not wait for this instance's next request: another
        # process reads the old value meanwhile, and an idle process never sends one.
        while True:
            with self._lock:
                due = [b.open_until for b in self._breakers.values()
                       if b.open_until is not None and b.pending]
                if not due or self._closed:
                    self._retrier = None
                    return
                wait = min(due) - self.clock()
            if wait <= 0:
                self.retry()
            self._wake.wait(max(wait, 0.005))  # a request may be probing: look again shortly
            self._wake.clear()  # close() sets it too, but then _closed ends the loop

    def close(self):
        """Stop retrying in the background, try once more to delete every skipped key, and log
        at ERROR each key that could not be (it keeps its old value until its TTL ends).

        Runs at interpreter exit too.  Returns the keys left stale (prefix + "*" for a clear).
        """
        with self._lock:
            self._closed = True
            thread = self._retrier
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.STRAGGLER_WAIT)
        lost = []
        for breaker in list(self._breakers.values()):
            with self._lock:
                dirty, breaker.dirty = breaker.dirty, set()
                clear_all, breaker.clear_all = breaker.clear_all, False
            if not dirty and not clear_all:
                continue
            try:
                client = self._client_for(breaker)
                self._clear_prefix(client) if clear_all else self._unlink(list(dirty), client)
            except Exception as error:
                with self._lock:  # still pending, should this instance be used again
                    breaker.dirty |= dirty
                    breaker.clear_all |= clear_all
                keys = [self.prefix + "*"] if clear_all else sorted((self._readable(n) for n in dirty), key=repr)
                lost += keys
                log.error("cachelab.redis: cache %r could not invalidate %d key(s) on exit (%s: %s); "
                          "each keeps its old value until it expires (ttl=%r): %s", self.prefix,
                          len(keys), type(error).__name__, error, self.ttl,
                          ", ".join(map(repr, keys)))
        return lost

    def _readable(self, name):
        try:
            return self.key_of(name)
        except KeyError:
            return name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _client_for(self, breaker):
        if breaker.node is None:
            return self.client
        return self.client.get_redis_connection(self.client.get_node(node_name=breaker.node))

    @property
    def available(self):
        """False while a breaker is open (a server was unreachable and its back-off runs)."""
        with self._lock:
            return all(b.open_until is None for b in self._breakers.values())

    @property
    def pending(self):
        """How many skipped writes and deletes wait for the server (a pending clear counts one)."""
        with self._lock:
            return sum(len(b.dirty) + b.clear_all for b in self._breakers.values())

    def ping(self):
        """Check the server now; raise ConnectionError naming the cache and how to fix it."""
        try:
            self.client.ping()
        except unreachable_errors() as error:
            raise ConnectionError(
                f"Redis for cache {self.prefix!r} is unreachable ({type(error).__name__}: {error}); "
                "is the server running, and are the URL, port and password right "
                "(see CACHELAB_REDIS_URL)?") from error
        return True

    # -- reads

    def _decode(self, name, data):
        try:
            return self.codec.loads(data)
        except Exception as error:  # not ours: planted, corrupt, or another codec's
            log.warning("cachelab.redis: %s holds data the %s codec cannot read (%s); "
                        "treated as a miss", name, self.codec.name, type(error).__name__)
            return MISSING

    def _count(self, name, data, default):
        value = MISSING if data is None or data is MISSING else self._decode(name, data)
        with self._lock:
            if value is MISSING:
                self._misses += 1
                return default
            self._hits += 1
        return value

    def get(self, key, default=None):
        """Return the cached value, or default on a miss or while the server is down."""
        name = self._name(key)
        data = self._call(self._breaker(name), functools.partial(self.client.get, name))
        return self._count(name, data, default)

    def __getitem__(self, key):
        value = self.get(key, MISSING)
        if value is MISSING:
            raise KeyError(key)
        return value

    def _by_server(self, names):
        """Group Redis keys by the breaker of the server holding them: breaker -> [names]."""
        if not self._cluster:
            return {self._breakers[None]: list(names)} if names else {}
        groups = {}
        for name in names:
            groups.setdefault(self._breaker(name), []).append(name)
        return groups

    def get_many(self, keys, default=None):
        """Return a list of values for keys in one round trip per server (MGET); default for each miss."""
        names = [self._name(key) for key in keys]
        found = self._mget(names)
        return [self._count(name, found.get(name), default) for name in names]

    def _mget(self, names):
        """{name: data or None} for the names whose server answered, one MGET per server."""
        mget = self.client.mget_nonatomic if self._cluster else self.client.mget
        found = {}
        for breaker, group in self._by_server(names).items():
            datas = self._call(breaker, functools.partial(mget, group))
            if datas is not MISSING:
                found.update(zip(group, datas))
        return found

    def __contains__(self, key):
        name = self._name(key)
        return bool(self._call(self._breaker(name), functools.partial(self.client.exists, name)) or 0)

    # -- writes

    def _encode(self, key, value):
        try:
            return self.codec.dumps(value)
        except TypeError as error:
            raise TypeError(f"cannot cache {key!r}: {error}") from None
        except RecursionError:
            raise TypeError(f"cannot cache {key!r}: the value is nested too deep for the "
                            f"{self.codec.name} codec; store a flatter value") from None

    def set(self, key, value, ttl=None):
        """Store value under key for ttl seconds (default: the cache's ttl); skipped while down."""
        name, data, px = self._name(key), self._encode(key, value), self._ttl_ms(ttl)
        request = functools.partial(self.client.set, name, data, px=px)
        if self._call(self._breaker(name), request, skip=(name,)) is not MISSING:
            with self._lock:
                self._writes += 1

    def __setitem__(self, key, value):
        self.set(key, value)

    def set_many(self, mapping, ttl=None):
        """Store many values in one pipeline per server, each with the same ttl."""
        items = mapping.items() if hasattr(mapping, "items") else mapping
        encoded = {self._name(key): self._encode(key, value) for key, value in items}
        px = self._ttl_ms(ttl)

        def send(group):
            pipe = self.client.pipeline(transaction=False)
            for name in group:
                pipe.set(name, encoded[name], px=px)
            return pipe.execute()

        for breaker, group in self._by_server(encoded).items():
            if self._call(breaker, functools.partial(send, group), skip=tuple(group)) is not MISSING:
                with self._lock:
                    self._writes += len(group)

    def pop(self, key, default=None):
        """Remove key and return its value (GETDEL); default if absent or the server is down."""
        name = self._name(key)
        data = self._call(self._breaker(name), functools.partial(self.client.getdel, name),
                          skip=(name,))  # not deleted: the old copy goes before the breaker closes
        if data is None or data is MISSING:
            return default
        value = self._decode(name, data)
        return default if value is MISSING else value

    def __delitem__(self, key):
        name = self._name(key)
        removed = self._call(self._breaker(name), functools.partial(self.client.unlink, name),
                             skip=(name,))
        if removed is not MISSING and not removed:
            raise KeyError(key)

    # -- the whole prefix

    def _servers(self):
        """(breaker, client) for each server: the one client, or each primary of a cluster."""
        if not self._cluster:
            return [(self._breakers[None], self.client)]
        out = []
        for node in self.client.get_primaries():
            with self._lock:
                breaker = self._breakers.setdefault(node.name, _Breaker(node.name))
            out.append((breaker, self.client.get_redis_connection(node)))
        return out

    def _scan(self, client):
        return list(client.scan_iter(match=_glob_escape(self.prefix) + "*", count=500))

    def _unlink(self, names, client=None):
        # One key per UNLINK in a pipeline: a cluster refuses multi-key commands across slots.
        if not names:
            return 0
        pipe = (client or self.client).pipeline(transaction=False)
        for name in names:
            pipe.unlink(name)
        return sum(pipe.execute())

    def unlink(self, keys):
        """Delete keys now and return how many there were; raise ConnectionError if a server
        cannot be reached.  Unlike `del` and `pop` this does not fail open: an invalidator
        that drains an outbox (`cachelab.outbox`) must know that the delete happened."""
        names = [self.name_of(key) for key in keys]
        removed = 0
        for breaker, group in self._by_server(names).items():
            try:
                removed += self._unlink(group, self._client_for(breaker))
            except unreachable_errors() as error:
                raise ConnectionError(f"cache {self.prefix!r} could not delete {len(group)} key(s) "
                                      f"({type(error).__name__}: {error})") from error
        return removed

    def _clear_prefix(self, client=None):
        client = client or self.client
        self._unlink(self._scan(client), client)

    def clear(self):
        """Delete every key under this cache's prefix (SCAN + UNLINK) and reset the counts.

        If a server cannot be reached, raise ConnectionError and keep the counts: its
        part of the clear runs first when it is back (before any read gets through).
        """
        missed = [breaker for breaker, client in self._servers()
                  if self._call(breaker, functools.partial(self._clear_prefix, client),
                                skip=_EVERYTHING) is MISSING]
        if missed:
            raise ConnectionError(
                f"cache {self.prefix!r} could not be cleared: {len(missed)} of its servers did not "
                "answer; their keys are deleted when they are back, before any read is served")
        with self._lock:
            self._hits = self._misses = self._writes = self._skipped = self._errors = 0

    def _names(self):
        """{Redis name: cache key} under the prefix on each server that answers; foreign names skipped."""
        own = {}
        for breaker, client in self._servers():
            found = self._call(breaker, functools.partial(self._scan, client))
            for name in () if found is MISSING else found:
                try:
                    own[name] = self.key_of(name)
                except KeyError:  # not a name this cache writes (planted, binary, another codec)
                    pass
        return own

    def __iter__(self):
        """The cached keys (a SCAN of the prefix on each server that answers)."""
        return iter(list(self._names().values()))

    def __len__(self):
        return len(self._names())

    def keys(self):
        return list(self)

    def items(self):
        """(key, value) pairs, read without counting hits; values the codec can't read are left out."""
        names = self._names()
        pairs = []
        for name, data in self._mget(list(names)).items():
            value = MISSING if data is None else self._decode(name, data)
            if value is not MISSING:
                pairs.append((names[name], value))
        return pairs

    # -- statistics

    maxsize = None  # Redis bounds memory (maxmemory), not a number of keys

    @property
    def currsize(self):
        """The number of keys under the prefix (a SCAN: fine for teaching, slow on a big server)."""
        return len(self)

    def cache_info(self):
        """Return CacheInfo(hits, misses, maxsize=None, currsize), like the other caches."""
        return CacheInfo(self._hits, self._misses, None, self.currsize)

    def stats(self):
        """Return RedisStats(hits, misses, writes, skipped_writes, errors, outages)."""
        return RedisStats(self._hits, self._misses, self._writes, self._skipped, self._errors,
                          self._outages)

    def __repr__(self):
        return (f"RedisCache(prefix={self.prefix!r}, ttl={self.ttl!r}, codec={self.codec.name!r}, "
                f"available={self.available})")


def service_caches(client, namespace="cachelab:service:", *, fresh=False, **options):
    """Return a factory `(kind, ttl) -> RedisCache` for `ECommerceService(cache=...)`.

    Every kind gets the prefix `namespace + kind + ":"` on one shared client
    (a URL is connected once).  `fresh=True` empties each cache as it is
    made, so a new service starts cold, as it does with in-process caches.
    The factory's `made` lists the caches, e.g. to clear them afterwards.
    Each kind must have a ttl: it bounds how long an invalidation that never
    arrived (its process died in an outage) can serve an old value.
    """
    if isinstance(client, str):
        client = _client_from_url(client, options.get("timeout", 0.05))

    def cache(kind, ttl):
        if ttl is None:
            raise TypeError(f"ttl for {kind!r} must be a number of seconds > 0: a shared cache's "
                            "entries need one, to bound how long a lost invalidation serves "
                            "an old value")
        made = RedisCache(client, prefix=f"{namespace}{kind}:", ttl=ttl, **options)
        if fresh:
            made.clear()
        cache.made.append(made)
        return made

    cache.made = []
    return cache


def _glob_escape(text):
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class TwoLevelCache:
    """A small in-process cache in front of a shared one (e.g. an LRUCache before a RedisCache).

    A read tries `near` first, then `far`, copying a far hit into near.  A
    write and a pop go to both.  Another process's write reaches this one
    only when the near copy is evicted or expires, so give near a short TTL
    (a `TTLCache`): that TTL is how stale a read may be.
    """

    # State:
    #   near   the in-process cache, checked first
    #   far    the shared cache, checked on a near miss
    #   _hits, _near_hits, _misses   counts for cache_info() and stats()
    def __init__(self, near, far):
        self.near, self.far = near, far
        self._hits = self._near_hits = self._misses = 0

    def get(self, key, default=None):
        value = self.near.get(key, MISSING)
        if value is not MISSING:
            self._hits += 1
            self._near_hits += 1
            return value
        value = self.far.get(key, MISSING)
        if value is MISSING:
            self._misses += 1
            return default
        self._hits += 1
        self._keep_near(key, value)
        return value

    def _keep_near(self, key, value):
        try:
            self.near[key] = value
        except ValueError:  # too large for a size-bounded near cache: serve it from far only
            self.near.pop(key, None)  # and never leave an older near copy behind

    def __getitem__(self, key):
        value = self.get(key, MISSING)
        if value is MISSING:
            raise KeyError(key)
        return value

    def set(self, key, value, ttl=None):
        """Store in the far cache (with ttl when it takes one) and in the near cache."""
        if ttl is not None and hasattr(self.far, "set"):
            self.far.set(key, value, ttl)
        else:
            self.far[key] = value
        self._keep_near(key, value)

    def __setitem__(self, key, value):
        self.set(key, value)

    def pop(self, key, default=None):
        near = self.near.pop(key, MISSING)
        far = self.far.pop(key, MISSING)
        value = far if far is not MISSING else near
        return default if value is MISSING else value

    def __contains__(self, key):
        return key in self.near or key in self.far

    def clear(self):
        self.near.clear()
        self.far.clear()
        self._hits = self._near_hits = self._misses = 0

    def cache_info(self):
        """CacheInfo(hits, misses, maxsize, currsize) of the pair; near hits are in stats()."""
        return CacheInfo(self._hits, self._misses, getattr(self.near, "maxsize", None),
                         len(self.near))

    def stats(self):
        """Return a dict: near hits, far hits and misses."""
        return {"near_hits": self._near_hits, "far_hits": self._hits - self._near_hits,
                "misses": self._misses}

    def __repr__(self):
        return f"TwoLevelCache(near={self.near!r}, far={self.far!r})"
