"""Stampede protection: one load per key instead of one per waiting reader.

When a hot key expires, every reader that misses it calls the database at
once (the guide's first pitfall, the "cache stampede").  The cures here
are *guards*: objects with `fetch(cache, key, load)` that read `key` from
any `CacheLike` cache and call `load(key)` only when they must.  Pass one
to a pattern (`CacheAside(cache, load, guard=SingleFlight())`) or use
`cached(cache, single_flight=True)`.

* `SingleFlight` / `AsyncSingleFlight`: concurrent misses on one key, in
  one process, wait for one loader call (threads / asyncio tasks).
* `RedisLock` and `RedisLockGuard`: the same across processes and hosts,
  with `SET key token NX PX lease` and a compare-and-delete release.
* `StaleWhileRevalidate`: serve the old value at once after a soft expiry
  and refresh it once in the background; a hard expiry bounds staleness.
* `LocalClaims` / `RedisClaims`: who may start a key's refresh.  Local is
  once per process (a set); Redis is once in the whole system (`SET NX PX`,
  as dogpile.cache takes its lock).  SWR and XFetch's marker take either.
* `XFetch`: probabilistic early expiration (Vattani, Chierichetti and
  Lowenstein, VLDB 2015), optionally with a recompute marker.
* `jittered_ttl` / `Jitter`: spread TTLs so that keys loaded together do
  not all expire together (the avalanche).
* `top_keys` and `prewarm`: load the hot keys before traffic arrives.

Every clock and random source is a parameter, so tests and notebooks
drive time by hand (`FakeClock`) and get the same answer every time.
`cachelab.lab.stampede_sim` measures all of these on a simulated herd.
"""

import collections
import contextlib
import functools
import itertools
import logging
import math
import random as _random
import threading
import time
import uuid

from ._checks import check_callable, check_seconds
from .caches import MISSING, ExpiringCache
from .patterns import put
from .redis.cache import RedisCache, unreachable_errors

__all__ = [
    "AsyncSingleFlight",
    "Jitter",
    "LocalClaims",
    "LockTimeout",
    "RedisClaims",
    "RedisLock",
    "RedisLockGuard",
    "SingleFlight",
    "StaleWhileRevalidate",
    "SWRStats",
    "XFetch",
    "XFetchStats",
    "check_beta",
    "check_jitter",
    "check_ttl_bound",
    "jittered_ttl",
    "prewarm",
    "top_keys",
    "xfetch_recompute",
]

log = logging.getLogger("cachelab.stampede")


def _load_and_store(cache, key, load, ttl=None):
    """Load and store, unless a caller that just finished already stored it."""
    value = cache.get(key, MISSING)
    if value is MISSING:
        value = load(key)  # raises before anything is cached
        put(cache, key, value, ttl)
    return value


def check_ttl_bound(name, ttl):
    """A TTL every cache takes: finite seconds > 0, at most RedisCache.MAX_TTL.

    A guard stores through `put()`, which skips a value the cache refuses;
    so a TTL the cache would refuse is refused here, at the call.
    """
    ttl = check_seconds(name, ttl, positive=True, finite=True)
    if ttl > RedisCache.MAX_TTL:
        raise ValueError(f"{name} must be at most {RedisCache.MAX_TTL:.0e} seconds (the longest TTL "
                         f"RedisCache takes), got {ttl!r}")
    return ttl


# -- single-flight, threads ---------------------------------------------------------------------

class _Call:
    """One loader call in flight, and what its waiters will get."""

    __slots__ = ("done", "value", "error", "owner")

    def __init__(self, owner):
        self.done = threading.Event()  # set when the loader returned or raised
        self.value = None
        self.error = None              # the loader's exception, raised in every waiter
        self.owner = owner             # thread id running the loader, to catch a cycle


