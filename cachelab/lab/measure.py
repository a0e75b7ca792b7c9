"""Measuring the caching patterns on a workload of reads and writes (notebook 07).

Every run is in simulated time on a FakeClock, over a real SQLite `Store`,
so the same workload gives the same table on every machine.
"""

import collections

from .._checks import check_callable, check_seconds
from ..caches import FakeClock, TTLCache
from ..patterns import CacheAside, WriteAround, WriteBehind, WriteThrough
from .store import Store

__all__ = [
    "PATTERNS",
    "PatternResult",
    "compare_patterns",
    "format_results",
    "measure_pattern",
]

PatternResult = collections.namedtuple(
    "PatternResult", "pattern read_ms write_ms db_reads db_writes stale_reads lost_writes")
PatternResult.__doc__ = (
    "One workload through one pattern: mean simulated latency per read and per write, "
    "database queries, reads older than the database, and writes lost in a crash at the end.")


class _Forgetful(dict):
    """The "no cache" baseline: stores nothing, so every read goes to the database."""

    def __setitem__(self, key, value):
        pass


class _Recorded:
    """The store's key -> value table, with a copy of what it holds, to spot stale reads cheaply."""

    def __init__(self, store, keys):
        self.store, self.holds = store, dict.fromkeys(keys, 0)
        store.put_many(self.holds.items())
        store.reset_stats()
        self.get = store.get

    def put(self, key, value):
        self.store.put(key, value)
        self.holds[key] = value

    def put_many(self, pairs):
        self.store.put_many(pairs)
        self.holds.update(pairs)


def _write_behind(cache, db, clock, batch_size, flush_interval):
    return WriteBehind(cache, db.get, db.put_many, batch_size=batch_size,
                       flush_interval=flush_interval, background=False, clock=clock,
                       sleep=clock.tick)


# Every pattern by name, built on the run's cache, database and clock: the one list of them.
# "TTL only" reads through the cache and writes only the database, so a cached copy lives on
# until its TTL.  "cache-aside" deletes the copy on write, as the guide's update_user does:
# the same two steps as write-around, whose aim is to keep written data out of the cache.
_BUILDERS = {
    "no cache": lambda cache, db, *_: CacheAside(_Forgetful(), db.get, db.put),
    "TTL only": lambda cache, db, *_: CacheAside(cache, db.get, db.put),
    "cache-aside": lambda cache, db, *_: WriteAround(cache, db.get, db.put),
    "write-through": lambda cache, db, *_: WriteThrough(cache, db.get, db.put),
    "write-behind": _write_behind,
}
PATTERNS = tuple(_BUILDERS)


def measure_pattern(name, ops, *, db_delay=0.05, ttl=30.0, gap=0.1, maxsize=20,
                    batch_size=20, flush_interval=2.0, cache=None, build=None):
    """Run `ops` through one pattern in simulated time and return a PatternResult.

    A FakeClock stands in for time: each database query costs `db_delay`,
    a cache lookup costs nothing, and `gap` seconds pass between requests.
    The write-behind flusher runs between requests, off the clock of the
    request that triggered it.  Written values count up, so a read is stale
    when it returns less than the database holds.

    `cache` is a factory `cache(clock) -> cache` for the cache to measure
    (any `CacheLike`); by default a `TTLCache(maxsize, ttl)` on the run's clock.
    `build(cache, load, save)` measures a pattern of your own under the label
    `name`: it returns an object with `read(key)` and `write(key, value)`.
    """
    if build is not None:
        check_callable("build", build, "lambda cache, load, save: MyPattern(cache, load, save)")
    elif name not in PATTERNS:
        raise ValueError(f"name must be one of the patterns {PATTERNS}, got {name!r}")
    check_seconds("db_delay", db_delay, finite=True)
    check_seconds("gap", gap, finite=True)
    if cache is not None:
        check_callable("cache", cache, "lambda clock: TTLCache(20, 30, timer=clock)")
    clock = FakeClock()
    the_cache = TTLCache(maxsize, ttl, timer=clock) if cache is None else cache(clock)
    latencies = {"read": [], "write": []}
    stale = 0
    with Store(delay=db_delay, sleep=clock.tick) as store:
        db = _Recorded(store, sorted({key for _, key in ops}))
        if build is None:
            pattern = _BUILDERS[name](the_cache, db, clock, batch_size, flush_interval)
        else:
            pattern = build(the_cache, db.get, db.put)
        for version, (op, key) in enumerate(ops, start=1):
            start = clock()
            if op == "read":
                stale += pattern.read(key) < db.holds[key]
            else:
                pattern.write(key, version)
            latencies[op].append(clock() - start)
            if name == "write-behind":
                pattern.pump()
            clock.tick(gap)
        lost = len(pattern.crash()) if name == "write-behind" else 0
        counts = store.stats()

    # Rounded to the nanosecond: the fake clock's float steps would otherwise
    # make equal work differ in the last bits, and break ties at random.
    def mean_ms(values):
        return round(1000 * sum(values) / len(values), 6) if values else 0.0

    return PatternResult(name, mean_ms(latencies["read"]), mean_ms(latencies["write"]),
                         counts.reads, counts.writes, stale, lost)


def compare_patterns(ops, patterns=PATTERNS, **kwargs):
    """Return one PatternResult per pattern, all over the same operations."""
    return [measure_pattern(name, ops, **kwargs) for name in patterns]


def format_results(results):
    """Return PatternResults as a plain-text table."""
    lines = [f"{'pattern':16} {'read ms':>8} {'write ms':>9} {'DB reads':>9} {'DB writes':>10} "
             f"{'stale reads':>12} {'lost writes':>12}"]
    lines += [f"{r.pattern:16} {r.read_ms:8.1f} {r.write_ms:9.1f} {r.db_reads:9d} {r.db_writes:10d} "
              f"{r.stale_reads:12d} {r.lost_writes:12d}" for r in results]
    return "\n".join(lines)
