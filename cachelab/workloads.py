"""Seeded workloads (access patterns): arrays of integer keys, one per request.

Every generator takes `seed=` (or an explicit numpy `rng=`), so a test, a
notebook and a slider all see the same trace.  `load_trace()` reads a
real trace from a text file, and `write_oracle_general()` writes one in
the binary format libCacheSim reads fastest.
"""

import csv
import os

import numpy as np

from ._checks import check_int

__all__ = [
    "WORKLOADS",
    "load_trace",
    "loop",
    "make_trace",
    "read_write_workload",
    "scan",
    "shifting_hotset",
    "uniform",
    "write_oracle_general",
    "zipf",
    "zipf_scan",
]


def _rng(seed, rng):
    if rng is not None and seed is not None:
        raise ValueError("pass either seed or rng, not both")
    return rng if rng is not None else np.random.default_rng(seed)


def uniform(n_requests, n_keys, *, seed=None, rng=None):
    """Every key equally likely."""
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    return _rng(seed, rng).integers(0, n_keys, size=n_requests)


def zipf(n_requests, n_keys, alpha=1.0, *, seed=None, rng=None):
    """Key k (0 is the most popular) drawn with probability proportional to 1/(k+1)**alpha.

    Unlike numpy's `zipf`, the key space is bounded and any alpha >= 0 works,
    including the common web-cache range alpha <= 1.
    """
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    weights = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(alpha)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    draws = _rng(seed, rng).random(n_requests)
    # side="right" keeps a draw of exactly cdf[k] out of key k.
    return np.minimum(np.searchsorted(cdf, draws, side="right"), n_keys - 1)


def scan(n_requests, n_keys):
    """0, 1, 2, ... n_keys-1, then around again: every key once per pass."""
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    return np.arange(n_requests) % n_keys


def loop(n_requests, cache_size, extra=1):
    """A scan over `cache_size + extra` keys: the pathological case for LRU."""
    cache_size = check_int("cache_size", cache_size, 1)
    extra = check_int("extra", extra, 1)
    return scan(n_requests, cache_size + extra)


def shifting_hotset(n_requests, n_keys, hot_keys=10, phases=4, hot_fraction=0.9, *,
                    seed=None, rng=None):
    """A hot set of `hot_keys` keys takes `hot_fraction` of the requests, then moves on.

    The trace falls into `phases` equal parts; each part has its own hot
    set (the next `hot_keys` keys along), and the rest of its requests
    are uniform over all keys.  A cache must forget the old hot set.
    """
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    hot_keys = check_int("hot_keys", hot_keys, 1)
    phases = check_int("phases", phases, 1)
    if hot_keys > n_keys:
        raise ValueError(f"hot_keys must be <= n_keys ({n_keys}), got {hot_keys!r}")
    if not 0 <= hot_fraction <= 1:
        raise ValueError(f"hot_fraction must be between 0 and 1, got {hot_fraction!r}")
    rng = _rng(seed, rng)
    phase = np.arange(n_requests) * phases // max(n_requests, 1)
    hot = (phase * hot_keys + rng.integers(0, hot_keys, size=n_requests)) % n_keys
    cold = rng.integers(0, n_keys, size=n_requests)
    return np.where(rng.random(n_requests) < hot_fraction, hot, cold)


