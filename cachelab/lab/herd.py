"""The thundering herd, on real threads: how many loads each library's guard lets through per expiry.

    herd = Herd(threads=100, rounds=2)
    cache = {}
    result = herd.run("no guard", lambda key: cache.get(key) or cache.setdefault(key, herd.load(key)),
                      cache.clear)
    result.loads_per_expiry                 # 100.0: every thread loaded
    print(herd_table(run_guards(server.url)))   # every library of GUARDS, one row each

In each round `threads` threads wait at a barrier, then all read at once
(thread i reads key i % keys).  The first round fills the empty cache;
before each of the `rounds` that follow, `expire()` makes the values
stale or gone: one expiry.  `Herd.load` is the slow database read that every
guard protects: it counts its calls per round and holds until every
thread of the round has called `read`, so that no thread can arrive after
a load has landed and hit by luck.  Then it waits until every thread is
loading (no guard: the count is exactly `threads`, whatever the
scheduling) or until `settle` seconds pass (a guard held the others back).
So a guard's count is its design, not the machine's speed: 1 load per key
per expiry for a single-flight, a lock or dogpile's, `threads / keys` for
none.

`GUARDS` builds the herd's contenders for the libraries notebook 16
compares, each over a real Valkey (`redis_url`) where it uses one.
"""

import collections
import dataclasses
import threading
import time

from .._checks import check_callable, check_int, check_seconds

__all__ = ["GUARDS", "PATIENCE", "Contender", "Guard", "Herd", "HerdResult", "herd_table", "run_guards"]


@dataclasses.dataclass(frozen=True)
class HerdResult:
    """One guard's herd: the loads after each expiry, and what the readers got."""

    name: str
    threads: int
    keys: int
    cold_loads: int   # loads to fill the empty cache, before the first expiry
    loads: tuple      # loads per expiry (every key)
    stale: tuple      # reads per expiry that got the value from before it
    errors: int       # reads that raised, in every round
    waits_ms: tuple   # the slowest read after each expiry, in milliseconds

    @property
    def rounds(self):
        return len(self.loads)

    @property
    def loads_per_expiry(self):
        """Loads per key per expiry, over every round."""
        return sum(self.loads) / (self.keys * self.rounds)

    @property
    def stale_per_expiry(self):
        """Reads per expiry that were served the old value instead of waiting."""
        return sum(self.stale) / self.rounds