class SingleFlight:
    """Concurrent callers of `do(key, fn)` with one key share one call of `fn()`.

    The first caller runs `fn` outside any lock; the others wait for it and
    get its value, or its exception.  Nothing is remembered afterwards: the
    next call after it finished runs `fn` again (caching is the cache's
    job).  Keys are independent, so a loader may read other keys; a loader
    that asks for its own key again raises RuntimeError instead of waiting
    for itself forever.
    """

    # State:
    #   _lock    guards _calls
    #   _calls   key -> _Call in flight
    #   loads    fn() calls made (fetch's fn loads only if the key is still missing);
    #   shared   callers that waited for another's call
    def __init__(self):
        self._lock = threading.Lock()
        self._calls = {}
        self.loads = self.shared = 0

    def do(self, key, fn):
        """Return fn(), running it once for every caller with this key at this moment."""
        check_callable("fn", fn, "lambda: load(key)")
        me = threading.get_ident()
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if leader:
                call = self._calls[key] = _Call(me)
                self.loads += 1
            else:
                self.shared += 1
        if not leader:
            if call.owner == me:
                raise RuntimeError(f"the loader for key {key!r} asked for the same key: a cycle")
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.value
        try:
            call.value = fn()
        except BaseException as error:
            call.error = error
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
        return call.value

    def fetch(self, cache, key, load, ttl=None):
        """Return cache[key]; on a miss, one caller per key calls load(key) and stores it."""
        check_callable("load", load, "lambda key: db[key]")
        value = cache.get(key, MISSING)
        if value is MISSING:
            value = self.do(key, lambda: _load_and_store(cache, key, load, ttl))
        return value

    def in_flight(self):
        """The keys being loaded right now."""
        with self._lock:
            return list(self._calls)

    def __repr__(self):
        return f"SingleFlight(loads={self.loads}, shared={self.shared})"


# -- single-flight, asyncio ---------------------------------------------------------------------

