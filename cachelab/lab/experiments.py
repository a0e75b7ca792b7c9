"""The guide's four experiments as pure functions that return data.

Each function runs a cachelab cache on a fake clock or a seeded trace and
returns plain records, so a test, a printed table, a chart and a slider
all read the same answer.  The views are in `views.py` (text, HTML, SVG)
and `plots.py` (matplotlib); nothing here imports matplotlib or ipywidgets.
"""

import collections
import re
from numbers import Real

from ..caches import MISSING, FakeClock, TTLCache
from .._checks import check_int, check_seconds
from ..policies import CLASSIC_POLICIES, new_cache
from .simulation import compare_policies, replay
from .workloads import make_trace

__all__ = [
    "HIT_RATE_SIZES",
    "Lifetime",
    "Step",
    "TTLRun",
    "hit_rate",
    "hit_rate_table",
    "lfu_steps",
    "lru_steps",
    "parse_sequence",
    "parse_times",
    "policy_steps",
    "ttl_timeline",
]

Step = collections.namedtuple("Step", "step key hit evicted state time expired",
                              defaults=(None, ()))
Step.__doc__ = ("One request: its 1-based number, the key, hit or miss, the key evicted (or "
                "None), the cache's describe() rows after it, and for a timed run the time and "
                "the keys found expired on the way.")

Lifetime = collections.namedtuple("Lifetime", "key stored expires")
Lifetime.__doc__ = "One stored entry: when it was stored and when its TTL runs out."


class TTLRun(collections.namedtuple("TTLRun", "ttl steps lifetimes")):
    """A TTL experiment: the ttl, one Step per request, one Lifetime per stored entry."""

    __slots__ = ()

    # The full record list is long; views.step_table(run.steps) shows it all.
    def __repr__(self):
        hits = sum(step.hit for step in self.steps)
        return (f"TTLRun(ttl={self.ttl!r}, {len(self.steps)} requests: {hits} hits, "
                f"{len(self.steps) - hits} misses, {len(self.lifetimes)} lifetimes)")


HIT_RATE_SIZES = (5, 10, 20, 40, 60, 80, 100)

# A key is a word: letters, digits, '_' or '-'.  Anything else is a typo.
_KEY = re.compile(r"^[\w-]+$")
_SEPARATORS = re.compile(r"[\s,]+")


# -- input checks at the boundary -----------------------------------------

def parse_sequence(sequence, name="sequence"):
    """Turn "A B C A" (spaces or commas) or a list of keys into a list of keys."""
    if isinstance(sequence, str):
        keys = [k for k in _SEPARATORS.split(sequence.strip()) if k]
        bad = [k for k in keys if not _KEY.match(k)]
        if bad:
            raise ValueError(
                f"{name}: {bad[0]!r} is not a key; write keys such as A B C "
                "separated by spaces or commas")
    elif isinstance(sequence, (list, tuple)):
        keys = list(sequence)
        for key in keys:
            try:
                hash(key)
            except TypeError:
                raise TypeError(f"{name}: key {key!r} is unhashable") from None
    else:
        raise TypeError(f"{name} must be a string such as 'A B C A' or a list of keys, "
                        f"got {type(sequence).__name__}")
    if not keys:
        raise ValueError(f"{name} is empty; give at least one key, e.g. 'A B C A'")
    return keys


def parse_times(times, name="schedule"):
    """Turn "0 1 2 5" or a list of numbers into request times that never go backwards."""
    if isinstance(times, str):
        try:
            times = [float(t) for t in _SEPARATORS.split(times.strip()) if t]
        except ValueError:
            raise ValueError(f"{name}: {times!r} is not a list of times such as '0 1 2 5'") from None
    elif not isinstance(times, (list, tuple)) or not all(
            isinstance(t, Real) and not isinstance(t, bool) for t in times):
        raise TypeError(f"{name} must be a string such as '0 1 2 5' or a list of numbers, got {times!r}")
    if not times:
        raise ValueError(f"{name} is empty; give at least one request time")
    if any(t < 0 for t in times) or any(b < a for a, b in zip(times, times[1:])):
        raise ValueError(f"{name}: times must be >= 0 and never go backwards, got {list(times)}")
    return [float(t) for t in times]