class Herd:
    """A barrier-started herd of threads and the counted, gated loader they share (see the module)."""

    # State:
    #   threads, keys, rounds, settle   as given
    #   round        the round running (a load's value names it: "key@round")
    #   _cond        guards _arrived, _loading and _calls; loaders wait on it
    #   _arrived     threads of this round that have called read
    #   _loading     load() calls of this round so far
    #   _last_load   time.monotonic() when the latest load() call began
    def __init__(self, threads=100, *, keys=1, rounds=2, settle=0.2):
        self.threads = check_int("threads", threads, minimum=1)
        self.keys = check_int("keys", keys, minimum=1)
        if self.keys > self.threads:
            raise ValueError(f"keys must be at most threads ({threads}), got {keys!r}")
        self.rounds = check_int("rounds", rounds, minimum=1)
        self.settle = check_seconds("settle", settle, positive=True)
        self.round = 0
        self._cond = threading.Condition()
        self._arrived = self._loading = 0
        self._last_load = 0.0

    @staticmethod
    def key(i):
        """The key thread i reads."""
        return f"product:{i}"

    def load(self, key):
        """The slow database read: counted, and held until the herd has arrived (see the module)."""
        with self._cond:
            self._loading += 1
            self._cond.notify_all()
            round_ = self.round
            self._cond.wait_for(lambda: self._arrived == self.threads, timeout=10 * self.settle + 5)
            self._last_load = time.monotonic()
            # Wait for the rest of the herd to start loading too, until `settle` seconds pass with no
            # new loader: a guard holds them back (one load), or none does (a slow library trickles in).
            while self._loading < self.threads:
                remaining = self._last_load + self.settle - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return f"{key}@{round_}"

    def run(self, name, read, expire, *, close=None):
        """The cold fill, then `rounds` times `expire()` and the herd again; `close()` at the end.

        Returns a HerdResult of the expiry rounds (the cold fill's loads are `cold_loads`).
        """
        check_callable("read", read, "lambda key: cache.get(key) ...")
        check_callable("expire", expire, "cache.clear")
        loads, stale, errors, waits = [], [], [], []
        try:
            for self.round in range(self.rounds + 1):
                if self.round:
                    expire()
                with self._cond:
                    self._arrived = self._loading = 0
                got, slowest = self._stampede(read)
                loads.append(self._loading)
                stale.append(sum(isinstance(v, str) and not v.endswith(f"@{self.round}") for v in got))
                errors.append(sum(isinstance(v, BaseException) for v in got))
                waits.append(round(slowest * 1000, 1))
        finally:
            if close is not None:
                close()
        return HerdResult(name, self.threads, self.keys, loads[0], tuple(loads[1:]), tuple(stale[1:]),
                          sum(errors), tuple(waits[1:]))

    def _stampede(self, read):
        """One round: the threads meet at a barrier and read at once; return what each got and the slowest wait."""
        barrier = threading.Barrier(self.threads)
        got = [None] * self.threads
        took = [0.0] * self.threads

        def reader(i):
            key = self.key(i % self.keys)
            barrier.wait()
            with self._cond:
                self._arrived += 1
                self._cond.notify_all()
            start = time.perf_counter()
            try:
                got[i] = read(key)
            except Exception as error:  # noqa: BLE001 - a reader's error is counted, not lost
                got[i] = error
            took[i] = time.perf_counter() - start

        workers = [threading.Thread(target=reader, args=(i,), name=f"herd-{i}") for i in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return got, max(took)

    def __repr__(self):
        return f"Herd(threads={self.threads}, keys={self.keys}, rounds={self.rounds}, settle={self.settle})"


Contender = collections.namedtuple("Contender", "read expire close")
Contender.__doc__ = "A guard set up for the herd: read(key), expire() after each round, close() at the end."


def _bytes_to_str(value):
    return value.decode() if isinstance(value, bytes) else value


def _no_guard(herd, redis_url):
    cache = {}

    def read(key):  # cache-aside with no guard: every miss loads
        value = cache.get(key)
        if value is None:
            value = cache[key] = herd.load(key)
        return value

    return Contender(read, cache.clear, None)


def _single_flight(herd, redis_url):
    from ..stampede import SingleFlight

    cache, flight = {}, SingleFlight()
    return Contender(lambda key: flight.fetch(cache, key, herd.load), cache.clear, None)


def _cachetools_condition(herd, redis_url):
    import cachetools

    condition = threading.Condition()

    @cachetools.cached(cachetools.LRUCache(1000), condition=condition)
    def read(key):
        return herd.load(key)

    return Contender(read, read.cache_clear, None)


def _redis_lock(herd, redis_url):
    from ..redis import RedisCache
    from ..stampede import RedisLockGuard

    import redis

    client = redis.Redis.from_url(redis_url)
    cache = RedisCache(client, prefix="herd:lock:", background=False)
    guard = RedisLockGuard(client, prefix="herd:lock:held:", lease=5, timeout=5)

    def expire():
        for i in range(herd.keys):
            del cache[herd.key(i)]

    return Contender(lambda key: guard.fetch(cache, key, herd.load), expire, client.close)


def _dogpile(herd, backend, arguments, soft):
    from dogpile.cache import make_region

    prefix = f"herd:dogpile:{'soft' if soft else 'hard'}:"  # each region its own keys in the shared server
    # expiration_time: dogpile's soft expiry needs one (an hour: the rounds expire the value themselves)
    region = make_region(key_mangler=lambda key: prefix + key).configure(backend, expiration_time=3600, arguments=arguments)
    # soft: the old value stays readable while one thread regenerates (dogpile's expiry);
    # hard: the value is gone and every reader waits on dogpile's lock
    return Contender(lambda key: _bytes_to_str(region.get_or_create(key, lambda: herd.load(key))),
                     lambda: region.invalidate(hard=not soft), None)


def _dogpile_memory(herd, redis_url):
    return _dogpile(herd, "dogpile.cache.memory", {}, soft=False)


def _dogpile_redis(herd, redis_url, soft=False):
    return _dogpile(herd, "dogpile.cache.redis",
                    {"url": redis_url, "distributed_lock": True, "lock_timeout": 5, "lock_sleep": 0.005,
                     "thread_local_lock": False},
                    soft=soft)


def _dogpile_redis_soft(herd, redis_url):
    return _dogpile_redis(herd, redis_url, soft=True)


def _flask_caching(herd, redis_url):
    from flask import Flask
    from flask_caching import Cache

    app = Flask("herd")
    cache = Cache(app, config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url,
                               "CACHE_KEY_PREFIX": "herd:flask:"})

    @cache.memoize(timeout=60)
    def read(key):
        return herd.load(key)

    def with_app(key):
        with app.app_context():
            return read(key)

    def expire():
        with app.app_context():
            cache.delete_memoized(read)

    return Contender(with_app, expire, None)


