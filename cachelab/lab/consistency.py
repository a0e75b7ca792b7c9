"""Stale data, measured: TTL choice, write-behind lag, and races stepped by hand.

The race simulator runs two requests against one cache and one database.
A request is a generator; each `yield` ends one step that touched the
cache or the database.  `run()` advances the requests in the order you
give (a schedule such as "RRWWR"), so a race happens because you asked
for it, not because of thread timing.  `interleavings()` lists every
order two requests can run in, so a fix can be checked against all of
them.  A count of orders is not a probability: orders are not equally
likely.  `threaded_races()` runs the same two requests in real threads
against a real server, many times, and counts how often the race is lost.

A strategy is one class with a `read` and a `write` generator, plus one
line in STRATEGIES; the table and the tests pick it up from there.
"""

import collections
import heapq
import itertools
import json
import math
import random
import threading
import time

import numpy as np

from .._checks import check_choice, check_int, check_seconds
from ..caches import MISSING, FakeClock, TTLCache
from ..patterns import WriteBehind
from .workloads import zipf

__all__ = [
    "SCENARIOS",
    "STRATEGIES",
    "Database",
    "LagResult",
    "Outcome",
    "RedisRaceCache",
    "SimCache",
    "TTLRow",
    "format_outcome",
    "format_race_table",
    "format_ttl_table",
    "interleavings",
    "race_table",
    "run",
    "threaded_races",
    "ttl_tradeoff",
    "write_behind_lag",
]

KEY = "user:101"
LONG_TTL = 3600.0   # an hour: the usual "cache it for a while"
SHORT_TTL = 5.0     # the backstop: however a race goes, stale for 5 s at most


# -- the two stores


class Database:
    """The source of truth: key -> value, with a version that grows on every write."""

    def __init__(self, initial=None):
        self._rows = {key: (value, 1) for key, value in (initial or {}).items()}

    def read(self, key):
        """Return (value, version)."""
        return self._rows[key]

    def write(self, key, value):
        """Store value; return its new version."""
        version = self._rows.get(key, (None, 0))[1] + 1
        self._rows[key] = (value, version)
        return version


class SimCache:
    """An in-memory cache with what the fixes need: TTLs, versions and leases.

    `set_if_newer` is compare-and-set on a version; `lease_get` and
    `lease_set` are memcache's leases: a miss hands out a token, a delete
    revokes it, and a set with a revoked token is refused.
    """

    # State:
    #   _data     key -> (value, version, expires at); expires at is inf without a TTL
    #   _leases   key -> the one token that may fill this key
    #   _tokens   counter, so every token is new
    def __init__(self, clock=None):
        self.clock = clock or FakeClock()
        self._data = {}
        self._leases = {}
        self._tokens = itertools.count(1)

    def _live(self, key):
        entry = self._data.get(key)
        if entry is not None and self.clock() >= entry[2]:
            del self._data[key]
            entry = None
        return entry

    def get(self, key):
        entry = self._live(key)
        return MISSING if entry is None else entry[0]

    def set(self, key, value, ttl=None, version=0):
        expires = math.inf if ttl is None else self.clock() + ttl
        self._data[key] = (value, version, expires)
        self._leases.pop(key, None)

    def delete(self, key):
        self._data.pop(key, None)
        self._leases.pop(key, None)  # a delete revokes the lease

    def set_if_newer(self, key, value, version, ttl=None):
        """Store only if the cached copy is absent or older; return True if stored."""
        entry = self._live(key)
        if entry is not None and entry[1] >= version:
            return False
        self.set(key, value, ttl, version)
        return True

    def lease_get(self, key):
        """Return (value, None) on a hit, or (MISSING, token) on a miss."""
        entry = self._live(key)
        if entry is not None:
            return entry[0], None
        token = self._leases[key] = next(self._tokens)
        return MISSING, token

    def lease_set(self, key, value, token, ttl=None):
        """Store only if token is still this key's lease; return True if stored."""
        if self._leases.get(key) != token:
            return False
        self.set(key, value, ttl)
        return True

    def ttl_left(self, key):
        """Seconds until key expires: inf without a TTL, None if it is not cached."""
        entry = self._live(key)
        return None if entry is None else entry[2] - self.clock()