# -- experiment 1: TTL expiration -------------------------------------------

def ttl_timeline(ttl, gap=1.0, *, n_requests=8, schedule=None, sequence=None, clock=None):
    """Request keys at fixed gaps (or at `schedule` times) through a TTLCache on a fake clock.

    Cache-aside: a miss stores the key, a hit does not refresh its TTL.
    `sequence` defaults to one key, "A", requested every time.
    """
    ttl = check_seconds("ttl", ttl, positive=True)
    if schedule is not None:
        times = parse_times(schedule)
    else:
        gap = check_seconds("gap", gap, positive=True)
        check_int("n_requests", n_requests, 1)
        times = [i * gap for i in range(n_requests)]
    keys = parse_sequence(sequence) if sequence is not None else ["A"] * len(times)
    if len(keys) != len(times):
        raise ValueError(f"sequence has {len(keys)} keys but there are {len(times)} request times")
    clock = FakeClock() if clock is None else clock
    if not (callable(clock) and hasattr(clock, "tick")):
        raise TypeError(f"clock must be a FakeClock (callable, with tick()), got {clock!r}")

    start = clock()
    cache = TTLCache(maxsize=len(set(keys)), ttl=ttl, timer=clock)
    expired = []
    cache.subscribe(lambda event: expired.append(event.key))
    steps, lifetimes = [], []
    for number, (at, key) in enumerate(zip(times, keys), 1):
        clock.tick(start + at - clock())
        expired.clear()
        hit = cache.get(key, MISSING) is not MISSING
        if not hit:
            cache[key] = key
            lifetimes.append(Lifetime(key, clock(), clock() + ttl))
        steps.append(Step(number, key, hit, None, cache.describe(), clock(), tuple(expired)))
    return TTLRun(ttl, steps, lifetimes)


# -- experiments 2 and 3: LRU and LFU eviction, step by step --------------------

def policy_steps(policy, sequence, size):
    """Walk `sequence` ("A B C A" or a list) through a cache of `size` under `policy`.

    Each request is a read (it moves LRU's key, counts LFU's use); a miss
    stores the key.  One Step per request, with the cache's rows after it.
    """
    keys = parse_sequence(sequence)
    cache = new_cache(policy, check_int("size", size, 1))
    evicted = []
    cache.subscribe(lambda event: evicted.append(event.key))
    steps = []
    for number, key in enumerate(keys, 1):
        evicted.clear()
        hit = cache.get(key, MISSING) is not MISSING
        if not hit:
            cache[key] = key
        steps.append(Step(number, key, hit, evicted[0] if evicted else None, cache.describe()))
    return steps


def lru_steps(sequence, size):
    """Walk `sequence` through an LRUCache of `size`: one row, least recently used first."""
    return policy_steps("LRU", sequence, size)


def lfu_steps(sequence, size):
    """Walk `sequence` through an LFUCache of `size`: one row per use count, lowest first."""
    return policy_steps("LFU", sequence, size)


# -- experiment 4: hit rate by size, workload and policy ---------------------------

def hit_rate(workload, size, policy, *, alpha=1.0, seed=0, n_requests=2000, n_keys=100):
    """Replay one seeded workload (see workloads.WORKLOADS) through one cache; its SimResult."""
    size = check_int("size", size, 1)
    trace = make_trace(workload, n_requests, n_keys, alpha, seed=seed)
    return replay(new_cache(policy, size, seed=seed), trace)


def hit_rate_table(workload, sizes=HIT_RATE_SIZES, policies=CLASSIC_POLICIES, *,
                   alpha=1.0, seed=0, n_requests=2000, n_keys=100):
    """Return {policy: HitCurve} at each size, every policy on the same seeded workload."""
    sizes = [check_int("sizes", s, 1) for s in sizes]
    if isinstance(policies, str):
        policies = [policies]
    if not sizes or not policies:
        raise ValueError("sizes and policies must each name at least one value")
    trace = make_trace(workload, n_requests, n_keys, alpha, seed=seed)
    return compare_policies(trace, sizes, policies, seed=seed)  # it reads names in any case
