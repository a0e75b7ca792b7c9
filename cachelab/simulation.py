"""Replay a trace of keys through a cache, and hit-ratio curves over cache sizes.

`lru_hit_curve()` finds LRU's hits at every cache size in one pass over
the trace (Mattson's stack distances); `hit_curve()` replays any other
policy once per size.
"""

import collections

import numpy as np

from ._checks import check_int
from .caches import MISSING
from .policies import opt_hits, policy_class
from .workloads import _as_keys, _reuses

__all__ = [
    "POLICY_NAMES",
    "HitCurve",
    "SimResult",
    "Step",
    "compare_policies",
    "curves_table",
    "gaps_to_opt",
    "hit_curve",
    "lru_hit_curve",
    "policy_walk",
    "replay",
    "stack_distances",
    "state_rows",
    "walk_table",
]

SimResult = collections.namedtuple("SimResult", "hits misses")
SimResult.hit_ratio = property(
    lambda self: self.hits / (self.hits + self.misses) if self.hits + self.misses else 0.0,
    doc="Hits as a fraction of all requests (0.0 for an empty trace).",
)
SimResult.__doc__ = "Counts from one replay; .hit_ratio is hits / requests."

HitCurve = collections.namedtuple("HitCurve", "policy sizes hits requests")
HitCurve.hit_ratios = property(
    lambda self: np.asarray(self.hits) / self.requests if self.requests else np.zeros(len(self.hits)),
    doc="Hits at each size as a fraction of all requests.",
)
HitCurve.__doc__ = "Hits of one policy at each cache size, over a trace of `requests` requests."

POLICY_NAMES = ("LRU", "FIFO", "LFU", "CLOCK", "SIEVE", "ARC", "S3-FIFO", "OPT")

_AUTO_PROGRESS = 500_000  # requests: below this a replay is too quick to need a bar
_CHUNK = 65_536  # requests between progress-bar updates


def _progress(total, progress, desc):
    """Return a tqdm bar, or None when progress is off (auto: only for long runs)."""
    if progress is None:
        progress = total >= _AUTO_PROGRESS
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="req", unit_scale=True, leave=False)


def replay(cache, trace, *, progress=None):
    """Request every key of `trace` from `cache`, storing it on a miss.

    Works with any mapping that has `get()`, so cachelab's, cachetools' and
    a plain OrderedDict recipe all replay the same way.  `progress=None`
    shows a tqdm bar only for long traces; pass True or False to choose.
    """
    keys = trace.tolist() if hasattr(trace, "tolist") else list(trace)
    bar = _progress(len(keys), progress, type(cache).__name__)
    hits = 0
    get = cache.get
    missing = MISSING
    for start in range(0, len(keys), _CHUNK):
        for key in keys[start:start + _CHUNK]:
            if get(key, missing) is missing:
                cache[key] = key
            else:
                hits += 1
        if bar is not None:
            bar.update(min(_CHUNK, len(keys) - start))
    if bar is not None:
        bar.close()
    return SimResult(hits, len(keys) - hits)


# -- LRU at every size in one pass ------------------------------------------

def _previous_uses(keys):
    """Return, for each request, the index of the previous request for the same key (or -1)."""
    earlier, later = _reuses(keys)
    prev = np.full(len(keys), -1, dtype=np.int64)
    prev[later] = earlier
    return prev