# The same operations on a real Redis, each one atomic on the server.
_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
redis.call('DEL', KEYS[2])
return 1
"""
_LEASE_GET = """
local value = redis.call('HGET', KEYS[1], 'value')
if value then return {value, false} end
local token = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], token)
return {false, token}
"""
_LEASE_SET = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', 0)
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
redis.call('DEL', KEYS[2])
return 1
"""


class RedisRaceCache:
    """SimCache's operations on a real Redis server: a hash per key, Lua for the atomic ones.

    Compare-and-set could also be WATCH key / read version / MULTI / HSET /
    EXEC, retried when EXEC fails; one Lua script does the same in one trip.
    `set_if_newer` replaces its Lua source (KEYS[1] the entry's hash with
    fields value and version, KEYS[2] the key's lease; ARGV value, version,
    TTL in ms, 0 for none; returns 1 if stored), so an exercise can supply it.
    """

    def __init__(self, client, prefix="race:", *, set_if_newer=_SET_IF_NEWER):
        self.client = client
        self.prefix = prefix
        self._set_if_newer = client.register_script(set_if_newer)
        self._lease_get = client.register_script(_LEASE_GET)
        self._lease_set = client.register_script(_LEASE_SET)

    def _keys(self, key):
        p = self.prefix
        return [f"{p}{key}", f"{p}lease:{key}", f"{p}tokens"]

    @staticmethod
    def _ms(ttl):
        return 0 if ttl is None else int(ttl * 1000)

    def get(self, key):
        value = self.client.hget(self._keys(key)[0], "value")
        return MISSING if value is None else json.loads(value)

    def set(self, key, value, ttl=None, version=0):
        data, lease, _ = self._keys(key)
        with self.client.pipeline() as pipe:
            pipe.delete(data, lease)
            pipe.hset(data, mapping={"value": json.dumps(value), "version": version})
            if ttl is not None:
                pipe.pexpire(data, self._ms(ttl))
            pipe.execute()

    def delete(self, key):
        self.client.delete(*self._keys(key)[:2])

    def set_if_newer(self, key, value, version, ttl=None):
        return bool(self._set_if_newer(self._keys(key)[:2],
                                       [json.dumps(value), version, self._ms(ttl)]))

    def lease_get(self, key):
        value, token = self._lease_get(self._keys(key))
        return (MISSING, token) if value is None else (json.loads(value), None)

    def lease_set(self, key, value, token, ttl=None):
        return bool(self._lease_set(self._keys(key), [json.dumps(value), token, self._ms(ttl)]))

    def ttl_left(self, key):
        # Whole seconds, rounded up, so a TTL read a millisecond late still says 3600.
        ms = self.client.pttl(self._keys(key)[0])
        return None if ms == -2 else math.inf if ms == -1 else float(math.ceil(ms / 1000))


# -- the strategies: what a read does on a miss, and what a write does to the cache


class _Strategy:
    """Cache-aside reads; subclasses say how a write treats the cache, and may change how a miss fills it."""

    ttl = LONG_TTL
    description = ""
    versioned = False  # whether the database's version is shown in a read's trace

    def read(self, cache, db, key, log):
        value, token = self._lookup(cache, key)
        if value is not MISSING:
            log(f"cache hit → {value}")
            return
        log("cache miss" if token is None else f"cache miss, lease {token}")
        yield
        value, version = db.read(key)
        log(f"db read → {value}" + (f" (v{version})" if self.versioned else ""))
        yield
        log(self._fill(cache, key, value, version, token))

    def _lookup(self, cache, key):
        """Return (cached value or MISSING, a lease token or None)."""
        return cache.get(key), None

    def _fill(self, cache, key, value, version, token):
        """Store what a miss read from the database; return the trace line."""
        cache.set(key, value, self.ttl)
        return f"cache set {value}"

    def write(self, cache, db, key, value, log):
        raise NotImplementedError


class UpdateOnWrite(_Strategy):
    description = "write the database, then put the new value in the cache (write-through)"

    def write(self, cache, db, key, value, log):
        db.write(key, value)
        log(f"db write {value}")
        yield
        cache.set(key, value, self.ttl)
        log(f"cache set {value}")


