"""Miss-ratio curves at the speed of C, and approximate ones for traces too long to replay.

Three ways to a policy's hits at many cache sizes, all returning the
`HitCurve` records of `simulation`:

- `simulate_curve()`: exact.  libCacheSim's C simulator runs the policy
  wherever it runs cachelab's algorithm hit for hit (LRU, FIFO, LFU, CLOCK,
  SIEVE, ARC, S3-FIFO, and OPT as its Belady; tests/test_libcachesim.py
  checks this); other policies replay cachelab's own class.
- `shards_curve()`: LRU from SHARDS, spatial sampling (Waldspurger et al.,
  FAST'15): keep only the requests whose key hashes below a threshold,
  a fraction `rate` of the keys, and scale their stack distances by 1/rate.
- `mini_curve()`: any policy from miniature simulation (Waldspurger et al.,
  ATC'17): the same sample of keys replayed through a cache `rate` times
  the size; its hit ratio estimates the full cache's.

`byte_curve()` gives the byte hit ratio where a trace carries sizes, and
`knee()`, `windowed_curves()` and `zipf_fit()` read a curve for sizing.
"""

import collections
import contextlib
import math
import os
import pathlib
import tempfile

import numpy as np

from .._checks import check_fraction, check_int
from ..policies import policy_name
from ..reuse import as_keys
from .datasets import Trace
from .simulation import HitCurve, hit_curve, lru_hit_curve, stack_distances
from .workloads import write_oracle_general, zipf

__all__ = ["EXACT_IN_LIBCACHESIM", "LIBCACHESIM_NAMES", "CacheCosts", "byte_curve", "cache_costs", "cheapest",
           "knee", "mae", "mini_curve",
           "shards_curve", "simulate_curve", "simulate_curves", "spatial_sample", "windowed_curves",
           "zipf_chunks", "zipf_fit", "zipf_like"]

# cachelab's policy names -> libCacheSim's classes.
LIBCACHESIM_NAMES = {"LRU": "LRU", "FIFO": "FIFO", "LFU": "LFU", "CLOCK": "Clock", "SIEVE": "Sieve",
                     "ARC": "ARC", "S3-FIFO": "S3FIFO", "W-TinyLFU": "WTinyLFU", "RR": "Random",
                     "OPT": "Belady"}
# Where libCacheSim's version gives cachelab's hits exactly, and from which size: below 20
# libCacheSim's S3-FIFO differs (see S3FIFOCache), and below 10 it aborts the process.
# Its W-TinyLFU agrees within a point (its own sketch hash) and Random draws other numbers.
EXACT_IN_LIBCACHESIM = {"LRU": 1, "FIFO": 1, "LFU": 1, "CLOCK": 1, "SIEVE": 1, "ARC": 1,
                        "S3-FIFO": 20, "OPT": 1}
# The smallest cache libCacheSim's version stores anything in (W-TinyLFU's 1% window).
_LIBCACHESIM_MIN = {"S3-FIFO": 20, "W-TinyLFU": 100}


def _libcachesim():
    # Imported on first use: it is large, and on import it makes a hub cache under
    # ~/.cache unless LCS_HUB_CACHE says where (the tests point it at a temp dir).
    import libcachesim

    return libcachesim


@contextlib.contextmanager
def _trace_file(trace):
    """Yield (path, keys) of an oracleGeneral file for trace: its own file, or the keys written out."""
    if isinstance(trace, Trace) and trace.path is not None:
        yield str(trace.path), trace.keys
        return
    if isinstance(trace, (str, os.PathLike)):
        from .datasets import read_oracle_general

        yield str(trace), read_oracle_general(trace).keys
        return
    keys = as_keys(trace.keys if isinstance(trace, Trace) else trace)
    with tempfile.TemporaryDirectory(prefix="cachelab-curve-") as folder:
        yield str(write_oracle_general(keys - keys.min(initial=0) if len(keys) and keys.min() < 0 else keys,
                                       pathlib.Path(folder) / "trace.bin")), keys