class _AsyncCall:
    """One loader task in flight, and how many callers await it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task):
        self.task = task  # runs fn(); shared by every caller, owned by none
        self.waiters = 0


class AsyncSingleFlight:
    """`await do(key, fn)`: concurrent tasks with one key share one `await fn()`.

    Like `SingleFlight`, for one event loop.  The call runs as a task of its
    own, and each caller waits through `asyncio.shield`, so cancelling one
    caller (the first one too) cancels neither the call nor the others; the
    call is cancelled only when every caller has given up.  A loader that
    awaits its own key raises RuntimeError instead of waiting for itself.
    """

    # State:
    #   _calls   key -> _AsyncCall in flight
    #   loads, shared   as in SingleFlight
    def __init__(self):
        self._calls = {}
        self.loads = self.shared = 0

    async def do(self, key, fn):
        """Return await fn(), awaiting it once for every task with this key at this moment."""
        import asyncio  # here, so that `import cachelab` does not pay for it

        check_callable("fn", fn, "lambda: load(key)")
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = _AsyncCall(asyncio.ensure_future(fn()))
            call.task.add_done_callback(functools.partial(self._finished, key, call))
            self.loads += 1
        elif call.task is asyncio.current_task():
            raise RuntimeError(f"the loader for key {key!r} awaited the same key: a cycle")
        else:
            self.shared += 1
        call.waiters += 1
        try:
            return await asyncio.shield(call.task)
        finally:
            call.waiters -= 1
            if call.waiters == 0 and not call.task.done():  # every caller gave up on it
                call.task.cancel()
                self._finished(key, call)

    def _finished(self, key, call, task=None):
        """Forget a call that ended (or that nobody awaits any more): the next caller loads afresh."""
        if self._calls.get(key) is call:
            del self._calls[key]
        if task is not None and not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every caller left

    async def fetch(self, cache, key, load, ttl=None):
        """Return cache[key]; on a miss, one task per key awaits load(key) and stores it."""
        check_callable("load", load, "an async def load(key)")
        value = cache.get(key, MISSING)
        if value is MISSING:
            async def load_and_store():
                value = cache.get(key, MISSING)
                if value is MISSING:
                    value = await load(key)
                    put(cache, key, value, ttl)
                return value

            value = await self.do(key, load_and_store)
        return value

    def __repr__(self):
        return f"AsyncSingleFlight(loads={self.loads}, shared={self.shared})"


# -- a lock on Redis --------------------------------------------------------------------------------

class LockTimeout(TimeoutError):
    """Waited `timeout` seconds for a lock (or for its holder's value) in vain."""


# Delete the key only if it still holds our token: a holder whose lease ran
# out must not delete the lock that someone else took after it.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLock:
    """A lease on one name in Redis: `SET name token NX PX lease`, released by compare-and-delete.

    A holder that dies frees the lock when its lease runs out.  `acquire()`
    polls with exponential back-off (and a little jitter, so waiters do not
    poll in step) and raises `LockTimeout` after `timeout` seconds.

    This is an efficiency lock, not a correctness lock: a holder paused for
    longer than its lease (GC, swap, a slow network) still believes it holds
    the lock while someone else does.  Use it to avoid duplicate work; to
    protect data, have the storage check a fencing token (Kleppmann).

    `timeout` bounds the wait for a lock that others hold, not for a server
    that does not answer: give the lock a client with a socket timeout (every
    client cachelab makes has one, e.g. `redis_server().client()`), and a
    hung server raises redis.TimeoutError instead of blocking acquire().
    """

    # State:
    #   client     a redis-py client
    #   name       the lock's key in Redis
    #   token      what we stored under name while we hold it, else None
    def __init__(self, client, name, *, lease=10.0, timeout=10.0, backoff=0.001, max_backoff=0.05,
                 clock=time.monotonic, sleep=time.sleep, random=_random.random):
        self.client = client
        self.name = name
        self.lease = check_seconds("lease", lease, positive=True)
        self.timeout = check_seconds("timeout", timeout)
        self.backoff = check_seconds("backoff", backoff, positive=True)
        self.max_backoff = check_seconds("max_backoff", max_backoff, positive=True)
        self.clock, self.sleep, self.random = clock, sleep, random
        self.token = None
        self._release = client.register_script(_RELEASE)

    def try_acquire(self):
        """Take the lock if it is free; return True if we hold it now."""
        token = uuid.uuid4().hex
        if self.client.set(self.name, token, nx=True, px=max(1, round(self.lease * 1000))):
            self.token = token
            return True
        return False

    def acquire(self, blocking=True, timeout=None):
        """Take the lock, waiting up to timeout seconds; raise LockTimeout if it stays taken."""
        timeout = self.timeout if timeout is None else check_seconds("timeout", timeout)
        deadline = self.clock() + timeout
        if self.try_acquire():
            return True
        if not blocking:
            return False
        for _ in self._waits(deadline):
            if self.try_acquire():
                return True
        left = self.client.pttl(self.name)
        raise LockTimeout(f"could not take lock {self.name!r} within timeout={timeout} s; "
                          f"its holder's lease has {left} ms left")

    def _waits(self, deadline):
        """Sleep a growing, jittered pause (so waiters do not poll in step) and yield, until deadline."""
        for attempt in itertools.count():
            now = self.clock()
            if now >= deadline:
                return
            pause = min(self.max_backoff, self.backoff * 2 ** min(attempt, 30))
            self.sleep(min(pause * (0.5 + self.random() / 2), deadline - now))
            yield attempt

    def release(self):
        """Delete the lock if we still hold it; return True if we did, False if the lease had passed."""
        if self.token is None:
            return False
        token, self.token = self.token, None
        return bool(self._release(keys=[self.name], args=[token]))

    def locked(self):
        """True if anyone holds the lock now."""
        return bool(self.client.exists(self.name))

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return f"RedisLock({self.name!r}, lease={self.lease}, held={self.token is not None})"



# -- refresh claims: who may start a key's refresh ----------------------------------------------

class LocalClaims:
    """One refresh per key in this process: a set of the keys being refreshed.

    Another process (another app server) has its own set, so with N servers
    on one shared cache up to N refreshes of a key run at once.  Use
    `RedisClaims` for one in the whole system.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._held = set()

    def claim(self, key):
        """Take key's refresh; return a token if we did (release it after), else None."""
        with self._lock:
            if key in self._held:
                return None
            self._held.add(key)
            return key

    def release(self, key, token):
        """End the refresh taken with token."""
        with self._lock:
            self._held.discard(key)

    def __repr__(self):
        return f"LocalClaims(held={len(self._held)})"


class RedisClaims:
    """One refresh per key in the whole system: `SET prefix+key token NX PX lease` in Redis.

    SET with NX and PX is one atomic command: the key is set only if absent,
    and with its expiry, so a claimer that crashes frees the claim when the
    lease runs out.  (The older `SETNX` then `EXPIRE` is two commands: a
    crash between them leaves a claim that never expires, and that key is
    never refreshed again.)  The release deletes the claim only if it still
    holds our token (compare-and-delete, in Lua).  If the refresh outlasts
    the lease, a second one may start: keep the lease above the load time.
    """

    # State:
    #   client    a redis-py client (each process has its own; the server is shared)
    #   prefix    claims live at prefix + str(key)
    #   lease     seconds a claim lives if it is never released
    def __init__(self, client, *, prefix="refresh:", lease=10.0):
        self.client = client
        self.prefix = prefix
        self.lease = check_seconds("lease", lease, positive=True, finite=True)
        self._release = client.register_script(_RELEASE)

    def claim(self, key):
        """Take key's refresh; return a token if we did (release it after), else None."""
        token = uuid.uuid4().hex
        taken = self.client.set(f"{self.prefix}{key}", token, nx=True,
                                px=max(1, round(self.lease * 1000)))
        return token if taken else None

    def release(self, key, token):
        """Delete the claim if it still holds token (a claim whose lease passed is someone else's)."""
        return bool(self._release(keys=[f"{self.prefix}{key}"], args=[token]))

    def __repr__(self):
        return f"RedisClaims(prefix={self.prefix!r}, lease={self.lease})"


def _server_down(error):
    """True if `error` means the lock's server could not be reached, not that the lock stayed taken."""
    # LockTimeout is a TimeoutError, and so an OSError, like a refused connection.
    return isinstance(error, unreachable_errors()) and not isinstance(error, LockTimeout)


class RedisLockGuard:
    """Single-flight across processes: on a miss, only the holder of `prefix + key`'s lock loads.

    The others poll the cache with back-off until the value appears (or the
    lock frees and one of them takes it), for at most `timeout` seconds.
    The cache must be shared too, e.g. `RedisCache`.  `loads` counts the
    loads made through this guard object (in this process).

    Like `RedisCache`, the guard fails open: while the lock's server cannot
    be reached, a miss loads without the lock (counted in `unguarded`, and
    logged once per outage on the "cachelab.stampede" logger), and a lock
    that cannot be released after a load is left to its lease; the loaded
    value is returned either way.
    """

    # State:
    #   loads       loads made through this guard (under the lock or not)
    #   unguarded   loads made without the lock because its server was unreachable
    #   _down       True from the first unreachable lock call until one succeeds again
    #   _lock       guards the counts and _down
    def __init__(self, client, *, prefix="lock:", lease=10.0, timeout=10.0, ttl=None,
                 backoff=0.002, max_backoff=0.05, clock=time.monotonic, sleep=time.sleep,
                 random=_random.random):
        self.client = client
        self.prefix = prefix
        self.lease = check_seconds("lease", lease, positive=True)
        self.timeout = check_seconds("timeout", timeout)
        self.ttl = None if ttl is None else check_ttl_bound("ttl", ttl)
        self.backoff = check_seconds("backoff", backoff, positive=True)
        self.max_backoff = check_seconds("max_backoff", max_backoff, positive=True)
        self.clock, self.sleep, self.random = clock, sleep, random
        self.loads = self.unguarded = 0
        self._down = False
        self._lock = threading.Lock()

    def lock(self, key):
        """The RedisLock that guards key."""
        return RedisLock(self.client, f"{self.prefix}{key}", lease=self.lease, timeout=self.timeout,
                         backoff=self.backoff, max_backoff=self.max_backoff, clock=self.clock,
                         sleep=self.sleep, random=self.random)

    def fetch(self, cache, key, load):
        """Return cache[key]; on a miss, one holder of the key's lock in the whole system loads it."""
        check_callable("load", load, "lambda key: db[key]")
        value = cache.get(key, MISSING)
        if value is not MISSING:
            return value
        lock = self.lock(key)
        try:
            value = self._take(lock, cache, key)
        except Exception as error:
            if not _server_down(error):
                raise
            self._outage(lock, error)
            return self._load(cache, key, load, unguarded=True)
        if value is not MISSING:
            return value
        self._reachable(lock)
        try:
            value = cache.get(key, MISSING)
            return value if value is not MISSING else self._load(cache, key, load)
        finally:
            self._release(lock)

    def _take(self, lock, cache, key):
        """Take the lock (return MISSING) or, while waiting for it, find the holder's value (return it)."""
        waits = lock._waits(self.clock() + self.timeout)
        while not lock.try_acquire():
            if next(waits, None) is None:
                raise LockTimeout(f"waited timeout={self.timeout} s for key {key!r}: the lock "
                                  f"{lock.name!r} stayed taken and no value appeared")
            value = cache.get(key, MISSING)
            if value is not MISSING:
                return value
        return MISSING

    def _load(self, cache, key, load, unguarded=False):
        with self._lock:
            self.loads += 1
            if unguarded:
                self.unguarded += 1
        value = load(key)
        put(cache, key, value, self.ttl)
        return value

    def _release(self, lock):
        """Release the lock; if its server is gone, its lease frees it, and the load still counts."""
        try:
            lock.release()
        except Exception as error:
            if not _server_down(error):
                raise
            self._outage(lock, error)

    def _outage(self, lock, error):
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning("cachelab.stampede: lock %r unreachable (%s: %s); failing open: loading "
                        "without the lock until it answers again", lock.name, type(error).__name__,
                        error)

    def _reachable(self, lock):
        if self._down:
            with self._lock:
                back, self._down = self._down, False
            if back:
                log.warning("cachelab.stampede: lock %r reachable again", lock.name)

    def __repr__(self):
        return (f"RedisLockGuard(prefix={self.prefix!r}, lease={self.lease}, timeout={self.timeout}, "
                f"loads={self.loads}, unguarded={self.unguarded})")


# -- stale-while-revalidate ---------------------------------------------------------------------

SWRStats = collections.namedtuple("SWRStats", "fresh stale misses refreshes errors")
SWRStats.__doc__ = ("Stale-while-revalidate counts: reads before the soft expiry, stale reads "
                    "served, misses loaded while the reader waited, refreshes, failed refreshes.")


def _envelope(entry, *fields):
    """The entry if it is one of our envelopes (a dict with these fields), else None."""
    if isinstance(entry, dict) and all(f in entry for f in fields):
        return entry
    return None


class StaleWhileRevalidate:
    """Serve a value until its soft expiry; then serve it stale at once and refresh it once.

    Each cache entry is one envelope, a plain dict
    `{"value": v, "soft_expiry": t1, "hard_expiry": t2}`, so it fits any
    cache, Redis too (clock=time.time is shared between hosts; monotonic
    time is not).  Between soft and hard expiry a reader gets the old value
    with no wait, and the first of them starts the one refresh: in a
    background thread, or, with `background=False`, queued until `pump()`,
    which makes runs on a FakeClock exact.  After the hard expiry the value
    is gone and readers wait for one load (single-flight).  A failed
    refresh keeps the stale value; the next stale read tries again.

    `claims` decides who starts a refresh: `LocalClaims()` (the default)
    once per process, so N app servers on one shared cache make up to N;
    `RedisClaims(client)` once in the whole system.
    """

    # State:
    #   claims       who may start a key's refresh (LocalClaims or RedisClaims)
    #   _lock        guards _due, _threads and the counts
    #   _due         (cache, key, load, token) queued for pump() when background=False
    #   _threads     background refreshes, so wait() can join them
    def __init__(self, soft_ttl, hard_ttl, *, clock=time.time, background=True, claims=None):
        self.soft_ttl = check_seconds("soft_ttl", soft_ttl, positive=True)
        self.hard_ttl = check_seconds("hard_ttl", hard_ttl, positive=True)
        if hard_ttl < soft_ttl:
            raise ValueError(f"hard_ttl must be >= soft_ttl ({soft_ttl}), got {hard_ttl!r}")
        self.clock = check_callable("clock", clock, "time.time")
        self.background = background
        self.claims = LocalClaims() if claims is None else claims
        self._flight = SingleFlight()
        self._lock = threading.Lock()
        self._due = []
        self._threads = []
        self._counts = dict.fromkeys(SWRStats._fields, 0)

    def _count(self, field):
        with self._lock:
            self._counts[field] += 1

    def stats(self):
        """SWRStats(fresh, stale, misses, refreshes, errors)."""
        with self._lock:
            return SWRStats(**self._counts)

    def _load(self, cache, key, load):
        value = load(key)
        now = self.clock()
        entry = {"value": value, "soft_expiry": now + self.soft_ttl, "hard_expiry": now + self.hard_ttl}
        # The cache forgets the envelope at the hard expiry on its own, when it can.
        put(cache, key, entry, self.hard_ttl if isinstance(cache, ExpiringCache) else None)
        return value

    def fetch(self, cache, key, load):
        """Return the value for key: fresh, stale (starting a refresh), or loaded now."""
        check_callable("load", load, "lambda key: db[key]")
        entry = _envelope(cache.get(key, MISSING), "value", "soft_expiry", "hard_expiry")
        now = self.clock()
        if entry is not None and now < entry["hard_expiry"]:
            if now < entry["soft_expiry"]:
                self._count("fresh")
            else:
                self._count("stale")
                self._schedule(cache, key, load)
            return entry["value"]
        self._count("misses")
        return self._flight.do(key, lambda: self._load(cache, key, load))

    def _schedule(self, cache, key, load):
        token = self.claims.claim(key)
        if token is None:  # a refresh of key is queued or running (here, or anywhere for Redis)
            return
        with self._lock:
            if not self.background:
                self._due.append((cache, key, load, token))
                return
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._refresh, args=(cache, key, load, token),
                                      name=f"swr-refresh-{key!r}", daemon=True)
            self._threads.append(thread)
        thread.start()

    def _refresh(self, cache, key, load, token):
        try:
            self._load(cache, key, load)
            self._count("refreshes")
        except Exception:
            self._count("errors")  # keep serving the stale value; the next stale read retries
        finally:
            self.claims.release(key, token)

    def pump(self):
        """Run the refreshes queued so far (background=False); return how many ran."""
        with self._lock:
            due, self._due = self._due, []
        for cache, key, load, token in due:
            self._refresh(cache, key, load, token)
        return len(due)

    def wait(self, timeout=None):
        """Wait for background refreshes to finish (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def __repr__(self):
        return (f"StaleWhileRevalidate(soft_ttl={self.soft_ttl}, hard_ttl={self.hard_ttl}, "
                f"claims={self.claims!r})")


# -- XFetch: probabilistic early expiration ---------------------------------------------------

def check_beta(beta):
    """beta > 0: larger recomputes earlier; 1 is the paper's recommended default."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
        raise ValueError(f"beta must be a number > 0 (1.0 is the usual choice), got {beta!r}")
    return float(beta)