def _count_at_most(values, limits):
    """For each i, count j < i with values[j] <= limits[i]; values and limits are >= 0.

    A wavelet matrix: one stable partition of the values per bit, top bit
    first, with every query walked down in step.  Each level is a handful
    of numpy passes, so the whole count is O(n log n) without a Python loop.
    """
    n = len(values)
    bits = max(int(max(values.max(initial=0), limits.max(initial=0)) + 1).bit_length(), 1)
    cur = values.astype(np.int32)
    bound = limits.astype(np.int32) + 1  # count the values below bound
    start = np.zeros(n, dtype=np.int32)  # each query's prefix [0, i), in this level's order
    end = np.arange(n, dtype=np.int32)
    below = np.zeros(n, dtype=np.int32)
    ones = np.zeros(n + 1, dtype=np.int32)  # ones[k]: values among the first k with this bit set
    for level in range(bits - 1, -1, -1):
        bit = (cur >> level) & 1
        np.cumsum(bit, out=ones[1:])
        n_zeros = n - int(ones[-1])
        ones_start, ones_end = ones.take(start), ones.take(end)
        zeros_start, zeros_end = start - ones_start, end - ones_end
        # Where the bound has this bit set, the values without it are below
        # the bound, and the query follows the values with it; else the
        # reverse.  (0/1 arithmetic: np.where is several times slower here.)
        up = (bound >> level) & 1
        below += up * (zeros_end - zeros_start)
        start = zeros_start + up * (n_zeros + ones_start - zeros_start)
        end = zeros_end + up * (n_zeros + ones_end - zeros_end)
        is_one = bit.astype(bool)
        cur = np.concatenate((np.compress(~is_one, cur), np.compress(is_one, cur)))
    return below


def stack_distances(trace):
    """Return each request's LRU stack distance: 1 + distinct keys since its key's last use.

    An LRU cache of size c hits exactly the requests with distance <= c.
    First uses get 0.
    """
    keys = _as_keys(trace)
    prev = _previous_uses(keys)
    index = np.arange(len(keys))
    # Distinct keys between the last use j and now i = requests in between
    # minus those that re-use a key already seen after j; those are the
    # earlier requests whose own previous use is later than j.
    later = index - _count_at_most(prev + 1, prev + 1)
    return np.where(prev >= 0, index - prev - later, 0)


def lru_hit_curve(trace, sizes=None):
    """Return LRU's hits at every cache size (or at `sizes`) from one pass over the trace.

    Equal, size by size, to replaying an `LRUCache`; the default sizes are
    0, 1, ... up to the number of distinct keys.
    """
    keys = _as_keys(trace)
    distances = stack_distances(keys)
    first_uses = int((distances == 0).sum())  # one per distinct key
    counts = np.bincount(distances, minlength=first_uses + 1)
    counts[0] = 0  # first uses miss at every size
    hits_at = np.cumsum(counts)
    if sizes is None:
        sizes = np.arange(len(hits_at))
    else:
        sizes = _check_sizes(sizes)
    hits = hits_at[np.minimum(sizes, len(hits_at) - 1)]
    return HitCurve("LRU", sizes, hits, len(keys))


def _check_sizes(sizes):
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or (len(sizes) and sizes.min() < 0):
        raise ValueError(f"sizes must be a sequence of non-negative integers, got {sizes!r}")
    return sizes


# -- any policy, size by size -------------------------------------------------

def hit_curve(policy, trace, sizes, *, progress=None):
    """Return the hits of `policy` at each of `sizes`, one replay per size.

    `policy` is a name from policies.POLICIES, or 'OPT' (Belady's offline
    optimum), or a cache class taking maxsize.  'LRU' uses the one-pass curve.
    """
    sizes = _check_sizes(sizes)
    keys = _as_keys(trace)
    if isinstance(policy, str):
        name = policy.upper()
        if name == "LRU":
            return lru_hit_curve(keys, sizes)
        if name == "OPT":
            return HitCurve("OPT", sizes, np.array([opt_hits(keys, int(s)) for s in sizes]),
                            len(keys))
        cls = policy_class(name)
    elif isinstance(policy, type):
        cls, name = policy, policy.__name__
    else:
        raise TypeError(f"policy must be a name or a cache class, got {policy!r}")
    bar = _progress(len(keys) * len(sizes), progress, name)
    hits = []
    for size in sizes.tolist():
        hits.append(replay(cls(size), keys, progress=False).hits if size else 0)
        if bar is not None:
            bar.update(len(keys))
    if bar is not None:
        bar.close()
    return HitCurve(name, sizes, np.array(hits, dtype=np.int64), len(keys))


# -- the policies lab (notebook 08): every policy on one trace ------------------

def compare_policies(trace, sizes, policies=POLICY_NAMES, *, progress=False):
    """Return {policy name: HitCurve} for each policy on the same trace; OPT is the ceiling."""
    if isinstance(policies, str):
        policies = [policies]
    return {curve.policy: curve
            for curve in (hit_curve(policy, trace, sizes, progress=progress) for policy in policies)}