class DeleteBeforeWrite(_Strategy):
    description = "delete the cached copy, then write the database"

    def write(self, cache, db, key, value, log):
        cache.delete(key)
        log("cache delete")
        yield
        db.write(key, value)
        log(f"db write {value}")


class DeleteAfterWrite(_Strategy):
    description = "write the database, then delete the cached copy (the guide's update_user)"

    def write(self, cache, db, key, value, log):
        db.write(key, value)
        log(f"db write {value}")
        yield
        cache.delete(key)
        log("cache delete")


class DeleteAfterWriteShortTTL(DeleteAfterWrite):
    ttl = SHORT_TTL
    description = f"delete after write, every entry expiring after {SHORT_TTL:g} s as a backstop"


class Versioned(_Strategy):
    description = "values carry the database's version; the cache keeps the newest (compare-and-set)"
    versioned = True

    def _fill(self, cache, key, value, version, token):
        stored = cache.set_if_newer(key, value, version, self.ttl)
        return f"cache set {value} if newer than v{version}: {'stored' if stored else 'refused'}"

    def write(self, cache, db, key, value, log):
        version = db.write(key, value)
        log(f"db write {value} (v{version})")
        yield
        log(self._fill(cache, key, value, version, None))  # the same compare-and-set as a miss's fill


class Lease(_Strategy):
    description = "a miss takes a lease; a delete revokes it; a set without a live lease is refused"

    def _lookup(self, cache, key):
        return cache.lease_get(key)

    def _fill(self, cache, key, value, version, token):
        stored = cache.lease_set(key, value, token, self.ttl)
        return f"cache set {value} with lease {token}: {'stored' if stored else 'refused'}"

    write = DeleteAfterWrite.write


STRATEGIES = {
    "update on write": UpdateOnWrite(),
    "delete before write": DeleteBeforeWrite(),
    "delete after write": DeleteAfterWrite(),
    "delete after write + 5 s TTL": DeleteAfterWriteShortTTL(),
    "versioned (CAS)": Versioned(),
    "lease": Lease(),
}

# A scenario: what the database (and cache) hold at the start, and the
# requests by letter.  ("read",) is a cache-aside read; ("write", v) a write.
SCENARIOS = {
    "reader + writer": {"db": 1, "cached": False, "requests": {"R": ("read",), "W": ("write", 2)}},
    "two writers": {"db": 1, "cached": True, "requests": {"A": ("write", 2), "B": ("write", 3)}},
}

Outcome = collections.namedtuple("Outcome", "schedule trace cached db stale stale_for")
Outcome.__doc__ = (
    "One run: the schedule as run, the steps taken, the cache's and the database's value "
    "at the end, whether the cache is stale, and for how many more seconds (inf: until evicted).")


def _strategy(name):
    return STRATEGIES[check_choice("strategy", name, STRATEGIES)]


def _scenario(name):
    return SCENARIOS[check_choice("scenario", name, SCENARIOS)]


def _start(strategy, scenario, cache):
    """Set up the world; return (db, cache, {letter: generator}, trace)."""
    spec = _scenario(scenario)
    cache = SimCache() if cache is None else cache
    cache.delete(KEY)
    db = Database({KEY: spec["db"]})
    if spec["cached"]:
        cache.set(KEY, spec["db"], strategy.ttl, 1)
    trace = []
    actors = {}
    for letter, (op, *args) in spec["requests"].items():
        def log(text, letter=letter):
            trace.append(f"{letter}: {text}")
        if op == "read":
            actors[letter] = strategy.read(cache, db, KEY, log)
        else:
            actors[letter] = strategy.write(cache, db, KEY, args[0], log)
    return db, cache, actors, trace


def _step(actors, letter):
    """Advance one request by a step; return False once it has finished."""
    try:
        next(actors[letter])
        return True
    except StopIteration:
        return False