def xfetch_recompute(now, delta, expiry, beta=1.0, random=_random.random):
    """XFetch's rule: recompute early when now - delta * beta * log(random()) >= expiry.

    `delta` is how long the last recompute took; random() is uniform in
    [0, 1), and 0 (log = -infinity) means recompute.  The chance of an early
    recompute at `gap` seconds before expiry is exp(-gap / (delta * beta)).
    """
    u = random()
    return u <= 0.0 or now - delta * beta * math.log(u) >= expiry


XFetchStats = collections.namedtuple("XFetchStats", "hits early misses stale recomputes")
XFetchStats.__doc__ = ("XFetch counts: hits, early recomputes, misses (no usable value), stale "
                       "values served under a marker, and all recomputes.")


class XFetch:
    """Probabilistic early expiration: readers recompute a little before the expiry, one by chance.

    Each entry is an envelope `{"value", "delta", "expiry"}` (delta: how long
    its recompute took).  With `marker=True` the reader that starts a
    recompute writes `"marked_until"` into the envelope, and the others keep
    serving the old value, even past its expiry, until the new one lands or
    the mark runs out (`marker_ttl`, by default 10 x delta).  The cache keeps
    an envelope for `ttl + grace` seconds when it can take a TTL.

    The marker is check-then-write, made atomic by a lock in this process
    only: two servers can both read an unmarked entry and both recompute.
    `claims=RedisClaims(client)` is the cross-process version: a reader that
    would recompute first takes the key's claim (`SET NX PX`), and a reader
    that cannot serves the old value.
    """

    def __init__(self, ttl, *, beta=1.0, clock=time.time, random=_random.random, marker=False,
                 marker_ttl=None, grace=None, claims=None):
        # Finite and bounded: the envelope's expiry is data (JSON has no inf), and the cache
        # keeps the envelope for ttl + grace seconds.
        self.ttl = check_ttl_bound("ttl", ttl)
        self.grace = self.ttl if grace is None else check_seconds("grace", grace, finite=True)
        check_ttl_bound("ttl + grace (grace defaults to ttl)", self.ttl + self.grace)
        self.beta = check_beta(beta)
        self.clock = check_callable("clock", clock, "time.time")
        self.random = check_callable("random", random, "random.Random(0).random")
        self.marker = marker
        self.marker_ttl = None if marker_ttl is None else check_seconds("marker_ttl", marker_ttl,
                                                                        positive=True)
        self.claims = claims
        # Marking is check-then-write; a lock makes it atomic within this process.
        self._mark_lock = threading.Lock() if marker else contextlib.nullcontext()
        self._lock = threading.Lock()  # guards the counts
        self._counts = dict.fromkeys(XFetchStats._fields, 0)

    def stats(self):
        """XFetchStats(hits, early, misses, stale, recomputes)."""
        with self._lock:
            return XFetchStats(**self._counts)

    def _count(self, field):
        with self._lock:
            self._counts[field] += 1

    def fetch(self, cache, key, load):
        """Return the value for key, recomputing it early with XFetch's probability."""
        check_callable("load", load, "lambda key: db[key]")
        token = None
        with self._mark_lock:
            entry = _envelope(cache.get(key, MISSING), "value", "delta", "expiry")
            now = self.clock()
            if entry is not None:
                marked = self.marker and entry.get("marked_until", -math.inf) > now
                if marked:
                    self._count("hits" if now < entry["expiry"] else "stale")
                    return entry["value"]
                fresh = now < entry["expiry"]
                if fresh and not xfetch_recompute(now, entry["delta"], entry["expiry"], self.beta,
                                                  self.random):
                    self._count("hits")
                    return entry["value"]
                if self.claims is not None:
                    token = self.claims.claim(key)
                    if token is None:  # someone, somewhere, is recomputing: serve the old value
                        self._count("hits" if fresh else "stale")
                        return entry["value"]
                self._count("early" if fresh else "misses")
                if self.marker:
                    mark = self.marker_ttl if self.marker_ttl is not None else 10 * entry["delta"]
                    put(cache, key, dict(entry, marked_until=now + max(mark, 1e-3)),
                         self._physical_ttl(cache, entry["expiry"] - now))
            else:
                self._count("misses")
            self._count("recomputes")
        try:
            start = self.clock()
            value = load(key)
            end = self.clock()
            entry = {"value": value, "delta": end - start, "expiry": end + self.ttl}
            put(cache, key, entry, self._physical_ttl(cache, self.ttl))
        finally:
            if token is not None:
                self.claims.release(key, token)
        return value

    def _physical_ttl(self, cache, ttl):
        if not isinstance(cache, ExpiringCache):
            return None
        return max(ttl, 0.0) + self.grace

    def __repr__(self):
        claims = "" if self.claims is None else f", claims={self.claims!r}"
        return f"XFetch(ttl={self.ttl}, beta={self.beta}, marker={self.marker}{claims})"


