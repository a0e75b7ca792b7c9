"""Replay a trace of keys through a cache, and hit-ratio curves over cache sizes.

`lru_hit_curve()` finds LRU's hits at every cache size in one pass over
the trace (Mattson's stack distances); `hit_curve()` replays any other
policy once per size, and `compare_policies()` puts them side by side
with Belady's OPT as the ceiling.  Text, SVG and matplotlib views of
the curves are in `views.py` and `plots.py`.
"""

import collections

import numpy as np

from ..caches import MISSING, Cache
from ..policies import POLICIES, opt_hits_at, new_cache, policy_class, policy_name
from ..reuse import as_keys, reuses

__all__ = [
    "ALL_POLICIES",
    "HitCurve",
    "SimResult",
    "compare_policies",
    "gaps_to_opt",
    "hit_curve",
    "lru_hit_curve",
    "replay",
    "stack_distances",
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

ALL_POLICIES = (*POLICIES, "OPT")  # every registered policy, then the offline ceiling

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


def replay(cache, trace, *, progress=None, hooks=True):
    """Request every key of `trace` from `cache`, storing it on a miss.

    Works with any mapping that has `get()`, so cachelab's, cachetools' and
    a plain OrderedDict recipe all replay the same way.  A cachelab cache
    is replayed through its policy's hooks, twice as fast, with the same
    result; `hooks=False` reads it through get() and cache[key] = key like
    any other mapping, to time implementations fairly.  `progress=None`
    shows a tqdm bar only for long traces; pass True or False to choose.
    """
    mapping = callable(getattr(cache, "get", None)) and hasattr(cache, "__setitem__")
    if isinstance(cache, type) or not mapping:
        raise TypeError(f"cache must be a cache with get(key, default) and cache[key] = value, "
                        f"such as LRUCache(100), got {cache!r}")
    if isinstance(trace, (str, bytes)) or not hasattr(trace, "__iter__"):
        raise TypeError(f"trace must be a sequence of keys, such as a list or a numpy array, got {trace!r}")
    keys = trace.tolist() if hasattr(trace, "tolist") else list(trace)
    bar = _progress(len(keys), progress, type(cache).__name__)
    run = _replay_hooks if hooks and _plain(cache) else _replay_get
    hits = 0
    for start in range(0, len(keys), _CHUNK):
        hits += run(cache, keys[start:start + _CHUNK])
        if bar is not None:
            bar.update(min(_CHUNK, len(keys) - start))
    if bar is not None:
        bar.close()
    return SimResult(hits, len(keys) - hits)


def _replay_get(cache, keys):
    hits = 0
    get, missing = cache.get, MISSING
    for key in keys:
        if get(key, missing) is missing:
            cache[key] = key
        else:
            hits += 1
    return hits


def _plain(cache):
    """True if `cache` is a cachelab cache that reads and stores as Cache does: its hooks say all."""
    cls = type(cache)
    return (isinstance(cache, Cache) and cls.get is Cache.get and cls.popitem is Cache.popitem
            and cls.__setitem__ is Cache.__setitem__ and cls.__delitem__ is Cache.__delitem__
            and cache._sizes is None and not cache._listeners and cache.maxsize >= 1)


def _replay_hooks(cache, keys):
    # A cachelab cache is a dict plus its policy's hooks (see caches.Cache).
    # Called directly, without get(), __setitem__(), popitem() and
    # __delitem__() around them, and skipped where the policy keeps Cache's
    # empty ones, the hooks replay a trace twice as fast: same hits, same
    # evictions, same cache_info().  This keeps the hit-rate sliders quick;
    # tests/test_simulation.py checks it against the get() loop for every policy.
    def hook(name):
        return None if getattr(type(cache), name) is getattr(Cache, name) else getattr(cache, name)

    data, maxsize, hits = cache._data, cache.maxsize, 0
    touch, admit, insert, forget, victim = (hook("_touch"), hook("_admit"), hook("_insert"),
                                            hook("_forget"), hook("_victim"))
    admitted = None
    stored = len(data)
    for key in keys:
        if key in data:
            hits += 1
            if touch is not None:
                touch(key)
            continue
        if admit is not None:
            admitted = admit(key)
            stored = len(data)  # ARC's _admit() may have evicted
        if stored < maxsize:
            stored += 1
        else:
            gone = next(iter(data)) if victim is None else victim()  # Cache's: the oldest
            del data[gone]
            if forget is not None:
                forget(gone)
        data[key] = key
        if insert is not None:
            insert(key, admitted)
    cache._hits += hits
    cache._misses += len(keys) - hits
    return hits


# -- LRU at every size in one pass ------------------------------------------

def _previous_uses(keys):
    """Return, for each request, the index of the previous request for the same key (or -1)."""
    earlier, later = reuses(keys)
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
    keys = as_keys(trace)
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
    keys = as_keys(trace)
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

def hit_curve(policy, trace, sizes, *, seed=0, progress=None):
    """Return the hits of `policy` at each of `sizes`, one replay per size.

    `policy` is a name from policies.POLICIES, or 'OPT' (Belady's offline
    optimum), or a cache class taking maxsize; a random policy gets `seed`.
    'LRU' uses the one-pass curve.  A cache that holds every distinct key
    never evicts, so its hits are known without a replay.
    """
    sizes = _check_sizes(sizes)
    keys = as_keys(trace)
    if isinstance(policy, str):
        name = policy.upper()
        if name == "LRU":
            return lru_hit_curve(keys, sizes)
        if name == "OPT":
            return HitCurve("OPT", sizes, np.array(opt_hits_at(keys, sizes.tolist())), len(keys))
        name = policy_name(name)  # the registry's spelling, 'W-TinyLFU', for the curve's label
        cls = policy_class(name)
    elif isinstance(policy, type):
        cls, name = policy, policy.__name__
    else:
        raise TypeError(f"policy must be a name or a cache class, got {policy!r}")
    distinct = len(np.unique(keys))
    requests = keys.tolist()  # once, not once per size
    bar = _progress(len(keys) * len(sizes), progress, name)
    hits = []
    for size in sizes.tolist():
        if size == 0:
            hits.append(0)
        elif size >= distinct:
            hits.append(len(keys) - distinct)  # every key fits: only first uses miss
        else:
            hits.append(replay(new_cache(cls, size, seed=seed), requests, progress=False).hits)
        if bar is not None:
            bar.update(len(keys))
    if bar is not None:
        bar.close()
    return HitCurve(name, sizes, np.array(hits, dtype=np.int64), len(keys))


def compare_policies(trace, sizes, policies=ALL_POLICIES, *, seed=0, progress=False):
    """Return {policy name: HitCurve} for each policy on the same trace; OPT is the ceiling."""
    if isinstance(policies, str):
        policies = [policies]
    return {curve.policy: curve
            for curve in (hit_curve(policy, trace, sizes, seed=seed, progress=progress)
                          for policy in policies)}


def gaps_to_opt(curves):
    """Return {policy: OPT's hit ratio minus the policy's, at each size}; needs an 'OPT' curve."""
    if "OPT" not in curves:
        raise ValueError("curves must include 'OPT', the ceiling the gaps are measured from")
    ceiling = curves["OPT"].hit_ratios
    return {name: ceiling - curve.hit_ratios for name, curve in curves.items() if name != "OPT"}