def _lcs_hits(lcs, name, path, size, *, by_bytes=False, keys=1 << 20):
    """(object hit ratio, byte hit ratio) of libCacheSim's policy `name` at `size` on the file."""
    reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE,
                             reader_init_params=lcs.ReaderInitParam(ignore_obj_size=not by_bytes))
    # A hash table sized for the trace's keys: its default, 2**24 buckets, costs 0.2 s to
    # build, and even 2**20 costs 3 ms, more than a slider's small trace takes to run.
    hashpower = min(max(int(keys).bit_length() + 1, 8), 24)
    miss, byte_miss = getattr(lcs, name)(int(size), hashpower=hashpower).process_trace(reader)
    return 1 - miss, 1 - byte_miss


def _sizes(sizes):
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or (len(sizes) and sizes.min() < 0):
        raise ValueError(f"sizes must be a sequence of non-negative integers, got {sizes!r}")
    return sizes


def simulate_curve(policy, trace, sizes, *, engine="auto"):
    """Return the exact hits of `policy` at each of `sizes`, in C where that gives the same hits.

    `trace` is an array of keys, a `Trace`, or the path of an oracleGeneral
    file; `policy` a name, or a cache class of your own, which cachelab
    replays.  engine='auto' runs libCacheSim where its policy is cachelab's hit
    for hit (EXACT_IN_LIBCACHESIM) and cachelab's class elsewhere;
    'libcachesim' runs libCacheSim's own version of every policy it has
    (W-TinyLFU within a point, RR another random stream); 'cachelab'
    replays cachelab's classes only.
    """
    sizes = _sizes(sizes)
    if engine not in ("auto", "libcachesim", "cachelab"):
        raise ValueError(f"engine must be 'auto', 'libcachesim' or 'cachelab', got {engine!r}")
    if isinstance(policy, type):  # a cache class of your own: cachelab replays it
        with _trace_file(trace) as (_, keys):
            return hit_curve(policy, keys, sizes, progress=False)
    name = "OPT" if isinstance(policy, str) and policy.upper() == "OPT" else policy_name(policy)
    with _trace_file(trace) as (path, keys):
        n = len(keys)
        if engine == "cachelab" or name not in LIBCACHESIM_NAMES or (name == "LRU" and engine == "auto"):
            return hit_curve(name, keys, sizes, progress=False)  # LRU: the one-pass curve, exact, faster still
        floor = EXACT_IN_LIBCACHESIM.get(name, math.inf) if engine == "auto" else _LIBCACHESIM_MIN.get(name, 1)
        here = [size for size in sizes.tolist() if size < floor and size > 0]
        ours = dict(zip(here, hit_curve(name, keys, here, progress=False).hits.tolist())) if here else {}
        lcs = _libcachesim() if len(here) < np.count_nonzero(sizes) else None
        distinct = len(np.unique(keys)) if lcs else 0
        hits = [0 if size == 0 else ours[size] if size in ours
                else round(_lcs_hits(lcs, LIBCACHESIM_NAMES[name], path, size, keys=distinct)[0] * n)
                for size in sizes.tolist()]
    return HitCurve(name, sizes, np.array(hits, dtype=np.int64), n)


def simulate_curves(trace, sizes, policies, *, engine="auto"):
    """Return {policy: HitCurve} of exact curves, one per policy, on one trace file."""
    with _trace_file(trace) as (path, keys):
        loaded = Trace("trace", keys, None, None, path)
        return {curve.policy: curve for curve in
                (simulate_curve(policy, loaded, sizes, engine=engine) for policy in policies)}


def byte_curve(policy, trace, capacities):
    """Return (objects, bytes): `policy`'s hits at each capacity in bytes, counted in requests and in bytes.

    `trace` is a `Trace` read from an oracleGeneral file (fetch_trace), whose
    sizes libCacheSim counts.  The second HitCurve's hits and requests are
    bytes, so its hit_ratios are the byte hit ratio.
    """
    if not isinstance(trace, Trace) or trace.path is None or trace.sizes is None:
        raise TypeError(f"trace must be a Trace with sizes and its file, from fetch_trace(), got {trace!r}")
    capacities, name = _sizes(capacities), policy_name(policy) if policy.upper() != "OPT" else "OPT"
    lcs, total, n = _libcachesim(), int(trace.sizes.sum()), len(trace.keys)
    ratios = np.array([(0.0, 0.0) if capacity == 0 else
                       _lcs_hits(lcs, LIBCACHESIM_NAMES[name], str(trace.path), capacity, by_bytes=True,
                                 keys=n) for capacity in capacities.tolist()]).reshape(-1, 2)
    return (HitCurve(name, capacities, np.round(ratios[:, 0] * n).astype(np.int64), n),
            HitCurve(name, capacities, np.round(ratios[:, 1] * total).astype(np.int64), total))