# -- TTL jitter -------------------------------------------------------------------------------------

def check_jitter(jitter):
    """A fraction in [0, 1): 0.1 spreads each TTL by +-10%."""
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
        raise ValueError(f"jitter must be a fraction in [0, 1), e.g. 0.1 for +-10% "
                         f"(100% or more could give a TTL <= 0), got {jitter!r}")
    return float(jitter)


def jittered_ttl(ttl, jitter, random=_random.random):
    """ttl spread uniformly over ttl * (1 - jitter) .. ttl * (1 + jitter)."""
    check_seconds("ttl", ttl, positive=True)
    return ttl * (1 + check_jitter(jitter) * (2 * random() - 1))


class Jitter:
    """A TTL spreader with its own random source: Jitter(0.1, seed=0)(60) -> 54..66."""

    def __init__(self, jitter, *, seed=None, random=None):
        self.jitter = check_jitter(jitter)
        self.random = random if random is not None else _random.Random(seed).random
        check_callable("random", self.random, "random.Random(0).random")

    def __call__(self, ttl):
        return jittered_ttl(ttl, self.jitter, self.random)

    def set(self, cache, key, value, ttl):
        """cache.set(key, value, jittered ttl); return the TTL used."""
        ttl = self(ttl)
        put(cache, key, value, ttl)
        return ttl

    def __repr__(self):
        return f"Jitter({self.jitter})"


