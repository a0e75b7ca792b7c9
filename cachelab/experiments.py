"""The guide's four experiments as pure functions that return data.

Each function runs a cachelab cache on a fake clock or a seeded trace and
returns plain records, so a test, a printed table, a plot and a slider
all read the same answer.  The widgets and plots are in `widgets.py` and
`plots.py`; nothing here imports matplotlib or ipywidgets.
"""

import collections
import re
from numbers import Real

from . import workloads
from .caches import MISSING, FakeClock, RRCache, TTLCache
from ._checks import check_int, check_seconds
from .policies import policy_class
from .simulation import Step, lru_hit_curve, policy_walk, replay

__all__ = [
    "GUIDE_POLICIES",
    "PATTERNS",
    "HitRates",
    "Lifetime",
    "Step",
    "TTLRun",
    "TTLStep",
    "hit_rate",
    "hit_rate_table",
    "lfu_steps",
    "lru_steps",
    "parse_sequence",
    "parse_times",
    "policy_steps",
    "rates_table",
    "step_table",
    "ttl_timeline",
]

TTLStep = collections.namedtuple("TTLStep", "step time key hit expired snapshot")
TTLStep.__doc__ = "One timed request: hit or miss, the keys found expired on the way, the cache after."

Lifetime = collections.namedtuple("Lifetime", "key stored expires")
Lifetime.__doc__ = "One stored entry: when it was stored and when its TTL runs out."

class TTLRun(collections.namedtuple("TTLRun", "ttl steps lifetimes")):
    """A TTL experiment: the ttl, one TTLStep per request, one Lifetime per stored entry."""

    __slots__ = ()

    # The full record list is long; step_table(run.steps) shows it all.
    def __repr__(self):
        hits = sum(step.hit for step in self.steps)
        return (f"TTLRun(ttl={self.ttl!r}, {len(self.steps)} requests: {hits} hits, "
                f"{len(self.steps) - hits} misses, {len(self.lifetimes)} lifetimes)")

HitRates = collections.namedtuple("HitRates", "pattern sizes rates")
HitRates.__doc__ = "Hit ratios by policy: rates[policy][i] is the ratio at sizes[i]."

GUIDE_POLICIES = ("LRU", "LFU", "FIFO", "RR")  # the guide's four; policies.POLICIES has every one
PATTERNS = ("uniform", "scan", "loop", "zipf")

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
            lifetimes.append(Lifetime(key, clock(), cache.snapshot()["expires"][key]))
        steps.append(TTLStep(number, clock(), key, hit, tuple(expired), cache.snapshot()))
    return TTLRun(ttl, steps, lifetimes)


# -- experiments 2 and 3: LRU and LFU eviction, step by step --------------------

def policy_steps(policy, sequence, size):
    """Walk `sequence` ("A B C A" or a list) through a cache of `size` under `policy`."""
    return policy_walk(policy, parse_sequence(sequence), size)


def lru_steps(sequence, size):
    """Walk `sequence` through an LRUCache of `size`; each snapshot is oldest-first."""
    return policy_steps("LRU", sequence, size)


def lfu_steps(sequence, size):
    """Walk `sequence` through an LFUCache of `size`; each snapshot holds the frequency buckets."""
    return policy_steps("LFU", sequence, size)


def step_table(steps):
    """Format Step or TTLStep records as a fixed-width text table."""
    if steps and isinstance(steps[0], TTLStep):
        lines = ["step   time  key  result  expires  expired"]
        for s in steps:
            expires = s.snapshot["expires"].get(s.key)
            lines.append(f"{s.step:>4} {s.time:>6g}  {s.key!s:<4} {'hit' if s.hit else 'miss':<6}  "
                         f"{expires:>7g}  {' '.join(map(str, s.expired))}".rstrip())
        return "\n".join(lines)
    lines = ["step  key  result  evicted  cache (next to go first)"]
    for s in steps:
        lines.append(f"{s.step:>4}  {s.key!s:<4} {'hit' if s.hit else 'miss':<6}  "
                     f"{'' if s.evicted is None else s.evicted!s:<7}  {_describe(s.snapshot)}")
    return "\n".join(lines)


def _describe(snapshot):
    if "buckets" in snapshot:
        return "  ".join(f"{count}x: {' '.join(map(str, keys))}"
                         for count, keys in snapshot["buckets"].items())
    return " ".join(map(str, snapshot["order"]))


# -- experiment 4: hit rate by size, pattern and policy ---------------------------

def _trace(pattern, size, n_requests, n_keys, alpha, seed):
    if pattern == "uniform":
        return workloads.uniform(n_requests, n_keys, seed=seed)
    if pattern == "zipf":
        return workloads.zipf(n_requests, n_keys, alpha, seed=seed)
    if pattern == "scan":
        return workloads.scan(n_requests, n_keys)
    if pattern == "loop":
        return workloads.loop(n_requests, size)  # one key more than the cache holds
    raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")


def _make(policy, size, seed):
    cls = policy_class(policy)
    return cls(size, seed=seed) if cls is RRCache else cls(size)


def hit_rate(pattern, size, policy, *, alpha=1.0, seed=0, n_requests=2000, n_keys=100):
    """Replay one seeded trace through one cache and return its SimResult."""
    size = check_int("size", size, 1)
    return replay(_make(policy, size, seed), _trace(pattern, size, n_requests, n_keys, alpha, seed))


def hit_rate_table(pattern, sizes=(5, 10, 20, 40, 60, 80, 100), policies=GUIDE_POLICIES, *,
                   alpha=1.0, seed=0, n_requests=2000, n_keys=100):
    """Hit ratio of each policy at each cache size, all on the same seeded trace."""
    sizes = [check_int("sizes", s, 1) for s in sizes]
    for policy in policies:
        policy_class(policy)  # an unknown name fails here, before any replay
    policies = [policy.upper() for policy in policies]
    if not sizes or not policies:
        raise ValueError("sizes and policies must each name at least one value")
    shared = None if pattern == "loop" else _trace(pattern, 1, n_requests, n_keys, alpha, seed)
    rates = {}
    for policy in policies:
        if policy == "LRU" and shared is not None:  # every size in one pass, same hits as replays
            rates[policy] = lru_hit_curve(shared, sizes).hit_ratios.tolist()
            continue
        rates[policy] = [
            replay(_make(policy, size, seed),
                   shared if shared is not None
                   else _trace(pattern, size, n_requests, n_keys, alpha, seed)).hit_ratio
            for size in sizes
        ]
    return HitRates(pattern, sizes, rates)


def rates_table(table):
    """Format a HitRates table as text: one row per size, one column per policy."""
    lines = ["size  " + "  ".join(f"{policy:>5}" for policy in table.rates)]
    for i, size in enumerate(table.sizes):
        lines.append(f"{size:>4}  " + "  ".join(f"{rates[i]:>5.0%}" for rates in table.rates.values()))
    return "\n".join(lines)