# -- sampling: SHARDS for LRU, miniature caches for any policy -------------------

_GOLDEN = 0x9E3779B97F4A7C15  # an odd 64-bit constant: multiply-shift hashing


def spatial_sample(keys, rate, *, seed=0):
    """Return a boolean mask of the requests whose key is in a `rate` fraction of all keys, by hash.

    Every request for a sampled key is kept and every other dropped, so
    reuse within the sample is reuse in the trace, `rate` times as dense.
    """
    check_fraction("rate", rate)
    keys = np.asarray(keys)
    mixed = (keys.astype(np.uint64) ^ np.uint64((seed * _GOLDEN + 0x632BE59BD9B4E019) % 2**64))
    with np.errstate(over="ignore"):
        hashed = mixed * np.uint64(_GOLDEN)
        hashed ^= hashed >> np.uint64(29)
        hashed *= np.uint64(0xBF58476D1CE4E5B9)
    return (hashed >> np.uint64(40)) < np.uint64(round(rate * 2**24))


def _chunks(trace):
    if isinstance(trace, Trace):
        return [trace.keys]
    if isinstance(trace, np.ndarray) or isinstance(trace, (list, tuple)):
        return [as_keys(trace)]
    return trace  # an iterable of integer arrays, read one at a time


def shards_curve(trace, sizes, rate=0.01, *, seed=0, adjust=True, exact=None):
    """Return LRU's approximate hits at each size from a `rate` sample of the keys (SHARDS).

    `trace` may be an array, or an iterable of integer-key chunks that is
    read once and never held whole (a trace of 100M requests).

    Sizes up to K = `exact` keys are counted exactly by an LRU stack of
    depth K over every request; above K the sample gives only the share of
    K's misses that a cache of each size still misses.  The hot keys,
    whose luck of being sampled or not is most of plain SHARDS' error,
    all hit within K, so they no longer sway the curve.  By default K is
    60 / rate, where a sample holds 60 keys, and at least 6,000 (the
    stack costs about the same at any depth; a shallow one splices where
    the curve is still steep).  exact=0 is plain SHARDS, where `adjust`
    is SHARDS_adj: the sample's shortfall from rate x requests counts as
    hits at the smallest distance.
    """
    sizes = _sizes(sizes)
    check_fraction("rate", rate)
    if rate == 0:
        raise ValueError("rate must be a number between 0 and 1, above 0, got 0")
    depth = max(math.ceil(60 / rate), 6_000) if exact is None else check_int("exact", exact)
    depth = min(depth, int(sizes.max(initial=0)))
    stack = _ExactStack(depth)
    sampled, n = [], 0
    for chunk in _chunks(trace):
        chunk = np.asarray(chunk)
        n += len(chunk)
        stack.feed(chunk)
        sampled.append(chunk[spatial_sample(chunk, rate, seed=seed)])
    keys = np.concatenate(sampled) if sampled else np.zeros(0, dtype=np.int64)
    distances = stack_distances(keys)
    # A sampled distance d counts d - 1 sampled keys in between, about rate x the true number.
    reuse = np.sort(distances[distances > 0] - 1) / rate + 1
    hits = np.searchsorted(reuse, sizes, side="right")
    ratios = np.where(sizes > 0, _adjusted(hits, len(keys), n * rate, adjust), 0.0)
    if depth and n:
        # Above the stack: exact misses at its depth, times the sample's share of them still missed.
        misses = len(keys) - hits
        still = misses / max(len(keys) - np.searchsorted(reuse, depth, side="right"), 1)
        exact_ratios = stack.hits_at(np.minimum(sizes, depth)) / n
        ratios = np.where(sizes <= depth, exact_ratios, 1 - (1 - exact_ratios) * np.minimum(still, 1))
    return HitCurve("LRU", sizes, ratios * n, n)