# -- pre-warming ------------------------------------------------------------------------------------

def top_keys(access_log, k):
    """The k most requested keys of an access log (any iterable of keys), most requested first."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    return [key for key, _ in collections.Counter(access_log).most_common(k)]


def prewarm(cache, keys, load, *, ttl=None, jitter=0.0, random=None, progress=True, file=None):
    """Load each key into the cache before traffic arrives; return how many were loaded.

    Keys the cache already holds are skipped.  With a `ttl`, each key gets
    `jittered_ttl(ttl, jitter)`, so keys warmed together do not all expire
    together.  `progress` shows a tqdm bar (on `file`, stderr by default).
    """
    check_callable("load", load, "lambda key: db[key]")
    check_jitter(jitter)
    spread = random if random is not None else _random.random
    keys = list(keys)
    if progress:  # only then: tqdm takes about 0.1 s to import, which a simulation need not pay
        from tqdm.auto import tqdm

        class Bar(tqdm):
            monitor_interval = 0  # no monitor thread left behind after the bar closes

        keys = Bar(keys, desc="pre-warming", unit="key", file=file)
    loaded = 0
    for key in keys:
        if cache.get(key, MISSING) is MISSING:
            put(cache, key, load(key), None if ttl is None else jittered_ttl(ttl, jitter, spread))
            loaded += 1
    return loaded