def _django(herd, redis_url):
    from .frameworks import django_caches

    caches = django_caches(redis_url)
    cache = caches.create_connection("redis")

    def read(key):  # the low-level API's get_or_set: a get, and on a miss a load and a set
        return _bytes_to_str(cache.get_or_set(key, lambda: herd.load(key), timeout=60))

    return Contender(read, cache.clear, cache.close)


Guard = collections.namedtuple("Guard", "build what coalesces")
Guard.__doc__ = """One library's way of reading through a cache in the herd.

`build(herd, redis_url)` returns a Contender; `what` says what it is;
`coalesces` is True when it is meant to hold concurrent misses back
(a lock or a single-flight), False when every miss loads.
"""

GUARDS = {
    "no guard (dict)": Guard(_no_guard, "cache-aside over a dict, nothing shared", False),
    "Flask-Caching memoize (Redis)": Guard(_flask_caching, "@cache.memoize: no lock", False),
    "Django get_or_set (Redis)": Guard(_django, "the low-level API: no lock", False),
    "cachetools cached(condition=)": Guard(_cachetools_condition, "one Condition for every key", True),
    "cachelab SingleFlight": Guard(_single_flight, "one Event per key, in this process", True),
    "cachelab RedisLockGuard (Redis)": Guard(_redis_lock, "SET NX lock in Valkey; waiters poll the cache", True),
    "dogpile memory": Guard(_dogpile_memory, "dogpile's lock, in this process", True),
    "dogpile Redis, distributed_lock": Guard(_dogpile_redis, "dogpile's lock, in Valkey", True),
    "dogpile Redis, soft expiry": Guard(_dogpile_redis_soft, "one regenerates, the rest read the old value", True),
}

# A herd without a guard is released as soon as every thread is loading, so waiting long for a
# straggler (a thread the scheduler kept from its cache check) costs nothing when there is none.
PATIENCE = 2.0


def run_guards(redis_url, names=None, *, threads=100, keys=1, rounds=2, settle=0.2):
    """Run the herd against each guard of GUARDS (or those named); return their HerdResults.

    `settle` is the herd's wait for guards that coalesce; for those that do not it is
    at least PATIENCE seconds, so that a slow thread still counts as the load it makes.
    """
    names = list(GUARDS) if names is None else list(names)
    unknown = [name for name in names if name not in GUARDS]
    if unknown:
        raise ValueError(f"names must be guards of GUARDS ({', '.join(GUARDS)}), got {unknown!r}")
    results = []
    for name in names:
        guard = GUARDS[name]
        herd = Herd(threads, keys=keys, rounds=rounds, settle=settle if guard.coalesces else max(settle, PATIENCE))
        read, expire, close = guard.build(herd, redis_url)
        results.append(herd.run(name, read, expire, close=close))
    return results


def herd_table(results, *, waits=False):
    """A text table: loads per key per expiry and stale reads per expiry for each guard (and the slowest wait)."""
    results = list(results)
    width = max(len("guard"), *(len(r.name) for r in results))
    lines = [f"{'guard':<{width}}  {'threads':>7}  {'keys':>4}  {'expiries':>8}  {'loads/key/expiry':>16}  "
             f"{'stale reads/expiry':>18}  {'errors':>6}" + ("  slowest read" if waits else "")]
    for r in results:
        line = (f"{r.name:<{width}}  {r.threads:>7}  {r.keys:>4}  {r.rounds:>8}  {r.loads_per_expiry:>16g}  "
                f"{r.stale_per_expiry:>18g}  {r.errors:>6}")
        lines.append(line + (f"  {max(r.waits_ms):.0f} ms" if waits else ""))
    return "\n".join(lines)