class _ExactStack:
    """LRU's exact hits at every size up to `depth`, fed a trace chunk by chunk.

    Each chunk is read behind the `depth` most recently used keys, oldest
    first, so a distance up to `depth` comes out exact; a longer one is
    a miss at every size the stack answers for.  Pieces of 131,072
    requests keep stack_distances() near linear time (a 5M piece costs
    three times as much per request).
    """

    PIECE = 1 << 17

    def __init__(self, depth):
        self.depth = depth
        self.counts = np.zeros(depth + 1, dtype=np.int64)
        self.recent = np.zeros(0, dtype=np.int64)

    def feed(self, chunk):
        if not self.depth:
            return
        for start in range(0, len(chunk), self.PIECE):
            keys = np.concatenate([self.recent, as_keys(chunk[start:start + self.PIECE])])
            distances = stack_distances(keys)[len(self.recent):]
            self.counts += np.bincount(distances[distances <= self.depth], minlength=self.depth + 1)
            # The depth most recent distinct keys, by their last use, oldest first.
            _, last = np.unique(keys[::-1], return_index=True)
            self.recent = keys[np.sort(len(keys) - 1 - last)[-self.depth:]]

    def hits_at(self, sizes):
        hits = np.cumsum(self.counts)
        hits -= self.counts[0]  # distance 0: a first use, or one beyond the stack
        return hits[sizes]

    def __repr__(self):
        return f"_ExactStack(depth={self.depth}, hits={int(self.counts[1:].sum())})"


def _adjusted(sample_hits, sampled, expected, adjust):
    """Hit ratios of a sample; adjusted (SHARDS_adj), the shortfall from `expected` requests is hits."""
    sample_hits = np.asarray(sample_hits, dtype=np.float64)
    if adjust and expected:
        return np.clip((sample_hits + (expected - sampled)) / expected, 0.0, 1.0)
    return sample_hits / sampled if sampled else sample_hits


def mini_curve(policy, trace, sizes, rate=0.01, *, seed=0, engine="libcachesim", min_size=100,
               adjust=True):
    """Return `policy`'s approximate hits at each size from miniature caches (ATC'17).

    Each size is simulated as a cache of size x r on the requests for an r
    sample of the keys, r = `rate`, or more where that cache would hold
    fewer than `min_size` keys: r doubles until it holds enough (tiny
    caches are where a sample's noise shows).  `engine` as in
    simulate_curve(); libCacheSim by default, since the samples are
    replayed many times.  `adjust` corrects each sample's size to the
    expected rate x requests as shards_curve() does: which very popular
    keys a sample happens to hold is most of its error on skewed traces.
    """
    sizes, keys = _sizes(sizes), as_keys(trace.keys if isinstance(trace, Trace) else trace)
    check_fraction("rate", rate)
    check_int("min_size", min_size, 1)
    rates = {}
    for size in sizes.tolist():
        r = rate
        while size * r < min_size and r < 1:
            r = min(2 * r, 1.0)
        rates.setdefault(r, []).append(size)
    ratios = {0: 0.0}
    for r, group in rates.items():
        sample = keys[spatial_sample(keys, r, seed=seed)] if r < 1 else keys
        minis = [max(round(size * r), 1) for size in group if size]
        if not minis:
            continue
        curve = simulate_curve(policy, sample, minis, engine=engine)
        ratios.update(zip((size for size in group if size),
                          _adjusted(curve.hits, len(sample), len(keys) * r, adjust).tolist()))
    name = curve.policy if rates and any(sizes) else str(policy)
    return HitCurve(name, sizes, np.array([ratios[s] for s in sizes.tolist()]) * len(keys), len(keys))


def mae(curve, reference):
    """Mean absolute error of curve's hit ratios (= of its miss ratios) against reference's."""
    return float(np.mean(np.abs(curve.hit_ratios - reference.hit_ratios)))


# -- reading a curve for sizing --------------------------------------------------

def knee(curve):
    """Return the size at the curve's knee: furthest above the chord from its first to its last point.

    Past the knee each extra unit of memory buys markedly fewer hits
    (the Kneedle idea, Satopaa et al., 2011, on the normalised curve).
    """
    x, y = np.asarray(curve.sizes, dtype=float), curve.hit_ratios
    if len(x) < 3 or x[-1] == x[0] or y[-1] == y[0]:
        return int(x[-1]) if len(x) else 0
    xn, yn = (x - x[0]) / (x[-1] - x[0]), (y - y[0]) / (y[-1] - y[0])
    return int(x[np.argmax(yn - xn)])