def gaps_to_opt(curves):
    """Return {policy: OPT's hit ratio minus the policy's, at each size}; needs an 'OPT' curve."""
    if "OPT" not in curves:
        raise ValueError("curves must include 'OPT', the ceiling the gaps are measured from")
    ceiling = curves["OPT"].hit_ratios
    return {name: ceiling - curve.hit_ratios for name, curve in curves.items() if name != "OPT"}


def curves_table(curves):
    """Format curves as text: hit ratio per size and policy, then the mean gap to OPT."""
    names = list(curves)
    sizes = next(iter(curves.values())).sizes
    lines = ["size  " + " ".join(f"{name:>7}" for name in names)]
    for i, size in enumerate(sizes):
        lines.append(f"{size:>4}  " + " ".join(f"{curves[n].hit_ratios[i]:>7.1%}" for n in names))
    if "OPT" in curves:
        gaps = gaps_to_opt(curves)
        lines.append("gap   " + " ".join(f"{gaps[n].mean():>7.1%}" if n in gaps else f"{'':>7}"
                                         for n in names))
    return "\n".join(lines)


def state_rows(snapshot):
    """Turn a policy's snapshot into rows to draw: (label, keys, marked keys, hand key or None).

    Each row is a queue, oldest (or next to go) first.  Marked keys are the
    ones the policy will spare: CLOCK's reference bits, SIEVE's visited
    keys, S3-FIFO's keys read since they arrived.
    """
    if "hand" in snapshot:  # SIEVE
        return [("queue", snapshot["queue"], snapshot["visited"], snapshot["hand"])]
    if "ring" in snapshot:  # CLOCK: the hand is at the front of the ring
        ring = snapshot["ring"]
        return [("ring", ring, [k for k in ring if snapshot["referenced"][k]],
                 ring[0] if ring else None)]
    if "small" in snapshot:  # S3-FIFO
        read = [k for k, n in snapshot["freq"].items() if n]
        return [("small", snapshot["small"], [k for k in snapshot["small"] if k in read], None),
                ("main", snapshot["main"], [k for k in snapshot["main"] if k in read], None),
                ("ghost", snapshot["ghost"], [], None)]
    if "T1" in snapshot:  # ARC
        return [(name, snapshot[name], [], None) for name in ("T1", "T2", "B1", "B2")]
    if "buckets" in snapshot:  # LFU: one row per use count, lowest (next to go) first
        return [(f"{count}x", keys, [], None) for count, keys in snapshot["buckets"].items()]
    return [("cache", snapshot.get("order", []), [], None)]


Step = collections.namedtuple("Step", "step key hit evicted snapshot")
Step.rows = property(lambda self: state_rows(self.snapshot),
                     doc="The snapshot as rows to draw; see state_rows().")
Step.__doc__ = ("One request of a walk: its 1-based number, the key, hit or miss, "
                "the key evicted (or None), and the cache's snapshot() after it.")



def policy_walk(policy, keys, size):
    """Request each key in turn from a `policy` cache of `size`; one Step per request."""
    cache = policy_class(policy)(check_int("size", size, 1))
    evicted = []
    cache.subscribe(lambda event: evicted.append(event.key))
    walk = []
    for number, key in enumerate(keys, 1):
        evicted.clear()
        hit = cache.get(key, MISSING) is not MISSING  # a read: moves LRU's key, counts LFU's use
        if not hit:
            cache[key] = key
        walk.append(Step(number, key, hit, evicted[0] if evicted else None, cache.snapshot()))
    return walk


def walk_table(walk):
    """Format Step records as text; [k] is under the hand, k* is marked to be spared."""
    lines = []
    for s in walk:
        state = "  ".join(f"{label}: " + (" ".join(
            (f"[{k}]" if k == hand else str(k)) + ("*" if k in marked else "") for k in keys) or "-")
            for label, keys, marked, hand in s.rows)
        evicted = "" if s.evicted is None else f" evict {s.evicted}"
        lines.append(f"{s.step:>2} {s.key!s:<3} {'hit ' if s.hit else 'miss'}{evicted:<9} | {state}")
    return "\n".join(lines)