def run(strategy, schedule, scenario="reader + writer", *, cache=None):
    """Run the scenario's requests in the order `schedule` names them; return an Outcome.

    Each letter advances that request by one step; requests still running
    when the schedule ends finish in letter order.  `cache` is a SimCache
    (the default, fresh) or a RedisRaceCache.
    """
    strat = _strategy(strategy)
    db, cache, actors, trace = _start(strat, scenario, cache)
    done = set()
    ran = []
    for letter in schedule:
        if letter not in actors:
            raise ValueError(f"schedule letters must be among {''.join(actors)}, got {letter!r}")
        if letter in done:
            raise ValueError(f"request {letter} has already finished; schedule {schedule!r} "
                             f"is too long at step {len(ran) + 1}")
        ran.append(letter)
        if not _step(actors, letter):
            done.add(letter)
    for letter in actors:
        while letter not in done:
            ran.append(letter)
            if not _step(actors, letter):
                done.add(letter)
    cached = cache.get(KEY)
    truth = db.read(KEY)[0]
    stale = cached is not MISSING and cached != truth
    return Outcome("".join(ran), trace, None if cached is MISSING else cached, truth, stale,
                   cache.ttl_left(KEY) if stale else 0.0)


def interleavings(strategy, scenario="reader + writer"):
    """Return every schedule the scenario's requests can run in, as strings of letters."""
    strat = _strategy(strategy)
    letters = list(_scenario(scenario)["requests"])

    def steps(prefix):
        """Return the letters still running after replaying prefix."""
        _, _, actors, _ = _start(strat, scenario, None)
        done = set()
        for letter in prefix:
            if not _step(actors, letter):
                done.add(letter)
        return [letter for letter in letters if letter not in done]

    schedules = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        running = steps(prefix)
        if not running:
            schedules.append(prefix)
            continue
        stack.extend(prefix + letter for letter in reversed(running))
    return sorted(set(schedules))