CacheCosts = collections.namedtuple("CacheCosts", "sizes memory database total reads_per_second")
CacheCosts.__doc__ = ("What each cache size costs a month: its memory, the database reads its misses "
                      "cause, their sum, and the reads per second that still reach the database.")

_MONTH = 30 * 24 * 3600  # seconds


def cache_costs(curve, *, requests_per_second, entry_bytes, memory_price, read_price):
    """Return the CacheCosts of every size on `curve`: memory, plus database reads for the misses.

    `memory_price` is per GB of cache a month, `read_price` per million
    database reads; each entry takes `entry_bytes`.  A pure function of
    the curve, so a slider can call it on every move.
    """
    for name, value in (("requests_per_second", requests_per_second), ("entry_bytes", entry_bytes),
                        ("memory_price", memory_price), ("read_price", read_price)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    sizes = np.asarray(curve.sizes)
    reads = requests_per_second * (1 - curve.hit_ratios)
    memory = sizes * entry_bytes / 1e9 * memory_price
    database = reads * _MONTH / 1e6 * read_price
    return CacheCosts(sizes, memory, database, memory + database, reads)


def cheapest(costs):
    """Return (size, monthly total) of the cheapest size; the smallest such size on a tie."""
    i = int(np.argmin(costs.total))
    return int(costs.sizes[i]), float(costs.total[i])


def windowed_curves(trace, sizes, windows=4):
    """Return LRU's HitCurve over each of `windows` equal slices of the trace, each from a cold cache.

    A curve of the whole trace averages phases that differ: when the
    working set moves, each slice's curve tells its own size.
    """
    keys, sizes = as_keys(trace.keys if isinstance(trace, Trace) else trace), _sizes(sizes)
    check_int("windows", windows, 1)
    return [lru_hit_curve(part, sizes) for part in np.array_split(keys, windows)]


def zipf_fit(trace, *, top=None):
    """Return (alpha, n_keys) of the Zipf law closest to the trace's popularity, by rank-frequency.

    A least-squares line through log(count) against log(rank), over the
    `top` most requested keys (default: those requested more than once).
    """
    keys = as_keys(trace.keys if isinstance(trace, Trace) else trace)
    counts = np.sort(np.unique(keys, return_counts=True)[1])[::-1]
    used = int(np.count_nonzero(counts > 1)) if top is None else check_int("top", top, 2)
    used = max(min(used, len(counts)), 2)
    ranks = np.arange(1, used + 1)
    slope, _ = np.polyfit(np.log(ranks), np.log(counts[:used]), 1)
    return float(-slope), len(counts)


def zipf_like(trace, *, seed=0):
    """Return a synthetic Zipf trace with the trace's length, key count and fitted alpha."""
    alpha, n_keys = zipf_fit(trace)
    n = len(trace.keys if isinstance(trace, Trace) else trace)
    return zipf(n, n_keys, alpha, seed=seed)


def zipf_chunks(n_requests, n_keys, alpha=1.0, *, chunk=5_000_000, seed=0):
    """Yield a Zipf trace of n_requests as arrays of `chunk` requests, never holding it whole.

    The same law as workloads.zipf(), sampled through a guide table: the
    draw u starts its search at the key table[u * bins] and steps forward,
    which is a few array passes instead of a binary search per request.
    """
    check_int("n_requests", n_requests, 0)
    check_int("n_keys", n_keys, 1)
    check_int("chunk", chunk, 1)
    cdf = np.cumsum(np.arange(1, n_keys + 1, dtype=np.float64) ** -float(alpha))
    cdf /= cdf[-1]
    bins = 1 << 22
    table = np.searchsorted(cdf, np.arange(bins) / bins, side="right")
    rng = np.random.default_rng(seed)
    for start in range(0, n_requests, chunk):
        u = rng.random(min(chunk, n_requests - start))
        keys = table[(u * bins).astype(np.int64)]
        while True:  # step past every key whose share of [0, 1) ends at or before u
            behind = (u >= cdf[keys]) & (keys < n_keys - 1)
            if not behind.any():
                break
            keys += behind
        yield keys