def zipf_scan(n_requests, n_keys, alpha=1.0, scan_length=None, scan_every=None, *,
              seed=None, rng=None):
    """Zipf traffic interrupted by scans: a batch job reading a cold table end to end.

    After every `scan_every` Zipf requests come `scan_length` requests for
    keys n_keys, n_keys+1, ... (the same cold table each time).  Defaults:
    a table of n_keys // 2 keys, scanned after every 2 * n_keys requests.
    """
    n_requests = check_int("n_requests", n_requests, 0)
    n_keys = check_int("n_keys", n_keys, 1)
    scan_length = check_int("scan_length", max(n_keys // 2, 1) if scan_length is None
                            else scan_length, 1)
    scan_every = check_int("scan_every", 2 * n_keys if scan_every is None else scan_every, 1)
    where = np.arange(n_requests) % (scan_every + scan_length)
    scanning = where >= scan_every
    trace = np.empty(n_requests, dtype=np.int64)
    trace[scanning] = n_keys + where[scanning] - scan_every
    trace[~scanning] = zipf(int((~scanning).sum()), n_keys, alpha, seed=seed, rng=rng)
    return trace


def load_trace(path, column=0, *, delimiter=","):
    """Read a trace from a text file: one key per line, or a CSV with the key in `column`.

    `column` is a position (0 = first field) or a header name; a name means
    the first line is a header.  Blank lines are skipped.  Keys that are all
    integers come back as an integer array, others as strings.
    """
    if not isinstance(column, (int, str)) or isinstance(column, bool):
        raise TypeError(f"column must be a field position or a header name, got {column!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no trace file at {os.fspath(path)!r}")
    with open(path, newline="") as file:
        rows = [row for row in csv.reader(file, delimiter=delimiter) if row]
    if isinstance(column, str):
        if not rows or column not in rows[0]:
            found = rows[0] if rows else []
            raise ValueError(f"column {column!r} is not in the header of {os.fspath(path)!r}; "
                             f"the header has {found!r}")
        index, rows = rows[0].index(column), rows[1:]
    else:
        index = column
    if not rows:
        raise ValueError(f"trace file {os.fspath(path)!r} has no requests")
    try:
        keys = [row[index].strip() for row in rows]
    except IndexError:
        line = next(n for n, row in enumerate(rows, 1) if len(row) <= index)
        raise ValueError(f"column {column!r} is missing on request {line} of "
                         f"{os.fspath(path)!r}") from None
    try:
        return np.array([int(key) for key in keys], dtype=np.int64)
    except ValueError:
        return np.array(keys)


def _as_keys(trace):
    """Return the trace as a one-dimensional numpy array of integer ids."""
    keys = np.asarray(trace)
    if keys.ndim != 1:
        raise ValueError(f"trace must be a one-dimensional sequence of keys, got shape {keys.shape}")
    if keys.dtype.kind not in "iu":
        _, keys = np.unique(keys, return_inverse=True)
    return keys


def _reuses(keys):
    """Return (earlier, later): index pairs of consecutive requests for the same key."""
    keys = np.asarray(keys)
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, span = int(keys.min()), int(keys.max()) - int(keys.min()) + 1
    if span * n < 2**62:
        # Sorting key * n + index is several times faster than a stable argsort.
        combined = np.sort((keys.astype(np.int64) - low) * n + np.arange(n))
        order, sorted_keys = combined % n, combined // n
    else:
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
    same = sorted_keys[1:] == sorted_keys[:-1]
    return order[:-1][same], order[1:][same]


def _next_uses(keys):
    """Return, for each request, the index of the next request for the same key (or len)."""
    earlier, later = _reuses(keys)
    nxt = np.full(len(keys), len(keys), dtype=np.int64)
    nxt[earlier] = later
    return nxt


_ORACLE_GENERAL = np.dtype([("time", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def write_oracle_general(trace, path):
    """Write an integer trace as libCacheSim's oracleGeneral binary (unit sizes); return path.

    Each request is 24 bytes: time, key, size and the time of the next
    request for the same key (-1 for none), which Belady's OPT reads.
    """
    keys = np.asarray(trace)
    if keys.ndim != 1 or keys.dtype.kind not in "iu" or (len(keys) and keys.min() < 0):
        raise ValueError("trace must be a one-dimensional array of non-negative integer keys")
    records = np.zeros(len(keys), dtype=_ORACLE_GENERAL)
    records["time"] = np.arange(len(keys))
    records["id"] = keys
    records["size"] = 1
    nxt = _next_uses(keys)
    records["next"] = np.where(nxt == len(keys), -1, nxt)
    records.tofile(path)
    return path


WORKLOADS = ("zipf", "uniform", "zipf+scan", "loop", "hotset")


def make_trace(workload, n_requests, n_keys, alpha=1.0, *, seed=0):
    """Build one of WORKLOADS by name, with the other generators' defaults.

    'loop' cycles over all n_keys keys, so every cache smaller than n_keys
    is the pathological loop; 'hotset' moves a hot set of n_keys // 20 keys
    four times; 'zipf+scan' scans a cold table of n_keys // 2 keys.
    """
    if workload == "zipf":
        return zipf(n_requests, n_keys, alpha, seed=seed)
    if workload == "uniform":
        return uniform(n_requests, n_keys, seed=seed)
    if workload == "zipf+scan":
        return zipf_scan(n_requests, n_keys, alpha, seed=seed)
    if workload == "loop":
        return scan(n_requests, n_keys)
    if workload == "hotset":
        return shifting_hotset(n_requests, n_keys, hot_keys=max(n_keys // 20, 1), seed=seed)
    raise ValueError(f"workload must be one of {', '.join(WORKLOADS)}, got {workload!r}")


def read_write_workload(n_ops, read_fraction, *, n_keys=50, alpha=1.0, seed=0):
    """Return a seeded list of ("read" | "write", key) operations over Zipf-popular keys."""
    if isinstance(read_fraction, bool) or not isinstance(read_fraction, (int, float)) \
            or not 0 <= read_fraction <= 1:
        raise ValueError(f"read_fraction must be a number between 0 and 1, got {read_fraction!r}")
    rng = np.random.default_rng(seed)
    keys = zipf(n_ops, n_keys, alpha, rng=rng).tolist()
    reads = (rng.random(n_ops) < read_fraction).tolist()
    return [("read" if r else "write", f"k{key}") for r, key in zip(reads, keys)]