def threaded_races(strategy, cache, trials=1000, *, writer_delay=0.0, seed=0):
    """Run "reader + writer" `trials` times in two real threads; return how many ended stale.

    The reader and the writer wait at a barrier, then run their steps
    without pause, except that the writer first sleeps a uniform random
    time in [0, writer_delay] seconds (seeded): two requests seldom arrive
    at the same instant.  `cache` should be a RedisRaceCache, so each cache
    step is a round trip during which the other thread runs; the database
    is in-process, as in run().
    """
    strat = _strategy(strategy)
    trials = check_int("trials", trials, 1)
    check_seconds("writer_delay", writer_delay, finite=True)
    rng = random.Random(seed)
    stale = 0
    for _ in range(trials):
        db, cache, actors, _ = _start(strat, "reader + writer", cache)
        barrier = threading.Barrier(2)
        delays = {"R": 0.0, "W": rng.uniform(0.0, writer_delay)}

        def finish(letter):
            barrier.wait()
            if delays[letter]:
                time.sleep(delays[letter])
            for _ in actors[letter]:
                pass

        threads = [threading.Thread(target=finish, args=(letter,)) for letter in actors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cached = cache.get(KEY)
        stale += cached is not MISSING and cached != db.read(KEY)[0]
    return stale


def race_table(strategies=None, scenarios=None, *, cache=None):
    """Return rows (strategy, scenario, schedules, stale schedules, worst stale seconds)."""
    rows = []
    for name in strategies or STRATEGIES:
        for scenario in scenarios or SCENARIOS:
            outcomes = [run(name, s, scenario, cache=cache) for s in interleavings(name, scenario)]
            stale = [o for o in outcomes if o.stale]
            rows.append((name, scenario, len(outcomes), len(stale),
                         max((o.stale_for for o in stale), default=0.0)))
    return rows


def format_outcome(outcome):
    """Return an Outcome's trace and verdict as text."""
    if outcome.stale:
        lasting = "ever (until evicted)" if outcome.stale_for == math.inf else f"{outcome.stale_for:g} s"
        verdict = f"STALE: cache {outcome.cached}, database {outcome.db}, for {lasting}"
    else:
        cached = "empty" if outcome.cached is None else outcome.cached
        verdict = f"fresh: cache {cached}, database {outcome.db}"
    return "\n".join([*outcome.trace, verdict])


def format_race_table(rows):
    """Return race_table() rows as a plain-text table."""
    lines = [f"{'strategy':30} {'scenario':16} {'orders':>6} {'stale':>5}  stale for"]
    for name, scenario, n, stale, worst in rows:
        lines.append(f"{name:30} {scenario:16} {n:6d} {stale:5d}  " + (f"{worst:g} s" if stale else "-"))
    return "\n".join(lines)


# -- choosing a TTL: staleness against hit ratio


TTLRow = collections.namedtuple("TTLRow", "ttl invalidate hit_ratio stale_reads worst_age")
TTLRow.__doc__ = ("One TTL on the workload, with or without invalidation on write: share of reads "
                  "served by the cache, share of reads that were stale, and the oldest stale "
                  "value served (seconds).")


def ttl_tradeoff(ttls, *, n_keys=100, reads_per_second=20.0, update_every=300.0,
                 duration=1800.0, alpha=1.0, invalidate=False, seed=0):
    """Run cache-aside with each TTL over the same reads and updates; return TTLRows.

    Reads arrive as a Poisson stream on Zipf-popular keys; each key is
    updated on average every `update_every` seconds (also Poisson).  With
    `invalidate=True` a write also drops the cached copy.
    """
    check_int("n_keys", n_keys, 1)
    check_seconds("update_every", update_every, positive=True)
    check_seconds("duration", duration, positive=True)
    rng = np.random.default_rng(seed)
    n_reads = rng.poisson(reads_per_second * duration)
    read_times = np.sort(rng.random(n_reads) * duration)
    read_keys = zipf(n_reads, n_keys, alpha, rng=rng)
    n_updates = rng.poisson(n_keys * duration / update_every)
    update_times = np.sort(rng.random(n_updates) * duration)
    update_keys = rng.integers(0, n_keys, size=n_updates)
    # One merged event stream: (time, 0 = update first at a tie, key).
    events = list(heapq.merge(zip(update_times.tolist(), itertools.repeat(0), update_keys.tolist()),
                              zip(read_times.tolist(), itertools.repeat(1), read_keys.tolist())))
    rows = []
    for ttl in ttls:
        clock = FakeClock()
        cache = TTLCache(n_keys, ttl, timer=clock)
        version = [0] * n_keys
        changed_at = [0.0] * n_keys
        hits = stale = 0
        worst = 0.0
        for when, kind, key in events:
            clock.now = when
            if kind == 0:
                version[key] += 1
                changed_at[key] = when
                if invalidate:
                    cache.pop(key, None)
                continue
            cached = cache.get(key, MISSING)
            if cached is MISSING:
                cache[key] = version[key]
            else:
                hits += 1
                if cached != version[key]:
                    stale += 1
                    worst = max(worst, when - changed_at[key])
        rows.append(TTLRow(ttl, invalidate, hits / n_reads, stale / n_reads, worst))
    return rows


def format_ttl_table(rows):
    """Return TTLRows as a plain-text table."""
    lines = [f"{'TTL':>6} {'invalidate':>10} {'hit ratio':>9} {'stale reads':>11} {'oldest stale value':>18}"]
    lines += [f"{r.ttl:5g}s {'yes' if r.invalidate else 'no':>10} {r.hit_ratio:9.1%} "
              f"{r.stale_reads:11.1%} {r.worst_age:17.0f}s" for r in rows]
    return "\n".join(lines)


# -- write-behind: how far the database lags the cache


LagResult = collections.namedtuple("LagResult", "flush_interval writes batches mean_lag max_lag")
LagResult.__doc__ = ("Write-behind over a workload: seconds from a write returning to it "
                     "reaching the database, mean and worst, and the batches it took.")


def write_behind_lag(ops, flush_interval, *, batch_size=50, gap=0.1):
    """Run `ops` through write-behind in simulated time; return how long the database lagged."""
    clock = FakeClock()
    written_at = {}
    lags = []
    batches = [0]

    def save_many(pairs):
        batches[0] += 1
        for key, value in pairs:
            lags.append(clock() - written_at[key, value])

    db = {}
    queue = WriteBehind({}, db.__getitem__, save_many, maxsize=max(len(ops), 1),
                        batch_size=batch_size, flush_interval=flush_interval,
                        background=False, clock=clock, sleep=clock.tick)
    writes = 0
    for version, (op, key) in enumerate(ops, start=1):
        if op == "write":
            written_at[key, version] = clock()
            queue.write(key, version)
            writes += 1
        queue.pump()
        clock.tick(gap)
    while queue.stats().unflushed:
        queue.pump()
        clock.tick(gap)
    queue.close()
    mean = sum(lags) / len(lags) if lags else 0.0
    return LagResult(flush_interval, writes, batches[0], round(mean, 6), round(max(lags, default=0.0), 6))
